"""Kubernetes resource quantities (``512Mi``, ``4Gi``, ``500m``) to numbers.

Small enough to own: the official client has ``kubernetes.utils.parse_quantity`` and we use it; this module
only pins the units drillbook prints back.
"""

from __future__ import annotations

from kubernetes.utils import parse_quantity


def memory_bytes(quantity: str | int) -> int:
    """``"4Gi"`` → 4294967296."""
    return int(parse_quantity(str(quantity)))  # type: ignore[no-untyped-call]  # the client is untyped


def cpu_millicores(quantity: str | int) -> int:
    """``"500m"`` → 500, ``"2"`` → 2000."""
    return int(parse_quantity(str(quantity)) * 1000)  # type: ignore[no-untyped-call]
