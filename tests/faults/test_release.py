"""The bad-release fault rolls the new version out, proves it fails requests, and puts the old image back."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, cast

import pytest

from drills.errors import FaultError
from drills.registry import faults
from drills.targets.base import PodState, Target, WorkloadRef
from faults import release

OLD, NEW = "ghcr.io/drillbook/production-agent:1.0.0", "ghcr.io/drillbook/production-agent:1.2.0"
PARAMS = release.ReleaseParams(namespace="production-agents", workload="deployment/agent-deployment",
                               container="agent", selector={"app": "production-agent"}, image=NEW,
                               logged="internal error: KeyError")


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RolloutTarget:
    """A Deployment whose image set_image changes and whose rollout wait_steady completes."""

    def __init__(self, log: str = "") -> None:
        self.image, self.log, self.steady_waits = OLD, log, 0
        self.rolled = True

    def set_image(self, ref: WorkloadRef, container: str, image: str) -> None:
        self.image, self.rolled = image, False

    def wait_steady(self, timeout_s: float) -> None:
        self.steady_waits += 1
        self.rolled = True

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        n = 2 if self.rolled else 0
        return {"replicas": 2, "updatedReplicas": n, "updatedReadyReplicas": n, "currentReplicas": 2}

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        return [PodState(name="agent-x", namespace=namespace, node="n1", ip="127.0.0.1", phase="Running",
                         ready=True, restarts=0, waiting_reason=None, last_reason=None, last_exit_code=None)]

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        return self.log


@pytest.fixture(autouse=True)
def _deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(target: Any, ref: WorkloadRef) -> dict[str, Any]:
        return {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": target.image}]}}}}
    monkeypatch.setattr(release, "read_workload", read)


def test_registered() -> None:
    assert faults()["bad-release"] is release.FAULT


def test_template_image_reads_the_named_container() -> None:
    dep = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "x"},
                                                         {"name": "agent", "image": OLD}]}}}}
    assert release.template_image(dep, "agent") == OLD and release.template_image(dep, "other") is None


def test_inject_rolls_out_and_revert_puts_the_old_image_back_once() -> None:
    target = RolloutTarget()
    record = release.undo(cast(Target, target), PARAMS)
    assert record["image"] == OLD
    release.inject(cast(Target, target), PARAMS)
    assert target.image == NEW and target.steady_waits == 1  # rolled out, not merely requested
    release.revert(cast(Target, target), record)
    assert target.image == OLD
    target.set_image(WorkloadRef("Deployment", "production-agents", "agent-deployment"), "agent", OLD)
    target.rolled = True
    release.revert(cast(Target, target), record)  # the runbook's rollback already went back: nothing to do
    assert target.image == OLD


def test_confirm_needs_the_rollout_the_failing_requests_and_prometheus(monkeypatch: pytest.MonkeyPatch) -> None:
    since = time.time()
    line = f'ts={_stamp(since + 1)} level=ERROR msg="internal error: KeyError: \'d\'"'
    counted: list[float | None] = [4.0]
    monkeypatch.setattr(release, "query", lambda target, expr: counted[0])
    target = RolloutTarget(line)
    release.inject(cast(Target, target), PARAMS)
    evidence = release.confirm(cast(Target, target), PARAMS, since, 1)
    assert evidence["pods_logged"] == {"agent-x": line} and evidence["internal_errors"] == 4.0
    target.rolled = False  # the new version is not (yet) rolled out
    with pytest.raises(FaultError, match="not observed"):
        release.confirm(cast(Target, target), PARAMS, since, 0.3)
    target.rolled, counted[0] = True, None  # logged, but Prometheus counted nothing
    with pytest.raises(FaultError):
        release.confirm(cast(Target, target), PARAMS, since, 0.3)
    old = RolloutTarget(f'ts={_stamp(since - 5)} level=ERROR msg="internal error: KeyError: \'d\'"')
    release.inject(cast(Target, old), PARAMS)
    counted[0] = 4.0
    with pytest.raises(FaultError):  # a failure logged before the injection does not count
        release.confirm(cast(Target, old), PARAMS, since, 0.3)
