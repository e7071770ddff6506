"""The CI gate selects exactly the drills whose runbook cause, spec or rules changed."""

from __future__ import annotations

from pathlib import Path

from ci.changed_drills import select_drills
from drills.specs import load_catalog, resolve

RUNBOOK = "runbooks/production-agent.md"


def drills():  # type: ignore[no-untyped-def]
    return [resolve(s) for s in load_catalog()]


def oom():  # type: ignore[no-untyped-def]
    return next(d for d in drills() if d.spec.id == "agent-down/oom")


def test_a_change_inside_the_cause_selects_its_drill() -> None:
    step_line = next(c.line for c in oom().commands if "4Gi" in c.text)
    assert "agent-down/oom" in select_drills(drills(), {RUNBOOK}, lambda _p: {step_line})


def test_a_change_elsewhere_in_the_runbook_selects_nothing() -> None:
    lines = Path(__file__).resolve().parents[2].joinpath(RUNBOOK).read_text().splitlines()
    overview = lines.index("## Overview") + 1  # the document's introduction, part of no runbook
    assert select_drills(drills(), {RUNBOOK}, lambda _p: {overview + 2}) == []


def test_alert_rules_or_spec_changes_select_drills() -> None:
    everything = select_drills(drills(), {"refsystem/prometheus/alerts.yml"}, lambda _p: set())
    assert everything == [d.spec.id for d in drills()]
    spec = str(Path(oom().spec.source).resolve().relative_to(Path(__file__).resolve().parents[2]))
    assert select_drills(drills(), {spec}, lambda _p: set()) == ["agent-down/oom"]


def test_escalation_table_change_selects_every_drill_of_that_runbook_file() -> None:
    table_line = oom().document.escalation[0].line
    assert "agent-down/oom" in select_drills(drills(), {RUNBOOK}, lambda _p: {table_line})


def test_a_change_to_the_shared_service_file_selects_every_drill_that_inherits_it() -> None:
    assert select_drills(drills(), {"drills/catalog/_service.yaml"}, lambda _p: set()) == [d.spec.id for d in drills()]
