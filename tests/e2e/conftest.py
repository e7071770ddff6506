"""End-to-end fixtures: one real local sandbox for the session (real processes, Redis, Prometheus, cgroups)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drills.journal import Journal
from drills.targets.local import LocalTarget, cgroups
from drills.targets.local.store import ObjectStore

# the demo sandbox uses 127.42.0.0/16; tests never touch it (another range lets two suites run side by side)
OCTET = int(os.environ.get("DRILLBOOK_TEST_OCTET", "43"))


def require_root_cgroups() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (cgroup memory limits, tmpfs, iptables); run `sudo make test`")
    if cgroups.cgroup_support() is None:
        pytest.skip(f"needs {cgroups.MISSING}")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    require_root_cgroups()
    root = tmp_path_factory.mktemp("sandbox")
    # the name is the cgroup tree (drillbook/NAME) that `down` empties: one per address range, so two suites
    # running side by side never stop each other's pods
    target = LocalTarget(root, octet=OCTET, sandbox_name="pytest" if OCTET == 43 else f"pytest-{OCTET}")
    try:
        target.ensure_up()
        target.wait_steady(180)
        yield target
    finally:
        target.close()
        target.down()


@pytest.fixture()
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.json"
    monkeypatch.setenv("DRILLBOOK_JOURNAL", str(path))
    return path


def desired(snapshot: dict[str, Any]) -> dict[str, object]:
    """A drill's snapshot as desired state: each object's spec or data, and which nodes are cordoned."""
    objects = {k: {"spec": v.get("spec"), "data": v.get("data")} for k, v in snapshot["objects"].items()}
    return {**objects, "unschedulable": snapshot["unschedulable"]}


def store(target: LocalTarget) -> ObjectStore:
    """The embedded cluster's object store: beneath the API, for tests that check what a write really changed."""
    return ObjectStore(target.root)


def entered(journal_path: Path, phase: str) -> bool:
    """Whether a drill in the journal has entered ``phase``, read from its phase history: a phase that lasted
    a few milliseconds is still on record after it ended, so polling cannot miss it."""
    try:
        return any(mark.phase == phase for e in Journal(journal_path).entries() for mark in e.phases)
    except (json.JSONDecodeError, ValueError):  # a journal from an older version of drillbook
        return False


def wait_for_phase(journal_path: Path, phase: str, proc: subprocess.Popen[bytes] | None = None,
                   timeout_s: float = 180) -> None:
    """Return once the runner has entered ``phase`` (it may already be in a later one)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        if entered(journal_path, phase):
            return
        time.sleep(0.005)
    exit_code = "" if proc is None else f" (exit {proc.poll()})"
    raise AssertionError(f"the runner never reached phase {phase!r}{exit_code}")
