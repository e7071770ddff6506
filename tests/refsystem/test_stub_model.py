"""The LLM stub behaves like the real Messages API where the runbooks' remediations depend on it.

Per-key rate limits answered 429 with ``retry-after`` and a ``rate_limit_error`` body, latency that grows
with (uncached) input tokens, streamed answers kept alive through a long prefill, per-model pricing with the real prompt-cache discount, the minimum
cacheable prefix, unknown models, and the behaviour file as the runtime fault control.
"""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import pytest

from refsystem.pricing import PRICES, dollars, price_of
from refsystem.stub_state import CACHE_TTL_S, PromptCache, RateWindows
from tests.refsystem.conftest import SONNET, STUB_KEY
from tests.refsystem.inprocess import OTHER_KEY, stub_thread

HAIKU = "claude-3-haiku-20240307"
OPUS = "claude-3-opus-20240229"


def test_list_prices_per_model_and_cache_multipliers() -> None:
    assert dollars(SONNET, 1_000_000, 0) == pytest.approx(3.0)
    assert dollars(SONNET, 0, 1_000_000) == pytest.approx(15.0)
    assert dollars(HAIKU, 1_000_000, 1_000_000) == pytest.approx(0.25 + 1.25)
    assert dollars(OPUS, 1_000_000, 1_000_000) == pytest.approx(15.0 + 75.0)
    assert dollars(SONNET, 0, 0, cache_write=1_000_000) == pytest.approx(3.75)  # 1.25x
    assert dollars(SONNET, 0, 0, cache_read=1_000_000) == pytest.approx(0.30)  # 0.1x
    assert price_of("claude-3-7-sonnet-20990101") == PRICES[SONNET]  # unlisted id: priced by family
    assert price_of(HAIKU).min_cacheable_tokens == 2048 and price_of(SONNET).min_cacheable_tokens == 1024


def test_rate_windows_are_per_key_and_report_when_a_slot_frees() -> None:
    windows = RateWindows()
    assert [windows.admit("a", 2, now=100.0).admitted, windows.admit("a", 2, now=110.0).admitted] == [True, True]
    refused = windows.admit("a", 2, now=115.0)
    assert not refused.admitted and refused.remaining == 0
    assert refused.reset_s == pytest.approx(45.0) and refused.retry_after == 45  # the 100.0 entry leaves at 160
    assert windows.admit("b", 2, now=115.0).admitted  # another key has its own quota
    assert windows.admit("a", 2, now=160.0).admitted  # the oldest slot is free again
    assert windows.admit("a", 0, now=160.0).admitted  # 0 = no limit


def test_rate_window_can_enforce_the_quota_over_a_shorter_interval() -> None:
    windows = RateWindows()  # 120 rpm enforced per second: 2 requests a second, as the real API may
    assert [windows.admit("a", 120, now=100.0, window_s=1.0).admitted for _ in range(3)] == [True, True, False]
    refused = windows.admit("a", 120, now=100.5, window_s=1.0)
    assert not refused.admitted and refused.limit == 120 and refused.retry_after == 1  # a short retry-after
    assert windows.admit("a", 120, now=101.0, window_s=1.0).admitted  # the next second has room again
    assert windows.admit("b", 30, now=100.0, window_s=1.0).admitted  # below one a second: still 1 admitted
    assert not windows.admit("b", 30, now=100.2, window_s=1.0).admitted


def test_rate_limit_applies_only_to_the_listed_keys(tmp_path: Path) -> None:
    with stub_thread(tmp_path) as st:
        st.set(rate_limit_rpm=60, rate_limit_interval_s=1, rate_limit_keys=[OTHER_KEY])
        limited = [st.messages("hi", key=OTHER_KEY).status_code for _ in range(3)]
        assert limited[0] == 200 and 429 in limited  # one a second for that key
        assert [st.messages("hi").status_code for _ in range(5)] == [200] * 5  # another workspace's key: no quota
        st.set(rate_limit_rpm=60, rate_limit_interval_s=1)  # no list: every key has the quota
        assert 429 in [st.messages("hi").status_code for _ in range(3)]


def test_prompt_cache_lives_five_minutes_from_last_use() -> None:
    cache = PromptCache()
    assert cache.hit("p", now=0.0) is False
    assert cache.hit("p", now=CACHE_TTL_S - 1) is True
    assert cache.hit("p", now=2 * CACHE_TTL_S - 2) is True  # refreshed by the previous hit
    assert cache.hit("p", now=4 * CACHE_TTL_S) is False


def test_per_key_rate_limit_429_with_retry_after_and_rate_limit_error(tmp_path: Path) -> None:
    with stub_thread(tmp_path) as st:
        st.set(rate_limit_rpm=2)
        first, second, third = (st.messages("hi") for _ in range(3))
        assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
        assert first.headers["anthropic-ratelimit-requests-limit"] == "2"
        assert first.headers["anthropic-ratelimit-requests-remaining"] == "1"
        assert 55 <= int(third.headers["retry-after"]) <= 60
        assert third.headers["anthropic-ratelimit-requests-remaining"] == "0"
        body = third.json()
        assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
        assert body["request_id"] == third.headers["request-id"]
        assert st.messages("hi", key=OTHER_KEY).status_code == 200  # quotas are per API key
        assert st.billed("llm_stub_requests_total", status="429") == 1
        st.set(rate_limit=True, retry_after_s=7)  # every call refused, with the configured retry-after
        forced = st.messages("hi", key=OTHER_KEY)
        assert forced.status_code == 429 and forced.headers["retry-after"] == "7"
        st.behaviour_file.unlink()  # reverting the fault: env defaults (no limit) at once
        assert st.messages("hi").status_code == 200


def test_latency_grows_with_input_tokens_and_cache_reads_are_faster(tmp_path: Path) -> None:
    with stub_thread(tmp_path, latency_per_1k_input_s=0.5) as st:
        def timed(content: str, system: object = None) -> float:
            started = time.monotonic()
            assert st.messages(content, system=system).status_code == 200
            return time.monotonic() - started

        short = timed("x" * 400)  # 100 tokens: 0.05 s
        long = timed("x" * 8000)  # 2000 tokens: 1.0 s
        assert long >= 1.0 and long - short > 0.6
        prefix = [{"type": "text", "text": "s" * 8000, "cache_control": {"type": "ephemeral"}}]
        write = timed("x" * 40, prefix)  # 2010 tokens to prefill: ~1.0 s
        read = timed("x" * 40, prefix)  # the 2000 cached ones at a tenth: ~0.1 s
        assert write >= 1.0 and write - read > 0.6


def test_a_streamed_answer_is_the_same_message_in_events_pinged_through_the_prefill(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("refsystem.llm_stub.PING_S", 0.1)
    with stub_thread(tmp_path, prefill_per_1k_input_s=0.5, latency_per_output_token_s=0.001) as st:
        llm = anthropic.Anthropic(api_key=STUB_KEY, base_url=st.url, timeout=0.3, max_retries=0)
        try:
            whole = llm.with_options(timeout=5).messages.create(  # not streamed: nothing comes until the end
                model=SONNET, max_tokens=16, messages=[{"role": "user", "content": "x" * 4000}])
            started = time.monotonic()
            with llm.messages.stream(model=SONNET, max_tokens=16,
                                     messages=[{"role": "user", "content": "x" * 4000}]) as stream:
                pieces = list(stream.text_stream)
                streamed = stream.get_final_message()
            took = time.monotonic() - started
        finally:
            llm.close()
    assert took >= 0.5  # 1000 tokens of prefill, longer than the 0.3 s read timeout: pings kept it alive
    assert len(pieces) > 1 and "".join(pieces) == streamed.content[0].text == whole.content[0].text
    assert streamed.usage.input_tokens == whole.usage.input_tokens == 1000
    assert streamed.usage.output_tokens == whole.usage.output_tokens == 16
    assert st.billed("llm_stub_requests_total", status="200") == 2


def test_usage_is_priced_per_model_with_the_cache_discount(tmp_path: Path) -> None:
    prefix = [{"type": "text", "text": "s" * 8192, "cache_control": {"type": "ephemeral"}}]  # 2048 tokens
    with stub_thread(tmp_path, output_tokens=10) as st:
        first = st.messages("q" * 40, system=prefix).json()["usage"]
        second = st.messages("q" * 40, system=prefix).json()["usage"]
        assert (first["cache_creation_input_tokens"], first["cache_read_input_tokens"]) == (2048, 0)
        assert (second["cache_creation_input_tokens"], second["cache_read_input_tokens"]) == (0, 2048)
        assert first["input_tokens"] == second["input_tokens"] == 10
        billed = dollars(SONNET, 10, 10, cache_write=2048) + dollars(SONNET, 10, 10, cache_read=2048)
        assert st.billed("llm_stub_cost_dollars_total", model=SONNET) == pytest.approx(billed)
        assert st.billed("llm_stub_tokens_total", model=SONNET, type="cache_read_input") == 2048
        assert st.messages("q" * 40, model=HAIKU).status_code == 200
        assert st.billed("llm_stub_cost_dollars_total", model=HAIKU) == pytest.approx(dollars(HAIKU, 10, 10))
        haiku = st.messages("q" * 40, model=HAIKU, system=prefix).json()["usage"]  # 2048 >= Haiku's minimum
        assert haiku["cache_creation_input_tokens"] == 2048  # the cache is per model


def test_prefix_below_the_minimum_is_not_cached_and_unknown_models_are_404(tmp_path: Path) -> None:
    short = [{"type": "text", "text": "s" * 4000, "cache_control": {"type": "ephemeral"}}]  # 1000 tokens
    with stub_thread(tmp_path) as st:
        for _ in range(2):
            usage = st.messages("q" * 40, system=short).json()["usage"]
            assert usage["cache_read_input_tokens"] == usage["cache_creation_input_tokens"] == 0
            assert usage["input_tokens"] == 1010
        missing = st.messages("hi", model="claude-9-imaginary")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_failing_responses_use_the_configured_status(tmp_path: Path) -> None:
    with stub_thread(tmp_path) as st:
        st.set(error_rate=1.0)
        overloaded = st.messages("hi")
        assert overloaded.status_code == 529 and overloaded.json()["error"]["type"] == "overloaded_error"
        st.set(error_rate=1.0, error_status=500)
        assert st.messages("hi").json()["error"]["type"] == "api_error"
        st.behaviour_file.write_text("[not an object")  # a half-written file keeps the last good behaviour
        assert st.messages("hi").status_code == 500
