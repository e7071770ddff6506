from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.targets.kind import fake_tools


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory with fake ``kind``, ``docker`` and ``kubectl`` first on PATH (see fake_tools.py)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_tools.install(bin_dir, ("kind", "docker", "kubectl"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_DOCKER_DAEMON_DOWN", raising=False)
    monkeypatch.setenv("DRILLBOOK_KUBECTL", "kubectl")  # the fake on PATH, not the venv's real one
    yield bin_dir
