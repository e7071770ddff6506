"""agent-down/oom against the real sandbox: passes as written, fails without remediation, never leaves a fault.

Each test starts from (and the drill itself verifies) a steady state, so the tests do not depend on order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drills.journal import Journal
from drills.model import Verdict
from drills.runner import RunContext, run_drill
from drills.specs import CATALOG_DIR, load_spec, resolve
from drills.targets.base import WorkloadRef
from drills.targets.local import LocalTarget
from tests.e2e.conftest import wait_for_phase

pytestmark = pytest.mark.slow
SPEC = CATALOG_DIR / "agent-down" / "oom.yaml"


def baseline(target: LocalTarget) -> tuple[dict[str, str], dict[str, object]]:
    config = target.get_config("drillbook-system", "loadgen-config")
    # as the API serves it: a restore writes back what it read, so the store may now hold the defaults it serves
    deploy = target.api.get("Deployment", "production-agents", "agent-deployment")
    return config, deploy["spec"]


def test_oom_drill_passes_with_the_runbooks_own_remediation(sandbox: LocalTarget, journal_path: Path) -> None:
    before = baseline(sandbox)
    result = run_drill(resolve(load_spec(SPEC)), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.PASSED, (result.failed_checks, result.checks)
    evidence = result.fault.evidence["oom_killed"]  # type: ignore[union-attr]
    assert len(evidence) == 2 and all(e["reason"] == "OOMKilled" and e["exitCode"] == 137 for e in evidence.values())
    (agent_down,) = [a for a in result.alerts if a.name == "AgentDown"]
    assert agent_down.firing_at and agent_down.resolved_at and agent_down.resolved_at > agent_down.firing_at
    assert result.ttd_s is not None and result.detection_floor_s is not None
    assert result.detection_floor_s <= result.ttd_s <= 300
    assert result.ttr_s is not None and result.ttd_s < result.ttr_s <= 300
    ran = [s for s in result.steps if s.status == "ran"]
    assert len(ran) == 1 and "4Gi" in ran[0].command and ran[0].exit_code == 0
    assert Journal(journal_path).entries() == []
    assert baseline(sandbox) == before  # fault reverted and the runbook's change rolled back


def test_oom_drill_without_remediation_fails_naming_the_checks(sandbox: LocalTarget, journal_path: Path) -> None:
    spec = load_spec(SPEC)
    spec = spec.model_copy(update={"steps": [], "budgets": spec.budgets.model_copy(update={"recover_s": 45, "detect_s": 120,
                                                                                 "overrun_s": 5})})
    result = run_drill(resolve(spec), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.FAILED
    assert "alert-fired:AgentDown" not in result.failed_checks  # the fault was real and detected
    for name in ("remediation-steps-succeeded", "within-target"):
        assert name in result.failed_checks, result.failed_checks
    # A crash loop has moments when every replica is Ready again (between a restart and the next OOM kill), and
    # AgentDown needs 3 s of no replica to fire again, so when measuring stops the service is down (some of its
    # checks failed) or up for less than the stability window ("stable" failed): the crash loop's phase then.
    recovery = {"service-recovered:rollout-complete", "service-recovered:replicas-healthy", "alert-resolved:AgentDown"}
    assert recovery & set(result.failed_checks) or "stable" in result.failed_checks, result.failed_checks
    assert Journal(journal_path).entries() == []


def _start_cli(sandbox: LocalTarget, tmp_path: Path, journal_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
    return subprocess.Popen([sys.executable, "-m", "drills.cli", "run", "agent-down/oom", "--sandbox",
                             str(sandbox.root), "--report-dir", str(tmp_path / "reports")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _assert_clean(sandbox: LocalTarget, journal_path: Path, before: object) -> None:
    assert Journal(journal_path).entries() == []
    assert baseline(sandbox) == before
    sandbox.wait_steady(120)
    loadgen = sandbox.rollout_status(WorkloadRef("Deployment", "drillbook-system", "loadgen"))
    assert loadgen["updatedReadyReplicas"] == 1


def test_ctrl_c_during_the_fault_reverts_it(sandbox: LocalTarget, tmp_path: Path, journal_path: Path) -> None:
    before = baseline(sandbox)
    proc = _start_cli(sandbox, tmp_path, journal_path)
    try:
        wait_for_phase(journal_path, "injected", proc)
        assert sandbox.get_config("drillbook-system", "loadgen-config")["CONTEXT_KB"] == "8192"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 130, out.decode()
    _assert_clean(sandbox, journal_path, before)
    results = json.loads((tmp_path / "reports" / "results.json").read_text())["drills"]
    assert results[0]["verdict"] == "error" and "not-interrupted" in results[0]["failed_checks"]


def test_kill_9_then_the_next_run_reverts_from_the_journal_first(sandbox: LocalTarget, tmp_path: Path,
                                                                 journal_path: Path) -> None:
    """(``drillbook cleanup`` after SIGKILL in every phase: tests/e2e/test_no_fault_left_behind.py.)"""
    before = baseline(sandbox)
    proc = _start_cli(sandbox, tmp_path, journal_path)
    try:
        wait_for_phase(journal_path, "injected", proc)
    finally:
        proc.kill()
        proc.communicate()
    assert Journal(journal_path).entries(), "the journal must still hold the fault after kill -9"
    again = _start_cli(sandbox, tmp_path, journal_path)
    out, _ = again.communicate(timeout=480)
    text = out.decode()
    assert again.returncode == 0, text
    assert "cleanup: reverted oom left by agent-down/oom (phase injected); steady" in " ".join(text.split()), text
    _assert_clean(sandbox, journal_path, before)
