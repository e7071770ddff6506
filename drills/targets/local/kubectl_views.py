"""The sandbox's state as the Kubernetes objects an API server would return to ``kubectl``.

Pods (and so their events) exist only in ``status.json``; Deployments, StatefulSets and the rest are the
object store's, with the ``status`` the controller published for them. PersistentVolumeClaims are derived
from StatefulSets' ``volumeClaimTemplates``. Nothing here writes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Set as AbstractSet
from typing import Any

from drills.targets.local.dns import service_addresses
from drills.targets.local.kubectl_resources import Obj, labels_match
from drills.targets.local.kubectl_time import rfc3339, to_epoch
from drills.targets.local.store import CLUSTER_SCOPED, key_of
from drills.targets.local.workloads import int_or_percent, template_hash


def template_spec(pod: Obj, objects: dict[str, Obj]) -> Obj:
    """The pod's spec: its ReplicaSet's (or StatefulSet's) template."""
    ns, owner = pod["namespace"], pod["ownerName"]
    if pod["ownerKind"] == "Deployment":
        found = objects.get(key_of("ReplicaSet", ns, f"{owner}-{pod['templateHash'][:10]}")) or \
            objects.get(key_of("Deployment", ns, owner))
    else:
        found = objects.get(key_of(pod["ownerKind"], ns, owner))
    return copy.deepcopy((found or {}).get("spec", {}).get("template", {}).get("spec", {"containers": []}))


def service_objects(objects: dict[str, Obj]) -> list[Obj]:
    return [o for o in objects.values() if o["kind"] == "Service"]


def pod_view(pod: Obj, objects: dict[str, Obj], now: float | None = None) -> Obj:
    internal = ("pid", "mounts", "memoryUsageBytes")
    statuses = [{k: v for k, v in cs.items() if k not in internal} for cs in pod.get("containerStatuses", [])]
    owner_kind, owner_name = pod["ownerKind"], pod["ownerName"]
    if owner_kind == "Deployment":
        owner_kind, owner_name = "ReplicaSet", f"{owner_name}-{pod['templateHash'][:10]}"
    meta: Obj = {"name": pod["name"], "namespace": pod["namespace"], "labels": dict(pod.get("labels", {})),
                 "annotations": dict(pod.get("annotations", {})),
                 "creationTimestamp": rfc3339(pod.get("creationTimestamp")),
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name,
                                      "controller": True}]}
    if pod["phase"] == "Terminating":
        meta["deletionTimestamp"] = rfc3339(now or time.time())
    ready = "True" if pod.get("ready") else "False"
    restarted = any(cs.get("restartCount") for cs in statuses)
    spec = template_spec(pod, objects)
    spec["nodeName"] = pod.get("nodeName")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {
        # A pod whose container has run once stays Running while the kubelet restarts it (CrashLoopBackOff).
        "phase": "Running" if pod["phase"] != "Pending" or restarted else "Pending",
        "podIP": pod.get("podIP"), "podIPs": [{"ip": pod.get("podIP")}],
        "startTime": rfc3339(pod.get("creationTimestamp")),
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": ready},
                       {"type": "ContainersReady", "status": ready}],
        "containerStatuses": statuses}}


def workload_view(obj: Obj, status: Obj) -> Obj:
    meta = obj["metadata"]
    w = status.get("workloads", {}).get(f"{obj['kind']}/{meta['namespace']}/{meta['name']}", {})
    obj["status"] = {"replicas": w.get("currentReplicas", 0), "updatedReplicas": w.get("updatedReplicas", 0),
                     "readyReplicas": w.get("readyReplicas", 0), "availableReplicas": w.get("availableReplicas", 0),
                     "observedGeneration": w.get("observedGeneration", 0)}
    return obj


def replicaset_view(rs: Obj, objects: dict[str, Obj], pods: list[Obj]) -> Obj:
    meta = rs["metadata"]
    deploy = objects.get(key_of("Deployment", meta["namespace"], meta.get("ownerName", "")), {})
    mine = [p for p in pods if p["namespace"] == meta["namespace"] and p["ownerName"] == meta.get("ownerName")
            and p["ownerKind"] == "Deployment" and meta["name"].endswith("-" + p["templateHash"][:10])
            and p["phase"] != "Terminating"]
    current = deploy and template_hash(deploy["spec"]["template"])[:10] == meta["name"].rsplit("-", 1)[-1]
    rs.setdefault("spec", {})["replicas"] = deploy["spec"].get("replicas", 1) if current else len(mine)
    meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta.get("ownerName"),
                                "controller": True}]
    rs["status"] = {"replicas": len(mine), "readyReplicas": sum(1 for p in mine if p["ready"])}
    return rs


def pdb_budget(pdb: Obj, pods: list[Obj], objects: dict[str, Obj],
               gone: AbstractSet[str] = frozenset()) -> tuple[int, int]:
    """(healthy, desiredHealthy) of a PodDisruptionBudget, as the disruption controller counts them;
    ``gone`` are pods already evicted in this drain (the API server has already counted them out)."""
    ns = pdb["metadata"]["namespace"]
    selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
    matching = [p for p in pods if p["namespace"] == ns and p["phase"] != "Terminating" and p["name"] not in gone
                and labels_match(selector, p["labels"])]
    healthy = sum(1 for p in matching if p["ready"])
    scale = sum(int(o["spec"].get("replicas", 1)) for o in objects.values()
                if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"].get("namespace") == ns
                and labels_match(selector, o["spec"]["template"]["metadata"].get("labels", {})))
    expected = scale or len(matching)
    spec = pdb.get("spec", {})
    if "minAvailable" in spec:
        desired = int_or_percent(spec["minAvailable"], expected, round_up=True)
    elif "maxUnavailable" in spec:
        desired = expected - int_or_percent(spec["maxUnavailable"], expected, round_up=True)
    else:
        desired = 0
    return healthy, max(0, desired)


def pdb_view(pdb: Obj, pods: list[Obj], objects: dict[str, Obj]) -> Obj:
    healthy, desired = pdb_budget(pdb, pods, objects)
    pdb["status"] = {"currentHealthy": healthy, "desiredHealthy": desired,
                     "disruptionsAllowed": max(0, healthy - desired)}
    return pdb


def pvc_views(objects: dict[str, Obj], namespace: str | None) -> list[Obj]:
    """StatefulSet volumeClaimTemplates become claims ``<claim>-<sts>-<ordinal>``, as on a cluster."""
    out = [o for o in objects.values() if o["kind"] == "PersistentVolumeClaim"]
    for sts in (o for o in objects.values() if o["kind"] == "StatefulSet"):
        for claim in sts["spec"].get("volumeClaimTemplates", []):
            for i in range(int(sts["spec"].get("replicas", 1))):
                name = f"{claim['metadata']['name']}-{sts['metadata']['name']}-{i}"
                spec = {**copy.deepcopy(claim.get("spec", {})), "storageClassName": "standard",
                        "volumeName": "pvc-" + template_hash({"claim": name})}
                out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "spec": spec,
                            "metadata": {"name": name, "namespace": sts["metadata"]["namespace"],
                                         "labels": sts["spec"]["template"]["metadata"].get("labels", {}),
                                         "creationTimestamp": sts["metadata"].get("creationTimestamp")},
                            "status": {"phase": "Bound"}})
    return [o for o in out if namespace is None or o["metadata"]["namespace"] == namespace]


def namespace_views(objects: dict[str, Obj]) -> list[Obj]:
    names = {o["metadata"]["name"] for o in objects.values() if o["kind"] == "Namespace"}
    names |= {o["metadata"]["namespace"] for o in objects.values() if o["metadata"].get("namespace")}
    names |= {"default", "kube-system"}
    stored = {o["metadata"]["name"]: o for o in objects.values() if o["kind"] == "Namespace"}
    return [stored.get(n, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}) for n in sorted(names)]


def pod_events(pod: Obj, published: float) -> list[Obj]:
    """Events the kubelet would have recorded for this pod, derived from its status (minimal but honest)."""
    cs = (pod.get("containerStatuses") or [{}])[0]
    c, image = cs.get("name", ""), cs.get("image", "")
    created = pod.get("creationTimestamp")
    events: list[tuple[str, str, str, Any, int]] = [
        ("Normal", "Scheduled", f"Successfully assigned {pod['namespace']}/{pod['name']} to {pod['nodeName']}",
         created, 1)]
    last = cs.get("lastState", {}).get("terminated")
    if last:
        kind = "Warning" if last.get("reason") in ("OOMKilled", "Error") else "Normal"
        events.append((kind, str(last.get("reason")), f"Container {c} terminated: {last.get('reason')} "
                       f"(exit code {last.get('exitCode')})", last.get("finishedAt"), int(cs.get("restartCount", 1))))
    running = cs.get("state", {}).get("running")
    waiting = cs.get("state", {}).get("waiting", {})
    reason, message = waiting.get("reason"), waiting.get("message", "")
    if running:
        events += [("Normal", "Pulled", f'Container image "{image}" already present on machine',
                    running.get("startedAt"), 1),
                   ("Normal", "Started", f"Started container {c}", running.get("startedAt"), 1)]
    if reason == "CrashLoopBackOff":
        events.append(("Warning", "BackOff", f"Back-off restarting failed container {c} in pod "
                       f"{pod['name']}_{pod['namespace']}", published, int(cs.get("restartCount", 1))))
    elif reason in ("ErrImagePull", "ImagePullBackOff"):
        events += [("Normal", "Pulling", f'Pulling image "{image}"', published, 1),
                   ("Warning", "Failed", message, published, 1),
                   ("Warning", "Failed", f"Error: {reason}", published, 1)]
        if reason == "ImagePullBackOff":
            events.append(("Normal", "BackOff", f'Back-off pulling image "{image}"', published, 1))
    elif reason == "CreateContainerConfigError":
        events.append(("Warning", "Failed", f"Error: {message}", published, 1))
    if pod["phase"] == "Terminating":
        events.append(("Normal", "Killing", f"Stopping container {c}", published, 1))
    return [{"apiVersion": "v1", "kind": "Event", "type": t, "reason": r, "message": m, "count": n,
             "metadata": {"name": f"{pod['name']}.{i:x}", "namespace": pod["namespace"]},
             "involvedObject": {"kind": "Pod", "name": pod["name"], "namespace": pod["namespace"]},
             "source": {"component": "kubelet", "host": pod["nodeName"]},
             "firstTimestamp": rfc3339(to_epoch(when)), "lastTimestamp": rfc3339(to_epoch(when))}
            for i, (t, r, m, when, n) in enumerate(events)]


def list_kind(kind: str, objects: dict[str, Obj], status: Obj, namespace: str | None) -> list[Obj]:
    """Every object of ``kind`` in ``namespace`` (None: all), as kubectl would receive it from the API."""
    ns = None if kind in CLUSTER_SCOPED else namespace
    pods = list(status.get("pods", []))
    in_ns = [p for p in pods if ns is None or p["namespace"] == ns]
    if kind == "Pod":
        return [pod_view(p, objects, status.get("time")) for p in in_ns]
    if kind == "Event":
        events = [e for p in in_ns for e in pod_events(p, status.get("time", time.time()))]
        return sorted(events, key=lambda e: e.get("lastTimestamp") or "")
    if kind == "PersistentVolumeClaim":
        return pvc_views(objects, ns)
    if kind == "Namespace":
        return namespace_views(objects)
    stored = sorted((copy.deepcopy(o) for o in objects.values() if o["kind"] == kind
                     and (ns is None or o["metadata"].get("namespace") == ns)),
                    key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
    if kind in ("Deployment", "StatefulSet"):
        return [workload_view(o, status) for o in stored]
    if kind == "ReplicaSet":
        return [replicaset_view(o, objects, pods) for o in stored]
    if kind == "PodDisruptionBudget":
        return [pdb_view(o, pods, objects) for o in stored]
    if kind == "Service":
        for svc in stored:
            addresses = service_addresses(service_objects(objects), pods, svc["metadata"]["namespace"])
            svc.setdefault("spec", {})["clusterIP"] = addresses.get(svc["metadata"]["name"], "None")
    return stored

