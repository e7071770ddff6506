"""The embedded cluster as a :class:`~drills.targets.provider.ClusterProvider`.

Its API server serves everything a drill does through the API; what stays here is what a real cluster's
kubelets and registry do and the API cannot: a node failing (its Ready condition, written as the node's
kubelet would), an image tag removed from or pushed back to the sandbox's registry, and bringing the sandbox
up and down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drills.errors import TargetError
from drills.targets import allowlist
from drills.targets.local import cgroups, sandbox
from drills.targets.local.apiserver.kubeconfig import CONTEXT, kubeconfig_path
from drills.targets.local.images import ImageStore, default_images
from drills.targets.local.store import ObjectStore
from drills.targets.versions import tool_version


class EmbeddedProvider:
    """drillbook's own sandbox under its own API server (context ``drillbook-local``)."""

    name = "embedded"
    context = CONTEXT

    def __init__(self, root: Path | str | None = None, profile: str = "fast", octet: int = 42,
                 sandbox_name: str = "drillbook") -> None:
        self.root = Path(root) if root else sandbox.default_root()
        self.profile = profile
        self.octet = allowlist.sandbox_octet(octet)
        self.sandbox_name = sandbox_name

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "profile": self.profile, "octet": self.octet,
                "sandbox_name": self.sandbox_name}

    def kubeconfig(self) -> Path:
        return kubeconfig_path(self.root)

    def up(self) -> None:
        """Start the sandbox, or restart what died of its control plane, until its API server answers. No wait
        for steady: ``drillbook cleanup`` brings a lost sandbox back *before* it reverts the fault that keeps
        it unsteady (callers wait for steady state themselves)."""
        sandbox.up(self.root, profile=self.profile, octet=self.octet, name=self.sandbox_name)

    def down(self) -> None:
        sandbox.down(self.root)

    def liveness(self, since: float | None = None) -> str | None:
        return sandbox.liveness(self.root, since)

    def capabilities(self) -> set[str]:
        caps = {"node-failure", "image-removal"}
        if cgroups.cgroup_support():
            caps.add("memory-limits")
        if cgroups.cpu_quota_support():
            caps.add("cpu-limits")
        if os.geteuid() == 0:
            caps.add("tmpfs")
        if sandbox.read_status(self.root).get("networkPolicy") == "enforced":
            caps.add("network-policy")
        return caps

    def set_node_ready(self, node: str, ready: bool) -> None:
        store = ObjectStore(self.root)
        store.require("Node", None, node)
        store.patch("Node", None, node, {"status": {"conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "reason": "KubeletReady" if ready else "NodeStatusUnknown"}]}}, how="merge")

    def remove_image(self, image: str) -> None:
        ImageStore(self.root / "images.json").remove(image)

    def restore_image(self, image: str) -> None:
        entrypoint = default_images().get(image)
        if entrypoint is None:
            raise TargetError(f"{image} is not one of the sandbox's images; cannot push it again")
        ImageStore(self.root / "images.json").add(image, entrypoint)

    def tools(self) -> dict[str, str]:
        """The embedded cluster's own Prometheus and Redis, as installed on this machine."""
        return {name: tool_version(argv, pattern) for name, (argv, pattern) in _TOOLS.items()}


_TOOLS = {"prometheus": (["prometheus", "--version"], r"prometheus, version (\S+)"),
          "redis": (["redis-server", "--version"], r"v=(\S+)")}

