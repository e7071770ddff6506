"""``kubectl drain --ignore-daemonsets --delete-emptydir-data`` through the Eviction API.

As kubectl does it: cordon, list the node's pods, skip DaemonSet pods (and mirror pods), POST a policy/v1
Eviction for each; a 429 means a PodDisruptionBudget blocks it for now, so retry every few seconds until the
timeout (kubectl never reads PDBs itself: the server enforces them); then wait for the evicted pods to go.
"""

from __future__ import annotations

import time

from drills.targets.base import ExecResult
from drills.targets.kubernetes.client import Api, ApiError, Obj, path_of

RETRY_S = 5.0  # kubectl drain's retry interval after a 429


def _skipped(pod: Obj) -> str | None:
    refs = pod["metadata"].get("ownerReferences", [])
    if any(r.get("controller") and r.get("kind") == "DaemonSet" for r in refs):
        return "DaemonSet-managed"
    if "kubernetes.io/config.mirror" in pod["metadata"].get("annotations", {}):
        return "mirror pod"
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return "finished"
    return None


def drain(api: Api, node: str, timeout_s: float, retry_s: float = RETRY_S) -> ExecResult:
    """Evict every pod on ``node``; exit code 0 once all are gone, 1 (with what blocked) on timeout."""
    deadline = time.monotonic() + timeout_s
    lines = []
    api.patch("Node", None, node, {"spec": {"unschedulable": True}})
    lines.append(f"node/{node} cordoned")
    pods = api.list("Pod", None, fields=f"spec.nodeName={node}")
    pending: list[Obj] = []
    for pod in pods:
        why = _skipped(pod)
        if why:
            lines.append(f"Warning: ignoring {why} pod {pod['metadata']['namespace']}/{pod['metadata']['name']}")
        else:
            pending.append(pod)
    evicted: list[Obj] = []
    while pending:
        blocked: list[Obj] = []
        for pod in pending:
            meta = pod["metadata"]
            body = {"apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
            try:
                api.request("POST", path_of("Pod", meta["namespace"], meta["name"], "eviction"), body=body)
            except ApiError as exc:
                if exc.code == 404:
                    continue
                if exc.code != 429:
                    lines.append(f"error when evicting pods/{meta['name']} -n {meta['namespace']}: {exc.message}")
                    return ExecResult(1, "\n".join(lines))
                lines.append(f"error when evicting pods/\"{meta['name']}\" -n \"{meta['namespace']}\" (will retry "
                             f"after {retry_s:.0f}s): {exc.message}")
                blocked.append(pod)
                continue
            lines.append(f"evicting pod {meta['namespace']}/{meta['name']}")
            evicted.append(pod)
        pending = blocked
        if pending:
            if time.monotonic() + retry_s > deadline:
                names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pending)
                lines.append(f"error: drain did not complete within {timeout_s:.0f}s; still blocked: {names}")
                return ExecResult(1, "\n".join(lines))
            time.sleep(retry_s)
    return _wait_gone(api, node, evicted, deadline, lines)


def _wait_gone(api: Api, node: str, evicted: list[Obj], deadline: float, lines: list[str]) -> ExecResult:
    """kubectl waits until each evicted pod is gone (404) or replaced (a new UID under the same name)."""
    waiting = list(evicted)
    while waiting and time.monotonic() < deadline:
        left = []
        for pod in waiting:
            meta = pod["metadata"]
            now = api.find("Pod", meta["namespace"], meta["name"])
            if now is not None and now["metadata"].get("uid") == meta.get("uid"):
                left.append(pod)
            else:
                lines.append(f"pod/{meta['name']} evicted")
        waiting = left
        if waiting:
            time.sleep(0.5)
    if waiting:
        names = ", ".join(p["metadata"]["name"] for p in waiting)
        lines.append(f"error: timed out waiting for the pods to be deleted: {names}")
        return ExecResult(1, "\n".join(lines))
    lines.append(f"node/{node} drained")
    return ExecResult(0, "\n".join(lines))
