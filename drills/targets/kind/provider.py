"""KindProvider: the cluster-provider interface on a kind cluster, through the ``kind`` and ``docker`` CLIs.

What the Kubernetes API cannot do on kind is done to the node containers: a node fails when its container is
paused (the kubelet stops heartbeating, the node goes NotReady; unpause brings it back with its state — a
stopped and restarted node container can come back with another address on Docker's network), an image tag
disappears when ``crictl rmi`` deletes it inside every node container (the ``ghcr.io/drillbook/*`` images
exist only where ``kind load`` put them, so the kubelet's pull then fails as for a deleted registry tag).

Ownership: ``down`` deletes a cluster only if this provider created it. ``up`` records the creation in a
state file (``<state_dir>/<cluster>.json``) with the control-plane container's ID; ``down`` refuses when the
file is missing or the ID differs (a cluster of the same name created by someone else since).

Usage (what ``drillbook up/down --target kind --cluster NAME`` calls)::

    provider = KindProvider(cluster="drillbook")
    provider.up()      # create or reuse, build + load images, apply manifests and add-ons, wait until steady
    provider.down()    # delete the cluster, only if drillbook created it
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from drills.errors import TargetError
from drills.targets.kind import layout, tools
from drills.targets.kind.apply import Applier, KubectlApplier
from drills.targets.provider import Unsupported

DEFAULT_CLUSTER = "drillbook"
CREATED_BY = "drillbook"


def default_state_dir() -> Path:
    """``$DRILLBOOK_STATE_DIR/kind``, else ``$XDG_STATE_HOME/drillbook/kind`` (``~/.local/state/...``)."""
    if os.environ.get("DRILLBOOK_STATE_DIR"):
        return Path(os.environ["DRILLBOOK_STATE_DIR"]) / "kind"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "drillbook" / "kind"


class KindProvider:
    """One kind cluster named ``cluster``, reached through the kubeconfig context ``kind-<cluster>``."""

    name = "kind"

    def __init__(self, cluster: str = DEFAULT_CLUSTER, *, applier: Applier | None = None,
                 state_dir: Path | None = None, wait_timeout_s: float = 600) -> None:
        self.cluster = cluster
        self.context = f"kind-{cluster}"
        self.applier: Applier = applier or KubectlApplier()
        self.state_dir = state_dir or default_state_dir()
        self.wait_timeout_s = wait_timeout_s

    # -- identity ---------------------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "cluster": self.cluster}

    def kubeconfig(self) -> Path | None:
        return None  # kind writes its context into the default kubeconfig ($KUBECONFIG or ~/.kube/config)

    def tools(self) -> dict[str, str]:
        return {"kind": tools.kind_version(), "docker": tools.docker_server_version()}

    def capabilities(self) -> set[str]:
        """What faults may rely on.

        - ``tmpfs``: kind's local-path volumes enforce no capacity, so Redis's data volume is a memory-backed
          emptyDir with a 64Mi ``sizeLimit`` on kind (:func:`layout.redis_data_in_memory`): a size-enforcing
          tmpfs, the disk-full fault's need.
        - ``network-policy``: kindnet enforces NetworkPolicy (kind >= v0.24), but fail-open: a drill relying
          on it must first prove that a denied connection really is denied.
        - ``memory-limits``, ``cpu-limits``: real cgroups (CFS quota) in the node containers;
          ``node-failure``, ``image-removal``: below.
        """
        return {"memory-limits", "cpu-limits", "tmpfs", "network-policy", "node-failure", "image-removal"}

    # -- lifecycle --------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        proc = tools.run(["kind", "get", "clusters"], timeout=60)
        return self.cluster in proc.stdout.split()

    def up(self) -> None:
        """Create (or reuse) the cluster, build and load the images, apply everything and wait until steady."""
        tools.require("kind")
        tools.docker_server_version()
        if not self.exists():
            tools.run(["kind", "create", "cluster", "--name", self.cluster, "--config", str(layout.CLUSTER_CONFIG),
                       "--wait", "180s"], timeout=900)
            self._record_created()
        self.build_images()
        self.load_images()
        docs = layout.documents()
        self.applier.apply(self.context, docs)
        self.applier.wait(self.context, layout.workloads(docs), self.wait_timeout_s)

    def build_images(self) -> None:
        """One ``docker build`` per Dockerfile stage, tagged with every fixed tag that stage serves."""
        stages: dict[str, list[str]] = {}
        for image, stage in layout.built_images().items():
            stages.setdefault(stage, []).append(image)
        for stage, images in stages.items():
            tags = [arg for image in images for arg in ("-t", image)]
            tools.run(["docker", "build", "-f", str(layout.DOCKERFILE), "--target", stage, *tags,
                       str(layout.ROOT)], timeout=900)

    def load_images(self, images: list[str] | None = None) -> None:
        tools.run(["kind", "load", "docker-image", *(images or list(layout.built_images())),
                   "--name", self.cluster], timeout=600)

    def down(self) -> None:
        """Delete the cluster if drillbook created it; :class:`TargetError` (and nothing deleted) otherwise."""
        if not self.exists():
            self._state_file().unlink(missing_ok=True)
            return
        recorded = self._recorded_id()
        if recorded is None:
            raise TargetError(f"kind cluster {self.cluster!r} was not created by drillbook (no record in "
                              f"{self._state_file()}); refusing to delete it — use `kind delete cluster "
                              f"--name {self.cluster}` yourself if you mean it")
        current = self._container_id(self._control_plane())
        if current != recorded:
            raise TargetError(f"kind cluster {self.cluster!r} is not the one drillbook created (control plane "
                              f"{current[:12]} != recorded {recorded[:12]}); refusing to delete it")
        tools.run(["kind", "delete", "cluster", "--name", self.cluster], timeout=300)
        self._state_file().unlink(missing_ok=True)

    def liveness(self, since: float | None = None) -> str | None:
        """Why the cluster is lost: a node container not running (a paused worker is a drill's fault, not a
        loss), the control plane restarted after ``since``, or the API server not answering ``/readyz``."""
        try:
            states = self._inspect(self.nodes())
        except TargetError as exc:
            return f"kind cluster {self.cluster!r} unreadable: {exc}"
        cp = self._control_plane()
        for node, (_id, status, _started) in states.items():
            if status not in ("running", "paused") or (node == cp and status != "running"):
                return f"node container {node} is {status}"
        if since is not None and _parse_time(states[cp][2]) > since:
            return f"control plane {cp} restarted at {states[cp][2]}"
        proc = tools.run([tools.kubectl(), "--context", self.context, "get", "--raw", "/readyz",
                          "--request-timeout=2s"], timeout=5, check=False)
        if proc.returncode != 0:
            return f"API server of {self.context} does not answer /readyz: {proc.stderr.strip()[-300:]}"
        return None

    # -- platform faults --------------------------------------------------------------------------------------
    def set_node_ready(self, node: str, ready: bool) -> None:
        if node == self._control_plane():
            raise Unsupported("node-failure", f"{node} is the control plane: pausing it takes the API down")
        if node not in self.nodes():
            raise TargetError(f"{node!r} is not a node of kind cluster {self.cluster!r}")
        tools.run(["docker", "unpause" if ready else "pause", node], timeout=60)

    def remove_image(self, image: str) -> None:
        """``crictl rmi`` in every node container; a node that never had the image is fine, a refusal is not."""
        for node in self.nodes():
            proc = tools.run(["docker", "exec", node, "crictl", "rmi", image], timeout=60, check=False)
            if proc.returncode != 0 and "no such image" not in proc.stderr.lower():
                raise TargetError(f"crictl rmi {image} on {node}: {proc.stderr.strip()[-500:]}")

    def restore_image(self, image: str) -> None:
        if image not in layout.built_images():
            raise Unsupported("image-removal", f"{image} is not built by drillbook; cannot load it back")
        self.load_images([image])

    # -- helpers ----------------------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        """Node container names, which are also the Kubernetes node names (``<cluster>-worker2``, ...)."""
        return tools.run(["kind", "get", "nodes", "--name", self.cluster], timeout=60).stdout.split()

    def _control_plane(self) -> str:
        return f"{self.cluster}-control-plane"

    def _inspect(self, containers: list[str]) -> dict[str, tuple[str, str, str]]:
        out = tools.run(["docker", "inspect", "--format", "{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}",
                         *containers], timeout=30).stdout
        states: dict[str, tuple[str, str, str]] = {}
        for line in out.splitlines():
            name, cid, status, started = line.split()
            states[name.lstrip("/")] = (cid, status, started)
        return states

    def _container_id(self, container: str) -> str:
        return self._inspect([container])[container][0]

    def _state_file(self) -> Path:
        return self.state_dir / f"{self.cluster}.json"

    def _record_created(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        record = {"cluster": self.cluster, "created_by": CREATED_BY, "created_at": time.time(),
                  "control_plane_id": self._container_id(self._control_plane())}
        self._state_file().write_text(json.dumps(record, indent=2) + "\n")

    def _recorded_id(self) -> str | None:
        try:
            record = json.loads(self._state_file().read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return str(record["control_plane_id"]) if record.get("created_by") == CREATED_BY else None


def _parse_time(text: str) -> float:
    """Docker's RFC 3339 timestamp with nanoseconds, in unix seconds."""
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0")[:6])


__all__ = ["DEFAULT_CLUSTER", "KindProvider"]
