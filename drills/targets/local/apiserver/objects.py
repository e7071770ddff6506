"""Kubernetes objects as clients see them, built from the sandbox's desired state and the controller's report.

The object store holds what was asked for (Deployments, ConfigMaps, ...) and the controller's ``status.json``
holds what runs (pods, their containers, workload counts). A real API server keeps both in one object; here
each served object is assembled from the two: spec and metadata from the store, ``status`` from the report,
Pods and Endpoints entirely from the report, ReplicaSets with the owner references and labels the
Deployment controller writes. Only this module knows both shapes.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from drills.targets.local.apiserver import defaults
from drills.targets.local.labels import matches as labels_match
from drills.targets.local.store import Obj, key_of, rfc3339, uid_of

KUBELET_VERSION = "v1.37.1-drillbook"
UNREACHABLE = "node.kubernetes.io/unreachable"
HIDDEN_KINDS = {"PodDeletion"}  # the controller's own work queue, not an API object


def build(store_objects: dict[str, Obj], status: dict[str, Any], octet: int) -> dict[str, Obj]:
    """Every served object by store key (``Kind/namespace/name``); the store objects given are used, not copied."""
    out: dict[str, Obj] = {}
    for key, served in store_objects.items():
        if served.get("kind") in HIDDEN_KINDS:
            continue
        meta = served.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        meta.setdefault("creationTimestamp", rfc3339(time.time()))
        meta["uid"] = uid_of(key, meta["creationTimestamp"])
        out[key] = served
    workloads = status.get("workloads", {})
    for key, obj in list(out.items()):
        kind = obj["kind"]
        if kind == "Deployment":
            obj["status"] = _deployment_status(obj, workloads.get(key, {}))
        elif kind == "StatefulSet":
            obj["status"] = _statefulset_status(obj, workloads.get(key, {}))
        elif kind == "Node":
            _node(obj, octet, status)
    namespaces = {o["metadata"].get("namespace") for o in out.values()} | {"default", "kube-system"}
    for ns in sorted(n for n in namespaces if n):
        key = key_of("Namespace", None, ns)
        if key not in out:
            created = rfc3339(float(status.get("started", time.time())))
            out[key] = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": ns, "creationTimestamp": created, "uid": uid_of(key, created),
                                     "labels": {"kubernetes.io/metadata.name": ns}}}
    for obj in out.values():
        if obj["kind"] == "Namespace":
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
    pods = [_pod(p, out) for p in status.get("pods", [])]
    for pod in pods:
        out[key_of("Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod
    for obj in list(out.values()):
        if obj["kind"] == "ReplicaSet":
            _replicaset(obj, out, pods)
        elif obj["kind"] == "Service":
            out[key_of("Endpoints", obj["metadata"]["namespace"], obj["metadata"]["name"])] = _endpoints(obj, pods)
        elif obj["kind"] == "PodDisruptionBudget":
            obj["status"] = pdb_status(obj, pods)
    for obj in out.values():
        defaults.apply(obj)
    return out


def _conditions(*pairs: tuple[str, bool, str]) -> list[Obj]:
    return [{"type": t, "status": "True" if ok else "False", "reason": reason,
             "lastTransitionTime": rfc3339(time.time())} for t, ok, reason in pairs]


def _deployment_status(obj: Obj, w: dict[str, Any]) -> Obj:
    replicas = int(obj["spec"].get("replicas", 1))
    available = int(w.get("availableReplicas", 0))
    return {"observedGeneration": w.get("observedGeneration", 0), "replicas": w.get("currentReplicas", 0),
            "updatedReplicas": w.get("updatedReplicas", 0), "readyReplicas": w.get("readyReplicas", 0),
            "availableReplicas": available, "unavailableReplicas": max(0, replicas - available),
            "conditions": _conditions(("Available", available >= replicas, "MinimumReplicasAvailable"),
                                      ("Progressing", True, "NewReplicaSetAvailable"))}


def _statefulset_status(obj: Obj, w: dict[str, Any]) -> Obj:
    name = obj["metadata"]["name"]
    update = f"{name}-{str(w.get('templateHash', ''))[:10]}"
    done = w.get("updatedReplicas", 0) == w.get("currentReplicas", 0) == int(obj["spec"].get("replicas", 1))
    return {"observedGeneration": w.get("observedGeneration", 0), "replicas": w.get("currentReplicas", 0),
            "readyReplicas": w.get("readyReplicas", 0), "currentReplicas": w.get("updatedReplicas", 0),
            "updatedReplicas": w.get("updatedReplicas", 0), "availableReplicas": w.get("availableReplicas", 0),
            "updateRevision": update, "currentRevision": update if done else f"{name}-previous",
            "collisionCount": 0}


def _node(obj: Obj, octet: int, status: dict[str, Any]) -> None:
    names = [n["name"] for n in status.get("nodes", [])] or [obj["metadata"]["name"]]
    index = names.index(obj["metadata"]["name"]) if obj["metadata"]["name"] in names else 0
    node_status = obj.setdefault("status", {})
    ready = next((c for c in node_status.get("conditions", []) if c.get("type") == "Ready"), None)
    ok = ready is None or ready.get("status") == "True"
    reason = "KubeletReady" if ok else (ready or {}).get("reason", "NodeStatusUnknown")
    message = "kubelet is posting ready status" if ok else "Kubelet stopped posting node status."
    node_status["conditions"] = [{"type": "Ready", "status": "True" if ok else "Unknown", "reason": reason,
                                  "message": message, "lastHeartbeatTime": rfc3339(time.time()),
                                  "lastTransitionTime": obj["metadata"]["creationTimestamp"]}]
    if not ok:  # what the node lifecycle controller adds to an unreachable node
        taints = obj.setdefault("spec", {}).setdefault("taints", [])
        if not any(t.get("key") == UNREACHABLE for t in taints):
            taints.append({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": rfc3339(time.time())})
    node_status["addresses"] = [{"type": "InternalIP", "address": f"127.{octet}.{index}.1"},
                                {"type": "Hostname", "address": obj["metadata"]["name"]}]
    capacity = {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}
    node_status.setdefault("capacity", capacity)
    node_status.setdefault("allocatable", capacity)
    node_status["nodeInfo"] = {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": "",
                               "osImage": "drillbook embedded cluster", "kernelVersion": _kernel(),
                               "containerRuntimeVersion": "drillbook://processes", "operatingSystem": "linux",
                               "architecture": "amd64", "machineID": "", "systemUUID": "", "bootID": ""}


def _kernel() -> str:
    import os

    return os.uname().release


def _owner_ref(owner: Obj, controller: bool = True) -> Obj:
    return {"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"], "controller": controller,
            "blockOwnerDeletion": True}


def _pod(p: dict[str, Any], objects: dict[str, Obj]) -> Obj:
    ns, name = p["namespace"], p["name"]
    created = rfc3339(float(p["creationTimestamp"]))
    key = key_of("Pod", ns, name)
    labels = dict(p.get("labels", {}))
    owner_ref: list[Obj] = []
    spec: Obj = {}
    short_hash = str(p.get("templateHash", ""))[:10]
    if p.get("ownerKind") == "Deployment":
        labels["pod-template-hash"] = short_hash
        rs = objects.get(key_of("ReplicaSet", ns, f"{p['ownerName']}-{short_hash}"))
        deploy = objects.get(key_of("Deployment", ns, p["ownerName"]))
        template = (rs or deploy or {}).get("spec", {}).get("template", {})
        spec = copy.deepcopy(template.get("spec", {}))
        if rs is not None:  # the controller records it the first tick it sees the template
            owner_ref = [_owner_ref(rs)]
    elif p.get("ownerKind") == "StatefulSet":
        sts = objects.get(key_of("StatefulSet", ns, p["ownerName"]))
        labels["controller-revision-hash"] = f"{p['ownerName']}-{short_hash}"
        labels["statefulset.kubernetes.io/pod-name"] = name
        if sts is not None:
            owner_ref = [_owner_ref(sts)]
            spec = copy.deepcopy(sts["spec"]["template"]["spec"])
    spec["nodeName"] = p.get("nodeName", "")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    containers = []
    for c in p.get("containerStatuses", []):
        c = {k: v for k, v in c.items() if k not in ("pid", "mounts", "memoryUsageBytes")}
        term = c.get("lastState", {}).get("terminated")
        if term:
            term.pop("finishedAtUnix", None)
        c["started"] = "running" in c.get("state", {})
        c["imageID"] = c.get("image", "")
        c["containerID"] = f"drillbook://{ns}_{name}_{c['name']}" if c["started"] else ""
        containers.append(c)
    terminating = p.get("phase") == "Terminating"
    node_lost = bool(p.get("nodeLost"))
    running = any(c["started"] for c in containers) or terminating or node_lost
    ready = bool(p.get("ready")) and not node_lost
    meta: Obj = {"name": name, "namespace": ns, "labels": labels, "annotations": dict(p.get("annotations", {})),
                 "creationTimestamp": created, "uid": uid_of(key, created), "ownerReferences": owner_ref,
                 "generateName": f"{p['ownerName']}-{short_hash}-" if p.get("ownerKind") == "Deployment" else ""}
    if terminating:
        meta["deletionTimestamp"] = rfc3339(p.get("deletionTimestamp") or time.time())
        meta["deletionGracePeriodSeconds"] = int(p.get("deletionGracePeriodSeconds", 30))
    status: Obj = {"phase": "Running" if running else "Pending", "podIP": p.get("podIP", ""),
                   "podIPs": [{"ip": p.get("podIP", "")}], "hostIP": "", "startTime": created,
                   "qosClass": "Burstable", "containerStatuses": containers,
                   "conditions": _conditions(("PodScheduled", True, ""), ("Initialized", True, ""),
                                             ("ContainersReady", ready, "" if ready else "ContainersNotReady"),
                                             ("Ready", ready, "" if ready else "ContainersNotReady"))}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _replicaset(rs: Obj, objects: dict[str, Obj], pods: list[Obj]) -> None:
    meta = rs["metadata"]
    owner_name = meta.pop("ownerName", None)
    deploy = objects.get(key_of("Deployment", meta["namespace"], owner_name)) if owner_name else None
    short_hash = meta["name"].rsplit("-", 1)[-1]
    template = rs.setdefault("spec", {}).setdefault("template", {})
    template_labels = {**template.get("metadata", {}).get("labels", {}), "pod-template-hash": short_hash}
    template.setdefault("metadata", {})["labels"] = template_labels
    meta["labels"] = dict(template_labels)
    mine = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == short_hash
            and p["metadata"]["namespace"] == meta["namespace"] and "deletionTimestamp" not in p["metadata"]]
    current = deploy is not None and deploy.get("status") is not None and \
        meta.get("annotations", {}).get("deployment.kubernetes.io/revision") == \
        deploy["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision")
    if deploy is not None:
        meta["ownerReferences"] = [_owner_ref(deploy)]
        selector = copy.deepcopy(deploy["spec"].get("selector", {}))
        selector.setdefault("matchLabels", {})["pod-template-hash"] = short_hash
        rs["spec"]["selector"] = selector
    rs["spec"]["replicas"] = int(deploy["spec"].get("replicas", 1)) if current and deploy else len(mine)
    ready = sum(1 for p in mine if _ready(p))
    rs["status"] = {"replicas": len(mine), "readyReplicas": ready, "availableReplicas": ready,
                    "fullyLabeledReplicas": len(mine), "observedGeneration": meta.get("generation", 1)}


def _ready(pod: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def _endpoints(service: Obj, pods: list[Obj]) -> Obj:
    meta = service["metadata"]
    selector = service.get("spec", {}).get("selector")
    ready: list[Obj] = []
    not_ready: list[Obj] = []
    for pod in pods:
        if not selector or pod["metadata"]["namespace"] != meta["namespace"]:
            continue
        if not labels_match(selector, pod["metadata"]["labels"]) or not pod["status"].get("podIP"):
            continue
        address = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName", ""),
                   "targetRef": {"kind": "Pod", "namespace": meta["namespace"], "name": pod["metadata"]["name"],
                                 "uid": pod["metadata"]["uid"]}}
        (ready if _ready(pod) and "deletionTimestamp" not in pod["metadata"] else not_ready).append(address)
    ports = [{"name": p.get("name", ""), "port": p.get("targetPort", p.get("port")),
              "protocol": p.get("protocol", "TCP")} for p in service.get("spec", {}).get("ports", [])]
    subsets = []
    if ready or not_ready:
        subset: Obj = {"ports": ports}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        subsets.append(subset)
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "creationTimestamp": meta["creationTimestamp"],
                         "uid": uid_of(key_of("Endpoints", meta["namespace"], meta["name"]), meta["creationTimestamp"]),
                         "labels": dict(meta.get("labels", {}))},
            "subsets": subsets}


def pdb_status(pdb: Obj, pods: list[Obj]) -> Obj:
    """How many pods a PodDisruptionBudget may lose now (the disruption controller's arithmetic)."""
    selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
    ns = pdb["metadata"]["namespace"]
    covered = [p for p in pods if p["metadata"]["namespace"] == ns and labels_match(selector, p["metadata"]["labels"])
               and "deletionTimestamp" not in p["metadata"]]
    healthy = sum(1 for p in covered if _ready(p))
    expected = len(covered)
    spec = pdb.get("spec", {})
    if "minAvailable" in spec:
        desired = _count(spec["minAvailable"], expected)
    elif "maxUnavailable" in spec:
        desired = max(0, expected - _count(spec["maxUnavailable"], expected))
    else:
        desired = expected
    return {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
            "disruptionsAllowed": max(0, healthy - desired), "observedGeneration": pdb["metadata"].get("generation", 1)}


def _count(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        import math

        return math.ceil(total * int(value[:-1]) / 100)
    return int(value)
