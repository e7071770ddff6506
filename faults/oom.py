"""OOM: the pods' memory is driven past the cgroup limit the kernel enforces, by the traffic they serve.

Story reproduced (see REFERENCE "rollout subtlety"): the deployment's limit is fine for normal traffic, then
traffic shifts to requests with large contexts. Every replica's working set grows past its limit in the
*running* pods, the kernel OOM-kills them (exit 137, ``OOMKilled``), they restart into the same traffic and
crash-loop, and with no ready replica left AgentDown fires. Lowering the limit with a new rollout instead
would stall behind the still-serving old pods and nothing would fire; that is not the runbook's story.

The load generator's ConfigMap is the lever (on a cluster it is a Deployment too), so this fault uses only
``get_config`` / ``set_config`` / ``restart`` / ``pods`` from the target interface.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import ConfigChange, apply_config_change, config_change_undo, wait_for


class OomParams(BaseModel):
    namespace: str
    selector: dict[str, str] = Field(min_length=1, description="the pods to be OOM-killed")
    load_namespace: str = Field(description="where the load generator runs")
    load_configmap: str = Field(description="the load generator's settings")
    load_workload: str = Field(description="the load generator (deployment/NAME), restarted to take them")
    load: dict[str, str] = Field(min_length=1,
                                 description="load generator settings whose working set exceeds the limit")
    all_replicas: bool = Field(True, description="wait until every replica has been OOMKilled")


def _load_change(p: OomParams) -> ConfigChange:
    return ConfigChange(namespace=p.load_namespace, configmap=p.load_configmap, workload=p.load_workload,
                        set=p.load)


def undo(target: Target, p: OomParams) -> Undo:
    return config_change_undo(target, _load_change(p))


def inject(target: Target, p: OomParams) -> None:
    apply_config_change(target, _load_change(p))


def confirm(target: Target, p: OomParams, since: float, timeout_s: float) -> Evidence:
    """Wait for the kernel's verdict, after ``since``: OOMKilled with exit code 137 on every (or one) replica."""
    seen: dict[str, dict[str, Any]] = {}

    def killed() -> dict[str, Any] | None:
        pods = target.pods(p.namespace, p.selector)
        for pod in pods:
            fresh = pod.last_finished_at is not None and pod.last_finished_at >= since
            if fresh and pod.last_reason == "OOMKilled" and pod.last_exit_code == 137 and pod.name not in seen:
                seen[pod.name] = {"reason": pod.last_reason, "exitCode": pod.last_exit_code,
                                  "restarts": pod.restarts, "node": pod.node, "observed_at": time.time()}
        done = seen and (not p.all_replicas or {pod.name for pod in pods} <= set(seen))
        return {"oom_killed": dict(seen), "load": dict(p.load)} if done else None

    scope = "every" if p.all_replicas else "any"
    return wait_for(killed, timeout_s, f"OOMKilled (exit 137) on {scope} replica of {p.selector}")


def revert(target: Target, record: Undo) -> None:
    target.set_config(record["namespace"], record["configmap"], record["data"])
    target.restart(WorkloadRef.parse(record["workload"], record["namespace"]))


FAULT = FaultPlugin(kind="oom", summary="drive every replica's memory past its cgroup limit with heavy traffic",
                    params=OomParams, undo=undo, inject=inject, confirm=confirm, revert=revert,
                    requires=frozenset({"memory-limits"}))
