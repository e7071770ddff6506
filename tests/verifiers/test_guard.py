"""The abort guard as the runner's watchdog on the target: a lost target stops the drill through SIGINT."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator

import pytest

from verifiers.guard import AbortGuard

UNUSED_PROMETHEUS = "http://127.0.0.1:9"  # no abort condition: never queried


@pytest.fixture()
def sigint_raises() -> Iterator[None]:
    """As run_drill makes it: a background job (``make test &``) starts with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_raises")
def test_a_lost_target_delivers_sigint_and_says_when() -> None:
    why: list[str] = []
    guard = AbortGuard(UNUSED_PROMETHEUS, [], poll_s=0.05, liveness=lambda since: why[0] if why else None,
                       lost_after_s=0.2).start()
    try:
        time.sleep(0.3)
        why.append("the control plane (controller) is not running")
        lost = time.time()
        with pytest.raises(KeyboardInterrupt):
            time.sleep(5)
        noticed = time.time() - lost
    finally:
        guard.stop()
    assert guard.lost is not None
    assert re.fullmatch(r"target lost at \+0\.[345]s: the control plane \(controller\) is not running",
                        guard.lost), guard.lost
    assert 0.2 <= noticed < 1.0
    assert guard.tripped is None


def test_a_blip_shorter_than_the_grace_does_not_stop_the_drill() -> None:
    answers = iter(["API server does not answer", "API server does not answer"])
    guard = AbortGuard(UNUSED_PROMETHEUS, [], poll_s=0.05, liveness=lambda since: next(answers, None),
                       lost_after_s=0.5).start()
    try:
        time.sleep(1.0)
    finally:
        guard.stop()
    assert guard.lost is None


def test_the_probe_gets_the_guards_start_time() -> None:
    seen: list[float] = []

    def probe(since: float) -> None:
        seen.append(since)

    before = time.time()
    guard = AbortGuard(UNUSED_PROMETHEUS, [], poll_s=0.05, liveness=probe).start()
    time.sleep(0.2)
    guard.stop()
    assert seen and all(s == guard.started_at for s in seen) and before <= guard.started_at <= time.time()


def test_lost_now_asks_at_once_and_records_without_signalling() -> None:
    """Before the runbook runs, a target killed a moment ago is caught without waiting for the next round."""
    guard = AbortGuard(UNUSED_PROMETHEUS, [], poll_s=60, liveness=lambda since: "API server refused", lost_after_s=0.3)
    guard.start()  # its first round is a minute away: only lost_now() can see the loss in time
    try:
        assert guard.lost_now()  # no SIGINT: the default handler would raise KeyboardInterrupt here
        assert guard.lost is not None and re.fullmatch(r"target lost at \+0\.\ds: API server refused", guard.lost)
    finally:
        guard.stop()


def test_lost_now_forgives_a_blip_within_the_grace() -> None:
    answers = iter(["restarting", None])
    guard = AbortGuard(UNUSED_PROMETHEUS, [], liveness=lambda since: next(answers, None), lost_after_s=5)
    assert not guard.lost_now() and guard.lost is None
    assert not AbortGuard(UNUSED_PROMETHEUS, []).lost_now()  # no liveness probe: never lost
