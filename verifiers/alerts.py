"""Alert verifier: did the alerts the runbook names fire, and did they clear?

Prometheus evaluates the rules; this module only watches ``/api/v1/alerts`` (prometheus-api-client has no
call for it, see REFERENCE) in a background thread and keeps, per alert name, when it went pending (the
rule's ``activeAt``), when it was first observed firing, and when it was first observed gone after firing.
Observation lag is the poll interval (0.25 s), well under the evaluation interval.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

POLL_S = 0.25


@dataclass
class AlertTrack:
    name: str
    severity: str | None = None
    pending_at: float | None = None
    firing_at: float | None = None
    resolved_at: float | None = None
    state: str = "inactive"


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def active_alerts(prometheus_url: str, timeout_s: float = 2.0, session: requests.Session | None = None) -> \
        list[dict[str, Any]]:
    """``session``: how ``prometheus_url`` is reached (``Target.http()``: through the API server's proxy)."""
    reply = (session or requests.Session()).get(f"{prometheus_url}/api/v1/alerts", timeout=timeout_s)
    reply.raise_for_status()
    return list(reply.json()["data"]["alerts"])


class AlertWatcher:
    """Records alert state transitions from the moment it starts until it is stopped."""

    def __init__(self, prometheus_url: str, session: requests.Session | None = None) -> None:
        self.url = prometheus_url
        self.session = session or requests.Session()  # kept: one connection to the API server, not one a poll
        self.tracks: dict[str, AlertTrack] = {}
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="alert-watcher")

    def start(self) -> AlertWatcher:
        self.poll()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.session.close()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            self.poll()

    def poll(self) -> None:
        try:
            alerts = active_alerts(self.url, session=self.session)
        except (requests.RequestException, KeyError, ValueError):
            self.errors += 1
            return
        now = time.time()
        with self._lock:
            seen: dict[str, str] = {}
            for alert in alerts:
                labels = alert["labels"]
                name = str(labels["alertname"])
                track = self.tracks.setdefault(name, AlertTrack(name, labels.get("severity")))
                state = str(alert["state"])
                if seen.get(name) != "firing":
                    seen[name] = state
                active_at = parse_time(str(alert["activeAt"]))
                if track.pending_at is None:  # the first episode counts; a flap does not move it
                    track.pending_at = active_at
                if state == "firing" and track.firing_at is None:
                    track.firing_at = now
            for name, track in self.tracks.items():
                new_state = seen.get(name, "inactive")
                if new_state != "inactive":
                    track.resolved_at = None if new_state == "firing" else track.resolved_at
                elif track.state != "inactive" and track.firing_at is not None:
                    track.resolved_at = now
                track.state = new_state

    def snapshot(self) -> dict[str, AlertTrack]:
        with self._lock:
            return {k: AlertTrack(**vars(v)) for k, v in self.tracks.items()}

    def wait_for(self, names: list[str], state: str, deadline: float) -> dict[str, AlertTrack]:
        """Wait until every alert in ``names`` is firing (``state='firing'``) or gone (``'resolved'``)."""
        while True:
            tracks = self.snapshot()
            if all(_reached(tracks.get(n), state) for n in names) or time.monotonic() >= deadline:
                return tracks
            time.sleep(POLL_S)

    def firing(self, severity: str | None = None) -> list[str]:
        with self._lock:
            return sorted(n for n, t in self.tracks.items()
                          if t.state == "firing" and (severity is None or t.severity == severity))


def _reached(track: AlertTrack | None, state: str) -> bool:
    if state == "firing":
        return track is not None and track.firing_at is not None
    return track is None or track.state == "inactive"
