"""Reports: ``results.json`` (the verdicts, machine-readable) and ``junit.xml`` (for CI)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from drills.model import DrillResult, StepResult, Verdict


def results_document(results: list[DrillResult]) -> dict[str, object]:
    return {"drills": [r.model_dump(mode="json", by_alias=True) for r in results]}


def write_results(results: list[DrillResult], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    path.write_text(json.dumps(results_document(results), indent=2))
    return path


MANUAL_STATUSES = ("skipped-manual", "skipped-external")


def manual_steps(result: DrillResult) -> list[StepResult]:
    """The runbook steps a person must still do by hand: CI lists them as skipped, so they stay visible."""
    return [s for s in result.steps if s.status in MANUAL_STATUSES]


def write_junit(results: list[DrillResult], directory: Path) -> Path:
    """One testsuite per runbook, one testcase per drill; manual/external steps listed as skipped cases."""
    suites = ET.Element("testsuites", name="drillbook")
    by_runbook: dict[str, list[DrillResult]] = {}
    for r in results:
        by_runbook.setdefault(r.runbook, []).append(r)
    for runbook, drills in by_runbook.items():
        steps = sum(len(manual_steps(d)) for d in drills)
        suite = ET.SubElement(suites, "testsuite", name=runbook, tests=str(len(drills) + steps),
                              failures=str(sum(d.verdict == Verdict.FAILED for d in drills)),
                              errors=str(sum(d.verdict == Verdict.ERROR for d in drills)),
                              skipped=str(sum(d.verdict == Verdict.SKIPPED for d in drills) + steps),
                              time=f"{sum(d.wall_s or 0 for d in drills):.3f}")
        for d in drills:
            drill_case(suite, runbook, d)
            for step in manual_steps(d):
                step_case(suite, runbook, d, step)
    path = directory / "junit.xml"
    directory.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def drill_case(suite: ET.Element, runbook: str, d: DrillResult) -> None:
    """The drill's own testcase: its verdict as failure/error/skipped, the checks as the text."""
    case = ET.SubElement(suite, "testcase", classname=runbook, name=f"{d.id} ({d.cause})",
                         time=f"{d.wall_s or 0:.3f}")
    message = d.reason or ", ".join(d.failed_checks)
    details = "\n".join(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in d.checks)
    if d.verdict == Verdict.FAILED:
        ET.SubElement(case, "failure", message=f"failed checks: {', '.join(d.failed_checks)}").text = details
    elif d.verdict == Verdict.ERROR:
        ET.SubElement(case, "error", message=message).text = details
    elif d.verdict == Verdict.SKIPPED:
        ET.SubElement(case, "skipped", message=d.reason)
    if d.findings:
        ET.SubElement(case, "system-out").text = "\n".join(d.findings)


def step_case(suite: ET.Element, runbook: str, d: DrillResult, step: StepResult) -> None:
    """A manual/external runbook step as a skipped testcase, its reason as the message."""
    name = f"{d.id} step line {step.line} ({step.cls})"
    case = ET.SubElement(suite, "testcase", classname=runbook, name=name, time="0.000")
    ET.SubElement(case, "skipped", message=step.reason or step.status).text = step.command
