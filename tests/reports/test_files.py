"""results.json and junit.xml carry the verdict, the failed checks and the timings."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from drills.model import DrillResult, StepResult, Verdict
from drills.reports import write_junit, write_results
from tests.reports.conftest import sample


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
    assert suite.get("skipped") == "0"  # only ran steps: no step case
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None and "alert-fired:AgentDown" in (failure.get("message") or "")


def test_junit_manual_and_external_steps_are_skipped_cases(tmp_path: Path) -> None:
    failed = sample(Verdict.FAILED, "agent-down/oom-withheld")  # line 140 external, line 99 not selected
    failed.steps.append(StepResult(command="Page the on-call lead", cls="manual", line=120,
                                   status="skipped-manual", reason="a person must do it"))
    skipped = sample(Verdict.SKIPPED, "agent-down/no-cgroup")
    skipped.steps = []
    write_junit([sample(Verdict.PASSED), failed, skipped], tmp_path)
    (suite,) = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    # 3 drills + line 140 twice (passed and failed drills) + line 120; not-selected / ran steps are no case
    assert (suite.get("tests"), suite.get("skipped"), suite.get("failures")) == ("6", "4", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["agent-down/oom (Out of Memory (OOM))", "agent-down/oom step line 140 (external)",
                           "agent-down/oom-withheld (Out of Memory (OOM))",
                           "agent-down/oom-withheld step line 140 (external)",
                           "agent-down/oom-withheld step line 120 (manual)",
                           "agent-down/no-cgroup (Out of Memory (OOM))"]
    external = cases["agent-down/oom-withheld step line 140 (external)"]
    assert external.get("classname") == "Agent Down" and external.find("failure") is None
    mark = external.find("skipped")
    assert mark is not None and mark.get("message") == "reaches outside the target: docker"
    manual = cases["agent-down/oom-withheld step line 120 (manual)"].find("skipped")
    assert manual is not None and manual.get("message") == "a person must do it"
