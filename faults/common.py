"""What several fault families share: waiting for a symptom, and recycling a workload's pods."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.targets.base import PodState, Target, WorkloadRef

T = TypeVar("T")
POLL_S = 0.25


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something (the evidence); FaultError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise FaultError(f"{what} not observed within {timeout_s:.0f}s")
        time.sleep(POLL_S)


def recycle_pods(target: Target, namespace: str, selector: dict[str, str]) -> list[str]:
    """Delete every pod of the selector at once, as a node recycle or maintenance would: the replacements
    start from the current spec, config and image store, which is when a latent bad change bites."""
    names = [p.name for p in target.pods(namespace, selector)]
    for name in names:
        target.delete_pod(namespace, name)
    return names


def all_pods(target: Target, namespace: str, selector: dict[str, str], since: float,
             condition: Callable[[PodState], bool], replaced: list[str] | None = None) -> list[PodState] | None:
    """The workload's pods if there are some, none of them in ``replaced``, and all meet ``condition``."""
    pods = [p for p in target.pods(namespace, selector) if p.name not in (replaced or [])]
    return pods if pods and all(condition(p) for p in pods) else None


def describe(pods: list[PodState]) -> dict[str, dict[str, object]]:
    return {p.name: {"node": p.node, "phase": p.phase, "ready": p.ready, "waiting": p.waiting_reason,
                     "last": p.last_reason, "exitCode": p.last_exit_code, "restarts": p.restarts,
                     "observed_at": time.time()} for p in pods}


class ConfigChange(BaseModel):
    """A ConfigMap some workload reads as its environment, and the keys the change sets."""

    namespace: str
    configmap: str
    workload: str = Field(description="deployment/NAME that reads it, restarted to take the change")
    set: dict[str, str] = Field(min_length=1)


def config_change_undo(target: Target, change: ConfigChange) -> dict[str, Any]:
    """What puts the keys back: their values now (None: absent, removed again)."""
    current = target.get_config(change.namespace, change.configmap)
    return {"namespace": change.namespace, "configmap": change.configmap, "workload": change.workload,
            "data": {k: current.get(k) for k in change.set}}


def apply_config_change(target: Target, change: ConfigChange) -> None:
    """Set the keys and restart the workload: it reads the ConfigMap as its environment, at start."""
    target.set_config(change.namespace, change.configmap, dict(change.set))
    target.restart(WorkloadRef.parse(change.workload, change.namespace))
