"""The sandbox's write operations, shared by the target interface (faults) and the sandbox ``kubectl`` (steps).

Each is what the API server or kubectl does for one request, expressed on the object store, so a fault that
restarts a workload and a runbook step that runs ``kubectl rollout restart`` change the same thing the same way.
"""

from __future__ import annotations

import copy
from datetime import datetime

from drills.errors import TargetError
from drills.targets.local.store import Obj, ObjectStore

REVISION = "deployment.kubernetes.io/revision"


def restart(store: ObjectStore, kind: str, namespace: str, name: str) -> None:
    """``kubectl rollout restart``: a new ``restartedAt`` annotation on the pod template."""
    store.require(kind, namespace, name)
    now = datetime.now().astimezone().isoformat(timespec="microseconds")
    store.patch(kind, namespace, name, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now}}}}})


def replicasets(store: ObjectStore, namespace: str, deployment: str) -> list[tuple[int, Obj]]:
    """The Deployment's ReplicaSets (recorded by the controller), oldest revision first."""
    sets = [rs for rs in store.list("ReplicaSet", namespace) if rs["metadata"].get("ownerName") == deployment]
    return sorted(((int(rs["metadata"].get("annotations", {}).get(REVISION, 0)), rs) for rs in sets),
                  key=lambda pair: pair[0])


def rollback(store: ObjectStore, namespace: str, name: str, to_revision: int | None = None) -> tuple[int, bool]:
    """``kubectl rollout undo``: patch the previous (or given) revision's template back; (revision, changed)."""
    deploy = store.require("Deployment", namespace, name)
    history = replicasets(store, namespace, name)
    if to_revision:
        chosen = [(rev, rs) for rev, rs in history if rev == to_revision]
        if not chosen:
            raise TargetError(f"error: unable to find specified revision {to_revision} in history")
        revision, rs = chosen[0]
    elif len(history) < 2:
        raise TargetError(f'error: no rollout history found for deployment "{name}"')
    else:
        revision, rs = history[-2]
    if rs["spec"]["template"] == deploy["spec"]["template"]:
        return revision, False
    deploy["spec"]["template"] = copy.deepcopy(rs["spec"]["template"])
    store.apply(deploy)
    return revision, True


def set_containers(store: ObjectStore, kind: str, namespace: str, name: str, changes: list[Obj]) -> None:
    """Strategic-merge container changes (image, resources, env) into the pod template, by container name."""
    store.require(kind, namespace, name)
    store.patch(kind, namespace, name, {"spec": {"template": {"spec": {"containers": changes}}}})


def scale(store: ObjectStore, kind: str, namespace: str, name: str, replicas: int) -> None:
    store.require(kind, namespace, name)
    store.patch(kind, namespace, name, {"spec": {"replicas": replicas}}, how="merge")


def set_unschedulable(store: ObjectStore, node: str, value: bool) -> bool:
    """Cordon or uncordon; returns False when the node already was so."""
    current = bool(store.require("Node", None, node).get("spec", {}).get("unschedulable"))
    if current == value:
        return False
    store.patch("Node", None, node, {"spec": {"unschedulable": True if value else None}})
    return True


def request_pod_deletion(store: ObjectStore, namespace: str, name: str, grace_s: int | None = None) -> None:
    """What ``delete pod`` and an allowed eviction ask of the API: the controller stops the pod (``grace_s`` 0:
    at once, even on a lost node; None: the pod's terminationGracePeriodSeconds)."""
    request: Obj = {"apiVersion": "drillbook/v1", "kind": "PodDeletion",
                    "metadata": {"name": name, "namespace": namespace}}
    if grace_s is not None:
        request["spec"] = {"gracePeriodSeconds": grace_s}
    store.apply(request)
