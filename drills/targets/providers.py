"""Rebuild a cluster provider from what its ``describe()`` returned (entry-point group ``drillbook.providers``)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from drills.errors import DrillbookError
from drills.targets.provider import ClusterProvider


def make_provider(description: dict[str, Any]) -> ClusterProvider:
    """``{"name": "embedded", ...options}`` → the provider, as :func:`drills.targets.make_target` does targets."""
    options = dict(description)
    name = options.pop("name")
    for ep in entry_points(group="drillbook.providers"):
        if ep.name == name:
            provider: ClusterProvider = ep.load()(**options)
            return provider
    known = sorted(ep.name for ep in entry_points(group="drillbook.providers"))
    raise DrillbookError(f"unknown cluster provider {name!r}; known: {', '.join(known)}")
