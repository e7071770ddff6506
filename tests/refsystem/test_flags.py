"""Each runbook flag changes what the agent does, not just a metric (issue #10, item 2).

Every test runs the agent's real code (``Agent.chat`` with the official SDK, real Redis, the stub on a
thread) or its building block, once with the flag off and once on, and checks the behaviour the runbook
promises: fewer calls, fewer tokens, a cheaper model, a refusal, a canned reply, a shorter wait.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from refsystem.breaker import CircuitBreaker, CircuitOpen
from refsystem.conversation import HAIKU, SYSTEM_PROMPT, build_prompt
from refsystem.cpu import spend_cpu
from refsystem.limits import Limits, TokenBucket, budget_key
from refsystem.metrics import Metrics, Reject
from refsystem.stub_state import RateWindows
from tests.refsystem.conftest import SONNET
from tests.refsystem.inprocess import StubThread, agent, chat, config, store_history, stub_thread


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, decode_responses=True)
    c.flushdb()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def stub(tmp_path: Path) -> Iterator[StubThread]:
    with stub_thread(tmp_path) as st:
        yield st


def _ids() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"user-{tag}", f"conv-{tag}"


# ---------------------------------------------------------------- ENABLE_RATE_LIMITING + RATE_LIMIT_PER_MINUTE
def test_token_bucket_refills_at_the_per_minute_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("refsystem.limits.time.monotonic", lambda: now[0])
    bucket = TokenBucket(120)  # 2 per second, bursts 12
    assert sum(bucket.take() for _ in range(20)) == 12
    now[0] += 1.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] += 60.0
    assert sum(bucket.take() for _ in range(200)) == 12  # never more than the burst after a pause


def test_rate_limiting_keeps_upstream_under_its_quota(redis_url: str, client: redis.Redis, stub: StubThread) -> None:
    stub.set(rate_limit_rpm=8)  # the key's quota upstream
    user, conv = _ids()
    with agent(redis_url, stub.url, enable_fast_fail=True) as off:
        codes = [chat(off, f"{user}-{i}", conv)[0] for i in range(10)]
    assert codes.count(503) == 2  # without the flag the upstream's 429s reach users as upstream_rate_limit
    stub.stub.windows = RateWindows()  # a fresh minute upstream
    with agent(redis_url, stub.url, enable_fast_fail=True, enable_rate_limiting=True,
               rate_limit_per_minute=60) as on:  # bursts 6, below the quota
        results = [chat(on, f"{user}-{i}", conv) for i in range(10)]
        assert on.m.registry.get_sample_value("agent_errors_total", {"type": "upstream_rate_limit"}) == 0
    assert [s for s, _ in results].count(200) == 6
    assert {p.get("error") for s, p in results if s != 200} == {"rate_limited"}  # refused before any call
    assert stub.billed("llm_stub_requests_total", status="429") == 2  # only the run without the flag


# ------------------------------------------------------------- RATE_LIMIT_PER_USER and blocked:user:<id>
def test_per_user_limit_and_block_key_refuse_before_any_upstream_call(redis_url: str, client: redis.Redis) -> None:
    r = redis.Redis.from_url(redis_url)
    try:
        user, _ = _ids()
        limits = Limits(config(redis_url, "http://unused", rate_limit_per_user=3))
        for _ in range(3):
            limits.admit(r, user)
        with pytest.raises(Reject) as over:
            limits.admit(r, user)
        assert over.value.status == 429 and over.value.payload["scope"] == "user"
        limits.admit(r, f"{user}-other")  # the limit is per user
        Limits(config(redis_url, "http://unused")).admit(r, user)  # 0 = no per-user limit
        client.set(f"blocked:user:{user}-other", 1, ex=60)
        with pytest.raises(Reject) as blocked:
            Limits(config(redis_url, "http://unused")).admit(r, f"{user}-other")
        assert blocked.value.status == 403 and blocked.value.err_type == "blocked"
        client.delete(f"blocked:user:{user}-other")
        Limits(config(redis_url, "http://unused")).admit(r, f"{user}-other")  # unblocked at once
    finally:
        r.close()


# ---------------------------------------------------------------------- breaker + ENABLE_DEGRADED_MODE
def test_breaker_half_open_admits_one_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr("refsystem.breaker.time.monotonic", lambda: now[0])
    breaker = CircuitBreaker(Metrics(), threshold=2, open_s=10.0)
    assert breaker.allow() and breaker.allow()  # closed: everyone
    breaker.record(False)
    breaker.record(False)
    assert breaker.state() == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow() is True  # the probe
    assert breaker.allow() is False  # everyone else waits for its outcome
    breaker.release()  # a probe that never reached the upstream frees the slot
    assert breaker.allow() is True
    breaker.record(True)
    assert breaker.state() == "closed" and breaker.allow()


def test_degraded_mode_answers_while_the_breaker_is_open(redis_url: str, client: redis.Redis,
                                                         stub: StubThread) -> None:
    stub.set(error_rate=1.0)
    user, conv = _ids()
    for degraded in (False, True):
        with agent(redis_url, stub.url, enable_fast_fail=True, enable_degraded_mode=degraded) as a:
            assert [chat(a, user, conv)[0] for _ in range(5)] == [502] * 5  # 5 failures open it
            calls = stub.billed("llm_stub_requests_total", status="529")
            status, body = chat(a, user, conv)
            assert stub.billed("llm_stub_requests_total", status="529") == calls  # no upstream call
            assert a.m.registry.get_sample_value("agent_circuit_breaker_state", {"state": "open"}) == 1
            if degraded:
                assert status == 200 and body["degraded"] is True and body["model"] is None
            else:
                assert status == 503 and body == {"error": "circuit_open"}


def test_upstream_call_refused_while_open_and_probe_closes_it(redis_url: str, stub: StubThread,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with agent(redis_url, stub.url, enable_fast_fail=True) as a:
        for _ in range(5):
            a.breaker.record(False)
        with pytest.raises(CircuitOpen):
            a.upstream.call(SONNET, "s", [{"role": "user", "content": "hi"}])
        monkeypatch.setattr(a.breaker, "_open_s", 0.0)  # the open period is over
        assert a.upstream.call(SONNET, "s", [{"role": "user", "content": "hi"}]).usage.output_tokens > 0
        assert a.breaker.state() == "closed"


# -------------------------------------------------------------------------- API_TIMEOUT + ENABLE_FAST_FAIL
def test_fast_fail_gives_up_after_one_timeout(redis_url: str, client: redis.Redis, stub: StubThread) -> None:
    stub.set(latency_s=1.0)
    user, conv = _ids()
    for fast_fail, attempts in ((False, 2), (True, 1)):
        before = stub.billed("llm_stub_requests_total", status="200")
        with agent(redis_url, stub.url, api_timeout=0.3, enable_fast_fail=fast_fail) as a:
            assert chat(a, user, conv) == (504, {"error": "upstream_timeout"})
        time.sleep(1.3)  # let the stub finish the calls the SDK gave up on
        assert stub.billed("llm_stub_requests_total", status="200") - before == attempts


def test_api_timeout_bounds_each_read_so_a_started_answer_outlasts_it(redis_url: str, client: redis.Redis,
                                                                     stub: StubThread,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent streams: a long prefill the provider keeps alive with pings takes longer than API_TIMEOUT
    and succeeds; the same wait before the answer starts (a provider holding the call) is a timeout."""
    monkeypatch.setattr("refsystem.llm_stub.PING_S", 0.2)
    user, conv = _ids()
    store_history(client, conv, turns=2)  # ~700 input tokens with the system prompt
    with agent(redis_url, stub.url, api_timeout=0.5, enable_fast_fail=True) as a:
        stub.set(prefill_per_1k_input_s=2.0)
        started = time.monotonic()
        status, body = chat(a, user, conv)
        took = time.monotonic() - started
        assert status == 200 and body["usage"]["input_tokens"] > 500, body
        assert took > 1.0  # twice the timeout, answered
        stub.set(latency_per_1k_input_s=2.0)
        assert chat(a, user, conv) == (504, {"error": "upstream_timeout"})


# ------------------------------------------------------------- MAX_HISTORY_LENGTH + ENABLE_SUMMARIZATION
def test_history_length_and_summarization_shrink_what_is_sent(redis_url: str, client: redis.Redis,
                                                              stub: StubThread) -> None:
    user, conv = _ids()
    store_history(client, conv, turns=30)
    sent = {}
    for name, kw in (("all", {}), ("ten", {"max_history_length": 10}),
                     ("summarised", {"max_history_length": 10, "enable_summarization": True})):
        client.delete(f"conv:{conv}")  # the same 30 stored turns each time (a chat appends and trims)
        store_history(client, conv, turns=30)
        with agent(redis_url, stub.url, **kw) as a:
            status, body = chat(a, user, conv)
            assert status == 200
            sent[name] = body["usage"]["input_tokens"]
    assert sent["all"] > sent["ten"] > sent["summarised"]
    assert client.llen(f"conv:{conv}") == 20  # the stored history is capped at MAX_HISTORY_LENGTH turns


def test_summary_replaces_old_turns_and_token_budget_drops_oldest() -> None:
    history = [{"role": r, "content": f"{r}-{i}"} for i in range(10) for r in ("user", "assistant")]
    cfg = config("redis://x", "http://x", enable_summarization=True)
    system, messages = build_prompt(cfg, history, "now")
    assert len(messages) == 9 and messages[0] == {"role": "user", "content": "user-6"}
    assert "Summary of 12 earlier messages" in system and "user-0" in system
    _, messages = build_prompt(config("redis://x", "http://x", max_history_tokens=6), history, "now")
    assert [t["content"] for t in messages] == ["user-9", "assistant-9", "now"]


# ------------------------------------------------------------------------------------- MAX_HISTORY_TOKENS
def test_max_history_tokens_caps_the_input_billed(redis_url: str, client: redis.Redis, stub: StubThread) -> None:
    user, conv = _ids()
    store_history(client, conv, turns=20, chars=2000)
    with agent(redis_url, stub.url) as a:
        unlimited = chat(a, user, conv)[1]["usage"]["input_tokens"]
    client.delete(f"conv:{conv}")
    store_history(client, conv, turns=20, chars=2000)
    with agent(redis_url, stub.url, max_history_tokens=4000) as a:
        capped = chat(a, user, conv)[1]["usage"]["input_tokens"]
    system_tokens = len(SYSTEM_PROMPT) // 4
    assert unlimited > 20_000 and capped <= system_tokens + 4000 + 10


# ----------------------------------------------------------------------------------- ENABLE_PROMPT_CACHING
def test_prompt_caching_bills_a_long_conversation_at_a_tenth(redis_url: str, client: redis.Redis,
                                                             stub: StubThread) -> None:
    costs, usages = {}, {}
    for caching in (False, True):
        user, conv = _ids()
        store_history(client, conv, turns=10)  # ~2000 tokens of history: above Sonnet's 1024 minimum
        with agent(redis_url, stub.url, enable_prompt_caching=caching) as a:
            first = chat(a, user, conv)[1]["usage"]  # writes the prefix up to the end of the history
            before = a.m.registry.get_sample_value("agent_cost_dollars_total", {"model": SONNET}) or 0.0
            status, body = chat(a, user, conv)  # next turn: the same history plus one turn
            costs[caching] = a.m.registry.get_sample_value("agent_cost_dollars_total", {"model": SONNET}) - before
            assert status == 200
        usages[caching] = (first, body["usage"])
    (first, second), (plain, _) = usages[True], usages[False]
    assert first["cache_creation_input_tokens"] > 2000 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]  # the old prefix is read
    assert 0 < second["cache_creation_input_tokens"] < 100  # only the newest turn is written
    assert plain["cache_creation_input_tokens"] == plain["cache_read_input_tokens"] == 0
    assert costs[True] < costs[False] / 2


def test_short_conversations_are_below_the_minimum_and_not_cached(redis_url: str, client: redis.Redis,
                                                                  stub: StubThread) -> None:
    user, conv = _ids()
    with agent(redis_url, stub.url, enable_prompt_caching=True) as a:
        for _ in range(3):
            usage = chat(a, user, conv)[1]["usage"]
            assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0


# ------------------------------------------------------------------------- ENABLE_MODEL_ROUTING, DEFAULT_MODEL
def test_model_routing_and_default_model_pick_the_cheaper_model(redis_url: str, client: redis.Redis,
                                                                stub: StubThread) -> None:
    user, conv = _ids()
    with agent(redis_url, stub.url) as a:
        assert chat(a, user, conv, "short question")[1]["model"] == SONNET
    with agent(redis_url, stub.url, enable_model_routing=True) as a:
        assert chat(a, user, conv, "short question")[1]["model"] == HAIKU
        assert chat(a, user, conv, "long " * 60)[1]["model"] == SONNET  # long messages keep the default
        haiku = a.m.registry.get_sample_value("agent_cost_dollars_total", {"model": HAIKU})
        sonnet = a.m.registry.get_sample_value("agent_cost_dollars_total", {"model": SONNET})
        assert haiku is not None and sonnet is not None and haiku < sonnet / 5
    with agent(redis_url, stub.url, enable_model_routing=True) as a:
        a.cfg = type(a.cfg)(**{**a.cfg.__dict__, "default_model": HAIKU})
        assert chat(a, user, conv, "long " * 60)[1]["model"] == HAIKU


# ------------------------------------------------------------------- DAILY_BUDGET_DOLLARS + ENFORCE_BUDGET
def test_budget_is_charged_and_enforced(redis_url: str, client: redis.Redis, stub: StubThread) -> None:
    user, conv = _ids()
    with agent(redis_url, stub.url, enforce_budget=True, daily_budget_dollars=0.05) as a:
        status, _ = chat(a, user, conv)
        spent = float(client.get(budget_key()) or 0)
        assert status == 200 and spent > 0  # each request's dollars are added to today's key
        client.set(budget_key(), 0.05)
        calls = stub.billed("llm_stub_requests_total", status="200")
        assert chat(a, user, conv) == (402, {"error": "budget_exceeded"})
        assert stub.billed("llm_stub_requests_total", status="200") == calls  # refused before spending
    with agent(redis_url, stub.url, daily_budget_dollars=0.05) as a:
        assert chat(a, user, conv)[0] == 200  # the budget alone is not enforced
    with agent(redis_url, stub.url, enforce_budget=True) as a:
        assert chat(a, user, conv)[0] == 200  # enforcement without a budget (0) refuses nothing


# --------------------------------------------------------------------------------- CPU limit and replicas
def test_each_request_spends_real_cpu_time(redis_url: str, client: redis.Redis, stub: StubThread) -> None:
    started = time.thread_time()
    spend_cpu(30.0)
    assert time.thread_time() - started >= 0.030
    assert spend_cpu(0) == 0
    user, conv = _ids()
    with agent(redis_url, stub.url) as a:
        a.cfg = type(a.cfg)(**{**a.cfg.__dict__, "request_cpu_ms": 40.0})
        started = time.thread_time()
        assert chat(a, user, conv)[0] == 200
        assert time.thread_time() - started >= 0.040
