"""Reading a fault's symptoms the way the runbook's Investigation does: log lines and Prometheus queries.

Why a module: application faults (429s from the upstream, an open circuit breaker, a buggy release) show
no Kubernetes state a fault could wait on; their proof is what the service logs and what Prometheus
records, both observed *after* the injection time so that an old line or sample never counts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from kubernetes.client import AppsV1Api

from drills.errors import TargetError
from drills.targets.base import PodState, Target, WorkloadRef

_TS = re.compile(r"^ts=(\S+)")


def line_time(line: str) -> float | None:
    """Unix time of a ``ts=2026-01-01T00:00:00.000Z level=... msg=...`` line (the refsystem's log format)."""
    match = _TS.match(line)
    if not match:
        return None
    try:
        return dt.datetime.fromisoformat(match[1].replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def lines_since(logs: str, text: str, since: float) -> list[str]:
    """The lines of ``logs`` containing ``text`` and stamped at or after ``since`` (unstamped lines never count)."""
    return [line for line in logs.splitlines() if text in line and (line_time(line) or 0.0) >= since]


def logged(target: Target, namespace: str, pod: str, text: str, since: float, tail: int = 400) -> list[str]:
    """``kubectl logs POD --tail N | grep TEXT``, keeping only the lines written since ``since``."""
    return lines_since(target.logs(namespace, pod, tail=tail), text, since)


def first_logged(target: Target, namespace: str, pods: list[PodState], text: str, since: float) -> dict[str, str]:
    """Each pod's first line containing ``text`` since ``since``; pods without one (or gone between the list
    and the read) are left out."""
    found = {}
    for pod in pods:
        try:
            lines = logged(target, namespace, pod.name, text, since)
        except TargetError:  # replaced between the list and the read
            continue
        if lines:
            found[pod.name] = lines[0]
    return found


def window(since: float, now: float) -> str:
    """A PromQL range covering everything from ``since`` to now, in whole seconds (at least 1s)."""
    return f"{max(1, math.ceil(now - since))}s"


def read_workload(target: Target, ref: WorkloadRef) -> dict[str, Any]:
    """A Deployment or StatefulSet as plain JSON (``kubectl get -o json``), through the target's API client."""
    apps = AppsV1Api(target.api_client())
    read = apps.read_namespaced_stateful_set if ref.kind == "StatefulSet" else apps.read_namespaced_deployment
    reply: Any = read(ref.name, ref.namespace, _preload_content=False)
    try:
        obj: dict[str, Any] = json.loads(reply.data)
    finally:
        reply.release_conn()
    return obj
