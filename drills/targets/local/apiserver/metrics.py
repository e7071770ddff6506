"""``metrics.k8s.io/v1beta1`` (what ``kubectl top`` reads), from the containers' real cgroups.

Memory is the cgroup's own usage counter; CPU is the rate of the container processes' CPU time (``/proc``
utime + stime of every process in the container's cgroup) over a short window, as metrics-server reports a
rate over its scrape window. Nodes sum their pods.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from drills.targets.local import cgroups
from drills.targets.local.apiserver.app import CLUSTER, Target, json_response
from drills.targets.local.apiserver.errors import ApiError
from drills.targets.local.apiserver.selectors import label_selector
from drills.targets.local.config import SandboxConfig
from drills.targets.local.store import Obj, rfc3339

WINDOW_S = 0.5
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(group: cgroups.ContainerCgroup) -> float:
    total = 0
    try:
        pids = (group.memory_dir / "cgroup.procs").read_text().split()
    except OSError:
        return 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS


async def _usage(root_name: str, pods: list[Obj]) -> dict[str, tuple[float, int]]:
    """Pod key → (CPU cores used over the window, memory bytes)."""
    flavour = cgroups.cgroup_support()
    if flavour is None:
        raise ApiError(503, "the server is currently unable to handle the request (get pods.metrics.k8s.io): "
                            "the embedded cluster runs without cgroups, so it has no usage to report",
                       "ServiceUnavailable")
    groups = {f"{p['metadata']['namespace']}/{p['metadata']['name']}":
              cgroups.ContainerCgroup(flavour, f"{root_name}/{p['metadata']['namespace']}_{p['metadata']['name']}")
              for p in pods}
    before = {k: _cpu_seconds(g) for k, g in groups.items()}
    started = time.monotonic()
    await asyncio.sleep(WINDOW_S)
    elapsed = time.monotonic() - started
    return {k: ((_cpu_seconds(g) - before[k]) / elapsed, g.memory_usage()) for k, g in groups.items()}


def _quantities(cpu: float, memory: int) -> dict[str, str]:
    return {"cpu": f"{int(cpu * 1e9)}n", "memory": f"{memory // 1024}Ki"}


async def serve(request: web.Request, target: Target) -> web.StreamResponse:
    if request.method != "GET":
        raise ApiError(405, "metrics are read-only", "MethodNotAllowed")
    cluster = request.app[CLUSTER]
    cluster.refresh()
    name = SandboxConfig.load(cluster.root).cgroup_name
    labels = label_selector(request.query.get("labelSelector"))
    running = [p for p in cluster.list("Pod", target.namespace if target.resource.kind == "PodMetrics" else None)
               if p["status"].get("phase") == "Running" and "deletionTimestamp" not in p["metadata"]]
    now = rfc3339(time.time())
    if target.resource.kind == "PodMetrics":
        pods = [p for p in running if labels(p["metadata"].get("labels", {}))
                and (target.name is None or p["metadata"]["name"] == target.name)]
        usage = await _usage(name, pods)
        items: list[dict[str, Any]] = []
        for pod in pods:
            cpu, memory = usage[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"]
            containers = [{"name": c["name"], "usage": _quantities(cpu, memory)}
                          for c in pod["status"].get("containerStatuses", [])[:1]]
            items.append({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                          "metadata": {"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
                                       "labels": pod["metadata"].get("labels", {}), "creationTimestamp": now},
                          "timestamp": now, "window": f"{WINDOW_S}s", "containers": containers})
        kind = "PodMetrics"
    else:
        nodes = [n for n in cluster.list("Node", None) if labels(n["metadata"].get("labels", {}))
                 and (target.name is None or n["metadata"]["name"] == target.name)]
        usage = await _usage(name, running)
        items = []
        for node in nodes:
            mine = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in running
                    if p["spec"].get("nodeName") == node["metadata"]["name"]]
            cpu = sum(usage[k][0] for k in mine)
            memory = sum(usage[k][1] for k in mine)
            items.append({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                          "metadata": {"name": node["metadata"]["name"], "labels": node["metadata"].get("labels", {}),
                                       "creationTimestamp": now},
                          "timestamp": now, "window": f"{WINDOW_S}s", "usage": _quantities(cpu, memory)})
        kind = "NodeMetrics"
    if target.name is not None:
        if not items:
            raise ApiError(404, f'{target.resource.plural}.metrics.k8s.io "{target.name}" not found')
        return json_response(items[0])
    return json_response({"kind": f"{kind}List", "apiVersion": "metrics.k8s.io/v1beta1",
                          "metadata": {"resourceVersion": ""}, "items": items})
