"""Budgets come from the runbook (escalation table, checklist phases), can be overridden, and say by how much
a drill missed them."""

from __future__ import annotations

import pytest

from drills import budgets
from drills.errors import SpecError
from drills.model import Budgets, DrillSpec
from drills.runbook import parse_runbook_file
from tests.conftest import SEED


@pytest.fixture(scope="module")
def seed():  # type: ignore[no-untyped-def]
    return parse_runbook_file(SEED)


RECOVERY = {"namespace": "shop", "workload": "deployment/web", "service": "web", "selector": {"app": "web"},
            "port": 8080}


def spec(**extra: object) -> DrillSpec:
    return DrillSpec.model_validate({"id": "agent-down/oom", "runbook_file": "x.md", "runbook": "Agent Down",
                                     "fault": {"kind": "oom"}, "recovery": RECOVERY, **extra})


def test_defaults_come_from_the_escalation_table_and_the_checklist(seed) -> None:  # type: ignore[no-untyped-def]
    chosen = budgets.resolve(Budgets(), seed, "P1")
    assert {k: b.seconds for k, b in chosen.items()} == {"detect": 300, "mitigate": 1800, "recover": 900,
                                                         "resolve": 3600}
    assert chosen["recover"].source == "escalation table P1 response time"
    assert "Phase 1: Detection & Acknowledgment" in chosen["detect"].source
    assert "Phase 3: Mitigation" in chosen["mitigate"].source
    assert "Phase 4: Resolution" in chosen["resolve"].source


def test_a_spec_overrides_and_a_profile_overrides_the_spec(seed) -> None:  # type: ignore[no-untyped-def]
    s = spec(budgets={"detect_s": 60, "recover_s": 120},
             profiles={"realistic": {"budgets": {"detect_s": 240}}})
    fast = budgets.resolve(budgets.effective(s, "fast"), seed, "P0")
    assert (fast["detect"].seconds, fast["recover"].seconds) == (60, 120)
    assert fast["detect"].source.startswith("drill spec")
    realistic = budgets.resolve(budgets.effective(s, "realistic"), seed, "P0", "realistic")
    assert (realistic["detect"].seconds, realistic["recover"].seconds) == (240, 120)
    assert "profile realistic" in realistic["detect"].source
    limits, chosen = budgets.for_drill(s, seed, "P0", "realistic")
    assert limits.detect_s == 240 and chosen == realistic
    assert budgets.for_drill(s, seed, "P0", "fast")[1] == fast  # no override for fast: the spec's own


def test_a_bad_profile_override_is_a_spec_error() -> None:
    s = spec(profiles={"realistic": {"budgets": {"overrun_s": -1}}})
    with pytest.raises(SpecError, match="profile 'realistic'"):
        budgets.effective(s, "realistic")


def test_over_budget_says_by_how_much() -> None:
    b = budgets.Budget("recover", 300, "escalation table P0 response time")
    late = budgets.judge(b, 342.5)
    assert not late.ok and late.over_s == 42.5
    assert "42.5s OVER the 300s budget" in budgets.describe(late, "recovered")
    early = budgets.judge(b, 24.0)
    assert early.ok and early.over_s == -276.0 and "276.0s under" in budgets.describe(early, "recovered")
    never = budgets.judge(b, None)
    assert not never.ok and never.actual_s is None and "not recovered within the 300s budget" in \
        budgets.describe(never, "recovered")
