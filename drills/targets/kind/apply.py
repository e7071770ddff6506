"""Applying objects to the kind cluster and waiting until they are steady, through the real kubectl.

This is the seam between the parts of ``up`` that only need the kind and docker CLIs (tested here with fake
executables) and the parts that need a live API server (run for real only by the GitHub workflow). A
:class:`KindProvider` takes any :class:`Applier`; tests pass a recording one.
"""

from __future__ import annotations

from typing import Any, Protocol

import yaml

from drills.targets.kind import tools


class Applier(Protocol):
    def apply(self, context: str, docs: list[dict[str, Any]]) -> None:
        """Create or update the objects (idempotent: ``up`` on a reused cluster applies again)."""

    def wait(self, context: str, workloads: list[tuple[str, str]], timeout_s: float) -> None:
        """Return once every ``(namespace, kind/name)`` has rolled out; TargetError when one does not."""


class KubectlApplier:
    """``kubectl apply -f -`` (client-side, as the runbooks' own steps use kubectl) and ``rollout status``."""

    def __init__(self, kubectl: str | None = None) -> None:
        self.kubectl = kubectl or tools.kubectl()

    def apply(self, context: str, docs: list[dict[str, Any]]) -> None:
        tools.run([self.kubectl, "--context", context, "apply", "-f", "-"],
                  stdin=yaml.safe_dump_all(docs, sort_keys=False), timeout=300)

    def wait(self, context: str, workloads: list[tuple[str, str]], timeout_s: float) -> None:
        for namespace, workload in workloads:
            tools.run([self.kubectl, "--context", context, "-n", namespace, "rollout", "status", workload,
                       f"--timeout={int(timeout_s)}s"], timeout=timeout_s + 30)
