"""The datastore-stopped fault scales the workload to zero, proves the clients are refused, and scales it back."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, cast

import pytest

from drills.errors import FaultError
from drills.registry import faults
from drills.targets.base import PodState, Target, WorkloadRef
from faults import stopped

LOGGED = "ConnectionError: Cannot connect to Redis ECONNREFUSED"
PARAMS = stopped.StoppedParams(namespace="production-agents", workload="statefulset/redis",
                               selector={"app": "redis"}, clients={"app": "production-agent"}, logged=LOGGED)
AGENTS = ("agent-a", "agent-b")


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _pod(name: str, ready: bool) -> PodState:
    return PodState(name=name, namespace="production-agents", node="n1", ip="127.0.0.1", phase="Running",
                    ready=ready, restarts=0, waiting_reason=None, last_reason=None, last_exit_code=None)


class ScaledTarget:
    """A StatefulSet whose pods follow its replica count, and agents whose readiness and logs are set by a test."""

    def __init__(self) -> None:
        self.replicas, self.scaled = 1, list[int]()
        self.agents_ready = True
        self.log: dict[str, str] = {}

    def scale(self, ref: WorkloadRef, replicas: int) -> None:
        assert ref == WorkloadRef("StatefulSet", "production-agents", "redis")
        self.replicas = replicas
        self.scaled.append(replicas)

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        if selector == {"app": "redis"}:
            return [_pod(f"redis-{i}", True) for i in range(self.replicas)]
        return [_pod(name, self.agents_ready) for name in AGENTS]

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        return self.log.get(pod, "")


@pytest.fixture(autouse=True)
def _statefulset(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(target: Any, ref: WorkloadRef) -> dict[str, Any]:
        return {"spec": {"replicas": target.replicas}}
    monkeypatch.setattr(stopped, "read_workload", read)


def test_registered() -> None:
    assert faults()["datastore-stopped"] is stopped.FAULT


def test_replicas_defaults_to_one_as_kubernetes_does() -> None:
    assert stopped.replicas({"spec": {}}) == 1 and stopped.replicas({"spec": {"replicas": 3}}) == 3
    assert stopped.replicas({"spec": {"replicas": 0}}) == 0


def test_inject_scales_to_zero_and_revert_scales_back_once() -> None:
    target = ScaledTarget()
    record = stopped.undo(cast(Target, target), PARAMS)
    assert record["replicas"] == 1
    stopped.inject(cast(Target, target), PARAMS)
    assert target.replicas == 0
    stopped.revert(cast(Target, target), record)
    assert target.replicas == 1
    stopped.revert(cast(Target, target), record)  # the runbook's scale already brought it back: nothing to do
    assert target.scaled == [0, 1]


def test_a_workload_already_stopped_is_refused() -> None:
    target = ScaledTarget()
    target.replicas = 0
    with pytest.raises(FaultError, match="already runs no replica"):
        stopped.undo(cast(Target, target), PARAMS)


def test_confirm_needs_every_client_refused_since_the_injection_and_not_ready() -> None:
    target = ScaledTarget()
    since = time.time()
    stopped.inject(cast(Target, target), PARAMS)
    old = f"ts={_stamp(since - 60)} level=ERROR msg={LOGGED} 127.0.0.10:6379"
    target.log = {name: old for name in AGENTS}
    with pytest.raises(FaultError, match="every client refused"):  # an old line never counts
        stopped.confirm(cast(Target, target), PARAMS, since, 0.3)
    new = f"ts={_stamp(since + 1)} level=ERROR msg={LOGGED} 127.0.0.10:6379: Error 111 connecting"
    target.log = {"agent-a": new}
    with pytest.raises(FaultError):  # one client refused is not every client
        stopped.confirm(cast(Target, target), PARAMS, since, 0.3)
    target.log = {name: new for name in AGENTS}
    with pytest.raises(FaultError):  # refused but still ready: the health check does not see it
        stopped.confirm(cast(Target, target), PARAMS, since, 0.3)
    target.agents_ready = False
    evidence = stopped.confirm(cast(Target, target), PARAMS, since, 0.3)
    assert evidence["logged"] == {name: new for name in AGENTS}
    assert evidence["stopped"] == "statefulset/redis" and set(evidence["clients"]) == set(AGENTS)


def test_confirm_waits_while_the_datastore_still_runs() -> None:
    target = ScaledTarget()
    target.agents_ready = False
    since = time.time()
    target.log = {name: f"ts={_stamp(since + 1)} level=ERROR msg={LOGGED}" for name in AGENTS}
    with pytest.raises(FaultError, match="without pods"):
        stopped.confirm(cast(Target, target), PARAMS, since, 0.3)
