"""The long-conversations fault (Runbook 3, Cause 4): histories written as the agent stores them, the stub's
time to first token, the load generator's settings - and all of it put back.

The Redis pod is a real ``redis-server`` reached with the real ``redis-cli`` (the fault's Lua script runs as it
will in the pod); the stub pod runs the fault's real shell against a behaviour file. The agent's own history
code (:mod:`refsystem.conversation`) then reads what was written, so the story's sizes are checked: about
54,000 tokens a turn as written, about 5,600 after the runbook's ``MAX_HISTORY_LENGTH=10`` + summarisation.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from drills import registry
from drills.errors import FaultError
from drills.targets.base import ExecResult
from faults import traffic
from refsystem.config import AgentConfig
from refsystem.conversation import build_prompt, load_history
from tests.faults.memory_target import MemoryTarget
from tests.refsystem.conftest import Spawner

pytestmark = pytest.mark.skipif(not shutil.which("redis-server") or not shutil.which("redis-cli"),
                                reason="needs redis-server and redis-cli (the fault's script runs in real Redis)")


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    spawner = Spawner(tmp_path_factory.mktemp("redis"))
    try:
        proc = spawner.redis()
        assert proc.port is not None
        yield proc.port
    finally:
        spawner.close()


@dataclass(kw_only=True)
class Sandbox(MemoryTarget):
    """ConfigMaps and restarts in memory; ``exec`` into redis-0 runs redis-cli against a real Redis, into the
    stub's pod runs the shell against a behaviour file; agent logs per pod."""

    redis_port: int
    behaviour: Path
    configs: dict[tuple[str, str], dict[str, str]] = field(default_factory=lambda: {
        ("drillbook-system", "loadgen-config"): {"RATE": "10", "USERS": "20", "TIMEOUT_S": "5"}})

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        if pod == "redis-0":
            argv = [argv[0], "-p", str(self.redis_port), *argv[1:]]
            env = {"PATH": "/usr/bin:/bin"}
        else:
            env = {"STUB_BEHAVIOUR_FILE": str(self.behaviour), "PATH": "/usr/bin:/bin"}
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
        return ExecResult(done.returncode, done.stdout + done.stderr)


def params(**kw: Any) -> traffic.LongConversationsParams:
    return traffic.LongConversationsParams.model_validate({
        "namespace": "production-agents", "selector": {"app": "production-agent"},
        "change": {"namespace": "drillbook-system", "configmap": "loadgen-config", "workload": "deployment/loadgen",
                   "set": {"USERS": "8", "MESSAGE_CHARS": "4000", "CONVERSATION_TURNS": "1000", "TIMEOUT_S": "60"}},
        "history": {"namespace": "production-agents", "pod": "redis-0", "users": 6, "exchanges": 50},
        "provider": {"namespace": "drillbook-system", "pod": "anthropic-stub-0", "prefill_per_1k_input_s": 0.65},
        "tokens_per_request": 5000, **kw})


def prompt_tokens(r: redis.Redis, conv: str, **cfg: Any) -> int:
    """What the agent would send for one more 4000-character turn, in the stub's ~4 characters a token."""
    config = AgentConfig(redis_url="redis://unused", anthropic_base_url="http://unused", anthropic_api_key="k",
                         default_model="claude-3-5-sonnet-20241022", **cfg)
    system, messages = build_prompt(config, load_history(r, conv, config.max_history_length * 2), "m" * 4000)
    return (len(system) + sum(len(m["content"]) for m in messages)) // 4


def test_entry_point_registers_the_fault() -> None:
    assert registry.fault("long-conversations") is traffic.LONG_CONVERSATIONS


def test_the_load_generator_settings_must_size_the_histories() -> None:
    with pytest.raises(ValueError, match="MESSAGE_CHARS"):
        params(change={"namespace": "d", "configmap": "c", "workload": "deployment/l", "set": {"USERS": "8"}})
    with pytest.raises(ValueError, match="cannot exceed"):
        params(history={"namespace": "p", "pod": "redis-0", "users": 9, "exchanges": 50})


def test_inject_writes_the_histories_the_agent_reads_and_revert_removes_everything(
        redis_port: int, tmp_path: Path) -> None:
    behaviour = tmp_path / "stub-behaviour.json"
    behaviour.write_text('{"rate_limit_rpm": 30}')
    target, p = Sandbox(redis_port=redis_port, behaviour=behaviour), params()
    r = redis.Redis(port=redis_port, decode_responses=True)
    undo = traffic.LONG_CONVERSATIONS.undo(target, p)  # type: ignore[arg-type]
    traffic.LONG_CONVERSATIONS.inject(target, p)  # type: ignore[arg-type]

    load = target.configs[("drillbook-system", "loadgen-config")]
    prefix = load["USER_PREFIX"]
    assert prefix.startswith("user-") and load["MESSAGE_CHARS"] == "4000" and load["TIMEOUT_S"] == "60"
    assert target.restarts == ["drillbook-system/loadgen"]
    assert json.loads(behaviour.read_text()) == {"rate_limit_rpm": 30, "prefill_per_1k_input_s": 0.65}
    keys = sorted(r.keys(f"conv:{prefix}-*"))
    assert keys == [f"conv:{prefix}-{i:04d}-c0" for i in range(6)]  # the ids the load generator will use
    assert r.llen(keys[0]) == 100 and 0 < r.ttl(keys[0]) <= 86400
    first = json.loads(r.lindex(keys[0], 0) or "")
    assert first["role"] == "user" and len(first["content"]) == 4000
    assert json.loads(r.lindex(keys[0], 1) or "")["role"] == "assistant"

    conv = keys[0].removeprefix("conv:")
    assert 50_000 < prompt_tokens(r, conv) < 56_000  # as written: the whole history, every turn
    fixed = prompt_tokens(r, conv, max_history_length=10, enable_summarization=True)
    assert 5_000 < fixed < 6_500  # the runbook's fix: ten exchanges, all but four summarised

    traffic.LONG_CONVERSATIONS.revert(target, undo)  # type: ignore[arg-type]
    assert r.keys(f"conv:{prefix}-*") == []
    assert behaviour.read_text() == '{"rate_limit_rpm": 30}'
    assert target.configs[("drillbook-system", "loadgen-config")] == {"RATE": "10", "USERS": "20", "TIMEOUT_S": "5"}
    r.close()


def test_revert_before_any_injection_deletes_nothing(redis_port: int, tmp_path: Path) -> None:
    target, p = Sandbox(redis_port=redis_port, behaviour=tmp_path / "absent.json"), params()
    r = redis.Redis(port=redis_port, decode_responses=True)
    r.rpush("conv:user-0000-c0", "keep")
    target.configs[("drillbook-system", "loadgen-config")]["USER_PREFIX"] = "user"
    undo = traffic.LONG_CONVERSATIONS.undo(target, p)  # type: ignore[arg-type]
    traffic.LONG_CONVERSATIONS.revert(target, undo)  # type: ignore[arg-type]
    assert r.lrange("conv:user-0000-c0", 0, -1) == ["keep"]
    r.delete("conv:user-0000-c0")
    r.close()


def chat_line(at: float, tokens: int, duration: float, status: int = 200) -> str:
    ts = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (f'ts={ts} level=INFO msg="chat request" status={status} duration={duration} cost=0.16 '
            f"tokens={tokens} user=user-ab12cd-0001 model=claude-3-5-sonnet-20241022 context_bytes=16384")


def test_durations_by_tokens_reads_answered_requests_after_the_fault() -> None:
    now = time.time()
    log = "\n".join([chat_line(now - 60, 400, 0.05), chat_line(now + 1, 53650, 35.2),
                     chat_line(now + 2, 2000, 0.2, status=504), 'ts=x level=INFO msg="agent listening"'])
    assert traffic.durations_by_tokens(log, now) == [(53650, 35.2)]


def test_confirm_needs_many_tokens_and_durations_growing_with_them(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    monkeypatch.setattr("faults.common.POLL_S", 0.01)
    tokens = iter([400.0, 9000.0, 41000.0])
    monkeypatch.setattr(traffic, "query", lambda target, expr, at=None: next(tokens, 41000.0))
    since = time.time() - 30
    grown = [chat_line(since + 1 + i, 1200 + 1000 * i, 0.8 + 0.65 * i) for i in range(6)]
    long = [chat_line(since + 20 + i, 53650, 34.9 + 0.1 * i) for i in range(4)]
    target = Sandbox(redis_port=0, behaviour=tmp_path / "b.json", log_lines={"agent-a": grown[:3] + long[:2],
                                                         "agent-b": grown[3:] + long[2:]})
    evidence = traffic.long_confirm(target, params(), since, 2)  # type: ignore[arg-type]
    assert evidence["tokens"] == {"tokens_per_request": 9000}  # the first reading over 5000
    corr = evidence["latency_by_tokens"]
    assert corr["requests"] == 10 and corr["correlation"] > 0.99
    assert corr["longest"][-1] == {"tokens": 53650, "duration_s": 35.2}

    flat = [chat_line(since + i, 1200 + 6000 * i, 35.0 - (i % 2) * 30) for i in range(10)]  # slow, not by size
    target.log_lines = {"agent-a": flat}
    with pytest.raises(FaultError, match="correlating"):
        traffic.long_confirm(target, params(), since, 0.3)  # type: ignore[arg-type]
