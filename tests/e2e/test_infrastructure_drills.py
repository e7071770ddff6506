"""Runbooks 1, 5 and 6: every infrastructure drill passes with the runbook's own steps, and fails — naming
the checks — when its remediation is withheld. Faults are real (kernel, Redis, iptables, node loss)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from drills.journal import Journal
from drills.model import Verdict
from drills.runner import RunContext, run_drill
from drills.specs import load_catalog, resolve, select
from drills.targets.local import LocalTarget
from tests.e2e.conftest import desired

pytestmark = pytest.mark.slow

DRILLS = ["agent-down/bad-image", "agent-down/config-error", "agent-down/invalid-api-key", "redis-failure/oom",
          "redis-failure/disk-full", "redis-failure/network-partition", "node-failure/drain",
          "high-error-rate/rate-limiting", "high-error-rate/bad-deployment", "high-error-rate/downstream-failure",
          "high-latency/cpu-throttling", "high-latency/anthropic-slow", "high-latency/redis-slow",
          "cost-spike/bot-abuse", "cost-spike/model-misconfiguration", "cost-spike/inefficient-prompts",
          "high-error-rate/redis-connection-failure", "high-latency/large-context-windows"]


def spec(drill_id: str):  # type: ignore[no-untyped-def]
    (found,) = select(load_catalog(), [drill_id], [])
    return found


@pytest.mark.parametrize("drill_id", DRILLS)
def test_drill_passes_with_the_runbooks_steps(sandbox: LocalTarget, journal_path: Path, drill_id: str) -> None:
    before = sandbox.snapshot()
    result = run_drill(resolve(spec(drill_id)), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.PASSED, (result.failed_checks, [c for c in result.checks if not c.ok],
                                              result.reason)
    assert result.fault is not None and result.fault.evidence and result.fault.reverted_at
    assert result.ttd_s is not None and result.ttr_s is not None and result.ttr_s <= (result.target_s or 0)
    assert any(s.status == "ran" and s.exit_code == 0 for s in result.steps)
    assert Journal(journal_path).entries() == []
    assert desired(sandbox.snapshot()) == desired(before)
    charts = {s.name: s.points for s in result.series}
    assert charts.get("agent replicas up") and charts.get("successful requests"), charts.keys()
    assert all(math.isfinite(v) for points in charts.values() for _, v in points)  # NaN is not JSON
    assert {b.phase for b in result.budgets} == {"detect", "mitigate", "recover", "resolve"}
    assert all(b.ok and b.over_s is not None and b.over_s < 0 for b in result.budgets)


@pytest.mark.parametrize("drill_id", DRILLS)
def test_drill_without_remediation_fails_naming_the_checks(sandbox: LocalTarget, journal_path: Path,
                                                           drill_id: str) -> None:
    withheld = spec(drill_id)
    withheld = withheld.model_copy(update={"steps": [],
                                           "budgets": withheld.budgets.model_copy(update={"recover_s": 30, "detect_s": 120, "overrun_s": 5})})
    result = run_drill(resolve(withheld), RunContext(target=sandbox, journal=Journal(journal_path)))
    assert result.verdict == Verdict.FAILED, (result.failed_checks, result.reason)
    assert {"remediation-steps-succeeded", "within-target"} <= set(result.failed_checks)
    assert any(c.startswith(("service-recovered:", "alert-resolved:")) for c in result.failed_checks), \
        result.failed_checks
    assert not any(c.startswith("alert-fired:") for c in result.failed_checks)  # the fault was real
    assert Journal(journal_path).entries() == []
