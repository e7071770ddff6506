"""Image pull failure: the running tag vanishes from the registry, then the pods are recycled.

Story reproduced: version 1.1.0 is rolled out and serving; the registry's retention policy deletes the tag;
a node recycle replaces every pod, and the replacements cannot pull it (``ErrImagePull`` →
``ImagePullBackOff``), so no replica is left and AgentDown fires. Simply setting a missing tag would not
reproduce the runbook: the RollingUpdate stalls behind the still-serving old pods (REFERENCE), and nothing
fires. The previous revision (1.0.0) still exists, so ``kubectl rollout undo`` has somewhere to go.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import all_pods, describe, recycle_pods, wait_for


class ImageParams(BaseModel):
    namespace: str
    workload: str = Field(description="deployment/NAME or statefulset/NAME")
    container: str
    selector: dict[str, str] = Field(min_length=1, description="the workload's pods")
    image: str = Field(description="rolled out, then deleted")
    rollout_timeout_s: float = 90


def undo(target: Target, p: ImageParams) -> Undo:
    return {"image": p.image}  # the deployment's own change is undone by the runner's snapshot restore


def inject(target: Target, p: ImageParams) -> None:
    ref = WorkloadRef.parse(p.workload, p.namespace)
    target.set_image(ref, p.container, p.image)
    target.wait_steady(p.rollout_timeout_s)
    target.remove_image(p.image)
    recycle_pods(target, p.namespace, p.selector)


def confirm(target: Target, p: ImageParams, since: float, timeout_s: float) -> Evidence:
    pods = wait_for(lambda: all_pods(target, p.namespace, p.selector, since,
                                     lambda pod: pod.waiting_reason in ("ErrImagePull", "ImagePullBackOff")),
                    timeout_s, f"every {p.selector} pod waiting in ErrImagePull/ImagePullBackOff")
    return {"pods": describe(pods), "image": p.image}


def revert(target: Target, record: dict[str, Any]) -> None:
    target.restore_image(record["image"])


FAULT = FaultPlugin(kind="missing-image", summary="delete the running image tag from the registry, recycle the pods",
                    params=ImageParams, undo=undo, inject=inject, confirm=confirm, revert=revert)
