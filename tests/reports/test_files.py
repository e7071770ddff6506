"""results.json and junit.xml carry the verdict, the failed checks and the timings."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from drills.model import DrillResult, StepResult, Verdict
from drills.reports import write_junit, write_results


def result(verdict: Verdict, drill_id: str = "agent-down/oom") -> DrillResult:
    r = DrillResult(id=drill_id, runbook="Agent Down", cause="Out of Memory (OOM)",
                    runbook_file="runbooks/production-agent.md", target="local", verdict=verdict, target_s=300,
                    ttd_s=12.5, ttr_s=20.0, wall_s=40.0)
    r.steps.append(StepResult(command="kubectl patch ...", cls="mutating", line=104, status="ran", exit_code=0,
                              duration_s=0.2))
    if verdict != Verdict.PASSED:
        r.check("alert-fired:AgentDown", False, "not firing within 300s")
    return r


def test_results_json_has_the_documented_fields(tmp_path: Path) -> None:
    write_results([result(Verdict.PASSED), result(Verdict.FAILED, "agent-down/x")], tmp_path)
    doc = json.loads((tmp_path / "results.json").read_text())
    first, second = doc["drills"]
    for key in ("id", "runbook", "cause", "verdict", "failed_checks", "severity", "target_s", "ttd_s", "ttr_s",
                "alerts", "steps", "fault"):
        assert key in first
    assert first["verdict"] == "passed" and first["steps"][0]["class"] == "mutating"
    assert second["failed_checks"] == ["alert-fired:AgentDown"]


def test_junit_one_suite_per_runbook_one_case_per_drill(tmp_path: Path) -> None:
    write_junit([result(Verdict.PASSED), result(Verdict.FAILED, "agent-down/x")], tmp_path)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "Agent Down" and suite.get("tests") == "2" and suite.get("failures") == "1"
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None and "alert-fired:AgentDown" in (failure.get("message") or "")
