"""Snapshot and restore of what drills may change, through the API.

The desired state of Deployments, StatefulSets, ConfigMaps, Secrets, Services, NetworkPolicies and
PodDisruptionBudgets in the namespaces drills work in, and every Node's ``spec.unschedulable``. Restore puts
back only what changed (as the local target does): objects created since are deleted, changed ones replaced,
deleted ones created again. Fields the server or controllers stamp (uid, resourceVersion, generation,
status, managed fields, the Deployment revision, a Service's cluster IPs) are not desired state: they are
stripped before comparing and never sent back.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from drills.targets.kubernetes.client import Api, ApiError, Obj, path_of

KINDS = ("ConfigMap", "Secret", "Service", "NetworkPolicy", "PodDisruptionBudget", "Deployment", "StatefulSet")
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
Snapshot = dict[str, Any]


def content(obj: Obj) -> Obj:
    """The object as someone wrote it: without what the API server and controllers stamp on it."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if out.get("kind") == "Service":
        for key in ("clusterIP", "clusterIPs"):
            out.get("spec", {}).pop(key, None)
    return out


def _key(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"


def _in_scope(obj: Obj, namespaces: frozenset[str] | None) -> bool:
    namespace = obj["metadata"].get("namespace", "")
    return namespace in namespaces if namespaces is not None else namespace not in SYSTEM_NAMESPACES


def objects(api: Api, namespaces: frozenset[str] | None) -> dict[str, Obj]:
    """Every object of :data:`KINDS` in scope, as :func:`content`, by ``Kind/namespace/name``."""
    return {_key(o): content(o) for kind in KINDS for o in api.list(kind) if _in_scope(o, namespaces)}


def take(api: Api, namespaces: frozenset[str] | None) -> Snapshot:
    nodes = {n["metadata"]["name"]: bool(n.get("spec", {}).get("unschedulable")) for n in api.list("Node")}
    return {"objects": objects(api, namespaces), "unschedulable": nodes}


def version(api: Api, namespaces: frozenset[str] | None) -> str:
    """A fingerprint of every snapshotted object's, every pod's and every node's resourceVersion: equal
    fingerprints mean nothing a drill may change, and no pod (a restart, a readiness change), changed in
    between. Events and Leases are left out: they change all the time and say nothing about the state."""
    keys = sorted(f"{_key(o)}@{o['metadata'].get('resourceVersion', '')}"
                  for kind in (*KINDS, "Pod", "Node") for o in api.list(kind)
                  if kind == "Node" or _in_scope(o, namespaces))
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def restore(api: Api, snapshot: Snapshot, namespaces: frozenset[str] | None) -> list[str]:
    """Put ``snapshot`` back; returns what was changed (``created``/``replaced``/``deleted`` KEY)."""
    saved: dict[str, Obj] = snapshot["objects"]
    live = {_key(o): o for kind in KINDS for o in api.list(kind) if _in_scope(o, namespaces)}
    done = []
    for key, obj in live.items():
        if key not in saved:
            meta = obj["metadata"]
            api.request("DELETE", path_of(obj["kind"], meta.get("namespace"), meta["name"]),
                        body={"propagationPolicy": "Background"})
            done.append(f"deleted {key}")
    for key, obj in saved.items():
        meta = obj["metadata"]
        current = live.get(key)
        if current is None:
            api.request("POST", path_of(obj["kind"], meta.get("namespace")), body=obj)
            done.append(f"created {key}")
        elif content(current) != obj:
            replace(api, obj, current)
            done.append(f"replaced {key}")
    for node in api.list("Node"):
        name = node["metadata"]["name"]
        want = snapshot["unschedulable"].get(name)
        if want is not None and bool(node.get("spec", {}).get("unschedulable")) != want:
            api.patch("Node", None, name, {"spec": {"unschedulable": True if want else None}})  # as uncordon
            done.append(f"{'cordoned' if want else 'uncordoned'} Node/{name}")
    return done


def replace(api: Api, obj: Obj, current: Obj | None = None, attempts: int = 5) -> None:
    """PUT ``obj`` over the live object; on a conflict (a controller wrote it in between: the Deployment
    controller records each revision on the object) read it again and retry, as client-go's
    ``RetryOnConflict`` does."""
    meta = obj["metadata"]
    path = path_of(obj["kind"], meta.get("namespace"), meta["name"])
    for attempt in range(attempts):
        if current is None or attempt:
            current = api.get(obj["kind"], meta.get("namespace"), meta["name"])
        try:
            api.request("PUT", path, body=replacement(obj, current))
            return
        except ApiError as exc:
            if not exc.conflict or attempt == attempts - 1:
                raise


def replacement(saved: Obj, current: Obj) -> Obj:
    """The saved object as a PUT body: the current resourceVersion and what the server stamps kept."""
    body = copy.deepcopy(saved)
    meta, live_meta = body["metadata"], current["metadata"]
    meta["resourceVersion"] = live_meta.get("resourceVersion")
    kept = {k: v for k, v in (live_meta.get("annotations") or {}).items() if k in SERVER_ANNOTATIONS}
    if kept:
        meta["annotations"] = {**meta.get("annotations", {}), **kept}
    if body.get("kind") == "Service":
        for key in ("clusterIP", "clusterIPs"):
            if key in current.get("spec", {}):
                body.setdefault("spec", {})[key] = current["spec"][key]
    return body
