"""A datastore stopped: its workload scaled to zero replicas, so nothing listens behind its Service any more.

Story reproduced (Runbook 2, cause 2 "Redis Connection Failure"): a ``kubectl scale --replicas=0`` meant for
another environment stops ``statefulset/redis``. The Service's address stays (a ClusterIP; in the sandbox the
StatefulSet pod's stable address) but nothing listens on it, so every client's connect is refused at once:
the agents log ``ConnectionError: Cannot connect to Redis ECONNREFUSED ...``. The runbook's fix is to scale
the StatefulSet back to its replica count; the clients reconnect on their own.

Proof before the alert is awaited, from the API and the clients' logs: the workload runs no pod, the client
pods log the refused connection since the injection, and they fail their Redis health check (not ready).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import describe, wait_for
from faults.observe import first_logged, read_workload


class StoppedParams(BaseModel):
    namespace: str
    workload: str = Field(description="statefulset/NAME (or deployment/NAME) of the datastore, scaled to 0")
    selector: dict[str, str] = Field(min_length=1, description="the datastore's pods")
    clients: dict[str, str] = Field(min_length=1, description="the pods that connect to it")
    logged: str = Field(min_length=1, description="what a client logs when its connection is refused")


def replicas(workload: dict[str, Any]) -> int:
    """``spec.replicas`` of a Deployment or StatefulSet (JSON); Kubernetes defaults an absent one to 1."""
    value = (workload.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def undo(target: Target, p: StoppedParams) -> Undo:
    current = replicas(read_workload(target, WorkloadRef.parse(p.workload, p.namespace)))
    if current < 1:
        raise FaultError(f"{p.workload} already runs no replica: nothing to stop")
    return {"namespace": p.namespace, "workload": p.workload, "replicas": current}


def inject(target: Target, p: StoppedParams) -> None:
    target.scale(WorkloadRef.parse(p.workload, p.namespace), 0)


def confirm(target: Target, p: StoppedParams, since: float, timeout_s: float) -> Evidence:
    def seen() -> Evidence | None:
        if target.pods(p.namespace, p.selector):
            return None  # still terminating
        clients = target.pods(p.namespace, p.clients)
        if not clients or any(pod.ready for pod in clients):
            return None
        refused = first_logged(target, p.namespace, clients, p.logged, since)
        if len(refused) < len(clients):
            return None
        return {"stopped": p.workload, "clients": describe(clients), "logged": refused}

    return wait_for(seen, timeout_s, f"{p.workload} without pods and every client refused ({p.logged!r}) and "
                                     "failing its health check")


def revert(target: Target, record: dict[str, Any]) -> None:
    """Back to the recorded replica count, unless the runbook's scale already did it (idempotent)."""
    ref = WorkloadRef.parse(record["workload"], record["namespace"])
    if replicas(read_workload(target, ref)) != record["replicas"]:
        target.scale(ref, int(record["replicas"]))


FAULT = FaultPlugin(kind="datastore-stopped",
                    summary="scale a datastore's workload to zero: its clients' connections are refused",
                    params=StoppedParams, undo=undo, inject=inject, confirm=confirm, revert=revert)
