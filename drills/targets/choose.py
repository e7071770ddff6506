"""Which target a command means: ``--target local | kind | kubernetes``, checked against the allowlist first.

Every cluster target is the one :class:`~drills.targets.kubernetes.KubernetesTarget` with a provider for its
platform, built by name through the ``drillbook.targets`` and ``drillbook.providers`` entry points, so this
module names no concrete class. ``local`` and ``kubernetes --context drillbook-local`` are the same embedded
cluster reached through its API only; ``local`` also names the sandbox directory and profile (``--sandbox``,
``--profile``) so that ``drillbook up``, ``run`` and ``cleanup`` agree on which sandbox they mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drills.errors import DrillbookError
from drills.targets import Target, make_target
from drills.targets.allowlist import kube_context

EMBEDDED_CONTEXT = "drillbook-local"
TARGETS = ("local", "kind", "kubernetes")


def description(target: str, *, sandbox: Path | None = None, profile: str = "fast", context: str | None = None,
                cluster: str = "drillbook", allow_context: list[str] | None = None) -> dict[str, Any]:
    """What ``make_target`` builds for the options; raises before any call when the context is not allowed."""
    embedded = {"name": "embedded", "root": str(sandbox) if sandbox else None, "profile": profile}
    if target == "local":
        return {"name": "local", "root": str(sandbox) if sandbox else None, "profile": profile}
    if target == "kind":  # kind-NAME is always allowed; it need not exist yet (``up`` creates it)
        return {"name": "kubernetes", "provider": {"name": "kind", "cluster": cluster}}
    if target == "kubernetes":
        if context is None:
            raise DrillbookError("--target kubernetes needs --context NAME (the embedded cluster is "
                                 f"--context {EMBEDDED_CONTEXT})")
        if context == EMBEDDED_CONTEXT:
            return {"name": "kubernetes", "provider": embedded}
        chosen = kube_context(None, context, allow_context or [])
        return {"name": "kubernetes", "provider": {"name": "existing", "context": chosen}}
    raise DrillbookError(f"unknown target {target!r}: {' | '.join(TARGETS)}")


def choose(target: str, **options: Any) -> Target:
    return make_target(description(target, **options))
