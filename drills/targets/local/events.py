"""Events, as the kubelet and the controllers record them, so ``kubectl describe`` and ``kubectl get events``
tell the story they would on a real cluster (Scheduled, Pulled, Created, Started, BackOff, Failed, Killing,
NodeNotReady, ...).

Kept in their own store (``ROOT/events/objects.json``) apart from the desired state: they are written often,
are not desired state, and expire. A repeat of the same reason and message on the same object bumps
``count`` and ``lastTimestamp`` as the real event recorder does; only the newest ``KEEP`` are kept.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from drills.targets.local.store import Obj, ObjectStore, rfc3339

KEEP = 500


def events_store(root: Path) -> ObjectStore:
    return ObjectStore(root / "events")


class EventRecorder:
    def __init__(self, root: Path) -> None:
        self.store = events_store(root)
        self._pending: list[tuple[float, Obj, str, str, bool, str, str]] = []

    def pod(self, namespace: str, name: str, uid: str, reason: str, message: str, *, warning: bool = False,
            component: str = "kubelet", host: str = "", field: str = "") -> None:
        involved = {"kind": "Pod", "namespace": namespace, "name": name, "uid": uid, "apiVersion": "v1"}
        if field:
            involved["fieldPath"] = field
        self.record(involved, reason, message, warning=warning, component=component, host=host)

    def record(self, involved: Obj, reason: str, message: str, *, warning: bool = False, component: str = "kubelet",
               host: str = "") -> None:
        """Queue an event; :meth:`flush` writes the queue (the controller flushes once per tick)."""
        self._pending.append((time.time(), involved, reason, message, warning, component, host))

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self.store.transaction() as objects:
            for now, involved, reason, message, warning, component, host in pending:
                _merge(objects, now, involved, reason, message, warning, component, host)
            if len(objects) > KEEP:
                for old in sorted(objects, key=lambda k: objects[k]["lastTimestamp"])[:len(objects) - KEEP]:
                    del objects[old]


def _merge(objects: dict[str, Obj], now: float, involved: Obj, reason: str, message: str, warning: bool,
           component: str, host: str) -> None:
    """A repeat of the same reason and message on the same object counts up; anything else is a new event."""
    namespace = involved.get("namespace") or "default"
    digest = hashlib.sha1(f"{involved.get('uid')}/{reason}/{message}".encode()).hexdigest()[:16]
    name = f"{involved['name']}.{digest}"
    key = f"Event/{namespace}/{name}"
    event = objects.get(key)
    if event is not None:
        event["count"] = int(event.get("count", 1)) + 1
        event["lastTimestamp"] = rfc3339(now)
        event["metadata"]["resourceVersion"] = str(time.time_ns())
        return
    objects[key] = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(now),
                     "resourceVersion": str(time.time_ns())},
        "involvedObject": involved, "reason": reason, "message": message,
        "type": "Warning" if warning else "Normal", "count": 1,
        "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now),
        "source": {"component": component, **({"host": host} if host else {})},
        "reportingComponent": component, "reportingInstance": host}
