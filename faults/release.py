"""A bad deployment: a new image version with a real bug is rolled out and serves.

Story reproduced (Runbook 2, cause 3): version 1.2.0 is deployed with ``kubectl set image`` and its
RollingUpdate completes, because the new pods are healthy. Its code fails on part of the requests (a
quarter of the users, ``refsystem/agent_v1_2.py``), so the errors start right after the deployment and
HighErrorRate fires; ``kubectl rollout undo`` has the previous revision to go back to.

Proof before the alert is awaited: the rollout is complete on the new image (every replica updated and
ready), the new pods log the failure (``internal error: KeyError``) since the injection, and Prometheus
counts ``agent_errors_total{type="internal"}`` since then.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import wait_for
from faults.observe import first_logged, read_workload, window
from faults.promql import query


class ReleaseParams(BaseModel):
    namespace: str
    workload: str = Field(description="deployment/NAME")
    container: str
    selector: dict[str, str] = Field(min_length=1, description="the workload's pods")
    image: str = Field(description="the new version, with the bug")
    logged: str = Field(min_length=1, description="what the new version logs when it fails a request")
    error_type: str = Field("internal", description="the agent_errors_total type its failures count as")
    rollout_timeout_s: float = 90


def template_image(deployment: dict[str, Any], container: str) -> str | None:
    """The image of ``container`` in a Deployment's pod template (its JSON), or None."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return next((c.get("image") for c in spec.get("containers") or [] if c.get("name") == container), None)


def _image(target: Target, ref: WorkloadRef, container: str) -> str:
    """The container's image in the Deployment's template (``kubectl get deploy -o jsonpath=...image``)."""
    image = template_image(read_workload(target, ref), container)
    if not image:
        raise FaultError(f"{ref} has no container {container!r}")
    return str(image)


def undo(target: Target, p: ReleaseParams) -> Undo:
    ref = WorkloadRef.parse(p.workload, p.namespace)
    return {"namespace": p.namespace, "workload": p.workload, "container": p.container,
            "image": _image(target, ref, p.container)}


def inject(target: Target, p: ReleaseParams) -> None:
    ref = WorkloadRef.parse(p.workload, p.namespace)
    target.set_image(ref, p.container, p.image)
    target.wait_steady(p.rollout_timeout_s)


def confirm(target: Target, p: ReleaseParams, since: float, timeout_s: float) -> Evidence:
    ref = WorkloadRef.parse(p.workload, p.namespace)

    def seen() -> Evidence | None:
        status = target.rollout_status(ref)
        if _image(target, ref, p.container) != p.image or status.get("updatedReadyReplicas", 0) < 1 \
                or status.get("updatedReplicas") != status.get("replicas"):
            return None
        pods = first_logged(target, p.namespace, target.pods(p.namespace, p.selector), p.logged, since)
        if not pods:
            return None
        errors = query(target, f'sum(increase(agent_errors_total{{type="{p.error_type}"}}'
                               f'[{window(since, time.time())}]))')
        if not errors:
            return None
        return {"image": p.image, "rollout": status, "pods_logged": pods, f"{p.error_type}_errors": errors}

    return wait_for(seen, timeout_s, f"{p.image} rolled out and its pods failing requests ({p.logged!r}, "
                                     f"agent_errors_total{{type=\"{p.error_type}\"}} rising)")


def revert(target: Target, record: dict[str, Any]) -> None:
    """Back to the image that ran before, unless the runbook's rollback already did it (idempotent)."""
    ref = WorkloadRef.parse(record["workload"], record["namespace"])
    if _image(target, ref, record["container"]) != record["image"]:
        target.set_image(ref, record["container"], record["image"])


FAULT = FaultPlugin(kind="bad-release", summary="roll out a new image version whose code fails part of the requests",
                    params=ReleaseParams, undo=undo, inject=inject, confirm=confirm, revert=revert)
