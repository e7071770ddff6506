"""Pod and workload subresources: ``log``, ``exec``, ``eviction`` and ``scale`` (``proxy``: :mod:`.proxy`).

Each maps the API's request onto the sandbox: logs are the container's log files the controller writes;
exec runs the command on the host as the pod would (:mod:`drills.targets.local.podexec` rewrites addresses and
mount paths); an eviction is the Eviction API's PodDisruptionBudget check followed by a pod deletion; scale
reads and writes ``spec.replicas``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable
from pathlib import Path

from aiohttp import web

from drills.targets.local import operations, podexec
from drills.targets.local.apiserver import proxy, streams
from drills.targets.local.apiserver.app import CLUSTER, Extension, Target, body_of, get_one, grace_period, json_response
from drills.targets.local.apiserver.cluster import Cluster
from drills.targets.local.apiserver.errors import ApiError
from drills.targets.local.apiserver.objects import pdb_status
from drills.targets.local.labels import matches as labels_match
from drills.targets.local.sandbox import read_status
from drills.targets.local.store import Obj


def extensions() -> dict[str, Extension]:
    return {"log": _log, "exec": _exec, "eviction": _eviction, "scale": _scale, **proxy.extensions()}


def _container(pod: Obj, name: str | None) -> Obj:
    statuses = pod["status"].get("containerStatuses", [])
    if not name:  # no ``container`` (the Python client sends none): the pod's only or first container
        if not statuses:
            raise ApiError(400, f'pod {pod["metadata"]["name"]} has no containers')
        return dict(statuses[0])
    for status in statuses:
        if status["name"] == name:
            return dict(status)
    raise ApiError(400, f"container {name} is not valid for pod {pod['metadata']['name']}")


# -- log --------------------------------------------------------------------------------------------------
def _log(target: Target, request: web.Request) -> Awaitable[web.StreamResponse] | None:
    if request.method != "GET" or target.resource.kind != "Pod":
        return None
    cluster = request.app[CLUSTER]
    pod = get_one(cluster, target)

    def open_log(req: streams.LogRequest) -> streams.LogSource:
        container = _container(pod, req.container)
        folder = cluster.root / "logs" / pod["metadata"]["namespace"] / pod["metadata"]["name"]
        path = folder / f"{container['name']}{'.previous' if req.previous else ''}.log"
        if not path.exists():
            if req.previous:
                raise ApiError(400, f'previous terminated container "{container["name"]}" in pod '
                                    f'"{pod["metadata"]["name"]}" not found')
            raise ApiError(400, f'container "{container["name"]}" in pod "{pod["metadata"]["name"]}" is waiting '
                                "to start: ContainerCreating")
        if req.previous:
            return streams.LogSource(path)
        return streams.LogSource(path, running=lambda: _running(cluster, target, container["name"]))

    return streams.logs_response(request, open_log)


def _running(cluster: Cluster, target: Target, name: str) -> bool:
    """Whether ``logs -f`` should keep waiting for more: the container still runs (as the kubelet re-checks);
    a restart is seen by the log file being replaced."""
    pod = cluster.objects.get(target.key)
    statuses = pod["status"].get("containerStatuses", []) if pod else []
    return any(s["name"] == name and "running" in s.get("state", {}) for s in statuses)


# -- exec -------------------------------------------------------------------------------------------------
def _exec(target: Target, request: web.Request) -> Awaitable[web.StreamResponse] | None:
    if target.resource.kind != "Pod":
        return None
    cluster = request.app[CLUSTER]
    pod = get_one(cluster, target)

    async def start(req: streams.ExecRequest) -> asyncio.subprocess.Process:
        container = _container(pod, req.container)
        if "running" not in container.get("state", {}):
            raise streams.ExecError(f'unable to upgrade connection: container not found ("{container["name"]}")')
        argv, cwd, env = _pod_command(cluster, pod, list(req.command))
        try:
            return await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE if req.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        except (FileNotFoundError, PermissionError) as exc:
            raise streams.ExecError(
                f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{argv[0]}": '
                "executable file not found in $PATH: unknown") from exc

    return streams.exec_websocket(request, start)


def _pod_command(cluster: Cluster, pod: Obj, command: list[str]) -> tuple[list[str], Path, dict[str, str]]:
    """The host command, directory and environment that run ``command`` as if inside the pod."""
    status = read_status(cluster.root)
    raw: Obj = next((p for p in status.get("pods", []) if p["name"] == pod["metadata"]["name"]
                and p["namespace"] == pod["metadata"]["namespace"]), {})
    mounts = dict((raw.get("containerStatuses") or [{}])[0].get("mounts", {}))
    pods = status.get("pods", [])
    services = [o for o in cluster.objects.values() if o["kind"] == "Service"]
    names = podexec.service_addresses(services, pods, pod["metadata"]["namespace"])
    ip = pod["status"].get("podIP", "")
    argv = podexec.exec_argv(command, ip, names, mounts, podexec.port_aliases(pods))
    pod_dir = cluster.root / "pods" / pod["metadata"]["namespace"] / pod["metadata"]["name"]
    pod_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_container_env((raw.get("containerStatuses") or [{}])[0].get("pid")), "POD_IP": ip,
           "POD_NAME": pod["metadata"]["name"], "POD_NAMESPACE": pod["metadata"]["namespace"]}
    return argv, pod_dir, env


def _container_env(pid: object) -> dict[str, str]:
    """The container's environment, as the runtime gives an exec'd process the container's own (``kubectl exec
    POD -- sh -c 'echo $VAR'`` sees the pod's env): read from its main process, empty if it is gone."""
    if not isinstance(pid, int):
        return {}
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


# -- eviction ---------------------------------------------------------------------------------------------
def _eviction(target: Target, request: web.Request) -> Awaitable[web.StreamResponse] | None:
    if request.method != "POST" or target.resource.kind != "Pod":
        return None
    return _evict(target, request)


async def _evict(target: Target, request: web.Request) -> web.StreamResponse:
    """policy/v1 Eviction: refused with 429 while a PodDisruptionBudget allows no disruption of a Ready pod."""
    cluster = request.app[CLUSTER]
    eviction = await body_of(request)
    cluster.refresh()
    pod = get_one(cluster, target)
    ns = pod["metadata"]["namespace"]
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
    pods = [o for o in cluster.list("Pod", ns)]
    for pdb in cluster.list("PodDisruptionBudget", ns):
        selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not labels_match(selector, pod["metadata"].get("labels", {})):
            continue
        budget = pdb_status(pdb, pods)
        # unhealthyPodEvictionPolicy IfHealthyBudget: an unready pod may go while the budget is met
        if budget["disruptionsAllowed"] < (1 if ready else 0) or budget["currentHealthy"] < budget["desiredHealthy"]:
            raise ApiError(429, "Cannot evict pod as it would violate the pod's disruption budget.", "TooManyRequests",
                           {"causes": [{"reason": "DisruptionBudget", "message":
                                        f"The disruption budget {pdb['metadata']['name']} needs "
                                        f"{budget['desiredHealthy']} healthy pods and has "
                                        f"{budget['currentHealthy']} currently"}]})
    options = eviction.get("deleteOptions") if isinstance(eviction, dict) else None
    operations.request_pod_deletion(cluster.store, ns, target.name or "", grace_period(request.query, options))
    cluster.refresh(force=True)
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                         201)


# -- scale ------------------------------------------------------------------------------------------------
def _scale(target: Target, request: web.Request) -> Awaitable[web.StreamResponse] | None:
    if target.resource.kind not in ("Deployment", "StatefulSet", "ReplicaSet"):
        return None
    return _scale_request(target, request)


def _scale_object(obj: Obj) -> Obj:
    selector = obj["spec"].get("selector", {}).get("matchLabels", {})
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"],
                         "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"]["resourceVersion"],
                         "creationTimestamp": obj["metadata"]["creationTimestamp"]},
            "spec": {"replicas": int(obj["spec"].get("replicas", 1))},
            "status": {"replicas": int(obj.get("status", {}).get("replicas", 0)),
                       "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}}


async def _scale_request(target: Target, request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    cluster.refresh()
    obj = get_one(cluster, target)
    if request.method == "GET":
        return json_response(_scale_object(obj))
    if request.method not in ("PUT", "PATCH"):
        raise ApiError(405, f"{request.method} is not allowed on scale", "MethodNotAllowed")
    body = await body_of(request)
    if isinstance(body, bytes):
        body = json.loads(body or b"{}")
    replicas = body.get("spec", {}).get("replicas")
    if not isinstance(replicas, int) or replicas < 0:
        raise ApiError(422, f'Scale.autoscaling "{target.name}" is invalid: spec.replicas: Invalid value: '
                            f"{replicas}: must be greater than or equal to 0", "Invalid")
    operations.scale(cluster.store, target.resource.kind, target.namespace or "default", target.name or "", replicas)
    cluster.refresh(force=True)
    return json_response(_scale_object(get_one(cluster, target)))
