"""What the LLM stub remembers between requests: per-key rate windows, the prompt cache, the bill.

Why a module of its own: these are the three parts of the stub that behave like the provider's
backend rather than like its HTTP front end, and each has rules a drill depends on:

* rate limits are per API key (each key has its own sliding 60 s window of admitted requests, as the
  real API counts per organisation/key), and a refused request reports when the window frees up, which
  the stub sends as ``retry-after`` and ``anthropic-ratelimit-requests-reset``;
* the ephemeral prompt cache lives 5 minutes per (model, prefix) and is refreshed on every hit;
* usage is billed per model at the list prices of :mod:`refsystem.pricing` (cache reads at 0.1x) and
  exposed as ``llm_stub_*`` Prometheus counters: the provider's invoice, independent of what the agent
  believes it spent.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from refsystem.pricing import dollars

CACHE_TTL_S = 300.0
WINDOW_S = 60.0


@dataclass(frozen=True)
class Admission:
    """One rate-limit decision: admitted or not, the key's limit, what is left, seconds until a slot frees."""

    admitted: bool
    limit: int
    remaining: int
    reset_s: float

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before a retry can succeed (at least 1), as the ``retry-after`` header."""
        return max(1, math.ceil(self.reset_s))


class RateWindows:
    """Sliding 60 s windows of admitted requests, one per API key; only admitted requests use quota."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = {}

    def admit(self, key: str, rpm: int, now: float | None = None, window_s: float = WINDOW_S) -> Admission:
        """Admit one request for ``key`` under ``rpm`` requests per minute (``rpm <= 0``: no limit).

        ``window_s`` below 60 enforces the quota over that shorter interval (``rpm * window_s / 60``
        requests, at least 1), as the real API may ("60 RPM may be enforced as 1 request per second"):
        a burst is refused even when the minute's total is within quota, and ``retry-after`` stays short.
        """
        if rpm <= 0:
            return Admission(True, 0, 0, 0.0)
        now = time.monotonic() if now is None else now
        window_s = min(max(window_s, 0.001), WINDOW_S)
        allowed = max(1, round(rpm * window_s / WINDOW_S))
        with self._lock:
            window = self._admitted.setdefault(key, deque())
            while window and now - window[0] >= window_s:
                window.popleft()
            if len(window) >= allowed:
                return Admission(False, rpm, 0, window_s - (now - window[0]))
            window.append(now)
            return Admission(True, rpm, allowed - len(window), window_s - (now - window[0]))


class PromptCache:
    """The ephemeral prompt cache: a prefix hash is a hit if it was seen within the TTL (refreshed on use)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def seen(self, key: str, now: float | None = None) -> bool:
        """True if ``key`` was written or read within the TTL (does not refresh it)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return now - self._seen.get(key, -1e18) < CACHE_TTL_S

    def hit(self, key: str, now: float | None = None) -> bool:
        """Like :meth:`seen`, and (re)writes ``key`` with a fresh TTL either way."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hit = now - self._seen.get(key, -1e18) < CACHE_TTL_S
            if len(self._seen) > 4096:
                self._seen.clear()
            self._seen[key] = now
        return hit


class Meter:
    """The provider's bill: requests by status, tokens and dollars by model, on a private registry."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("llm_stub_requests_total", "Messages API calls by HTTP status", ["status"],
                                registry=r)
        self.tokens = Counter("llm_stub_tokens_total", "Billed tokens", ["model", "type"], registry=r)
        self.cost = Counter("llm_stub_cost_dollars_total", "Billed dollars at list price", ["model"], registry=r)

    def bill(self, model: str, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int) -> float:
        """Record one served response's usage; returns its price."""
        for kind, n in (("input", input_tokens), ("output", output_tokens),
                        ("cache_creation_input", cache_write), ("cache_read_input", cache_read)):
            self.tokens.labels(model, kind).inc(n)
        price = dollars(model, input_tokens, output_tokens, cache_write, cache_read)
        self.cost.labels(model).inc(price)
        return price
