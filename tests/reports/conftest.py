"""Drill results as the runner makes them (one passed, one failed), for the report tests."""

from __future__ import annotations

import pytest

from drills.model import AlertTiming, DrillResult, FaultRecord, PhaseBudget, Series, StepResult, Verdict

T0 = 1_795_781_060.0  # a fault injected at 2026-11-27 ~12:04 UTC


def sample(verdict: Verdict = Verdict.PASSED, drill_id: str = "agent-down/oom") -> DrillResult:
    passed = verdict == Verdict.PASSED
    r = DrillResult(id=drill_id, runbook="Agent Down", cause="Out of Memory (OOM)",
                    runbook_file="runbooks/production-agent.md", target="local", verdict=verdict,
                    severity="CRITICAL", priority="P0", target_s=300, detection_floor_s=5.0,
                    ttd_s=19.7, ttm_s=21.0 if passed else None, ttr_s=24.1 if passed else None,
                    started_at=T0 - 15, finished_at=T0 + 60, wall_s=75.0,
                    story="Traffic shifts to large-context conversations; the kernel OOM-kills every replica.")
    r.fault = FaultRecord(kind="oom", params={"namespace": "production-agents"}, injected_at=T0,
                          confirmed_at=T0 + 7.0, reverted_at=T0 + 45.0,
                          evidence={"pods": ["agent-deployment-abc (OOMKilled)"]})
    r.alerts = [AlertTiming(name="AgentDown", expected=True, pending_at=T0 + 16.5, firing_at=T0 + 19.7,
                            resolved_at=T0 + 23.0 if passed else None, severity="critical"),
                AlertTiming(name="AgentReplicasUnavailable", expected=False, pending_at=T0 + 3.0,
                            severity="high")]
    r.steps = [StepResult(command="kubectl patch deployment agent-deployment -n production-agents -p '...'",
                          cls="mutating", line=104, status="ran", exit_code=0 if passed else 1, duration_s=0.4,
                          output="deployment.apps/agent-deployment patched", started_at=T0 + 20.5),
               StepResult(command="kubectl top pods -n production-agents", cls="read-only", line=99,
                          status="not-selected", reason="read-only"),
               StepResult(command="docker pull ghcr.io/drillbook/production-agent:1.0.0", cls="external",
                          line=140, status="skipped-external", reason="reaches outside the target: docker")]
    r.check("steady-state", True, "2/2 replicas ready")
    r.check("fault-took-effect", True, "confirmed after 7.0s")
    r.check("alert-fired:AgentDown", True, "firing 19.7s after the fault")
    r.check("remediation-steps-succeeded", passed, "1 step(s) ran" if passed else "line 104 exited 1")
    r.check("alert-resolved:AgentDown", passed, "resolved" if passed else "still firing")
    r.check("within-target", passed, "recovered 24.1s after the fault" if passed
            else "not recovered and stable within the 300s target")
    r.budgets = [PhaseBudget(phase="detect", budget_s=300, source="checklist Phase 1: Detection & "
                             "Acknowledgment (0-5 min)", actual_s=19.7, over_s=-280.3, ok=True),
                 PhaseBudget(phase="recover", budget_s=300, source="escalation table P0 (5 min)",
                             actual_s=24.1 if passed else None, over_s=-275.9 if passed else None, ok=passed)]
    r.findings = ["runbooks/production-agent.md:140: skipped-external: reaches outside the target: docker"]
    r.series = [Series(name="error rate", query="sum(rate(agent_errors_total[15s])) / "
                       "sum(rate(agent_requests_total[15s]))", unit="ratio",
                       points=[(T0 + i, 0.0 if i < 5 or i > 25 else 1.0) for i in range(-10, 46)]),
                Series(name="p95 latency", query="histogram_quantile(0.95, ...)", unit="s",
                       points=[(T0 + i, 0.2) for i in range(-10, 46)]),
                Series(name="up", query='up{job="production-agent"}', unit="",
                       points=[(T0 + i, 2.0 if i < 5 or i > 24 else 0.0) for i in range(-10, 46)])]
    return r


@pytest.fixture()
def passed_result() -> DrillResult:
    return sample(Verdict.PASSED)


@pytest.fixture()
def failed_result() -> DrillResult:
    return sample(Verdict.FAILED, "agent-down/oom-withheld")
