"""Abort conditions: PromQL guards that stop a drill whose blast radius grew past what was agreed.

A guard thread evaluates each expression against the target's Prometheus once a second while the fault is
in. When one has returned a sample for its ``for_s`` (like an alert rule's ``for:``), the guard records why and
delivers SIGINT to the main thread: the runner's normal interruption path then reverts the fault, and the
runner, seeing ``tripped``, reports an abort rather than a user's Ctrl-C. A real signal (not a flag the
runner would have to poll) is used because the main thread may be blocked in a runbook step's subprocess.

The same thread is the runner's watchdog on the target itself: given ``liveness`` (``Target.liveness``), it
polls it first on every round, and once the target has been lost for ``lost_after_s`` it records ``lost``
and delivers SIGINT the same way, so a drill whose cluster died stops within seconds instead of waiting out
its budgets and running the runbook against nothing.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests import RequestException

from drills.model import AbortCondition


class AbortGuard:
    def __init__(self, prometheus_url: str, conditions: list[AbortCondition], poll_s: float = 1.0,
                 liveness: Callable[[float], str | None] | None = None, lost_after_s: float = 2.0,
                 session: requests.Session | None = None) -> None:
        self.conditions = conditions
        self.poll_s = poll_s
        self.tripped: str | None = None
        self.tripped_at: float | None = None
        self.liveness = liveness
        self.lost_after_s = lost_after_s
        self.lost: str | None = None  # "target lost at +X s: why", X from start()
        self.lost_at: float | None = None
        self.started_at = time.time()
        # ``session`` (``Target.http()``) reaches ``prometheus_url`` through the API server
        self._prom = PrometheusConnect(url=prometheus_url, session=session or requests.Session(), timeout=5)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._main = threading.main_thread().ident

    def start(self) -> AbortGuard:
        self.started_at = time.time()
        if self.conditions or self.liveness is not None:
            self._thread = threading.Thread(target=self._run, name="abort-guard", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._prom.close()

    def _run(self) -> None:
        true_since: dict[int, float] = {}
        lost_since: float | None = None
        while not self._stop.wait(self.poll_s):
            now = time.time()
            if self.liveness is not None:
                why = self.liveness(self.started_at)
                lost_since = None if why is None else lost_since or now
                if why is not None and lost_since is not None and time.time() - lost_since >= self.lost_after_s:
                    self._lose(why, lost_since)
                    return
            for i, condition in enumerate(self.conditions):
                try:
                    samples = self._prom.custom_query(condition.expr)
                except (RequestException, PrometheusApiClientException, ValueError):
                    continue  # Prometheus briefly unreachable: not a reason to abort
                if not samples:
                    true_since.pop(i, None)
                    continue
                since = true_since.setdefault(i, now)
                if now - since >= condition.for_s:
                    self._trip(condition, samples, now - since)
                    return

    def _trip(self, condition: AbortCondition, samples: list[dict[str, object]], held_s: float) -> None:
        value = samples[0].get("value", ["", "?"])
        shown = value[1] if isinstance(value, list) and len(value) > 1 else value
        what = condition.description or condition.expr
        self.tripped = f"{what}: true for {held_s:.0f}s (value {shown}; expr {condition.expr})"
        self.tripped_at = time.time()
        if self._main is not None and not self._stop.is_set():
            signal.pthread_kill(self._main, signal.SIGINT)

    def lost_now(self) -> bool:
        """Whether the target is lost, asked now (with the same ``lost_after_s`` grace) rather than at the
        watchdog's next round: the runner asks before it acts on the target and when something failed, so a
        target lost a moment ago gets no runbook step, its failure is not mistaken for a failed step or a
        bug, and nothing is reverted against it. Records ``lost`` without signalling (the caller stops)."""
        if self.lost is not None or self.liveness is None:
            return self.lost is not None
        since = time.time()
        why = self.liveness(self.started_at)
        while why is not None and time.time() - since < self.lost_after_s:
            time.sleep(0.25)
            why = self.liveness(self.started_at)
        if why is not None:
            self._record_lost(why, since)
        return self.lost is not None

    def _lose(self, why: str, since: float) -> None:
        self._record_lost(why, since)
        if self._main is not None and not self._stop.is_set():
            signal.pthread_kill(self._main, signal.SIGINT)

    def _record_lost(self, why: str, since: float) -> None:
        self.lost = f"target lost at +{since - self.started_at:.1f}s: {why}"
        self.lost_at = time.time()
