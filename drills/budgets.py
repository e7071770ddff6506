"""Time budgets of a drill and how they are judged.

A drill is held to four budgets, each counted from the fault's injection: detection, mitigation (the last
runbook step finished), recovery (the severity's response time from the escalation table) and resolution.
Defaults come from the runbook document itself (escalation table, general checklist phases), so a team that
edits its own targets gets drills held to them; a drill spec, or its per-profile override, can replace any.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.errors import SpecError
from drills.model import Budgets, DrillSpec, PhaseBudget
from drills.runbook import RunbookDocument

# checklist phase (by name) whose end bounds each drill phase
CHECKLIST_PHASE = {"detect": "detection", "mitigate": "mitigation", "resolve": "resolution"}
# used when a runbook file has no checklist: the seed's own figures
FALLBACK_S = {"detect": 300.0, "mitigate": 1800.0, "resolve": 3600.0}
PHASES = ("detect", "mitigate", "recover", "resolve")


@dataclass(frozen=True)
class Budget:
    phase: str
    seconds: float
    source: str


def effective(spec: DrillSpec, profile: str | None) -> Budgets:
    """The spec's budgets with its override for ``profile`` (if any) applied on top."""
    override = spec.profiles.get(profile or "")
    if override is None:
        return spec.budgets
    merged = {**spec.budgets.model_dump(exclude_unset=True), **override.budgets}
    try:
        return Budgets.model_validate(merged)
    except ValueError as exc:
        raise SpecError(f"profile {profile!r} budgets: {exc}", file=spec.source) from exc


def for_drill(spec: DrillSpec, document: RunbookDocument, priority: str | None,
              profile: str | None) -> tuple[Budgets, dict[str, Budget]]:
    """A drill's budget settings for a target profile, and each phase's budget with its source."""
    limits = effective(spec, profile)
    return limits, resolve(limits, document, priority, profile if profile in spec.profiles else None)


def resolve(budgets: Budgets, document: RunbookDocument, priority: str | None,
            profile: str | None = None) -> dict[str, Budget]:
    """Each phase's budget in seconds and where it came from (spec, escalation table or checklist)."""
    overridden = f"drill spec ({'profile ' + profile if profile else 'budgets'})"
    chosen: dict[str, Budget] = {}
    for phase in PHASES:
        value = getattr(budgets, f"{phase}_s")
        if value is not None:
            chosen[phase] = Budget(phase, float(value), overridden)
        elif phase == "recover":
            level = priority or "P0"
            seconds = float(document.target_seconds(level))
            chosen[phase] = Budget(phase, seconds, f"escalation table {level} response time")
        else:
            chosen[phase] = _checklist(document, phase)
    return chosen


def _checklist(document: RunbookDocument, phase: str) -> Budget:
    wanted = CHECKLIST_PHASE[phase]
    for p in document.checklist:
        if wanted in p.name.casefold() and p.end_s is not None:
            return Budget(phase, float(p.end_s), f"checklist Phase {p.number}: {p.name} (ends at {p.end_s}s)")
    return Budget(phase, FALLBACK_S[phase], "default (the runbook has no checklist phase for it)")


def judge(budget: Budget, actual_s: float | None) -> PhaseBudget:
    """Compare a measurement with its budget; ``over_s`` > 0 says by how much it was missed."""
    if actual_s is None:
        return PhaseBudget(phase=budget.phase, budget_s=budget.seconds, source=budget.source, ok=False)
    over = round(actual_s - budget.seconds, 3)
    return PhaseBudget(phase=budget.phase, budget_s=budget.seconds, source=budget.source,
                       actual_s=round(actual_s, 3), over_s=over, ok=over <= 0)


def describe(judged: PhaseBudget, what: str) -> str:
    """One line for a check's detail: 'detected in 19.7s, 280.3s under the 300s budget (source)'."""
    if judged.actual_s is None:
        return f"not {what} within the {judged.budget_s:.0f}s budget ({judged.source}) or its overrun window"
    assert judged.over_s is not None
    side = f"{judged.over_s:.1f}s OVER" if judged.over_s > 0 else f"{-judged.over_s:.1f}s under"
    return f"{what} after {judged.actual_s:.1f}s, {side} the {judged.budget_s:.0f}s budget ({judged.source})"
