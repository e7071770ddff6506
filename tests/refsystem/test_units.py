"""In-process checks of the agent's building blocks, which the end-to-end tests only reach through HTTP.

Each block (breaker, context cache, token bucket, prompt assembly, loadgen quantile) has its own
module so its rules can be pinned down here directly and quickly, without processes or sockets.
"""

from __future__ import annotations

import pytest

from refsystem.breaker import CircuitBreaker
from refsystem.config import AgentConfig
from refsystem.context_cache import ContextCache
from refsystem.conversation import HAIKU, SYSTEM_PROMPT, build_prompt, choose_model
from refsystem.limits import TokenBucket
from refsystem.loadgen import quantile
from refsystem.metrics import Metrics, cost_of


def _cfg(**kw: object) -> AgentConfig:
    return AgentConfig(redis_url="redis://x", anthropic_base_url="http://x", anthropic_api_key="k",
                       default_model="claude-3-5-sonnet-20241022", **kw)  # type: ignore[arg-type]


def _gauge(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels or None)


def test_breaker_opens_after_threshold_and_half_opens_after_period(monkeypatch: pytest.MonkeyPatch) -> None:
    m, now = Metrics(), [100.0]
    monkeypatch.setattr("refsystem.breaker.time.monotonic", lambda: now[0])
    breaker = CircuitBreaker(m, threshold=3, open_s=10.0)
    for _ in range(2):
        breaker.record(False)
    assert breaker.state() == "closed"
    breaker.record(False)
    assert breaker.state() == "open" and _gauge(m, "agent_circuit_breaker_state", state="open") == 1
    now[0] += 10.0
    assert breaker.state() == "half_open"
    breaker.record(False)  # one half_open failure re-opens at once
    assert breaker.state() == "open"
    now[0] += 10.0
    breaker.state()
    breaker.record(True)
    assert breaker.state() == "closed" and _gauge(m, "agent_circuit_breaker_state", state="open") == 0


def test_context_cache_is_bounded_lru_of_real_bytes() -> None:
    m = Metrics()
    cache = ContextCache(2, m)
    assert len(cache.assemble("a", 4)) == 4096
    cache.assemble("b", 4)
    cache.assemble("a", 8)  # replaces a's buffer, a becomes most recent
    cache.assemble("c", 1)  # evicts b
    assert _gauge(m, "agent_context_cache_bytes") == (8 + 1) * 1024
    assert ContextCache(0, m).assemble("z", 1) == bytearray(b"\x01") * 1024


def test_token_bucket_bursts_a_tenth_of_the_minute_rate() -> None:
    bucket = TokenBucket(60)  # capacity max(1, 6)
    assert [bucket.take() for _ in range(7)] == [True] * 6 + [False]


def test_prompt_truncation_summary_caching_and_routing() -> None:
    history = [{"role": r, "content": f"{r}-{i}"} for i in range(10) for r in ("user", "assistant")]
    system, messages = build_prompt(_cfg(), history, "now")
    assert system == SYSTEM_PROMPT and len(messages) == 21 and messages[-1] == {"role": "user", "content": "now"}
    system, messages = build_prompt(_cfg(enable_summarization=True, enable_prompt_caching=True), history, "now")
    assert len(messages) == 9 and messages[0]["role"] == "user"
    assert system[0]["cache_control"] == {"type": "ephemeral"} and system[1]["text"].startswith("Summary of 12")
    _, messages = build_prompt(_cfg(max_history_tokens=6), history, "now")  # 6*4 - len("now") = 21 chars
    assert [t["content"] for t in messages] == ["user-9", "assistant-9", "now"]
    assert choose_model(_cfg(enable_model_routing=True), "short") == HAIKU
    assert choose_model(_cfg(), "short") == "claude-3-5-sonnet-20241022"


def test_cost_and_quantile() -> None:
    usage = type("U", (), {"input_tokens": 1_000_000, "output_tokens": 0, "cache_creation_input_tokens": 0,
                           "cache_read_input_tokens": 1_000_000})()
    assert cost_of("claude-3-haiku-20240307", usage) == (2_000_000, 0, pytest.approx(0.25 + 0.025))
    assert quantile([], 0.5) == 0.0 and quantile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
