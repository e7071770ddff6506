"""What the embedded cluster serves: one table of resources, from which discovery and routing are derived.

kubectl learns every resource, short name, verb and subresource from discovery (``/api``, ``/apis`` and each
group-version's APIResourceList), so this table is the whole contract: a resource missing here is answered
the way a real server answers an unknown one (kubectl: ``the server doesn't have a resource type "x"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

READ = ["get", "list", "watch"]
ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL)
    # subresource name: (its group/version, its kind, its verbs)
    subresources: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


_SCALE = ("autoscaling/v1", "Scale", ("get", "patch", "update"))
_STATUS_SUB = ("", "", ("get", "patch", "update"))

RESOURCES: list[Resource] = [
    Resource("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",)),
    Resource("", "v1", "Pod", "pods", short=("po",), categories=("all",),
             subresources={"log": ("v1", "Pod", ("get",)), "exec": ("v1", "PodExecOptions", ("create", "get")),
                           "eviction": ("policy/v1", "Eviction", ("create",)), "status": _STATUS_SUB}),
    Resource("", "v1", "Service", "services", short=("svc",), categories=("all",),
             subresources={"status": _STATUS_SUB}),
    Resource("", "v1", "Endpoints", "endpoints", short=("ep",)),
    Resource("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    Resource("", "v1", "Secret", "secrets"),
    Resource("", "v1", "Node", "nodes", namespaced=False, short=("no",), subresources={"status": _STATUS_SUB}),
    Resource("", "v1", "Event", "events", short=("ev",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",),
             subresources={"status": _STATUS_SUB}),
    Resource("apps", "v1", "Deployment", "deployments", short=("deploy",), categories=("all",),
             subresources={"scale": _SCALE, "status": _STATUS_SUB}),
    Resource("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), categories=("all",),
             subresources={"scale": _SCALE, "status": _STATUS_SUB}),
    Resource("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), categories=("all",),
             subresources={"scale": _SCALE, "status": _STATUS_SUB}),
    Resource("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), categories=("all",),
             subresources={"status": _STATUS_SUB}),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions"),
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",),
             subresources={"status": _STATUS_SUB}),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    Resource("coordination.k8s.io", "v1", "Lease", "leases"),
    Resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=tuple(READ[:2])),
    Resource("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", namespaced=False, verbs=tuple(READ[:2])),
]

BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES if r.group != "metrics.k8s.io"}


def group_versions() -> dict[str, list[str]]:
    """Group → its versions, in the order discovery lists them (core group "" first)."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


def api_versions() -> dict[str, Any]:
    """``GET /api``: legacy discovery of the core group."""
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def api_group_list() -> dict[str, Any]:
    """``GET /apis``: every named group with its versions (legacy discovery; kubectl then reads each list)."""
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": entries, "preferredVersion": entries[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    """``GET /apis/GROUP``."""
    for g in api_group_list()["groups"]:
        if g["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/G/V``: the APIResourceList kubectl maps names and short names with."""
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    items: list[dict[str, Any]] = []
    for r in served:
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short:
            entry["shortNames"] = list(r.short)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        for sub, (gv, kind, verbs) in r.subresources.items():
            sub_entry: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                                         "kind": kind or r.kind, "verbs": list(verbs)}
            if gv and gv != r.api_version:
                sub_group, _, sub_version = gv.rpartition("/")
                sub_entry.update(group=sub_group, version=sub_version)
            items.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}
