"""The sandbox's API server: Kubernetes-shaped objects in one JSON file.

Everything that changes the sandbox's desired state (``drillbook up``, faults, the sandbox ``kubectl`` the
runbook steps call) goes through :class:`ObjectStore`; the controller only reads it and reports what it
sees in ``status.json``. A file lock makes each read-modify-write atomic across processes, which is all the
concurrency the sandbox has (a handful of writers, a few writes a second at most).
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drills.errors import TargetError
from drills.targets.local.apiserver.patches import MERGE_PATCH, STRATEGIC_MERGE_PATCH, apply_patch
from drills.targets.local.apiserver.resources import BY_KIND

Obj = dict[str, Any]

CLUSTER_SCOPED = {"Node", "Namespace"}
# Aliases kubectl accepts for the kinds the sandbox knows.
KIND_ALIASES: dict[str, str] = {
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
    "replicaset": "ReplicaSet", "replicasets": "ReplicaSet", "rs": "ReplicaSet",
    "configmap": "ConfigMap", "configmaps": "ConfigMap", "cm": "ConfigMap",
    "secret": "Secret", "secrets": "Secret",
    "service": "Service", "services": "Service", "svc": "Service",
    "node": "Node", "nodes": "Node", "no": "Node",
    "namespace": "Namespace", "namespaces": "Namespace", "ns": "Namespace",
    "networkpolicy": "NetworkPolicy", "networkpolicies": "NetworkPolicy", "netpol": "NetworkPolicy",
    "poddisruptionbudget": "PodDisruptionBudget", "poddisruptionbudgets": "PodDisruptionBudget",
    "pdb": "PodDisruptionBudget",
    "persistentvolumeclaim": "PersistentVolumeClaim", "persistentvolumeclaims": "PersistentVolumeClaim",
    "pvc": "PersistentVolumeClaim",
}


def canonical_kind(word: str) -> str:
    """``deploy`` → ``Deployment``; unknown words are returned as given (the caller reports them)."""
    base = word.split(".", 1)[0]
    return KIND_ALIASES.get(base.lower(), base)


def plural(kind: str) -> str:
    """``NetworkPolicy`` → ``networkpolicies``, as kubectl names resources in its messages."""
    word = kind.lower()
    return word[:-1] + "ies" if word.endswith("y") else word + "s"


def key_of(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{'' if kind in CLUSTER_SCOPED else (namespace or 'default')}/{name}"


def rfc3339(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def uid_of(key: str, created: str) -> str:
    """A stable UID per object incarnation (the same name created again later gets a new one): the API server
    serves it and the controller names the objects its events are about with it."""
    return str(uuid.uuid5(_UID_NAMESPACE, f"{key}@{created}"))


_UID_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-4c1e-9d2f-0b7e5a9c4d31")


def obj_key(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    return key_of(obj["kind"], meta.get("namespace"), meta["name"])


class ObjectStore:
    """Read and change the sandbox's objects under a cross-process lock."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.path = self.root / "objects.json"
        self._lock_path = self.root / "objects.lock"

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[dict[str, Obj]]:
        """Lock, load, hand the objects out for change, write them back atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            objects = self._load()
            before = json.dumps(objects, sort_keys=True)
            yield objects
            if json.dumps(objects, sort_keys=True) != before:
                self._write(objects)

    def snapshot(self) -> dict[str, Obj]:
        """All objects as they are now (a consistent read: it takes the lock)."""
        with self.transaction() as objects:
            return copy.deepcopy(objects)

    def restore(self, objects: dict[str, Obj]) -> None:
        """Put back a snapshot: desired state returns to it, the controller converges."""
        with self.transaction() as current:
            current.clear()
            current.update(copy.deepcopy(objects))
            for obj in current.values():
                obj.setdefault("metadata", {})["resourceVersion"] = str(time.time_ns())

    # -- reads ---------------------------------------------------------------------------------
    def read(self) -> dict[str, Obj]:
        """All objects, freshly parsed (the caller owns them). No lock needed: writes replace the file whole."""
        return self._load()

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        obj = self._load().get(key_of(kind, namespace, name))
        return copy.deepcopy(obj) if obj else None

    def require(self, kind: str, namespace: str | None, name: str) -> Obj:
        obj = self.get(kind, namespace, name)
        if obj is None:
            where = "" if kind in CLUSTER_SCOPED else f' in namespace "{namespace or "default"}"'
            raise TargetError(f'{plural(kind)} "{name}" not found{where}')
        return obj

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for o in self._load().values()
            if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]

    # -- writes --------------------------------------------------------------------------------
    def apply(self, obj: Obj) -> Obj:
        """Create or replace an object (``kubectl apply``); a changed spec bumps ``generation``."""
        obj = copy.deepcopy(obj)
        with self.transaction() as objects:
            put(objects, obj)
        return obj

    def patch(self, kind: str, namespace: str | None, name: str, patch: Obj, how: str = "strategic") -> Obj:
        with self.transaction() as objects:
            key = key_of(kind, namespace, name)
            if key not in objects:
                raise TargetError(f'{plural(kind)} "{name}" not found in namespace "{namespace or "default"}"')
            old = objects[key]
            _set_api_version(old)  # the patch's merge keys come from the kind's schema, found by apiVersion
            new = apply_patch(old, patch, STRATEGIC_MERGE_PATCH if how == "strategic" else MERGE_PATCH)
            _bump(old, new)
            objects[key] = new
            return copy.deepcopy(new)

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        with self.transaction() as objects:
            return objects.pop(key_of(kind, namespace, name), None) is not None

    # -- file ----------------------------------------------------------------------------------
    def _load(self) -> dict[str, Obj]:
        try:
            objects: dict[str, Obj] = json.loads(self.path.read_text())
            return objects
        except FileNotFoundError:
            return {}

    def _write(self, objects: dict[str, Obj]) -> None:
        write_json_atomic(self.path, objects)


def put(objects: dict[str, Obj], obj: Obj) -> None:
    """Create or replace ``obj`` inside a transaction's objects, as the API server does (generation, version)."""
    meta = obj.setdefault("metadata", {})
    _set_api_version(obj)
    if obj["kind"] not in CLUSTER_SCOPED:
        meta.setdefault("namespace", "default")
    _bump(objects.get(obj_key(obj)), obj)
    objects[obj_key(obj)] = obj


def _set_api_version(obj: Obj) -> None:
    """Every stored object names its apiVersion, as on a real API server (callers may leave it out)."""
    resource = BY_KIND.get(obj.get("kind", ""))
    if resource is not None:
        obj.setdefault("apiVersion", resource.api_version)


def _bump(old: Obj | None, new: Obj) -> None:
    meta = new.setdefault("metadata", {})
    generation = (old or {}).get("metadata", {}).get("generation", 0)
    if old is None or old.get("spec") != new.get("spec"):
        generation += 1
    meta["generation"] = generation
    meta["resourceVersion"] = str(time.time_ns())
    if old is not None:
        meta.setdefault("creationTimestamp", old.get("metadata", {}).get("creationTimestamp"))
    meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def write_json_atomic(path: Path, data: Any) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)
