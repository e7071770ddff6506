"""Safety guards on the real sandbox: an abort condition stops a drill and reverts it, and a planted secret
appears in no output file and not on the console."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from drills.journal import Journal
from drills.lock import DrillLock
from drills.model import AbortCondition, Verdict
from drills.runner import RunContext, run_drill
from drills.specs import CATALOG_DIR, load_spec, resolve
from drills.targets.local import LocalTarget
from drills.targets.local.infra import STUB_KEY
from tests.e2e.conftest import desired

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_abort_condition_stops_the_drill_and_reverts(sandbox: LocalTarget, journal_path: Path) -> None:
    before = desired(sandbox.snapshot())
    spec = load_spec(CATALOG_DIR / "agent-down" / "config-error.yaml")
    guard = AbortCondition(expr='kube_deployment_status_replicas_available{deployment="agent-deployment"} == 0',
                           for_s=2, description="no agent replica available (outage ceiling)")
    spec = spec.model_copy(update={"abort": [guard]})
    result = run_drill(resolve(spec), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.ERROR, result.failed_checks
    assert "abort-condition" in result.failed_checks
    (check,) = [c for c in result.checks if c.name == "abort-condition"]
    assert "outage ceiling" in check.detail and "true for" in check.detail
    assert "abort condition" in result.reason
    assert not [s for s in result.steps if s.status == "ran"], "the drill went on after the abort"
    assert result.fault and result.fault.reverted_at and not result.fault.revert_error
    assert any(e.kind == "abort" for e in result.timeline())
    assert Journal(journal_path).entries() == []
    sandbox.wait_steady(180)
    assert desired(sandbox.snapshot()) == before


def test_an_abort_condition_that_never_holds_passes(sandbox: LocalTarget, journal_path: Path) -> None:
    spec = load_spec(CATALOG_DIR / "agent-down" / "config-error.yaml")
    spec = spec.model_copy(update={"abort": [AbortCondition(expr="vector(1) > 2", for_s=0)]})
    result = run_drill(resolve(spec), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.PASSED, result.failed_checks
    assert any(c.name == "abort-condition" and c.ok for c in result.checks)


def planted_catalog(tmp_path: Path, revoked: str) -> Path:
    """The API-key drill, with a runbook step that prints the Secret, and a budget it misses (so a
    postmortem is written too)."""
    runbook = (ROOT / "runbooks" / "production-agent.md").read_text()
    anchor = "kubectl rollout restart deployment/agent-deployment -n production-agents\n"
    assert runbook.count(anchor) >= 1
    runbook = runbook.replace("# Restart pods to pick up new secret\n" + anchor,
                              "# Restart pods to pick up new secret\n" + anchor
                              + "kubectl get secret agent-secrets -n production-agents -o yaml\n", 1)
    (tmp_path / "runbook.md").write_text(runbook)
    spec = yaml.safe_load((CATALOG_DIR / "agent-down" / "invalid-api-key.yaml").read_text())
    spec.update(runbook_file=str(tmp_path / "runbook.md"),
                steps=[{"contains": "create secret generic"}, {"contains": "rollout restart"},
                       {"contains": "get secret agent-secrets"}],
                budgets={"mitigate_s": 0.001})
    spec["fault"]["params"]["revoked_value"] = revoked
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "_service.yaml").write_text((CATALOG_DIR / "_service.yaml").read_text())  # the recovery block
    (catalog / "planted.yaml").write_text(yaml.safe_dump(spec))
    return catalog


def test_a_planted_secret_appears_in_no_output(sandbox: LocalTarget, tmp_path: Path, journal_path: Path) -> None:
    revoked = f"sk-ant-drill-revoked-{uuid.uuid4().hex}"
    catalog = planted_catalog(tmp_path, revoked)
    reports = tmp_path / "reports"
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
    run = subprocess.run([sys.executable, "-m", "drills.cli", "run", "agent-down/invalid-api-key", "--catalog",
                          str(catalog), "--sandbox", str(sandbox.root), "--report-dir", str(reports)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr  # failed on the tiny mitigation budget only
    files = sorted(p for p in reports.rglob("*") if p.is_file())
    names = {p.relative_to(reports).as_posix() for p in files}
    assert {"results.json", "junit.xml", "report.html"} <= names and any(n.startswith("postmortems/") for n in names)
    results = (reports / "results.json").read_text()
    json.loads(results, parse_constant=lambda c: pytest.fail(f"results.json holds {c}, which is not JSON"))
    assert "***" in results, "the step that prints the Secret ran, and its output was masked"
    assert '"within-budget:mitigate"' in results and "agent-secrets" in results
    outputs = {p.name: p.read_text(errors="replace") for p in files}
    outputs.update(stdout=run.stdout, stderr=run.stderr)
    for secret in (STUB_KEY, revoked):
        for form in (secret, base64.b64encode(secret.encode()).decode().rstrip("=")):
            leaks = [name for name, text in outputs.items() if form in text]
            assert not leaks, f"{form!r} leaked into {leaks}"


def test_a_drill_over_budget_fails_and_says_by_how_much(sandbox: LocalTarget, journal_path: Path) -> None:
    """The runbook works, but slower than its (deliberately tiny) budgets: measured anyway, failed, and by how
    much — never "over budget and still exit 0"."""
    spec = load_spec(CATALOG_DIR / "agent-down" / "config-error.yaml")
    spec = spec.model_copy(update={"budgets": spec.budgets.model_copy(
        update={"detect_s": 1.0, "recover_s": 2.0, "overrun_s": 90.0})})
    result = run_drill(resolve(spec), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.FAILED
    assert set(result.failed_checks) == {"within-budget:detect", "within-target"}, result.failed_checks
    budgets = {b.phase: b for b in result.budgets}
    assert result.ttd_s and result.ttr_s
    assert budgets["detect"].over_s == pytest.approx(result.ttd_s - 1.0, abs=0.01)
    assert budgets["recover"].over_s == pytest.approx(result.ttr_s - 2.0, abs=0.01)
    (late,) = [c for c in result.checks if c.name == "within-target"]
    assert f"{result.ttr_s - 2.0:.1f}s OVER the 2s budget" in late.detail


def test_a_second_run_on_a_busy_target_refuses_at_once_naming_the_holder(sandbox: LocalTarget, tmp_path: Path,
                                                                        journal_path: Path) -> None:
    before = desired(sandbox.snapshot())
    game_day = DrillLock(sandbox.api_client(), "agent-down/oom")
    game_day.identity = "game-day-laptop:4242"
    game_day.acquire()
    try:
        env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
        run = subprocess.run([sys.executable, "-m", "drills.cli", "run", "agent-down/config-error", "--sandbox",
                              str(sandbox.root), "--report-dir", str(tmp_path / "reports")],
                             env=env, capture_output=True, text=True, timeout=60)
    finally:
        game_day.release()
    out = " ".join((run.stdout + run.stderr).split())  # rich wraps long lines
    assert run.returncode == 2, out
    assert "busy: agent-down/oom on game-day-laptop:4242, since" in out
    assert Journal(journal_path).entries() == [] and desired(sandbox.snapshot()) == before, "it touched the target"
