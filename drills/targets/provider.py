"""The cluster-provider interface: what a platform can do that the Kubernetes API cannot.

A drill reaches every cluster through one :class:`~drills.targets.base.Target` built on the official
``kubernetes`` client. Some faults need the platform underneath the API: a node that dies (its kubelet stops
reporting), an image tag that disappears from the registry, bringing the cluster up or down. Each platform
implements that once here — ``embedded`` (drillbook's own sandbox), ``kind`` (the ``kind`` and ``docker``
CLIs) and ``existing`` (a cluster drillbook did not create, which can do none of it).

A provider that cannot do something raises :class:`Unsupported` naming what is missing; the runner reports the
drill as skipped with that reason instead of failing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from drills.errors import DrillbookError


class Unsupported(DrillbookError):
    """The provider cannot do this on its platform; ``capability`` names what a fault would need."""

    def __init__(self, capability: str, why: str) -> None:
        super().__init__(f"{capability}: {why}")
        self.capability = capability
        self.why = why


@runtime_checkable
class ClusterProvider(Protocol):
    """One platform under a Kubernetes API: how to reach it, and the actions the API has no verb for."""

    name: str  # "embedded" | "kind" | "existing"
    context: str  # the kubeconfig context drillbook uses (e.g. ``drillbook-local``, ``kind-drillbook``)

    def describe(self) -> dict[str, Any]:
        """Enough to rebuild this provider later (the journal stores it for ``drillbook cleanup``)."""

    def kubeconfig(self) -> Path | None:
        """The kubeconfig file holding :attr:`context`, or None for the client's default loading rules."""

    def up(self) -> None:
        """Create or reuse the cluster until its API answers (``existing``: check it answers). Callers wait for
        steady state themselves: a fault may still be in (``drillbook cleanup`` brings a lost cluster back
        before it reverts)."""

    def down(self) -> None:
        """Delete what drillbook created (never a cluster it did not create: ``existing`` refuses)."""

    def liveness(self, since: float | None = None) -> str | None:
        """Why the platform is lost (control plane gone, restarted after ``since``), or None while it answers.
        Quick: the runner's watchdog polls it every second while a fault is in."""

    def capabilities(self) -> set[str]:
        """What faults may rely on here: ``memory-limits``, ``tmpfs``, ``network-policy``, ``node-failure``,
        ``image-removal``, ..."""

    def set_node_ready(self, node: str, ready: bool) -> None:
        """A node fails (its kubelet stops, NotReady) or comes back. :class:`Unsupported` where impossible."""

    def remove_image(self, image: str) -> None:
        """Make an image reference unpullable on every node (the tag was deleted from the registry)."""

    def restore_image(self, image: str) -> None:
        """Undo :meth:`remove_image`."""

    def tools(self) -> dict[str, str]:
        """Versions of the platform's own tools (kind, docker; the sandbox's Prometheus and redis-server)."""


class ProviderActions:
    """The Target methods that are the provider's job, for a target holding its platform's ``provider``."""

    provider: ClusterProvider

    def remove_image(self, image: str) -> None:
        self.provider.remove_image(image)

    def restore_image(self, image: str) -> None:
        self.provider.restore_image(image)

    def set_node_ready(self, node: str, ready: bool) -> None:
        self.provider.set_node_ready(node, ready)

    def capabilities(self) -> set[str]:
        return self.provider.capabilities()
