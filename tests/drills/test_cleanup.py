"""``drillbook cleanup`` tells the truth about the target, journal or not."""

from __future__ import annotations

from typing import Any

from drills.cleanup import not_steady
from drills.errors import TargetError

LOST = "the control plane (controller) is not running"


class FakeTarget:
    name = "fake"

    def __init__(self, lost_for: int = 0, steady_error: str | None = None) -> None:
        self.lost_for, self.steady_error = lost_for, steady_error  # lost_for: probes that find it lost
        self.probes = 0
        self.waited: list[float] = []

    def liveness(self, since: float | None = None) -> str | None:
        self.probes += 1
        return LOST if self.probes <= self.lost_for else None

    def wait_steady(self, timeout_s: float) -> None:
        self.waited.append(timeout_s)
        if self.steady_error:
            raise TargetError(self.steady_error)


def check(target: Any, timeout_s: float = 7) -> str | None:
    return not_steady(target, steady_timeout_s=timeout_s, poll_s=0.01)


def test_a_steady_target_has_nothing_wrong() -> None:
    target = FakeTarget()
    assert check(target) is None
    assert len(target.waited) == 1 and 6 < target.waited[0] <= 7


def test_a_control_plane_that_comes_back_within_the_timeout_is_not_lost() -> None:
    target = FakeTarget(lost_for=5)
    assert check(target) is None
    assert target.probes == 6 and len(target.waited) == 1


def test_a_lost_target_is_named_without_waiting_for_steady_state() -> None:
    target = FakeTarget(lost_for=10**9)
    assert check(target, timeout_s=0.1) == f"target fake is not running: {LOST}"
    assert target.waited == []


def test_a_target_that_does_not_settle_says_what_is_waiting() -> None:
    target = FakeTarget(steady_error="sandbox not ready after 7s: {'Deployment/production-agents/agent': '0/2'}")
    wrong = check(target)
    assert wrong is not None and wrong.startswith("target fake is not steady:") and "0/2" in wrong
