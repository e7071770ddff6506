"""The CPU-throttling fault: one rollout carrying the heavier work and the limit; confirmed from cAdvisor + p95."""

from __future__ import annotations

from typing import Any

import pytest

from drills.errors import FaultError
from drills.targets.base import PodState, WorkloadRef
from faults import cpu, promql

PARAMS = cpu.CpuThrottlingParams(namespace="production-agents", workload="deployment/agent-deployment",
                                 container="agent", selector={"app": "production-agent"}, cpu_limit="200m",
                                 configmap="agent-config", config={"REQUEST_CPU_MS": "50"},
                                 latency_metric="agent_request_duration_seconds", min_p95_s=0.5)


class Recorder:
    """The few Target calls the fault makes, recorded in order."""

    def __init__(self, rolled_out: bool = True) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.config = {"REQUEST_CPU_MS": "5", "API_TIMEOUT": "30"}
        self.rolled_out = rolled_out

    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.config)

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        self.calls.append(("set_config", dict(data)))
        return {}

    def set_resources(self, ref: WorkloadRef, container: str, limits: dict[str, str | None]) -> None:
        self.calls.append(("set_resources", (str(ref), container, dict(limits))))

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        updated = 2 if self.rolled_out else 1
        return {"replicas": 2, "updatedReplicas": updated, "updatedReadyReplicas": updated, "currentReplicas": 2}

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        return [PodState(name=n, namespace=namespace, node="w", ip="", phase="Running", ready=True, restarts=0,
                         waiting_reason=None, last_reason=None, last_exit_code=None) for n in ("a-1", "a-2")]


def test_undo_records_the_limit_and_the_config_values_before_the_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "_cpu_limit", lambda target, ref, container: None)
    undo = cpu.undo(Recorder(), PARAMS)  # type: ignore[arg-type]
    assert undo == {"namespace": "production-agents", "workload": "deployment/agent-deployment",
                    "container": "agent", "cpu": None, "configmap": "agent-config",
                    "config": {"REQUEST_CPU_MS": "5"}}


def test_inject_writes_the_config_before_the_limit_whose_rollout_starts_the_pods() -> None:
    target = Recorder()
    cpu.inject(target, PARAMS)  # type: ignore[arg-type]
    assert target.calls == [("set_config", {"REQUEST_CPU_MS": "50"}),
                            ("set_resources", ("deployment/agent-deployment -n production-agents", "agent",
                                               {"cpu": "200m"}))]


def test_revert_removes_a_limit_that_was_not_there() -> None:
    target = Recorder()
    cpu.revert(target, {"namespace": "production-agents", "workload": "deployment/agent-deployment",  # type: ignore[arg-type]
                        "container": "agent", "cpu": None, "configmap": "agent-config",
                        "config": {"REQUEST_CPU_MS": None}})
    assert target.calls == [("set_config", {"REQUEST_CPU_MS": None}),
                            ("set_resources", ("deployment/agent-deployment -n production-agents", "agent",
                                               {"cpu": None}))]


def test_confirm_needs_every_replica_throttled_and_p95_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu, "_throttled", lambda target, p: {"a-1": 0.9, "a-2": 0.8})
    monkeypatch.setattr(promql, "p95", lambda target, metric: 2.4)
    evidence = cpu.confirm(Recorder(), PARAMS, 0.0, 1.0)  # type: ignore[arg-type]
    assert evidence["throttled_ratio"] == {"a-1": 0.9, "a-2": 0.8} and evidence["p95_s"] == 2.4


@pytest.mark.parametrize(("ratios", "latency", "rolled_out"), [
    ({"a-1": 0.9, "a-2": 0.1}, 2.4, True),   # one replica not throttled
    ({"a-1": 0.9}, 2.4, True),               # one replica has no series yet
    ({"a-1": 0.9, "a-2": 0.9}, 0.1, True),   # throttled, but latency not up
    ({"a-1": 0.9, "a-2": 0.9}, None, True),  # no latency data
    ({"a-1": 0.9, "a-2": 0.9}, 2.4, False),  # the old, unlimited pods still serve
])
def test_confirm_fails_without_every_symptom(monkeypatch: pytest.MonkeyPatch, ratios: dict[str, float],
                                             latency: float | None, rolled_out: bool) -> None:
    monkeypatch.setattr(cpu, "_throttled", lambda target, p: ratios)
    monkeypatch.setattr(promql, "p95", lambda target, metric: latency)
    with pytest.raises(FaultError, match="throttled"):
        cpu.confirm(Recorder(rolled_out), PARAMS, 0.0, 0.3)  # type: ignore[arg-type]
