"""The served state and its change feed: one in-memory copy of every object, refreshed from the sandbox's files.

Writers outside the API server (faults through the target, the controller reporting pods) change the object
store and ``status.json`` directly, so the server notices changes by watching both files (their modification
time, every ``POLL_S``) and diffing the assembled objects. Each changed object gets the next
``resourceVersion`` from one counter, and one event in a bounded history that watches replay from.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from drills.targets.local.apiserver import objects as assemble
from drills.targets.local.config import SandboxConfig
from drills.targets.local.events import events_store
from drills.targets.local.store import Obj, ObjectStore

POLL_S = 0.01  # three stat() calls; the rebuild runs only when a file changed
HISTORY = 5000


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: str
    obj: Obj


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ObjectStore(root)
        self.events = events_store(root)
        self.octet = SandboxConfig.load(root).octet
        self.objects: dict[str, Obj] = {}
        self.history: deque[Event] = deque(maxlen=HISTORY)
        self._rv = time.time_ns() // 1000  # microseconds: above any version a previous server handed out
        self._stamp: tuple[float, ...] = ()
        self._subscribers: set[asyncio.Queue[Event]] = set()

    @property
    def resource_version(self) -> int:
        return self._rv

    def oldest(self) -> int:
        return self.history[0].rv if self.history else self._rv

    def refresh(self, force: bool = False) -> list[Event]:
        """Re-read the files if either changed; return (and publish) the events of what changed."""
        stamp = (_mtime(self.store.path), _mtime(self.root / "status.json"), _mtime(self.events.path))
        if stamp == self._stamp and not force:
            return []
        self._stamp = stamp
        try:
            status = json.loads((self.root / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            status = {}
        built = assemble.build({**self.events.read(), **self.store.read()}, status, self.octet)
        events = []
        for key, obj in built.items():
            previous = self.objects.get(key)
            if previous is not None:
                _carry_over(previous, obj)
            if previous is not None and _same(previous, obj):
                built[key] = previous
                continue
            if previous is not None and previous["metadata"].get("uid") != obj["metadata"].get("uid"):
                # the same name, a new object (a StatefulSet's replacement pod): the old one was deleted
                events.append(self._stamp_event("DELETED", key, previous))
                previous = None
            events.append(self._stamp_event("MODIFIED" if previous is not None else "ADDED", key, obj))
        for key in [k for k in self.objects if k not in built]:
            gone = self.objects[key]
            events.append(self._stamp_event("DELETED", key, gone))
        self.objects = built
        for event in events:
            self.history.append(event)
            for queue in self._subscribers:
                queue.put_nowait(event)
        return events

    def _stamp_event(self, kind: str, key: str, obj: Obj) -> Event:
        self._rv = max(self._rv + 1, time.time_ns() // 1000)
        obj = obj if kind != "DELETED" else copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self._rv)
        return Event(self._rv, kind, key, obj)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    async def follow(self) -> None:
        """Keep the served state current (the server's background task)."""
        while True:
            self.refresh()
            await asyncio.sleep(POLL_S)

    def list(self, kind: str, namespace: str | None) -> list[Obj]:
        return [o for o in self.objects.values()
                if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]


def _same(served: Obj, new: Obj) -> bool:
    """Whether ``new`` (no resourceVersion yet) says what the served object says."""
    meta = served["metadata"]
    rv = meta.pop("resourceVersion", None)
    try:
        return served == new
    finally:
        if rv is not None:
            meta["resourceVersion"] = rv


def _carry_over(previous: Obj, new: Obj) -> None:
    """Keep the times assembly stamps with "now" (deletion, condition transitions, heartbeats) from the
    previous version while what they describe is unchanged, so an unchanged object stays unchanged."""
    old_meta, meta = previous["metadata"], new["metadata"]
    if "deletionTimestamp" in old_meta and "deletionTimestamp" in meta:
        meta["deletionTimestamp"] = old_meta["deletionTimestamp"]
    before = {c.get("type"): c for c in previous.get("status", {}).get("conditions", []) or []}
    for condition in new.get("status", {}).get("conditions", []) or []:
        old = before.get(condition.get("type"))
        if old is not None and old.get("status") == condition.get("status"):
            for stamp in ("lastTransitionTime", "lastHeartbeatTime", "lastUpdateTime"):
                if stamp in old:
                    condition[stamp] = old[stamp]
    meta.pop("resourceVersion", None)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except FileNotFoundError:
        return 0.0
