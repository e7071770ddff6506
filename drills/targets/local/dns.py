"""The sandbox's cluster DNS: which address a Service name resolves to.

The sandbox has no ClusterIP proxy, so a Service resolves to the address of the first (by name) StatefulSet
pod it selects; a Service backed only by a Deployment does not resolve. One rule, used by the controller
(the names a pod's environment resolves) and by the sandbox ``kubectl`` (``exec`` arguments, ``get svc``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from drills.targets.local.labels import matches as labels_match


def service_addresses(services: Iterable[Mapping[str, Any]], pods: Iterable[Mapping[str, Any]],
                      namespace: str) -> dict[str, str]:
    """Service DNS names → address, as seen from a pod in ``namespace``.

    ``services`` are Service objects; ``pods`` are status-shaped (``name``, ``namespace``, ``ownerKind``,
    ``labels``, ``podIP``; a ``phase`` of ``Terminating`` takes the pod out, as the controller does). Every
    Service gets ``name.ns``, ``name.ns.svc`` and ``name.ns.svc.cluster.local``; those in ``namespace`` also
    their bare name.
    """
    candidates = [p for p in pods if p.get("ownerKind") == "StatefulSet" and p.get("phase") != "Terminating"]
    names: dict[str, str] = {}
    for svc in services:
        ns, name = svc["metadata"].get("namespace", "default"), svc["metadata"]["name"]
        selector = svc.get("spec", {}).get("selector") or {}
        backing = sorted((p for p in candidates if p["namespace"] == ns
                          and labels_match(selector, p.get("labels", {}))),
                         key=lambda p: p["name"])
        if not backing:
            continue
        ip = backing[0]["podIP"]
        for dns in (f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"):
            names[dns] = ip
        if ns == namespace:
            names[name] = ip
    return names
