"""Deployment revisions are recorded per template write, including two writes in quick succession."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from drills.targets.local.revisions import REVISION, RevisionRecorder, record_revisions
from drills.targets.local.store import ObjectStore


def _deploy(image: str) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}


def _revisions(store: ObjectStore) -> dict[str, int]:
    """image → revision of its ReplicaSet."""
    return {rs["spec"]["template"]["spec"]["containers"][0]["image"]: int(rs["metadata"]["annotations"][REVISION])
            for rs in store.list("ReplicaSet", "shop")}


def test_each_template_gets_a_revision_and_a_rollback_becomes_the_newest(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    for image in ("web:1", "web:2", "web:1"):
        store.apply(_deploy(image))
        record_revisions(store)
    assert _revisions(store) == {"web:1": 3, "web:2": 2}
    deploy = store.require("Deployment", "shop", "web")
    assert deploy["metadata"]["annotations"][REVISION] == "3"
    assert deploy["metadata"]["generation"] == 3  # the annotation is metadata: no new generation
    record_revisions(store)
    assert _revisions(store) == {"web:1": 3, "web:2": 2}  # idempotent


def test_the_recorder_sees_two_writes_made_in_quick_succession(tmp_path: Path) -> None:
    """As ``rollout undo`` then ``set image``: both templates must leave a revision, or the next undo goes too far."""
    store = ObjectStore(tmp_path)
    store.apply(_deploy("web:1"))
    record_revisions(store)
    stopping = threading.Event()
    recorder = RevisionRecorder(store, stopping)
    recorder.start()
    try:
        store.apply(_deploy("web:2"))
        deadline = time.monotonic() + 5
        while "web:2" not in _revisions(store) and time.monotonic() < deadline:
            time.sleep(0.01)
        store.apply(_deploy("web:3"))
        while "web:3" not in _revisions(store) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stopping.set()
        recorder.join()
    assert _revisions(store) == {"web:1": 1, "web:2": 2, "web:3": 3}
