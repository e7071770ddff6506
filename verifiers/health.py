"""Health verifier: is the service really serving again, and does it stay that way?

Recovered means: the workload's rollout is complete (every replica on the current template and ready, no old
pod left), every replica's health path answers 200, the spec's end-to-end request goes through a ready
endpoint and comes back as the spec expects (for the reference agent: agent → LLM stub → Redis, 200 with a
reply) — and all of that holds for a stability window with no container restart. A crash-looping pod is
Ready for a few seconds between OOM kills; without the window and the restart count, that would pass for
recovery.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from drills.model import Check, EndToEndRequest, ServiceCheck
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
    health_path = spec.health_path  # without one, readiness alone counts
    with target.http() as http:
        for pod in ready if health_path is not None else []:
            url = target.pod_url(spec.namespace, pod.name, spec.port) + (health_path or "")
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


def _fresh(body: Any) -> Any:
    """The request body with each ``{uuid}`` in its strings replaced by a new random hex."""
    if isinstance(body, str):
        return body.replace("{uuid}", uuid.uuid4().hex[:8]) if "{uuid}" in body else body
    if isinstance(body, dict):
        return {k: _fresh(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_fresh(v) for v in body]
    return body


def judge_reply(request: EndToEndRequest, reply: requests.Response) -> str | None:
    """Why the reply is not what the spec expects, or None when it is."""
    if reply.status_code != request.expect_status:
        return f"status {reply.status_code}, expected {request.expect_status}"
    if request.expect_json_key is not None:
        try:
            data = reply.json()
        except ValueError:
            return f"body is not JSON, expected a {request.expect_json_key!r} key"
        if not isinstance(data, dict) or not data.get(request.expect_json_key):
            return f"no non-empty {request.expect_json_key!r} in the JSON body"
    if request.expect_body is not None and not re.search(request.expect_body, reply.text):
        return f"body does not match {request.expect_body!r}"
    return None


def end_to_end(target: Target, spec: ServiceCheck) -> Check:
    """Through the Service (the API server's service proxy picks a ready endpoint, 503 when there is none)."""
    request = spec.request
    assert request is not None
    base = target.service_url(spec.namespace, spec.service, spec.port)
    what = f"{request.method} {base}{request.path}"
    body = _fresh(request.body)
    try:
        with target.http() as http:
            reply = http.request(request.method, f"{base}{request.path}", json=body, timeout=request.timeout_s)
        problem = judge_reply(request, reply)
        ok, detail = problem is None, f"{what} -> {reply.status_code}" + (f": {problem}" if problem else "")
        if reply.status_code != request.expect_status:  # e.g. the API server's 503 "no endpoints available"
            detail += f"; {reply.text[:300]}"
    except requests.RequestException as exc:
        ok, detail = False, f"{what} failed: {exc}"
    return Check(name="end-to-end-request", ok=ok, detail=detail, at=time.time())


def service_recovered(target: Target, spec: ServiceCheck) -> list[Check]:
    checks = [rollout_complete(target, spec), replicas_healthy(target, spec)]
    if all(c.ok for c in checks) and spec.request is not None:
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
