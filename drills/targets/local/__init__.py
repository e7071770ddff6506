"""The local target: the embedded cluster, reached like any cluster through the one Kubernetes target.

Everything a drill does goes through the embedded cluster's API server with the official client
(:class:`~drills.targets.kubernetes.KubernetesTarget`); what the API cannot do (a node failing, an image tag
removed, the cluster itself coming up) is the :class:`~drills.targets.local.provider.EmbeddedProvider`'s job.
This class only names the sandbox (its directory, profile and address block) so that ``--target local``,
``drillbook up`` and ``drillbook cleanup`` find it, and keeps the sandbox's handles the CLI and the tests that
look beneath the API use (its root, configuration, kubeconfig and status file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drills.targets.kubernetes import KubernetesTarget
from drills.targets.local import sandbox
from drills.targets.local.config import SandboxConfig
from drills.targets.local.infra import PROMETHEUS_PORT
from drills.targets.local.provider import EmbeddedProvider

__all__ = ["LocalTarget"]


class LocalTarget(KubernetesTarget):
    """The embedded cluster (context ``drillbook-local``) as a :class:`~drills.targets.base.Target`."""

    name = "local"
    provider: EmbeddedProvider

    def __init__(self, root: Path | None = None, profile: str = "fast", octet: int = 42,
                 sandbox_name: str = "drillbook") -> None:
        super().__init__(EmbeddedProvider(root, profile, octet, sandbox_name), prometheus_port=PROMETHEUS_PORT)

    @property
    def root(self) -> Path:
        return self.provider.root

    @property
    def profile(self) -> str:
        return self.provider.profile

    @property
    def octet(self) -> int:
        return self.provider.octet

    @property
    def sandbox_name(self) -> str:
        return self.provider.sandbox_name

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "profile": self.profile, "octet": self.octet,
                "sandbox_name": self.sandbox_name}

    @property
    def kubeconfig(self) -> Path:
        """The embedded cluster's kubeconfig (context ``drillbook-local``)."""
        return self.provider.kubeconfig()

    @property
    def config(self) -> SandboxConfig:
        return SandboxConfig.load(self.root)

    def status(self) -> dict[str, Any]:
        """What the sandbox's controller last published (pods with their process ids): beneath the API, for
        the tests that kill a container's process as the kernel would."""
        return sandbox.read_status(self.root)
