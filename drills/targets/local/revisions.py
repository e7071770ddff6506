"""The Deployment controller's revision bookkeeping, reacting to a write within milliseconds.

Every pod template a Deployment has had gets a ReplicaSet with a ``deployment.kubernetes.io/revision``;
``kubectl rollout undo`` picks the second-highest revision. Real Kubernetes records a new template within
milliseconds of the write (an informer event), so two runbook steps in a row (``rollout undo`` then ``set
image``) each leave a revision. The sandbox controller's tick also runs pods, probes and network policy and
can take a second under load; recording revisions only there lost the template between two quick writes, and
the next undo went one revision too far back. So a small thread watches the object store and records
revisions as soon as a Deployment changes; the tick records too (idempotent), in case the thread lagged.
"""

from __future__ import annotations

import threading
from pathlib import Path

from drills.targets.local.store import Obj, ObjectStore, put
from drills.targets.local.workloads import template_hash

REVISION = "deployment.kubernetes.io/revision"
POLL_S = 0.02  # a stat() of one file: cheap, and well under the time one kubectl command takes


def record_revisions(store: ObjectStore) -> None:
    """Give every Deployment's current template its ReplicaSet and revision, in one store transaction."""
    with store.transaction() as objects:
        for deploy in [o for o in objects.values() if o["kind"] == "Deployment"]:
            _record(objects, deploy)


def _record(objects: dict[str, Obj], deploy: Obj) -> None:
    meta = deploy["metadata"]
    rs_name = f"{meta['name']}-{template_hash(deploy['spec']['template'])[:10]}"
    sets = [o for o in objects.values() if o["kind"] == "ReplicaSet"
            and o["metadata"]["namespace"] == meta["namespace"] and o["metadata"].get("ownerName") == meta["name"]]
    newest = max((int(s["metadata"]["annotations"][REVISION]) for s in sets), default=0)
    existing = next((s for s in sets if s["metadata"]["name"] == rs_name), None)
    if existing is not None and int(existing["metadata"]["annotations"][REVISION]) == newest:
        return
    # A new template, or a rollback to an older one: it becomes the newest revision.
    revision = str(newest + 1)
    put(objects, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": rs_name, "namespace": meta["namespace"], "ownerName": meta["name"],
                               "annotations": {REVISION: revision, "kubernetes.io/change-cause":
                                               meta.get("annotations", {}).get("kubernetes.io/change-cause", "")}},
                  "spec": {"template": deploy["spec"]["template"]}})
    updated = {**deploy, "metadata": {**meta, "annotations": {**meta.get("annotations", {}), REVISION: revision}}}
    put(objects, updated)


class RevisionRecorder(threading.Thread):
    """Records revisions whenever the object store file changes (its mtime), until ``stopping`` is set."""

    def __init__(self, store: ObjectStore, stopping: threading.Event) -> None:
        super().__init__(name="deployment-revisions", daemon=True)
        self.store, self.stopping = store, stopping

    def run(self) -> None:
        seen = -1
        while not self.stopping.wait(POLL_S):
            stamp = _mtime_ns(self.store.path)
            if stamp != seen:
                seen = stamp
                record_revisions(self.store)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
