"""What every sandbox ``kubectl`` verb works against: the sandbox (its object store, the desired state, and
``status.json``, what runs) and the global flags (``-n``, ``-A``), with the reads and requests the verbs
share: find a pod as ``logs``/``exec`` do, a Deployment's ReplicaSets, ask for a pod's deletion and wait for
it to be gone.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from drills.targets.local import operations
from drills.targets.local.kubectl_resources import Obj, kind_of, not_found
from drills.targets.local.kubectl_time import POLL_S, expired
from drills.targets.local.sandbox import is_up, read_status
from drills.targets.local.store import ObjectStore

REVISION = "deployment.kubernetes.io/revision"


@dataclass
class Ctx:
    """Where the sandbox is and what the global flags said."""

    root: Path
    namespace: str = "default"
    explicit_namespace: bool = False
    all_namespaces: bool = False

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.root)

    def objects(self) -> dict[str, Obj]:
        return self.store.snapshot()

    def status(self) -> Obj:
        return read_status(self.root)

    def status_pods(self) -> list[Obj]:
        return list(self.status().get("pods", []))

    def scope(self) -> str | None:
        return None if self.all_namespaces else self.namespace

    def require(self, kind: str, name: str) -> Obj:
        obj = self.store.get(kind, self.namespace, name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def find_pod(self, name: str) -> Obj:
        """A pod by name, or the first pod of ``deployment/x`` / ``statefulset/x`` (as kubectl logs/exec do)."""
        pods = [p for p in self.status_pods() if p["namespace"] == self.namespace]
        if "/" in name:
            kind, _, owner = name.partition("/")
            if kind_of(kind) == "Pod":
                name = owner
            else:
                owned = [p for p in pods if p["ownerKind"] == kind_of(kind) and p["ownerName"] == owner]
                if not owned:
                    raise not_found(kind_of(kind), owner)
                return min(owned, key=lambda p: p["phase"] == "Terminating")  # a live one, as kubectl picks
        for pod in pods:
            if pod["name"] == name and pod["phase"] != "Terminating":
                return pod
        for pod in pods:
            if pod["name"] == name:
                return pod
        raise not_found("Pod", name)

    def replicasets(self, deployment: str) -> list[tuple[int, Obj]]:
        """The Deployment's ReplicaSets (recorded by the controller), oldest revision first."""
        return operations.replicasets(self.store, self.namespace, deployment)

    def request_pod_deletion(self, namespace: str, name: str) -> None:
        """What ``delete pod`` and an eviction ask of the API: the controller stops the pod."""
        operations.request_pod_deletion(self.store, namespace, name)

    def wait_pods_gone(self, pods: list[Obj], until: float | None) -> list[Obj]:
        """Wait until these pod instances (name + creation time) are gone; returns the ones still there.
        Without a running controller nobody would ever remove them, so there is nothing to wait for."""
        if not is_up(self.root):
            return []
        ids = {(p["namespace"], p["name"], p.get("creationTimestamp")) for p in pods}
        while True:
            left = [p for p in self.status_pods() if (p["namespace"], p["name"], p.get("creationTimestamp")) in ids]
            if not left or expired(until):
                return left
            time.sleep(POLL_S)


def comparable(obj: Obj) -> Obj:
    """The object without what the API server changes on every write: equal means "no change"."""
    out = copy.deepcopy(obj)
    for key in ("generation", "resourceVersion", "creationTimestamp"):
        out.get("metadata", {}).pop(key, None)
    return out
