"""End-to-end tests of the reference system with real processes (redis-server, LLM stub, agent, loadgen).

Each test reproduces one runbook symptom the drills rely on and checks it appears the way the runbook
says (status codes, health checks, log lines, metric names), so a drill that fails later is failing
because of the runbook, not because the system under test cannot show the symptom.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from tests.refsystem.conftest import REPO, SONNET, STUB_KEY, Spawner, Stack, chat, free_port, metric, scrape


def _ids() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"user-{tag}", f"conv-{tag}"


def _poll_health(url: str, want: int, within: float) -> tuple[float, requests.Response]:
    """Poll /health until it returns ``want``; returns (seconds it took, last response)."""
    started = time.monotonic()
    while True:
        resp = requests.get(url + "/health", timeout=5)
        if resp.status_code == want or time.monotonic() - started > within:
            return time.monotonic() - started, resp
        time.sleep(0.05)


def test_chat_round_trip_agent_stub_redis(stack: Stack) -> None:
    user, conv = _ids()
    before = scrape(stack.agent.url + "/metrics")
    first = chat(stack.agent, user, conv, "hello, what is the status of the deploy?", context_kb=256)
    second = chat(stack.agent, user, conv, "and the rollback plan?")
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["reply"] and body["model"] == SONNET
    assert body["usage"]["input_tokens"] > first.json()["usage"]["input_tokens"]  # history was sent upstream
    history = [json.loads(x) for x in stack.client.lrange(f"conv:{conv}", 0, -1)]
    assert [h["role"] for h in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["content"].startswith("hello")
    assert 0 < stack.client.ttl(f"conv:{conv}") <= 86400
    after = scrape(stack.agent.url + "/metrics")
    d = lambda name, **lab: metric(after, name, **lab) - metric(before, name, **lab)  # noqa: E731
    assert d("agent_requests_total", status="200") == 2
    assert d("agent_request_duration_seconds_count") == 2
    assert d("agent_tokens_used_total", type="input", model=SONNET) > 0
    assert d("agent_tokens_used_total", type="output", model=SONNET) > 0
    assert d("agent_cost_dollars_total", model=SONNET) > 0
    assert metric(after, "agent_circuit_breaker_state", state="closed") == 1
    assert metric(after, "agent_context_cache_bytes") >= 0
    log = stack.agent.log()
    assert f"user={user}" in log and "duration=" in log and "cost=" in log and "tokens=" in log
    assert requests.get(stack.agent.url + "/health", timeout=3).json()["checks"] == {
        "redis": "ok", "upstream_auth": "ok"}


def test_context_cache_holds_real_bounded_memory(stack: Stack) -> None:
    user, _ = _ids()
    for i in range(3):
        assert chat(stack.agent, user, f"{user}-ctx-{i}", "x", context_kb=1024).status_code == 200
    cached = metric(scrape(stack.agent.url + "/metrics"), "agent_context_cache_bytes")
    assert cached >= 3 * 1024 * 1024
    status = Path(f"/proc/{stack.agent.popen.pid}/status").read_text()
    rss_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    assert rss_kb * 1024 > cached  # the cached contexts are resident, not lazily-zeroed pages


def test_missing_required_env_exits_1_with_runbook_lines() -> None:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
           "ANTHROPIC_API_KEY": "k", "DEFAULT_MODEL": SONNET}
    res = subprocess.run([sys.executable, "-m", "refsystem.agent"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 1
    assert res.stderr.splitlines() == ["Error: Missing required environment variable REDIS_URL",
                                       "Configuration validation failed"]
    bad = subprocess.run([sys.executable, "-m", "refsystem.agent"], cwd=REPO, capture_output=True, text=True,
                         env={**env, "REDIS_URL": "redis://127.0.0.1:9/0", "API_TIMEOUT": "abc"}, timeout=30)
    assert bad.returncode == 1
    assert "API_TIMEOUT" in bad.stderr and bad.stderr.splitlines()[-1] == "Configuration validation failed"


def test_stub_speaks_anthropic_wire_format(stack: Stack) -> None:
    no_key = requests.post(stack.stub.url + "/v1/messages", json={}, timeout=3)
    assert no_key.status_code == 401
    assert no_key.json() == {"type": "error", "error": {"type": "authentication_error",
                                                         "message": "invalid x-api-key"},
                             "request_id": no_key.headers["request-id"]}
    ok = requests.post(stack.stub.url + "/v1/messages", headers={"x-api-key": STUB_KEY}, timeout=3,
                       json={"model": SONNET, "max_tokens": 16, "messages": [{"role": "user", "content": "x" * 40}]})
    assert ok.status_code == 200 and ok.headers["request-id"]
    msg = ok.json()
    assert msg["type"] == "message" and msg["role"] == "assistant" and msg["stop_reason"] in ("end_turn", "max_tokens")
    assert msg["usage"]["input_tokens"] == 10 and msg["content"][0]["type"] == "text"
    models = requests.get(stack.stub.url + "/v1/models", headers={"x-api-key": STUB_KEY}, timeout=3).json()
    assert models["has_more"] is False and models["first_id"] == models["data"][0]["id"]


def test_wrong_api_key_fails_health_and_chat(stack: Stack, spawner: Spawner) -> None:
    agent = spawner.agent(stack.redis.url, stack.stub.url, ANTHROPIC_API_KEY="sk-revoked-key")
    took, health = _poll_health(agent.url, 503, within=5)
    assert health.status_code == 503 and took < 5
    assert health.json()["failed"] == ["upstream_auth"]
    user, conv = _ids()
    resp = chat(agent, user, conv)
    assert resp.status_code == 502 and resp.json() == {"error": "upstream_auth"}
    assert metric(scrape(agent.url + "/metrics"), "agent_errors_total", type="upstream_auth") == 1
    assert "401 Unauthorized from Anthropic API: Invalid API key" in agent.log()


def test_redis_killed_fails_health_fast(stack: Stack, spawner: Spawner) -> None:
    rds = spawner.redis()
    agent = spawner.agent(rds.url, stack.stub.url)
    assert _poll_health(agent.url, 200, within=5)[1].status_code == 200
    rds.popen.send_signal(signal.SIGSTOP)  # a hung Redis: health must still answer quickly
    try:
        started = time.monotonic()
        hung = requests.get(agent.url + "/health", timeout=5)
        assert hung.status_code == 503 and time.monotonic() - started < 1.5
        assert "redis" in hung.json()["failed"]
    finally:
        rds.popen.send_signal(signal.SIGCONT)
    rds.stop(signal.SIGKILL)
    took, health = _poll_health(agent.url, 503, within=2)
    assert health.status_code == 503 and took < 2
    assert health.json()["failed"] == ["redis"]
    user, conv = _ids()
    resp = chat(agent, user, conv)
    assert resp.status_code == 503
    assert metric(scrape(agent.url + "/metrics"), "agent_errors_total", type="redis_connection") == 1
    assert "ConnectionError: Cannot connect to Redis ECONNREFUSED" in agent.log()  # the runbook's symptom


def test_upstream_rate_limit_maps_to_503(stack: Stack, behaviour) -> None:  # noqa: ANN001 - fixture
    user, conv = _ids()
    before = metric(scrape(stack.agent.url + "/metrics"), "agent_errors_total", type="upstream_rate_limit")
    behaviour({"rate_limit": True})
    resp = chat(stack.agent, user, conv)
    assert resp.status_code == 503 and resp.json()["error"] == "upstream_rate_limit"
    after = metric(scrape(stack.agent.url + "/metrics"), "agent_errors_total", type="upstream_rate_limit")
    assert after - before == 1
    assert "429 Too Many Requests rate_limit_error" in stack.agent.log()
    behaviour({})
    assert chat(stack.agent, user, conv).status_code == 200  # the fault is lifted without any restart


def test_circuit_breaker_opens_and_degraded_mode_answers(stack: Stack, spawner: Spawner, behaviour) -> None:  # noqa: ANN001
    agent = spawner.agent(stack.redis.url, stack.stub.url, ENABLE_FAST_FAIL="true", ENABLE_DEGRADED_MODE="true")
    behaviour({"error_rate": 1.0})
    user, conv = _ids()
    assert [chat(agent, user, conv).status_code for _ in range(5)] == [502] * 5
    samples = scrape(agent.url + "/metrics")
    assert metric(samples, "agent_circuit_breaker_state", state="open") == 1
    assert metric(samples, "agent_circuit_breaker_state", state="closed") == 0
    degraded = chat(agent, user, conv)
    assert degraded.status_code == 200 and degraded.json()["degraded"] is True


def test_blocked_user_gets_403(stack: Stack) -> None:
    user, conv = _ids()
    stack.client.set(f"blocked:user:{user}", 1, ex=60)
    before = metric(scrape(stack.agent.url + "/metrics"), "agent_errors_total", type="blocked")
    resp = chat(stack.agent, user, conv)
    assert resp.status_code == 403 and resp.json() == {"error": "blocked"}
    assert metric(scrape(stack.agent.url + "/metrics"), "agent_errors_total", type="blocked") - before == 1
    assert stack.client.llen(f"conv:{conv}") == 0
    assert chat(stack.agent, f"{user}-other", conv).status_code == 200


def test_per_user_rate_limit_and_budget(stack: Stack, spawner: Spawner) -> None:
    agent = spawner.agent(stack.redis.url, stack.stub.url, RATE_LIMIT_PER_USER="2", ENFORCE_BUDGET="true",
                          DAILY_BUDGET_DOLLARS="1000000", ENABLE_MODEL_ROUTING="true")
    user, conv = _ids()
    codes = [chat(agent, user, conv).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert chat(agent, f"{user}-b", conv).json()["model"] == "claude-3-haiku-20240307"  # short -> routed
    today = time.strftime("%Y-%m-%d", time.gmtime())
    stack.client.set(f"budget:{today}", 2_000_000)
    try:
        resp = chat(agent, f"{user}-c", conv)
        assert resp.status_code == 402 and resp.json() == {"error": "budget_exceeded"}
    finally:
        stack.client.delete(f"budget:{today}")


def test_loadgen_sends_at_configured_rate(stack: Stack, spawner: Spawner, tmp_path: Path) -> None:
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps([stack.agent.url, "http://10.1.2.3:8080"]))  # non-loopback must be refused
    port = free_port()
    gen = spawner.start("loadgen", [sys.executable, "-m", "refsystem.loadgen"], {
        "TARGETS_FILE": str(targets), "RATE": "10", "CONCURRENCY": "4", "USERS": "5", "CONTEXT_KB": "4",
        "POD_IP": "127.0.0.1", "METRICS_PORT": str(port), "TIMEOUT_S": "5"})
    gen.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while metric(_try_scrape(gen.url + "/metrics"), "loadgen_requests_total") < 1:
        assert gen.alive() and time.monotonic() < deadline, gen.log()
        time.sleep(0.1)
    start = metric(scrape(stack.agent.url + "/metrics"), "agent_requests_total")
    time.sleep(3.0)
    sent = metric(scrape(stack.agent.url + "/metrics"), "agent_requests_total") - start
    assert 18 <= sent <= 42, f"expected ~30 requests in 3 s at RATE=10, got {sent}"
    samples = scrape(gen.url + "/metrics")
    assert metric(samples, "loadgen_requests_total", code="200") >= sent * 0.8
    assert metric(samples, "loadgen_requests_total", code="error") == 0
    assert metric(samples, "loadgen_request_duration_seconds_count") > 0
    assert gen.stop(signal.SIGTERM, timeout=10) == 0
    log = gen.log()
    assert "refusing non-loopback target" in log and "10.1.2.3" in log and "loadgen stopped" in log


def _try_scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    try:
        return scrape(url)
    except requests.RequestException:
        return []
