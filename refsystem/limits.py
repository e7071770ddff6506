"""Admission control for chat requests: abuse blocks, rate limits and the daily budget.

Why it exists: these are the runbooks' levers for keeping traffic and spend in bounds, and each must
really refuse requests so that pulling the lever visibly changes the metrics:

* ``blocked:user:<id>`` in Redis -> 403 (Runbook 4, cause 1: ``redis-cli SET "blocked:user:..."``);
* ``ENABLE_RATE_LIMITING`` / ``RATE_LIMIT_PER_MINUTE`` -> a per-pod token bucket, 429 (Runbook 2, cause 1);
* ``RATE_LIMIT_PER_USER`` -> a per-user, per-minute counter in Redis shared by all pods, 429
  (Runbook 4, cause 1);
* ``ENFORCE_BUDGET`` / ``DAILY_BUDGET_DOLLARS`` against ``budget:<UTC date>`` in Redis, 402 (Runbook 4,
  cause 4); the agent adds each request's dollars to the same key after the upstream call.

The checks run in that order and before anything is spent upstream.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import redis

from refsystem.config import AgentConfig
from refsystem.metrics import Reject


class TokenBucket:
    """Per-pod limiter for ENABLE_RATE_LIMITING: refills RATE_LIMIT_PER_MINUTE/60 per s, bursts 6 s' worth."""

    def __init__(self, per_minute: int) -> None:
        self._rate, self._cap = per_minute / 60.0, max(1.0, per_minute / 10.0)
        self._tokens, self._at, self._lock = self._cap, time.monotonic(), threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one; False means the request is over the pod's rate."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._cap, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def budget_key() -> str:
    """Today's spend key; UTC so every pod (and the runbook's redis-cli) agrees on the day."""
    return f"budget:{dt.datetime.now(dt.UTC):%Y-%m-%d}"


class Limits:
    """The admission checks for one agent process (the token bucket is this pod's own)."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.bucket = TokenBucket(cfg.rate_limit_per_minute)

    def admit(self, r: redis.Redis, user: str) -> str:
        """Raise Reject if ``user`` may not be served now; else return the budget key to charge.

        Redis errors propagate: the caller maps them to the runbooks' Redis symptoms.
        """
        cfg = self.cfg
        if r.exists(f"blocked:user:{user}"):
            raise Reject(403, "blocked", {"error": "blocked"})
        if cfg.enable_rate_limiting and not self.bucket.take():
            raise Reject(429, "rate_limited", {"error": "rate_limited", "scope": "pod"})
        if cfg.rate_limit_per_user > 0:
            key = f"ratelimit:user:{user}:{int(time.time() // 60)}"
            pipe = r.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
            if count > cfg.rate_limit_per_user:
                raise Reject(429, "rate_limited", {"error": "rate_limited", "scope": "user"})
        key = budget_key()
        if cfg.enforce_budget and cfg.daily_budget_dollars > 0:
            if float(r.get(key) or 0) >= cfg.daily_budget_dollars:
                raise Reject(402, "budget_exceeded", {"error": "budget_exceeded"})
        return key
