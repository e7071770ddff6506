"""Rebuild a cluster provider from what its ``describe()`` returned (entry-point group ``drillbook.providers``)."""

from __future__ import annotations

from typing import Any

from drills.targets import from_entry_points
from drills.targets.provider import ClusterProvider


def make_provider(description: dict[str, Any]) -> ClusterProvider:
    """``{"name": "embedded", ...options}`` → the provider, as :func:`drills.targets.make_target` does targets."""
    provider: ClusterProvider = from_entry_points("drillbook.providers", "cluster provider", description)
    return provider
