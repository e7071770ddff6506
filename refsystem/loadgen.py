"""Steady, bounded traffic generator for the agent: the "users" whose experience drills measure.

Why: alerts such as HighErrorRate and HighLatency, and the OOM kill, only happen under traffic, and a
remediation is only proven if traffic recovers. The generator paces requests on a fixed schedule
(RATE per second across CONCURRENCY workers), so an agent that slows down shows up as latency and
errors rather than as a quietly lower request rate.

Bounded by design: it only ever sends to loopback base URLs (127.0.0.0/8, ::1, localhost) taken from
TARGETS_FILE (a JSON list re-read every second, written by the sandbox with the ready endpoints) or
TARGET_URL; anything else is refused and logged. With no targets it idles.

Env: TARGETS_FILE | TARGET_URL, RATE=10, CONCURRENCY=4, USERS=20, USER_PREFIX=user, CONTEXT_KB=16,
MESSAGE_CHARS=200, CONVERSATION_TURNS=3 (messages per conversation before a user starts a new one, so the
agent's context cache keeps seeing new conversations), FLOOD_USER= and FLOOD_SHARE=0 (that share of all
requests is sent as the one user FLOOD_USER: a bot or an abusive client among the real users), TIMEOUT_S=5,
POD_IP, METRICS_PORT=9100.
Metrics: ``loadgen_requests_total{code}`` (``error`` = no HTTP answer) and
``loadgen_request_duration_seconds``. Logs a summary every 5 s; stops cleanly on SIGTERM.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import signal
import threading
import time
from collections import Counter as Tally
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from refsystem.config import ConfigError, env_value, fail_config, log, parse_float, parse_int
from refsystem.metrics import LATENCY_BUCKETS

_TEXT = "please summarise the incident timeline and list the follow-up actions for the on-call team "


def is_loopback_url(url: str) -> bool:
    """True only for http(s) URLs whose host is a loopback address - the generator's safety bound."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https"):
            return False
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted list; 0.0 for an interval with no requests."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class Targets:
    """The current list of base URLs, refreshed from TARGETS_FILE every second by a background thread."""

    def __init__(self, targets_file: str, target_url: str) -> None:
        self._file, self._lock, self._rr = targets_file, threading.Lock(), 0
        self._urls: list[str] = []
        self._refused: set[str] = set()
        self.update([target_url] if target_url else [])

    def update(self, urls: list[Any]) -> None:
        good = []
        for url in (str(u).rstrip("/") for u in urls):
            if is_loopback_url(url):
                good.append(url)
            elif url not in self._refused:
                self._refused.add(url)
                log("WARNING", "refusing non-loopback target", target=url)
        with self._lock:
            if good != self._urls:
                log("INFO", "targets changed", targets=",".join(good) or "-")
            self._urls = good

    def reload(self) -> None:
        """Re-read the file; a missing file means no targets, a half-written one keeps the old list."""
        if not self._file:
            return
        try:
            with open(self._file, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            data = []
        except (OSError, ValueError):
            return
        if isinstance(data, list):
            self.update(data)

    def next(self) -> str | None:
        """Round-robin over the current targets; None when there are none."""
        with self._lock:
            if not self._urls:
                return None
            self._rr = (self._rr + 1) % len(self._urls)
            return self._urls[self._rr]

    def count(self) -> int:
        with self._lock:
            return len(self._urls)


class Pacer:
    """Hands out send times k/RATE apart; a backlog older than 1 s is dropped instead of burst-sent."""

    def __init__(self, rate: float) -> None:
        self._interval, self._next, self._lock = 1.0 / rate, time.monotonic(), threading.Lock()

    def slot(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._next < now - 1.0:
                self._next = now
            at, self._next = self._next, self._next + self._interval
            return at


class LoadGen:
    """Workers, metrics and the per-interval tallies behind the summary log line."""

    def __init__(self, env: dict[str, str]) -> None:
        try:
            self.rate = env_value(env, "RATE", 10.0, parse_float)
            self.concurrency = env_value(env, "CONCURRENCY", 4, parse_int)
            self.users = env_value(env, "USERS", 20, parse_int)
            self.context_kb = env_value(env, "CONTEXT_KB", 16, parse_int)
            self.message_chars = env_value(env, "MESSAGE_CHARS", 200, parse_int)
            self.turns = env_value(env, "CONVERSATION_TURNS", 3, parse_int)
            self.flood_share = env_value(env, "FLOOD_SHARE", 0.0, parse_float)
            self.timeout = env_value(env, "TIMEOUT_S", 5.0, parse_float)
            self.metrics_port = env_value(env, "METRICS_PORT", 9100, parse_int)
        except ConfigError as exc:
            fail_config(exc.lines)
        if self.rate <= 0 or self.concurrency < 1 or self.users < 1 or self.turns < 1:
            fail_config(["Error: RATE, CONCURRENCY, USERS and CONVERSATION_TURNS must be positive"])
        if not 0.0 <= self.flood_share <= 1.0:
            fail_config([f"Error: Invalid value for environment variable FLOOD_SHARE: {self.flood_share} (0..1)"])
        self.prefix = env.get("USER_PREFIX", "user")
        self.flood_user = env.get("FLOOD_USER", "").strip()
        self.host = env.get("POD_IP") or "127.0.0.1"
        self.targets = Targets(env.get("TARGETS_FILE", ""), env.get("TARGET_URL", ""))
        self.stop = threading.Event()
        self.pacer = Pacer(self.rate)
        self.registry = CollectorRegistry()
        self.requests = Counter("loadgen_requests_total", "Requests sent by outcome", ["code"], registry=self.registry)
        self.duration = Histogram("loadgen_request_duration_seconds", "Request duration", registry=self.registry,
                                  buckets=LATENCY_BUCKETS)
        self._lock = threading.Lock()
        self._tally: Tally[str] = Tally()
        self._durations: list[float] = []
        self._seq: dict[str, int] = {}

    def _body(self) -> dict[str, Any]:
        user = f"{self.prefix}-{random.randrange(self.users):04d}"
        if self.flood_user and random.random() < self.flood_share:
            user = self.flood_user
        with self._lock:
            n = self._seq[user] = self._seq.get(user, -1) + 1
        message = (_TEXT * (self.message_chars // len(_TEXT) + 1))[: self.message_chars] or "hi"
        return {"user_id": user, "conversation_id": f"{user}-c{n // self.turns}", "message": message,
                "context_kb": self.context_kb}

    def worker(self) -> None:
        """Take the next slot, wait for it, send one chat request, record the outcome."""
        with requests.Session() as session:
            session.trust_env = False  # never route through a proxy: targets are loopback only
            while not self.stop.is_set():
                target = self.targets.next()
                if target is None:
                    self.stop.wait(0.2)
                    continue
                at = self.pacer.slot()
                if self.stop.wait(max(0.0, at - time.monotonic())):
                    return
                started = time.monotonic()
                try:
                    resp = session.post(f"{target}/v1/chat", json=self._body(), timeout=self.timeout)
                    code = str(resp.status_code)
                except requests.RequestException:
                    code = "error"
                elapsed = time.monotonic() - started
                self.requests.labels(code).inc()
                self.duration.observe(elapsed)
                with self._lock:
                    self._tally[code] += 1
                    self._durations.append(elapsed)

    def summarise(self, window: float) -> None:
        """One log line per interval: achieved rate, outcome codes, p50/p95 latency."""
        with self._lock:
            tally, durations = self._tally, sorted(self._durations)
            self._tally, self._durations = Tally(), []
        total = sum(tally.values())
        log("INFO", "loadgen summary", sent=total, rate=total / window, target_rate=self.rate,
            targets=self.targets.count(), codes=",".join(f"{k}:{v}" for k, v in sorted(tally.items())) or "-",
            p50=quantile(durations, 0.5), p95=quantile(durations, 0.95))

    def run(self) -> None:
        """Start metrics, workers and the 1 s target refresh; block until SIGTERM, then join everything."""
        server, _thread = start_http_server(self.metrics_port, addr=self.host, registry=self.registry)
        workers = [threading.Thread(target=self.worker, name=f"worker-{i}", daemon=True)
                   for i in range(self.concurrency)]
        log("INFO", "loadgen started", pod=os.environ.get("POD_NAME", "loadgen"), rate=self.rate,
            concurrency=self.concurrency, users=self.users, context_kb=self.context_kb,
            flood_user=self.flood_user or "-", flood_share=self.flood_share, metrics=f"{self.host}:{self.metrics_port}")
        self.targets.reload()
        for w in workers:
            w.start()
        last_summary = time.monotonic()
        while not self.stop.wait(1.0):
            self.targets.reload()
            if time.monotonic() - last_summary >= 5.0:
                self.summarise(time.monotonic() - last_summary)
                last_summary = time.monotonic()
        for w in workers:
            w.join(timeout=self.timeout + 1.0)
        self.summarise(max(0.001, time.monotonic() - last_summary))
        server.shutdown()
        server.server_close()
        log("INFO", "loadgen stopped")


def main() -> None:
    """Entry point: configure from env, stop on SIGTERM/SIGINT."""
    gen = LoadGen(dict(os.environ))

    def _stop(signum: int, _frame: object) -> None:
        log("INFO", "loadgen stopping", signal=signum)
        gen.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    gen.run()


if __name__ == "__main__":
    main()
