"""What the sandbox ``kubectl`` shows: the sandbox's state as Kubernetes objects, and those objects as text.

Views build the objects an API server would return from the object store (desired state) and
``status.json`` (pods, which exist only there). Printers render them as kubectl does: tables with kubectl's
columns (``NAME READY STATUS RESTARTS AGE`` for pods, ...), ``-o yaml|json|name|jsonpath=``, ``describe``
text, so a runbook's ``| grep`` / ``| awk`` sees what it would see on a cluster. No writes happen here.
"""

from __future__ import annotations

import copy
import json
import re
import time
from calendar import timegm
from collections.abc import Callable, Set as AbstractSet
from typing import Any

import yaml

from drills.errors import TargetError
from drills.targets.local.store import CLUSTER_SCOPED, key_of
from drills.targets.local.workloads import int_or_percent, template_hash

Obj = dict[str, Any]

# kind -> (resource as kubectl names it in errors, as it names one object in "x/name patched")
RESOURCES: dict[str, tuple[str, str]] = {
    "Pod": ("pods", "pod"),
    "Deployment": ("deployments.apps", "deployment.apps"),
    "StatefulSet": ("statefulsets.apps", "statefulset.apps"),
    "ReplicaSet": ("replicasets.apps", "replicaset.apps"),
    "Node": ("nodes", "node"),
    "Namespace": ("namespaces", "namespace"),
    "ConfigMap": ("configmaps", "configmap"),
    "Secret": ("secrets", "secret"),
    "Service": ("services", "service"),
    "NetworkPolicy": ("networkpolicies.networking.k8s.io", "networkpolicy.networking.k8s.io"),
    "PodDisruptionBudget": ("poddisruptionbudgets.policy", "poddisruptionbudget.policy"),
    "PersistentVolumeClaim": ("persistentvolumeclaims", "persistentvolumeclaim"),
    "Event": ("events", "event"),
}


class KubectlError(TargetError):
    """An error kubectl reports: the message is printed as it is, the exit code is 1."""


def not_found(kind: str, name: str) -> KubectlError:
    return KubectlError(f'Error from server (NotFound): {RESOURCES.get(kind, (kind.lower() + "s",))[0]} '
                        f'"{name}" not found')


def ref(kind: str, name: str) -> str:
    """``deployment.apps/agent-deployment``: how kubectl names an object it changed."""
    return f"{RESOURCES.get(kind, ('', kind.lower()))[1]}/{name}"


# -- time ------------------------------------------------------------------------------------------
def to_epoch(value: Any) -> float | None:
    """Epoch seconds from the sandbox's timestamps (floats in status.json, RFC 3339 in objects)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return float(timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")))
        except ValueError:
            return None
    return None


def rfc3339(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def human_duration(seconds: float) -> str:
    """kubectl's AGE column (k8s.io/apimachinery duration.HumanDuration)."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    return f"{h // 24}d"


def age(value: Any) -> str:
    ts = to_epoch(value)
    return "<unknown>" if ts is None else human_duration(time.time() - ts)


def go_duration(seconds: float) -> str:
    """``5m0s``, ``2s``: how Go prints a time.Duration (kubectl's timeout messages)."""
    s = int(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


def parse_duration(text: str | None) -> float:
    """``5m``, ``60s``, ``1h30m``, ``300ms``; a bare number is seconds. 0 means "no limit" to the caller."""
    if not text:
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise KubectlError(f'error: invalid duration "{text}"')
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


# -- tables ----------------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[str]], padding: int = 3) -> str:
    """Left-aligned columns, as kubectl's tabwriter prints them (the last column is not padded)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(widths[i] + padding) for i, c in enumerate(row[:-1])] + [str(row[-1])]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def selector_text(labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or "<none>"


def _pod_row(pod: Obj, wide: bool) -> list[str]:
    statuses = pod["status"].get("containerStatuses", [])
    ready = sum(1 for c in statuses if c.get("ready"))
    row = [pod["metadata"]["name"], f"{ready}/{len(statuses) or 1}", pod_status_text(pod), restarts_text(pod),
           age(pod["metadata"].get("creationTimestamp"))]
    if wide:
        row += [pod["status"].get("podIP") or "<none>", pod["spec"].get("nodeName") or "<none>", "<none>",
                "<none>"]
    return row


def pod_status_text(pod: Obj) -> str:
    """kubectl's STATUS column: a waiting or terminated reason wins over the phase."""
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for cs in pod["status"].get("containerStatuses", []):
        state = cs.get("state", {})
        reason = state.get("waiting", {}).get("reason") or state.get("terminated", {}).get("reason")
        if reason:
            return str(reason)
    return str(pod["status"].get("phase", "Pending"))


def restarts_text(pod: Obj) -> str:
    """``3 (45s ago)`` like kubectl 1.2x; the time is the last termination."""
    statuses = pod["status"].get("containerStatuses", [])
    count = sum(int(c.get("restartCount", 0)) for c in statuses)
    finished = [c.get("lastState", {}).get("terminated", {}).get("finishedAt") for c in statuses]
    last = max((t for t in (to_epoch(f) for f in finished) if t), default=None)
    return f"{count} ({age(last)} ago)" if count and last else str(count)


def _workload_row(obj: Obj, wide: bool) -> list[str]:
    st, spec = obj.get("status", {}), obj["spec"]
    meta = obj["metadata"]
    if obj["kind"] == "Deployment":
        row = [meta["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
               str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0))]
    elif obj["kind"] == "ReplicaSet":
        row = [meta["name"], str(spec.get("replicas", 0)), str(st.get("replicas", 0)), str(st.get("readyReplicas", 0))]
    else:
        row = [meta["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"]
    row.append(age(meta.get("creationTimestamp")))
    if wide:
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        row += [",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)]
        if obj["kind"] != "StatefulSet":
            row.append(selector_text(spec.get("selector", {}).get("matchLabels")))
    return row


def node_status_text(node: Obj) -> str:
    ready = next((c.get("status") for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"),
                 "True")
    text = "Ready" if ready == "True" else "NotReady"
    return text + (",SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else "")


def node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    return ",".join(k[len(prefix):] for k in node["metadata"].get("labels", {}) if k.startswith(prefix)) or "<none>"


def _node_row(node: Obj, wide: bool) -> list[str]:
    row = [node["metadata"]["name"], node_status_text(node), node_roles(node),
           age(node["metadata"].get("creationTimestamp")), "v1.32.0-sandbox"]
    return row + (["<none>", "<none>", "drillbook sandbox", "local processes"] if wide else [])


def _service_row(svc: Obj, wide: bool) -> list[str]:
    spec = svc.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])) or "<none>"
    row = [svc["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "None", "<none>", ports,
           age(svc["metadata"].get("creationTimestamp"))]
    return row + ([selector_text(spec.get("selector"))] if wide else [])


def _pdb_row(pdb: Obj, wide: bool) -> list[str]:
    spec = pdb.get("spec", {})
    return [pdb["metadata"]["name"], str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            str(pdb.get("status", {}).get("disruptionsAllowed", 0)), age(pdb["metadata"].get("creationTimestamp"))]


def _pvc_row(pvc: Obj, wide: bool) -> list[str]:
    spec = pvc.get("spec", {})
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}
    return [pvc["metadata"]["name"], pvc.get("status", {}).get("phase", "Bound"), spec.get("volumeName", ""),
            spec.get("resources", {}).get("requests", {}).get("storage", ""),
            ",".join(modes.get(m, m) for m in spec.get("accessModes", [])), spec.get("storageClassName", "standard"),
            "<unset>", age(pvc["metadata"].get("creationTimestamp"))]


def _event_row(ev: Obj, wide: bool) -> list[str]:
    inv = ev["involvedObject"]
    return [age(ev.get("lastTimestamp")), ev["type"], ev["reason"], f"{inv['kind'].lower()}/{inv['name']}",
            ev["message"]]


def _simple(*columns: Callable[[Obj], str]) -> Callable[[Obj, bool], list[str]]:
    return lambda o, wide: [o["metadata"]["name"], *(c(o) for c in columns), age(o["metadata"].get("creationTimestamp"))]


# kind -> (headers, wide-only headers, row function)
TABLES: dict[str, tuple[list[str], list[str], Callable[[Obj, bool], list[str]]]] = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
            _pod_row),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _workload_row),
    "StatefulSet": (["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"], _workload_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _workload_row),
    "Node": (["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
             ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "CONTAINER-RUNTIME"], _node_row),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], _service_row),
    "PodDisruptionBudget": (["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"], [],
                            _pdb_row),
    "PersistentVolumeClaim": (["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                               "VOLUMEATTRIBUTESCLASS", "AGE"], [], _pvc_row),
    "Event": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], _event_row),
    "ConfigMap": (["NAME", "DATA", "AGE"], [], _simple(lambda o: str(len(o.get("data", {}))))),
    "Secret": (["NAME", "TYPE", "DATA", "AGE"], [],
               _simple(lambda o: o.get("type", "Opaque"), lambda o: str(len(o.get("data", {}))))),
    "NetworkPolicy": (["NAME", "POD-SELECTOR", "AGE"], [],
                      _simple(lambda o: selector_text(o.get("spec", {}).get("podSelector", {}).get("matchLabels")))),
    "Namespace": (["NAME", "STATUS", "AGE"], [], _simple(lambda o: "Active")),
}


def render_table(kind: str, objs: list[Obj], *, wide: bool, all_ns: bool, show_labels: bool,
                 prefix_kind: bool) -> str:
    headers, wide_headers, row_fn = TABLES[kind]
    headers = headers + (wide_headers if wide else [])
    rows = []
    for obj in objs:
        row = row_fn(obj, wide)
        if prefix_kind:
            row[0] = ref(kind, row[0])
        if all_ns and kind not in ("Node", "Namespace"):
            row.insert(0, obj["metadata"].get("namespace", ""))
        if show_labels:
            row.append(selector_text(obj["metadata"].get("labels")))
        rows.append(row)
    if all_ns and kind not in ("Node", "Namespace"):
        headers = ["NAMESPACE", *headers]
    return table(headers + (["LABELS"] if show_labels else []), rows)


# -- views: the sandbox's state as the Kubernetes objects kubectl prints ------------------------------
def template_spec(pod: Obj, objects: dict[str, Obj]) -> Obj:
    """The pod's spec: its ReplicaSet's (or StatefulSet's) template."""
    ns, owner = pod["namespace"], pod["ownerName"]
    if pod["ownerKind"] == "Deployment":
        found = objects.get(key_of("ReplicaSet", ns, f"{owner}-{pod['templateHash'][:10]}")) or \
            objects.get(key_of("Deployment", ns, owner))
    else:
        found = objects.get(key_of(pod["ownerKind"], ns, owner))
    return copy.deepcopy((found or {}).get("spec", {}).get("template", {}).get("spec", {"containers": []}))


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


def service_addresses(objects: dict[str, Obj], pods: list[Obj], namespace: str) -> dict[str, str]:
    """Service DNS names → address: the rule of the controller's ``_dns`` (a Service resolves to the first
    StatefulSet pod it selects; the sandbox has no ClusterIP proxy), computed from status.json."""
    names: dict[str, str] = {}
    for svc in (o for o in objects.values() if o["kind"] == "Service"):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        selector = svc.get("spec", {}).get("selector", {})
        backing = sorted((p for p in pods if p["namespace"] == ns and p["ownerKind"] == "StatefulSet"
                          and all(p["labels"].get(k) == v for k, v in selector.items())), key=lambda p: p["name"])
        if not backing:
            continue
        for dns in (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"):
            names[dns] = backing[0]["podIP"]
        if ns == namespace:
            names[name] = backing[0]["podIP"]
    return names


def pdb_budget(pdb: Obj, pods: list[Obj], objects: dict[str, Obj],
               gone: AbstractSet[str] = frozenset()) -> tuple[int, int]:
    """(healthy, desiredHealthy) of a PodDisruptionBudget, as the disruption controller counts them;
    ``gone`` are pods already evicted in this drain (the API server has already counted them out)."""
    ns = pdb["metadata"]["namespace"]
    selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
    matching = [p for p in pods if p["namespace"] == ns and p["phase"] != "Terminating" and p["name"] not in gone
                and all(p["labels"].get(k) == v for k, v in selector.items())]
    healthy = sum(1 for p in matching if p["ready"])
    scale = sum(int(o["spec"].get("replicas", 1)) for o in objects.values()
                if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"].get("namespace") == ns
                and all(o["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in selector.items()))
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
            addresses = service_addresses(objects, pods, svc["metadata"]["namespace"])
            svc.setdefault("spec", {})["clusterIP"] = addresses.get(svc["metadata"]["name"], "None")
    return stored


# -- structured output -----------------------------------------------------------------------------
class _KubeDumper(yaml.SafeDumper):
    """Quote like kubectl (sigs.k8s.io/yaml): ``"30"``, not ``'30'``."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def to_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubeDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4) + "\n"


def as_list(objs: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}}


def render_structured(output: str, data: Obj) -> str:
    """``-o yaml``, ``-o json``, ``-o jsonpath=...`` of one object or a List."""
    if output == "yaml":
        return to_yaml(data)
    if output == "json":
        return to_json(data)
    template = output.split("=", 1)[1] if "=" in output else ""
    try:
        return jsonpath(template, data)
    except JsonPathError as exc:
        raise KubectlError(f'error: error executing jsonpath {json.dumps(template)}: Error executing template: '
                           f'{exc}. Printing more information for debugging the template:\n'
                           f'\ttemplate was:\n\t\t{template}\n') from exc


# -- jsonpath (the subset of kubectl's template language runbooks use) -----------------------------
class JsonPathError(Exception):
    pass


def jsonpath(template: str, data: Any) -> str:
    """Evaluate a kubectl JSONPath template: ``{.items[0].metadata.name}``, ``{range .items[*]}..{end}``,
    ``{"\\n"}``, filters ``[?(@.type=="Ready")]``, ``[*]``, slices, ``..name`` and escaped dots."""
    nodes, rest = _parse_template(_tokens(template), 0)
    if rest is not None:
        raise JsonPathError("unexpected {end}")
    return _render(nodes, data, data)


def _tokens(template: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in re.finditer(r"\{((?:[^{}\"']|\"(?:\\.|[^\"\\])*\"|'[^']*')*)\}", template):
        if m.start() > pos:
            out.append(("text", template[pos:m.start()]))
        out.append(("expr", m.group(1).strip()))
        pos = m.end()
    if pos < len(template):
        out.append(("text", template[pos:]))
    return out


def _parse_template(tokens: list[tuple[str, str]], i: int) -> tuple[list[Any], int | None]:
    nodes: list[Any] = []
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "expr" and value == "end":
            return nodes, i
        if kind == "expr" and value.startswith("range "):
            body, end = _parse_template(tokens, i + 1)
            if end is None:
                raise JsonPathError("range without {end}")
            nodes.append(("range", value[6:].strip(), body))
            i = end + 1
            continue
        nodes.append((kind, value))
        i += 1
    return nodes, None


def _render(nodes: list[Any], root: Any, current: Any) -> str:
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "range":
            for item in _eval(node[1], root, current):
                out.append(_render(node[2], root, item))
        else:
            expr = node[1]
            if expr.startswith(('"', "'")):
                out.append(json.loads(expr) if expr.startswith('"') else expr[1:-1])
            else:
                out.append(" ".join(_scalar(v) for v in _eval(expr, root, current)))
    return "".join(out)


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


_SEGMENT = re.compile(r"\.\.((?:\\.|[^.\[\\])+)|\.((?:\\.|[^.\[\\])+)|\[([^\]]*)\]|\.")


def _eval(expr: str, root: Any, current: Any) -> list[Any]:
    if expr.startswith("$"):
        values, expr = [root], expr[1:]
    elif expr.startswith("@"):
        values, expr = [current], expr[1:]
    else:
        values = [current]
    pos = 0
    while pos < len(expr):
        m = _SEGMENT.match(expr, pos)
        if m is None:
            raise JsonPathError(f"unrecognized character in action: {expr[pos:]!r}")
        pos = m.end()
        if m.group(1) is not None:
            values = [v for x in values for v in _descend(x, m.group(1).replace("\\.", "."))]
        elif m.group(2) is not None:
            values = _field(values, m.group(2).replace("\\.", "."))
        elif m.group(3) is not None:
            values = [v for x in values for v in _subscript(x, m.group(3).strip(), root)]
    return values


def _field(values: list[Any], name: str) -> list[Any]:
    if name == "*":
        return [v for x in values for v in (x.values() if isinstance(x, dict) else x if isinstance(x, list) else [])]
    return [x[name] for x in values if isinstance(x, dict) and name in x]


def _descend(value: Any, name: str) -> list[Any]:
    found = []
    if isinstance(value, dict):
        if name in value:
            found.append(value[name])
        children = list(value.values())
    else:
        children = value if isinstance(value, list) else []
    for child in children:
        found += _descend(child, name)
    return found


def _subscript(value: Any, sub: str, root: Any) -> list[Any]:
    if sub.startswith(("'", '"')):
        return _field([value], sub[1:-1])
    if not isinstance(value, list):
        return []
    if sub == "*":
        return list(value)
    if sub.startswith("?(") and sub.endswith(")"):
        return [item for item in value if _filter(sub[2:-1].strip(), item, root)]
    if ":" in sub:
        parts = [int(p) if p.strip() else None for p in sub.split(":")]
        return value[slice(*parts)]
    index = int(sub)
    if not -len(value) <= index < len(value):
        raise JsonPathError(f"array index out of bounds: index {index}, length {len(value)}")
    return [value[index]]


def _filter(cond: str, item: Any, root: Any) -> bool:
    m = re.fullmatch(r"(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+)", cond)
    if m is None:
        return bool(_eval(cond, root, item))
    left = _eval(m.group(1), root, item)
    literal = m.group(3).strip()
    right: Any = literal[1:-1] if literal[:1] in "'\"" else json.loads(literal) if literal else None
    if not left:
        return False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
    try:
        return ops[m.group(2)](left[0], right)
    except TypeError:
        return False


def sort_key(expr: str) -> Callable[[Obj], tuple[int, Any]]:
    """``--sort-by=.lastTimestamp`` / ``{.metadata.name}``: objects without the field sort first."""
    path = expr.strip("{}")

    def key(obj: Obj) -> tuple[int, Any]:
        values = _eval(path if path.startswith((".", "$", "@")) else "." + path, obj, obj)
        if not values or values[0] is None:
            return (0, "")
        value = values[0]
        return (1, value) if isinstance(value, (int, float)) else (2, _scalar(value))

    return key


# -- describe ----------------------------------------------------------------------------------------
def _kv(pairs: list[tuple[str, Any]], indent: str = "", width: int = 0) -> str:
    width = width or max(len(k) for k, _ in pairs) + 2
    return "".join(f"{indent}{(k + ':').ljust(width)}{'' if v is None else v}\n" for k, v in pairs)


def _map_lines(values: dict[str, str] | None, sep: str = "=", indent: int = 0) -> str:
    if not values:
        return "<none>"
    items = [f"{k}{sep}{v}" for k, v in values.items()]
    return ("\n" + " " * indent).join(items)


def _env_line(item: Obj) -> str:
    if "value" in item:
        return f"{item['name']}:  {item['value']}"
    source = item.get("valueFrom", {})
    if "fieldRef" in source:
        return f"{item['name']}:   ({source['fieldRef'].get('apiVersion', 'v1')}:{source['fieldRef']['fieldPath']})"
    for key, what in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
        if key in source:
            ref_ = source[key]
            return (f"{item['name']}:  <set to the key '{ref_['key']}' in {what} '{ref_['name']}'>  "
                    f"Optional: {str(ref_.get('optional', False)).lower()}")
    return f"{item['name']}:  <unknown>"


def _container_text(spec: Obj, cs: Obj | None, mounts: dict[str, str] | None, indent: str) -> str:
    lines = [f"{indent}{spec.get('name', cs.get('name') if cs else '')}:\n"]
    inner = indent + "  "
    pairs: list[tuple[str, Any]] = [("Image", spec.get("image", cs.get("image") if cs else ""))]
    ports = ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    pairs.append(("Port", ports or "<none>"))
    if spec.get("args"):
        pairs.append(("Args", "\n" + "".join(f"{inner}  {a}\n" for a in spec["args"]).rstrip("\n")))
    lines.append(_kv(pairs, inner, 18))
    if cs is not None:
        lines.append(_state_text(cs, inner))
    resources = spec.get("resources", {})
    for section in ("limits", "requests"):
        if resources.get(section):
            lines.append(f"{inner}{section.title()}:\n" + _kv(list(resources[section].items()), inner + "  ",
                                                                 max(map(len, resources[section])) + 3))
    probe = spec.get("readinessProbe")
    if probe:
        how = ("http-get " + f"http://:{probe['httpGet']['port']}{probe['httpGet'].get('path', '/')}"
               if "httpGet" in probe else f"tcp-socket :{probe['tcpSocket']['port']}" if "tcpSocket" in probe
               else "exec " + str(probe.get("exec", {}).get("command")))
        lines.append(f"{inner}Readiness:        {how} period={probe.get('periodSeconds', 10)}s\n")
    env_from = spec.get("envFrom", [])
    if env_from:
        lines.append(f"{inner}Environment Variables from:\n" + "".join(
            f"{inner}  {s.get('configMapRef', s.get('secretRef', {})).get('name')}  "
            f"{'ConfigMap' if 'configMapRef' in s else 'Secret'}  Optional: false\n" for s in env_from))
    env = spec.get("env", [])
    lines.append(f"{inner}Environment:" + ("".join(f"\n{inner}  {_env_line(e)}" for e in env) if env else
                                            "      <none>") + "\n")
    if mounts is not None:
        lines.append(f"{inner}Mounts:" + ("".join(f"\n{inner}  {m} from {h} (rw)" for m, h in mounts.items())
                                           if mounts else "            <none>") + "\n")
    return "".join(lines)


def _state_text(cs: Obj, indent: str) -> str:
    def one(label: str, state: Obj) -> str:
        if not state:
            return f"{indent}{label}:".ljust(len(indent) + 18) + "Waiting\n" if label == "State" else ""
        name, detail = next(iter(state.items()))
        pairs = [("Reason", detail.get("reason"))] if detail.get("reason") else []
        if "exitCode" in detail:
            pairs.append(("Exit Code", detail["exitCode"]))
        pairs += [(k.title(), detail[f"{k}At"]) for k in ("started", "finished") if detail.get(f"{k}At")]
        if detail.get("message"):
            pairs.append(("Message", detail["message"]))
        head = f"{indent}{label}:".ljust(len(indent) + 18) + name.title() + "\n"
        return head + _kv(pairs, indent + "  ", 16)

    return (one("State", cs.get("state", {})) + one("Last State", cs.get("lastState", {}))
            + _kv([("Ready", str(cs.get("ready", False))), ("Restart Count", cs.get("restartCount", 0))], indent, 18))


def _events_text(events: list[Obj]) -> str:
    if not events:
        return "Events:  <none>\n"
    rows = [[e["type"], e["reason"], age(e.get("lastTimestamp")), e.get("source", {}).get("component", ""),
             e["message"]] for e in events]
    body = table(["Type", "Reason", "Age", "From", "Message"], [["----", "------", "----", "----", "-------"],
                                                                   *rows], padding=2)
    return "Events:\n" + "".join("  " + line + "\n" for line in body.splitlines())


def describe_pod(pod: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, st, spec = pod["metadata"], pod["status"], pod["spec"]
    raw = next((p for p in status.get("pods", []) if p["name"] == meta["name"]
                and p["namespace"] == meta["namespace"]), {})
    owner = meta.get("ownerReferences", [{}])[0]
    head = _kv([("Name", meta["name"]), ("Namespace", meta["namespace"]), ("Priority", 0),
                ("Service Account", "default"), ("Node", spec.get("nodeName") or "<none>"),
                ("Start Time", st.get("startTime")), ("Labels", _map_lines(meta.get("labels"), indent=18)),
                ("Annotations", _map_lines(meta.get("annotations"), ": ", 18)),
                ("Status", pod_status_text(pod) if meta.get("deletionTimestamp") else st.get("phase")),
                ("IP", st.get("podIP")), ("Controlled By", f"{owner.get('kind')}/{owner.get('name')}")], width=18)
    statuses = {c["name"]: c for c in st.get("containerStatuses", [])}
    raw_cs = (raw.get("containerStatuses") or [{}])[0]
    containers = spec.get("containers") or [{"name": n} for n in statuses]
    body = "Containers:\n" + "".join(_container_text(c, statuses.get(c.get("name", "")), raw_cs.get("mounts", {}),
                                                        "  ") for c in containers)
    conditions = "Conditions:\n  Type              Status\n" + "".join(
        f"  {c['type']:<18}{c['status']}\n" for c in st.get("conditions", []))
    volumes = "Volumes:\n" + ("".join(f"  {v['name']}:\n    Type:  {next(iter(k for k in v if k != 'name'), '')}\n"
                                      for v in spec.get("volumes", [])) or "  <none>\n")
    events = [e for e in list_kind("Event", objects, status, meta["namespace"])
              if e["involvedObject"]["name"] == meta["name"]]
    return head + body + conditions + volumes + "QoS Class:        Burstable\n" + _events_text(events)


def describe_node(node: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, spec = node["metadata"], node.get("spec", {})
    taints = [f"{t['key']}:{t.get('effect', 'NoSchedule')}" for t in spec.get("taints", [])]
    if spec.get("unschedulable"):
        taints.append("node.kubernetes.io/unschedulable:NoSchedule")
    head = _kv([("Name", meta["name"]), ("Roles", node_roles(node)),
                ("Labels", _map_lines(meta.get("labels"), indent=20)), ("CreationTimestamp",
                                                                       meta.get("creationTimestamp")),
                ("Taints", "\n".ljust(21).join(taints) or "<none>"),
                ("Unschedulable", str(bool(spec.get("unschedulable"))).lower())], width=20)
    conditions = node.get("status", {}).get("conditions", [])
    cond_rows = [[c["type"], c["status"], c.get("reason", "KubeletReady" if c["status"] == "True" else
                                                "KubeletNotReady"), c.get("message", "")] for c in conditions]
    cond_text = "Conditions:\n" + "".join("  " + line + "\n" for line in table(
        ["Type", "Status", "Reason", "Message"], cond_rows, padding=2).splitlines())
    pods = [p for p in status.get("pods", []) if p["nodeName"] == meta["name"] and p["phase"] != "Terminating"]
    pod_rows = [[p["namespace"], p["name"], _limit(p, objects), age(p.get("creationTimestamp"))] for p in pods]
    pods_text = f"Non-terminated Pods:          ({len(pods)} in total)\n" + "".join(
        "  " + line + "\n" for line in table(["Namespace", "Name", "Memory Limits", "Age"], pod_rows,
                                             padding=2).splitlines())
    return head + cond_text + pods_text + "Events:              <none>\n"


def _limit(pod: Obj, objects: dict[str, Obj]) -> str:
    containers = template_spec(pod, objects).get("containers", [{}])
    return str(containers[0].get("resources", {}).get("limits", {}).get("memory", "0 (0%)")) if containers else ""


def describe_template(template: Obj, indent: str = "  ") -> str:
    meta = template.get("metadata", {})
    out = _kv([("Labels", _map_lines(meta.get("labels"), indent=len(indent) + 14)),
               ("Annotations", _map_lines(meta.get("annotations"), ": ", len(indent) + 14))], indent, 14)
    out += f"{indent}Containers:\n" + "".join(
        _container_text(c, None, None, indent + "  ") for c in template.get("spec", {}).get("containers", []))
    volumes = template.get("spec", {}).get("volumes", [])
    out += f"{indent}Volumes:" + ("".join(f"\n{indent}  {v['name']}" for v in volumes) or "  <none>") + "\n"
    return out


def describe_workload(obj: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, spec, st = obj["metadata"], obj["spec"], obj.get("status", {})
    replicas = spec.get("replicas", 1)
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]), ("Namespace", meta["namespace"]), ("CreationTimestamp", meta.get("creationTimestamp")),
        ("Labels", _map_lines(meta.get("labels"), indent=23)),
        ("Annotations", _map_lines(meta.get("annotations"), ": ", 23)),
        ("Selector", selector_text(spec.get("selector", {}).get("matchLabels"))),
        ("Replicas", f"{replicas} desired | {st.get('updatedReplicas', 0)} updated | {st.get('replicas', 0)} total | "
                     f"{st.get('availableReplicas', 0)} available | "
                     f"{max(0, replicas - st.get('availableReplicas', 0))} unavailable")]
    if obj["kind"] == "Deployment":
        strategy = spec.get("strategy", {})
        rolling = strategy.get("rollingUpdate", {})
        pairs += [("StrategyType", strategy.get("type", "RollingUpdate")),
                  ("RollingUpdateStrategy", f"{rolling.get('maxUnavailable', '25%')} max unavailable, "
                                            f"{rolling.get('maxSurge', '25%')} max surge")]
    out = _kv(pairs, width=23) + "Pod Template:\n" + describe_template(spec["template"])
    if obj["kind"] == "Deployment":
        current = f"{meta['name']}-{template_hash(spec['template'])[:10]}"
        sets = [o for o in objects.values() if o["kind"] == "ReplicaSet" and o["metadata"].get("ownerName") ==
                meta["name"] and o["metadata"]["namespace"] == meta["namespace"]]
        old = ", ".join(s["metadata"]["name"] for s in sets if s["metadata"]["name"] != current) or "<none>"
        out += _kv([("OldReplicaSets", old), ("NewReplicaSet", f"{current} ({st.get('updatedReplicas', 0)}/"
                                                               f"{replicas} replicas created)")], width=16)
    return out + "Events:          <none>\n"


DESCRIBERS: dict[str, Callable[[Obj, dict[str, Obj], Obj], str]] = {
    "Pod": describe_pod, "Node": describe_node, "Deployment": describe_workload, "StatefulSet": describe_workload,
}
