"""Targets: where drills run. Found through the ``drillbook.targets`` entry point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from drills.errors import DrillbookError
from drills.targets.base import ExecResult, PodState, Target, WorkloadRef

__all__ = ["ExecResult", "PodState", "Target", "WorkloadRef", "make_target"]


def make_target(description: dict[str, Any]) -> Target:
    """Build a target from ``{"name": "local", ...options}`` (what ``Target.describe()`` returns)."""
    options = dict(description)
    name = options.pop("name")
    for ep in entry_points(group="drillbook.targets"):
        if ep.name == name:
            target: Target = ep.load()(**options)
            return target
    known = sorted(ep.name for ep in entry_points(group="drillbook.targets"))
    raise DrillbookError(f"unknown target {name!r}; known: {', '.join(known)}")
