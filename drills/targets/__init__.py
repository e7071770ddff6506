"""Targets: where drills run. Found through the ``drillbook.targets`` entry point group."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from drills.errors import DrillbookError
from drills.targets.base import ExecResult, PodState, Target, WorkloadRef

__all__ = ["ExecResult", "PodState", "Target", "WorkloadRef", "make_target"]


def make_target(description: dict[str, Any]) -> Target:
    """Build a target from ``{"name": "local", ...options}`` (what ``Target.describe()`` returns)."""
    target: Target = from_entry_points("drillbook.targets", "target", description)
    return target


def from_entry_points(group: str, what: str, description: dict[str, Any]) -> Any:
    """The object the entry point ``description["name"]`` of ``group`` builds from the other keys."""
    options = dict(description)
    name = options.pop("name")
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()(**options)
    known = sorted(ep.name for ep in entry_points(group=group))
    raise DrillbookError(f"unknown {what} {name!r}; known: {', '.join(known)}")
