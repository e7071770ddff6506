"""The agent's circuit breaker on the upstream LLM.

Why it exists: Runbook 2 ("High Error Rate"), cause 4 (Downstream Service Failure), queries
``agent_circuit_breaker_state{state="open"}`` and remediates with ``ENABLE_DEGRADED_MODE``, which only
changes anything if repeated upstream failures stop further calls and the agent answers with a canned
reply instead. The gauge has exactly one state at 1, so a drill can watch the breaker open under a
fault and close again once the fault is lifted.

Only availability failures (429, timeouts, 5xx, connection errors) count as failures; any other answer
(a 200, or a 4xx such as a 401, which is a configuration problem left to the health check) proves the
upstream is reachable and counts as a success (see :mod:`refsystem.upstream`).

Half-open admits ONE probe call at a time (:meth:`CircuitBreaker.allow`): every other request is
treated as if the breaker were still open. Without that, all requests arriving while the probe waits
on a slow upstream would go upstream too and time out, and degraded mode would not bring the error
rate down.
"""

from __future__ import annotations

import threading
import time

from refsystem.config import log
from refsystem.metrics import Metrics

STATES = ("closed", "open", "half_open")


class CircuitOpen(Exception):
    """Raised instead of calling the upstream while the breaker refuses calls (open, or a probe in flight)."""


class CircuitBreaker:
    """5 consecutive upstream availability failures -> open 10 s -> half_open (one probe) -> closed on a success."""

    def __init__(self, metrics: Metrics, threshold: int = 5, open_s: float = 10.0) -> None:
        self._m, self._threshold, self._open_s = metrics, threshold, open_s
        self._lock = threading.Lock()
        self._state, self._failures, self._opened_at = "closed", 0, 0.0
        self._probing = False
        self._publish()

    def _publish(self) -> None:
        for s in STATES:
            self._m.breaker.labels(s).set(1 if s == self._state else 0)

    def _set(self, state: str) -> None:
        if state != self._state:
            log("WARNING" if state == "open" else "INFO", "circuit breaker state change", old=self._state, new=state)
            self._state = state
            self._publish()

    def state(self) -> str:
        """Current state; an open breaker turns half_open once its open period has elapsed."""
        with self._lock:
            if self._state == "open" and time.monotonic() - self._opened_at >= self._open_s:
                self._set("half_open")
            return self._state

    def allow(self) -> bool:
        """May a call go upstream now? Closed: yes; open: no; half_open: only if no probe is in flight.

        A True in half_open makes the caller the probe; it must then :meth:`record` the outcome (or
        :meth:`release` when the call never reached the upstream) so the next probe can start.
        """
        state = self.state()
        with self._lock:
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def release(self) -> None:
        """Give up a half_open probe without an outcome (the call failed before reaching the upstream)."""
        with self._lock:
            self._probing = False

    def record(self, ok: bool) -> None:
        """Feed one upstream outcome; any half_open failure re-opens immediately."""
        with self._lock:
            self._probing = False
            if ok:
                self._failures = 0
                self._set("closed")
                return
            self._failures += 1
            if self._state == "half_open" or self._failures >= self._threshold:
                self._opened_at = time.monotonic()
                self._set("open")
