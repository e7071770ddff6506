"""CPU throttling: the agent's requests need more CPU than its container's CPU limit lets the kernel give it.

Story reproduced (Runbook 3, Cause 2): a release makes every request do more CPU work (``REQUEST_CPU_MS``: the
agent's own tokenising / filtering, :mod:`refsystem.cpu`) and, in the same change, the container gets a CPU
limit sized for the old work. The limit becomes a CFS quota on the pod's cgroup (``cpu.cfs_quota_us`` per
100 ms period, as the kubelet sets it); each replica now needs more CPU time per period than the quota, so the
kernel throttles it in most periods, requests wait for CPU and latency climbs. Both changes go out in one
rollout (the ConfigMap first, then the limit, whose template change starts the new pods).

``confirm`` proves it from the cluster's own telemetry: every replica of the new template is ready, the
kubelet's cAdvisor series show each one throttled in more than ``min_throttled_ratio`` of its CFS periods
(``container_cpu_cfs_throttled_periods_total`` / ``container_cpu_cfs_periods_total``), and the service's p95
latency is above ``min_p95_s``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from pydantic import BaseModel, Field

from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults import promql
from faults.common import wait_for


class CpuThrottlingParams(BaseModel):
    namespace: str
    workload: str = Field(description="deployment/NAME whose container gets the CPU limit")
    container: str
    selector: dict[str, str] = Field(min_length=1, description="the workload's pods")
    cpu_limit: str = Field(description="the CPU limit the change sets, e.g. 200m")
    configmap: str | None = Field(None, description="the workload's ConfigMap, if the change also edits it")
    config: dict[str, str] = Field(default_factory=dict,
                                   description="ConfigMap values of the change, e.g. more CPU work per request")
    min_throttled_ratio: float = Field(0.25, gt=0, lt=1,
                                       description="share of CFS periods each replica must be throttled in")
    latency_metric: str = Field(description="the service's request-duration histogram (without _bucket)")
    min_p95_s: float = Field(gt=0, description="p95 latency that proves requests wait for CPU")


def _cpu_limit(target: Target, ref: WorkloadRef, container: str) -> str | None:
    """The container's current CPU limit (``kubectl get deploy -o jsonpath=...limits.cpu``), None if unlimited."""
    apps = client.AppsV1Api(target.api_client())
    read = apps.read_namespaced_deployment if ref.kind == "Deployment" else apps.read_namespaced_stateful_set
    workload: Any = read(ref.name, ref.namespace)
    for c in workload.spec.template.spec.containers:
        if c.name == container:
            limits = (c.resources.limits if c.resources else None) or {}
            return str(limits["cpu"]) if "cpu" in limits else None
    return None


def undo(target: Target, p: CpuThrottlingParams) -> Undo:
    ref = WorkloadRef.parse(p.workload, p.namespace)
    current = target.get_config(p.namespace, p.configmap) if p.configmap else {}
    return {"namespace": p.namespace, "workload": p.workload, "container": p.container,
            "cpu": _cpu_limit(target, ref, p.container), "configmap": p.configmap,
            "config": {k: current.get(k) for k in p.config}}


def inject(target: Target, p: CpuThrottlingParams) -> None:
    if p.configmap and p.config:
        target.set_config(p.namespace, p.configmap, dict(p.config))
    target.set_resources(WorkloadRef.parse(p.workload, p.namespace), p.container, {"cpu": p.cpu_limit})


def _throttled(target: Target, p: CpuThrottlingParams) -> dict[str, float]:
    """Each pod's share of CFS periods throttled over the rate window (cAdvisor's series, as CPUThrottlingHigh)."""
    sel = f'namespace="{p.namespace}", container="{p.container}"'
    w = promql.window(target)
    expr = (f"sum by (pod) (increase(container_cpu_cfs_throttled_periods_total{{{sel}}}[{w}])) / "
            f"sum by (pod) (increase(container_cpu_cfs_periods_total{{{sel}}}[{w}]))")
    return promql.values(target, expr, "pod")


def confirm(target: Target, p: CpuThrottlingParams, since: float, timeout_s: float) -> Evidence:
    ref = WorkloadRef.parse(p.workload, p.namespace)

    def symptoms() -> Evidence | None:
        s = target.rollout_status(ref)
        if not s["updatedReadyReplicas"] == s["replicas"] == s["currentReplicas"]:
            return None  # the old, unlimited pods are still serving
        pods = [pod.name for pod in target.pods(p.namespace, p.selector)]
        ratios = _throttled(target, p)
        if not pods or any(ratios.get(name, 0.0) <= p.min_throttled_ratio for name in pods):
            return None
        latency = promql.p95(target, p.latency_metric)
        if latency is None or latency <= p.min_p95_s:
            return None
        return {"cpu_limit": p.cpu_limit, "config": dict(p.config),
                "throttled_ratio": {name: round(ratios[name], 3) for name in pods},
                "p95_s": round(latency, 3)}

    return wait_for(symptoms, timeout_s, f"every replica of {ref} throttled in >{p.min_throttled_ratio:.0%} of "
                                         f"its CFS periods and p95 latency above {p.min_p95_s:g}s")


def revert(target: Target, record: Undo) -> None:
    """Put the limit (and the ConfigMap values) back; the template change rolls out pods without the quota."""
    if record.get("configmap") and record.get("config"):
        target.set_config(record["namespace"], record["configmap"], record["config"])
    target.set_resources(WorkloadRef.parse(record["workload"], record["namespace"]), record["container"],
                         {"cpu": record.get("cpu")})


FAULT = FaultPlugin(kind="cpu-throttling", summary="a CPU limit below what the requests need: CFS throttles "
                    "every replica", params=CpuThrottlingParams, undo=undo, inject=inject, confirm=confirm,
                    revert=revert, requires=frozenset({"cpu-limits"}))
