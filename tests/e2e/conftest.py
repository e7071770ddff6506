"""End-to-end fixtures: one real local sandbox for the session (real processes, Redis, Prometheus, cgroups)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.targets.local import LocalTarget, cgroups

OCTET = 43  # the demo sandbox uses 127.42.0.0/16; tests never touch it


def require_root_cgroups() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (cgroup memory limits, tmpfs, iptables); run `sudo make test`")
    if cgroups.cgroup_support() is None:
        pytest.skip(f"needs {cgroups.MISSING}")


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    require_root_cgroups()
    root = tmp_path_factory.mktemp("sandbox")
    target = LocalTarget(root, octet=OCTET, sandbox_name="pytest")
    try:
        target.ensure_up()
        target.wait_steady(180)
        yield target
    finally:
        target.down()


@pytest.fixture()
def journal_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "journal.json"
    monkeypatch.setenv("DRILLBOOK_JOURNAL", str(path))
    return path


def desired(objects: dict[str, dict]) -> dict[str, object]:  # type: ignore[type-arg]
    """Desired state without what controllers record (PVCs appear once, revisions move)."""
    return {k: {"spec": v.get("spec"), "data": v.get("data")} for k, v in objects.items()
            if v["kind"] not in ("PersistentVolumeClaim",)}
