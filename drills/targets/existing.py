"""A cluster drillbook did not create, reached through a kubeconfig context.

drillbook only uses its API there: ``up`` checks that it answers, ``down`` refuses (drillbook never deletes
a cluster it did not create), and the platform faults the API has no verb for (a node failing, an image
tag removed from a registry) are :class:`~drills.targets.provider.Unsupported`, naming what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drills.errors import TargetError
from drills.targets.provider import Unsupported

UP_TIMEOUT_S = 10.0


class ExistingProvider:
    name = "existing"

    def __init__(self, context: str, kubeconfig: Path | str | None = None) -> None:
        self.context = context
        self._kubeconfig = Path(kubeconfig) if kubeconfig else None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "context": self.context,
                "kubeconfig": str(self._kubeconfig) if self._kubeconfig else None}

    def kubeconfig(self) -> Path | None:
        return self._kubeconfig

    def up(self) -> None:
        """Check that the context's API server answers (drillbook creates nothing here)."""
        from drills.targets.kubernetes.client import Api, ApiError

        api = Api(self._kubeconfig, self.context, timeout_s=UP_TIMEOUT_S)
        try:
            api.request("GET", "/version")
        except ApiError as exc:
            raise TargetError(f"context {self.context!r}: the API server does not answer: {exc}") from exc
        finally:
            api.close()

    def down(self) -> None:
        raise Unsupported("cluster-lifecycle", f"drillbook did not create context {self.context!r}; it never "
                                               f"deletes a cluster it did not create")

    def liveness(self, since: float | None = None) -> str | None:
        """Nothing beneath the API to watch; the target probes the API server itself."""
        return None

    def capabilities(self) -> set[str]:
        """What every conformant cluster's kubelet does: memory and CPU limits (cgroups, CFS quota),
        memory-backed emptyDir. NetworkPolicy enforcement depends on the CNI and is not assumed."""
        return {"memory-limits", "cpu-limits", "tmpfs"}

    def set_node_ready(self, node: str, ready: bool) -> None:
        raise Unsupported("node-failure", f"no access to the kubelets of context {self.context!r} (stopping "
                                          f"one needs the platform: the node's machine or container)")

    def remove_image(self, image: str) -> None:
        raise Unsupported("image-removal", f"no write access to the registry serving {image} for context "
                                           f"{self.context!r}")

    def restore_image(self, image: str) -> None:
        raise Unsupported("image-removal", f"no write access to the registry serving {image} for context "
                                           f"{self.context!r}")

    def tools(self) -> dict[str, str]:
        return {}
