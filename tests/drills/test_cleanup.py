"""``drillbook cleanup`` tells the truth about the target, journal or not."""

from __future__ import annotations

from typing import Any

from drills.cleanup import not_steady
from drills.errors import TargetError


class FakeTarget:
    name = "fake"

    def __init__(self, lost: str | None = None, steady_error: str | None = None) -> None:
        self.lost, self.steady_error = lost, steady_error
        self.waited: list[float] = []

    def liveness(self, since: float | None = None) -> str | None:
        return self.lost

    def wait_steady(self, timeout_s: float) -> None:
        self.waited.append(timeout_s)
        if self.steady_error:
            raise TargetError(self.steady_error)


def check(target: Any) -> str | None:
    return not_steady(target, steady_timeout_s=7)


def test_a_steady_target_has_nothing_wrong() -> None:
    target = FakeTarget()
    assert check(target) is None
    assert target.waited == [7]


def test_a_lost_target_is_named_without_waiting() -> None:
    target = FakeTarget(lost="the control plane (controller) is not running")
    assert check(target) == "target fake is not running: the control plane (controller) is not running"
    assert target.waited == []


def test_a_target_that_does_not_settle_says_what_is_waiting() -> None:
    target = FakeTarget(steady_error="sandbox not ready after 7s: {'Deployment/production-agents/agent': '0/2'}")
    wrong = check(target)
    assert wrong is not None and wrong.startswith("target fake is not steady:") and "0/2" in wrong
