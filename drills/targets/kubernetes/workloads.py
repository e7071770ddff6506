"""Workload reads and writes as kubectl does them: pod state from the pod JSON, rollout status as
``kubectl rollout status`` judges it, and ``set``, ``rollout restart`` and ``rollout undo`` as the patches
kubectl sends (REFERENCE: kubectl computes a strategic merge patch; undo has no API verb)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drills.errors import TargetError
from drills.targets.base import PodState, WorkloadRef
from drills.targets.kubernetes.client import JSON_PATCH, MERGE, Api, Obj

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def unix(stamp: str | None) -> float | None:
    """An RFC 3339 time from the API as unix seconds."""
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def pod_state(pod: Obj) -> PodState:
    """The first container's state, as checks read it from ``kubectl get pod -o json``."""
    status, meta = pod.get("status", {}), pod["metadata"]
    containers = status.get("containerStatuses") or [{}]
    c = containers[0]
    term = (c.get("lastState") or {}).get("terminated") or {}
    ready = any(x.get("type") == "Ready" and x.get("status") == "True" for x in status.get("conditions", []))
    return PodState(
        name=meta["name"], namespace=meta["namespace"], node=pod.get("spec", {}).get("nodeName", ""),
        ip=status.get("podIP", ""), phase=status.get("phase", ""), ready=ready,
        restarts=int(c.get("restartCount", 0)),
        waiting_reason=((c.get("state") or {}).get("waiting") or {}).get("reason"),
        last_reason=term.get("reason"), last_exit_code=term.get("exitCode"),
        last_finished_at=unix(term.get("finishedAt")), labels=dict(meta.get("labels") or {}))


def _is_ready(pod: Obj) -> bool:
    return any(x.get("type") == "Ready" and x.get("status") == "True"
               for x in pod.get("status", {}).get("conditions", []))


def owned(items: list[Obj], owner: Obj) -> list[Obj]:
    """Objects whose controller ownerReference is ``owner`` (by UID, as kubectl matches them)."""
    uid = owner["metadata"].get("uid")
    return [o for o in items
            if any(r.get("controller") and r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))]


def replicasets(api: Api, deployment: Obj) -> list[tuple[int, Obj]]:
    """The Deployment's ReplicaSets with their revision, newest first (kubectl's ``rollout history``)."""
    selector = deployment["spec"].get("selector", {}).get("matchLabels", {})
    sets = owned(api.list("ReplicaSet", deployment["metadata"]["namespace"], selector), deployment)
    revisions = [(int(rs["metadata"].get("annotations", {}).get(REVISION, "0")), rs) for rs in sets]
    return sorted(revisions, key=lambda pair: pair[0], reverse=True)


def rollout_status(api: Api, ref: WorkloadRef) -> dict[str, int]:
    """replicas (desired), updatedReplicas, updatedReadyReplicas, currentReplicas (non-terminating pods of any
    template). Until the controller observed the latest generation, nothing counts as updated (kubectl: "waiting
    for deployment spec update to be observed")."""
    obj = api.get(ref.kind, ref.namespace, ref.name)
    spec, status = obj.get("spec", {}), obj.get("status", {})
    observed = int(status.get("observedGeneration", 0)) >= int(obj["metadata"].get("generation", 0))
    pods = [p for p in owned_pods(api, obj) if not p["metadata"].get("deletionTimestamp")]
    updated = [p for p in pods if observed and _is_updated(p, current_revision(api, obj))]
    return {"replicas": int(spec.get("replicas", 1)), "updatedReplicas": len(updated),
            "updatedReadyReplicas": sum(1 for p in updated if _is_ready(p)), "currentReplicas": len(pods)}


def owned_pods(api: Api, obj: Obj) -> list[Obj]:
    """Pods the workload controls: a StatefulSet's directly, a Deployment's through its ReplicaSets."""
    namespace = obj["metadata"]["namespace"]
    pods = api.list("Pod", namespace, obj["spec"].get("selector", {}).get("matchLabels", {}))
    if obj["kind"] == "StatefulSet":
        return owned(pods, obj)
    sets = [rs for _, rs in replicasets(api, obj)]
    return [p for rs in sets for p in owned(pods, rs)]


def current_revision(api: Api, obj: Obj) -> tuple[str, str]:
    """The label that marks a pod of the current template, and its value."""
    if obj["kind"] == "StatefulSet":
        return "controller-revision-hash", str(obj.get("status", {}).get("updateRevision", ""))
    sets = replicasets(api, obj)
    if not sets:
        return "pod-template-hash", ""
    return "pod-template-hash", str(sets[0][1]["metadata"].get("labels", {}).get("pod-template-hash", ""))


def _is_updated(pod: Obj, revision: tuple[str, str]) -> bool:
    label, value = revision
    return bool(value) and pod["metadata"].get("labels", {}).get(label) == value


def is_rolled_out(obj: Obj) -> bool:
    """``kubectl rollout status`` on the object's own status (DeploymentStatusViewer / StatefulSet's)."""
    spec, status = obj.get("spec", {}), obj.get("status", {})
    if int(status.get("observedGeneration", 0)) < int(obj["metadata"].get("generation", 0)):
        return False
    want = int(spec.get("replicas", 1))
    if obj["kind"] == "Deployment":
        updated = int(status.get("updatedReplicas", 0))
        return (updated >= want and int(status.get("replicas", 0)) <= updated
                and int(status.get("availableReplicas", 0)) >= updated)
    if int(status.get("readyReplicas", 0)) < want:
        return False
    return status.get("updateRevision") == status.get("currentRevision") or \
        int(status.get("updatedReplicas", 0)) >= want


def container_patch(container: str, change: dict[str, Any]) -> Obj:
    """The strategic merge patch ``kubectl set`` sends: the container merged by name."""
    return {"spec": {"template": {"spec": {"containers": [{"name": container, **change}]}}}}


def restart_patch(now: float) -> Obj:
    """``kubectl rollout restart``: the template annotation, RFC 3339 local time as kubectl's time.Now()."""
    stamp = datetime.fromtimestamp(now, UTC).astimezone().isoformat(timespec="seconds")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def rollback(api: Api, ref: WorkloadRef) -> None:
    """``kubectl rollout undo``: the previous revision's ReplicaSet template (without its pod-template-hash)
    put back with a json-patch of ``/spec/template`` (and the annotations kubectl carries over)."""
    if ref.kind != "Deployment":
        raise TargetError(f"rollback of {ref}: kubectl rollout undo of a {ref.kind} uses ControllerRevisions; "
                          f"drillbook rolls back Deployments only")
    deployment = api.get("Deployment", ref.namespace, ref.name)
    sets = replicasets(api, deployment)
    if len(sets) < 2:
        raise TargetError(f"rollback of {ref}: no previous revision (revisions: {[r for r, _ in sets]})")
    template = dict(sets[1][1]["spec"]["template"])
    labels = {k: v for k, v in template.get("metadata", {}).get("labels", {}).items() if k != "pod-template-hash"}
    template["metadata"] = {**template.get("metadata", {}), "labels": labels}
    api.patch("Deployment", ref.namespace, ref.name,
              [{"op": "replace", "path": "/spec/template", "value": template}], how=JSON_PATCH)


def scale(api: Api, ref: WorkloadRef, replicas: int) -> None:
    """``kubectl scale``: a merge patch of the scale subresource."""
    api.patch(ref.kind, ref.namespace, ref.name, {"spec": {"replicas": replicas}}, how=MERGE, sub="scale")
