"""What the controller tells the world each tick: status.json, endpoints and Prometheus scrape targets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.targets.local.labels import matches as labels_match
from drills.targets.local.store import Obj, write_json_atomic

if TYPE_CHECKING:
    from drills.targets.local.controller import Controller, Pod


def pod_status(pod: Pod) -> dict[str, Any]:
    container = pod.container.status()
    if pod.deleting:
        phase = "Terminating"
    elif pod.extra.get("node_lost"):
        phase = "Running"  # as Kubernetes reports it: the kubelet is gone, the last phase stays; Ready is False
    elif pod.container.running:
        phase = "Running"
    else:
        phase = "Pending"
    return {
        "name": pod.name, "namespace": pod.namespace, "labels": pod.labels, "annotations": pod.annotations,
        "ownerKind": pod.owner[0], "ownerName": pod.owner[1], "templateHash": pod.template_hash,
        "nodeName": pod.node, "podIP": pod.ip, "phase": phase, "ready": pod.ready,
        "creationTimestamp": pod.created, "containerStatuses": [container],
        "nodeLost": bool(pod.extra.get("node_lost")),
        "deletionTimestamp": pod.deletion_timestamp,
        "deletionGracePeriodSeconds": pod.spec.get("terminationGracePeriodSeconds", 30),
    }


def _node_status(node: Obj, pods: list[dict[str, Any]]) -> dict[str, Any]:
    ready = True
    for cond in node.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return {"name": node["metadata"]["name"], "ready": ready,
            "unschedulable": bool(node.get("spec", {}).get("unschedulable")),
            "labels": node["metadata"].get("labels", {}),
            "pods": sum(1 for p in pods if p["nodeName"] == node["metadata"]["name"])}


def _workload_status(obj: Obj, pods: list[dict[str, Any]], current: str) -> dict[str, Any]:
    owned = [p for p in pods if p["ownerKind"] == obj["kind"] and p["ownerName"] == obj["metadata"]["name"]
             and p["namespace"] == obj["metadata"]["namespace"] and p["phase"] != "Terminating"]
    updated = [p for p in owned if p["templateHash"] == current]
    return {
        "replicas": int(obj["spec"].get("replicas", 1)),
        "currentReplicas": len(owned),
        "updatedReplicas": len(updated),
        "readyReplicas": sum(p["ready"] for p in owned),
        "availableReplicas": sum(p["ready"] for p in owned),
        "updatedReadyReplicas": sum(p["ready"] for p in updated),
        "observedGeneration": obj["metadata"].get("generation", 1),
        "templateHash": current,
        "revision": obj["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", ""),
    }


def publish_status(controller: Controller, objects: dict[str, Obj]) -> dict[str, Any]:
    from drills.targets.local.workloads import template_hash

    every = [*controller.pods.values(), *list(controller.terminating.values())]
    pods = [pod_status(p) for p in sorted(every, key=lambda p: (p.namespace, p.name, p.deleting))]
    workloads: dict[str, Any] = {}
    for obj in objects.values():
        if obj["kind"] in ("Deployment", "StatefulSet"):
            key = f"{obj['kind']}/{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            workloads[key] = _workload_status(obj, pods, template_hash(obj["spec"]["template"]))
    status = {
        "time": time.time(),
        "cgroups": controller.cgroup_flavour,
        "networkPolicy": "enforced" if not controller.netpol_missing
        else f"not enforced: needs {controller.netpol_missing}",
        "nodes": [_node_status(n, pods) for n in objects.values() if n["kind"] == "Node"],
        "pods": pods,
        "workloads": workloads,
    }
    root: Path = controller.root
    write_json_atomic(root / "status.json", status)
    _write_endpoints(root, objects, pods)
    _write_scrape_targets(root, pods)
    return status


def _write_endpoints(root: Path, objects: dict[str, Obj], pods: list[dict[str, Any]]) -> None:
    """Ready endpoints per Service, as base URLs: what a client behind a Service would be balanced over."""
    (root / "endpoints").mkdir(exist_ok=True)
    for svc in (o for o in objects.values() if o["kind"] == "Service"):
        meta, spec = svc["metadata"], svc.get("spec", {})
        port = spec.get("ports", [{}])[0].get("targetPort", spec.get("ports", [{}])[0].get("port", 80))
        selector = spec.get("selector", {})
        urls = [f"http://{p['podIP']}:{port}" for p in pods
                if p["namespace"] == meta["namespace"] and p["ready"]
                and labels_match(selector, p["labels"])]
        write_json_atomic(root / "endpoints" / f"{meta['namespace']}.{meta['name']}.json", urls)


def _write_scrape_targets(root: Path, pods: list[dict[str, Any]]) -> None:
    """Prometheus file-SD: every pod annotated ``prometheus.io/scrape``, like kubernetes_sd's pod role."""
    groups = []
    for pod in pods:
        ann = pod["annotations"]
        if ann.get("prometheus.io/scrape") != "true" or pod["phase"] == "Terminating":
            continue
        groups.append({
            "targets": [f"{pod['podIP']}:{ann.get('prometheus.io/port', '8080')}"],
            "labels": {"job": pod["labels"].get("app", pod["ownerName"]), "namespace": pod["namespace"],
                       "pod": pod["name"], "node": pod["nodeName"],
                       "__metrics_path__": ann.get("prometheus.io/path", "/metrics")},
        })
    write_json_atomic(root / "scrape-targets.json", groups)
