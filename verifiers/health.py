"""Health verifier: is the service really serving again, and does it stay that way?

Recovered means: the workload's rollout is complete (every replica on the current template and ready, no old
pod left), every replica's ``/health`` answers 200, one end-to-end request goes through a ready endpoint
(agent → LLM stub → Redis) and comes back 200 with a reply — and all of that holds for a stability window
with no container restart. A crash-looping pod is Ready for a few seconds between OOM kills; without the
window and the restart count, that would pass for recovery.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests

from drills.model import Check, ServiceCheck
from drills.targets.base import Target, WorkloadRef


def rollout_complete(target: Target, spec: ServiceCheck) -> Check:
    ref = WorkloadRef.parse(spec.workload, spec.namespace)
    s = target.rollout_status(ref)
    ok = s["updatedReadyReplicas"] == s["replicas"] == s["currentReplicas"] and s["replicas"] >= spec.replicas
    detail = (f"{ref}: {s['updatedReadyReplicas']}/{s['replicas']} updated replicas ready, "
              f"{s['currentReplicas']} pods")
    return Check(name="rollout-complete", ok=ok, detail=detail, at=time.time())


def replicas_healthy(target: Target, spec: ServiceCheck) -> Check:
    pods = target.pods(spec.namespace, spec.selector)
    ready = [p for p in pods if p.ready]
    bad = []
    with target.http() as http:
        for pod in ready:
            url = target.pod_url(spec.namespace, pod.name, spec.port) + spec.health_path
            try:
                code: object = http.get(url, timeout=2).status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            if code != 200:
                bad.append(f"{pod.name}: {code}")
    ok = len(ready) >= spec.replicas and not bad
    detail = f"{len(ready)}/{spec.replicas} replicas ready" + (f"; unhealthy: {', '.join(bad)}" if bad else "")
    not_ready = [f"{p.name} ({p.waiting_reason or p.phase})" for p in pods if not p.ready]
    if not_ready:
        detail += f"; not ready: {', '.join(not_ready)}"
    return Check(name="replicas-healthy", ok=ok, detail=detail, at=time.time())


def end_to_end(target: Target, spec: ServiceCheck) -> Check:
    """Through the Service (the API server's service proxy picks a ready endpoint, 503 when there is none)."""
    base = target.service_url(spec.namespace, spec.service, spec.port)
    body = {"user_id": "drillbook-probe", "conversation_id": f"drill-{uuid.uuid4().hex[:8]}",
            "message": "drillbook recovery probe"}
    try:
        with target.http() as http:
            reply = http.post(f"{base}/v1/chat", json=body, timeout=10)
        ok = reply.status_code == 200 and bool(reply.json().get("reply"))
        detail = f"POST {base}/v1/chat -> {reply.status_code}"
        if reply.status_code != 200:  # e.g. the API server's 503 "no endpoints available for service ..."
            detail += f": {reply.text[:300]}"
    except (requests.RequestException, ValueError) as exc:
        ok, detail = False, f"POST {base}/v1/chat failed: {exc}"
    return Check(name="end-to-end-request", ok=ok, detail=detail, at=time.time())


def service_recovered(target: Target, spec: ServiceCheck) -> list[Check]:
    checks = [rollout_complete(target, spec), replicas_healthy(target, spec)]
    if all(c.ok for c in checks) and spec.end_to_end:
        checks.append(end_to_end(target, spec))
    return checks


def restarts(target: Target, spec: ServiceCheck) -> int:
    return sum(p.restarts for p in target.pods(spec.namespace, spec.selector))


@dataclass
class Stable:
    ok: bool
    since: float | None  # when the streak that proved stability began
    checks: list[Check]


def hold(probe: Callable[[], list[Check]], restart_count: Callable[[], int], stable_s: float,
         deadline: float, poll_s: float = 0.5) -> Stable:
    """Poll ``probe`` until its checks all pass for ``stable_s`` with no restart, or ``deadline`` (time.time())."""
    since: float | None = None
    baseline = 0
    while True:
        checks = probe()
        now = time.time()
        if all(c.ok for c in checks):
            count = restart_count()
            if since is None or count != baseline:
                since, baseline = now, count
            if now - since >= stable_s:
                return Stable(True, since, checks)
        else:
            since = None
        if now >= deadline:
            if since is not None:
                checks.append(Check(name="stable", ok=False, at=now,
                                    detail=f"healthy for only {now - since:.1f}s of {stable_s:.0f}s"))
            return Stable(False, None, checks)
        time.sleep(poll_s)
