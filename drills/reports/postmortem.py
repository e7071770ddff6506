"""Postmortem drafts: one Markdown file per failed or errored drill, in the seed runbooks' template.

A drill that failed is a rehearsal of an incident, so the team reviews it like one. The draft follows the
"Postmortem Template" section of the seed runbooks heading for heading, filled from the ``DrillResult``: the
timeline, the injected cause, what the runbook did, how detection went against its budget, and action items
for what failed. The parts only people can write (lessons, prevention) are left as placeholders.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drills.model import Check, DrillResult, PhaseBudget, StepResult, Verdict

OWNER = "@runbook-owner"
DUE = "TBD"
POSTMORTEM_VERDICTS = (Verdict.FAILED, Verdict.ERROR)
_FINDING = re.compile(r"^(?P<loc>\S+:\d+): (?P<status>skipped-manual|skipped-external|unbound): "
                      r"(?P<reason>.*)$")


# -- formatting helpers -------------------------------------------------------------------------------
def cell(text: str) -> str:
    """A Markdown table cell: a raw ``|`` would end the cell and a newline the row, so neither may stay."""
    return " ".join(text.split()).replace("|", "\\|")


def code(text: str) -> str:
    """Inline code whose delimiter is longer than any backtick run inside, so a command cannot break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def clock(ts: float) -> str:
    """UTC wall-clock time, as the template's timeline wants it (all times in UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def day(ts: float) -> str:
    """The template's YYYY-MM-DD, in UTC like the timeline, so the date and the times agree."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def hhmm(seconds: float) -> str:
    """The template's HH:MM duration (minutes truncated; the exact seconds are given next to it)."""
    minutes = int(max(seconds, 0) // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def secs(value: float) -> str:
    """Seconds with one decimal: drills are short, so minutes alone would say nothing."""
    return f"{value:.1f} s"


def value_text(value: Any) -> str:
    """A parameter or evidence value on one line (YAML-like), so it fits in prose and table cells."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return str(value)


def params_text(params: dict[str, Any]) -> str:
    """Fault parameters as ``key=value`` pairs, for one line of prose."""
    return ", ".join(f"{k}={value_text(v)}" for k, v in params.items()) or "no parameters"


def title(result: DrillResult) -> str:
    """The incident's name as the runbook states it, so a reader finds the runbook section."""
    return f"{result.runbook} — {result.cause}" if result.cause else result.runbook


def high_priority(result: DrillResult) -> bool:
    """P0/P1 drills page people in a real incident, so their fixes come first."""
    return (result.priority or "").upper() in ("P0", "P1")


# -- facts derived from the result --------------------------------------------------------------------
def window(result: DrillResult) -> tuple[float, str] | None:
    """How long the (drill) incident lasted, and until what: recovery if it came, else the fault's revert."""
    start = result.injected_at
    if start is None:
        return None
    if result.ttr_s is not None:
        return result.ttr_s, "fault injected → service recovered"
    if result.fault and result.fault.reverted_at is not None:
        return result.fault.reverted_at - start, "fault injected → fault reverted; never recovered"
    return None


def budget(result: DrillResult, phase: str) -> PhaseBudget | None:
    """The phase budget the drill was held to, if the runbook or spec set one."""
    return next((b for b in result.budgets if b.phase == phase), None)


def status(result: DrillResult) -> str:
    """The template's Status, made to say in what way the drill went wrong (it is never a real incident)."""
    if result.verdict == Verdict.ERROR:
        return f"Drill — error ({result.reason})" if result.reason else "Drill — error"
    if result.ttr_s is None:
        return "Drill — not recovered"
    recover = budget(result, "recover")
    limit = recover.budget_s if recover else result.target_s
    if limit is not None and result.ttr_s > limit:
        return f"Drill — recovered over budget ({secs(result.ttr_s)} > {secs(limit)})"
    return f"Drill — recovered, {len(result.failed_checks)} check(s) failed"


# -- sections ------------------------------------------------------------------------------------------
def header(result: DrillResult) -> list[str]:
    """Title, draft notice and the template's Date / Duration / Severity / Status fields."""
    start = result.injected_at or result.started_at
    span = window(result)
    duration = f"{hhmm(span[0])} ({secs(span[0])}, {span[1]})" if span else "n/a (no fault was injected)"
    severity = result.priority or "unknown"
    if result.severity:
        severity += f" ({result.severity})"
    return [f"<!-- Draft generated by drillbook from drill {result.id}: review and complete it. -->",
            f"# Postmortem: {title(result)} (drill {result.id})", "",
            f"*Draft generated by drillbook from drill {result.id} on target {result.target}.*", "",
            f"**Date:** {day(start) if start is not None else 'unknown'}",
            f"**Duration:** {duration}",
            f"**Severity:** {severity}",
            f"**Status:** {status(result)}"]


def summary(result: DrillResult) -> list[str]:
    """The template's 2-3 sentences: what was injected, the verdict, detection and recovery."""
    drill = f"Game-day drill `{result.id}` on target `{result.target}`"
    aim = f"*{title(result)}* ({result.runbook_file})"
    if result.fault is None or result.fault.injected_at is None:
        text = f"{drill} was to reproduce {aim} but stopped before injecting the fault."
    else:
        text = (f"{drill} injected the `{result.fault.kind}` fault to reproduce {aim} "
                "and followed the runbook.")
    text += f" Verdict: **{result.verdict.value}**"
    text += f" — failed checks: {', '.join(result.failed_checks)}." if result.failed_checks else "."
    if result.reason:
        text += f" {result.reason.rstrip('.')}."
    if result.injected_at is not None:
        detected = f"detected after {secs(result.ttd_s)}" if result.ttd_s is not None else "not detected"
        recovered = f"recovered after {secs(result.ttr_s)}" if result.ttr_s is not None else "did not recover"
        target = f" (target {secs(result.target_s)})" if result.target_s is not None else ""
        text += f" The fault was {detected}; the service {recovered}{target}."
    return ["## Summary", "", text]


def impact(result: DrillResult) -> list[str]:
    """A drill has no user impact; saying so (and where it ran) keeps the template's fields honest."""
    span = window(result)
    services = f"{result.runbook} ({result.runbook_file})"
    if result.fault:
        services += f" — fault `{result.fault.kind}` ({params_text(result.fault.params)})"
    fired = [a.name for a in result.alerts if a.firing_at is not None]
    if fired:
        services += f"; alerts fired: {', '.join(fired)}"
    return ["## Impact", "",
            f"- **Users affected:** drill on target {result.target}: none (game day)",
            f"- **Duration:** {f'{secs(span[0])} ({span[1]})' if span else 'n/a'}",
            f"- **Services impacted:** {services}",
            "- **Revenue impact:** none (drill)"]


def timeline(result: DrillResult) -> list[str]:
    """The template's table from ``DrillResult.timeline()``, each event with its offset from the fault."""
    start = result.injected_at
    rows = ["## Timeline (all times in UTC)", "", "| Time | Event |", "|------|-------|"]
    for event in result.timeline():
        offset = f" (T{event.at - start:+.1f} s)" if start is not None else ""
        rows.append(f"| {clock(event.at)} | {cell(event.label + offset)} |")
    if len(rows) == 4:
        rows.append("| — | no event was recorded (the drill stopped before injecting the fault) |")
    return rows


def root_cause(result: DrillResult) -> list[str]:
    """The cause is known by construction: the injected fault, its parameters and the story behind it."""
    lines = ["## Root Cause", ""]
    cause = f"the cause **{result.cause}** of runbook **{result.runbook}**" if result.cause \
        else f"runbook **{result.runbook}**"
    if result.fault:
        lines.append(f"The drill deliberately injected {cause} ({result.runbook_file}): fault "
                     f"`{result.fault.kind}` with {params_text(result.fault.params)}.")
    else:
        lines.append(f"The drill meant to inject {cause} ({result.runbook_file}), but no fault was recorded.")
    if result.story:
        lines += ["", f"Production story reproduced: {result.story}"]
    if result.fault and result.fault.evidence:
        lines += ["", "Evidence that the fault took effect:"]
        lines += [f"- {k}: {value_text(v)}" for k, v in result.fault.evidence.items()]
    return lines


def step_line(result: DrillResult, step: StepResult) -> str:
    """One runbook step with its file:line, so the reader can open the runbook at that step."""
    where = f"{result.runbook_file}:{step.line}"
    if step.status == "ran":
        took = f" after {secs(step.duration_s)}" if step.duration_s is not None else ""
        return f"- ran {where} ({step.cls}), exit code {step.exit_code}{took}: {code(step.command)}"
    why = f": {step.reason}" if step.reason else ""
    return f"- {step.status} {where} ({step.cls}){why} — {code(step.command)}"


def resolution(result: DrillResult) -> list[str]:
    """What the runbook did: the steps that ran (exit codes) and those that did not, with why."""
    ran = [s for s in result.steps if s.status == "ran"]
    other = [s for s in result.steps if s.status != "ran"]
    lines = ["## Resolution", ""]
    lines.append("Runbook steps run by the drill:" if ran else "No runbook step ran.")
    lines += [step_line(result, s) for s in ran]
    if other:
        lines += ["", "Runbook steps not run, and why:"]
        lines += [step_line(result, s) for s in other]
    if result.ttm_s is not None:
        lines += ["", f"The last step finished {secs(result.ttm_s)} after the fault."]
    if result.fault and result.fault.reverted_at is not None:
        revert = f"The drill reverted the fault at {clock(result.fault.reverted_at)} UTC"
        revert += f", with an error: {result.fault.revert_error}." if result.fault.revert_error else "."
        lines += ["", revert]
    return lines


def against(after: float, limit: float | None, floor: float | None) -> str:
    """A firing delay against the budget (fast enough?) and the floor (could it be any faster?)."""
    parts = []
    if limit is not None:
        parts.append(f"within the {secs(limit)} budget" if after <= limit
                     else f"over the {secs(limit)} budget by {secs(after - limit)}")
    if floor is not None:
        parts.append(f"{secs(after - floor)} above the {secs(floor)} floor")
    return f" — {', '.join(parts)}" if parts else ""


def detection(result: DrillResult) -> list[str]:
    """Each expected alert against the detect budget (or the recovery target) and the detection floor."""
    start = result.injected_at
    detect = budget(result, "detect")
    limit = detect.budget_s if detect else result.target_s
    lines = ["## Detection", ""]
    if detect:
        lines.append(f"Detection budget: {secs(detect.budget_s)} ({detect.source}).")
    elif result.target_s is not None:
        lines.append(f"Detection budget: the {secs(result.target_s)} recovery target.")
    if result.detection_floor_s is not None:
        lines.append(f"Detection floor: {secs(result.detection_floor_s)} (scrape + rule evaluation + `for:`; "
                     "no alert can fire sooner).")
    if len(lines) > 2:
        lines.append("")
    expected = [a for a in result.alerts if a.expected]
    for a in expected:
        if a.firing_at is None or start is None:
            lines.append(f"- **{a.name}**: did not fire at all")
            continue
        lines.append(f"- **{a.name}**: fired after {secs(a.firing_at - start)}"
                     f"{against(a.firing_at - start, limit, result.detection_floor_s)}")
    if not expected:
        lines.append("- no alert was expected for this cause")
    others = [a.name for a in result.alerts if not a.expected and (a.firing_at or a.pending_at)]
    if others:
        lines += ["", f"Also seen (not expected): {', '.join(others)}."]
    return lines


def went_well(check: Check) -> str:
    """A passed check as a sentence a reviewer reads, rather than the runner's check id."""
    name, _, subject = check.name.partition(":")
    detail = f" ({check.detail})" if check.detail else ""
    phrases = {"steady-state": f"Started from a verified steady state{detail}",
               "fault-took-effect": f"The fault took effect as intended{detail}",
               "alert-fired": f"Alert {subject} fired{detail}",
               "remediation-steps-succeeded": f"The runbook's steps succeeded{detail}",
               "alert-resolved": f"Alert {subject} resolved after the runbook",
               "alert-still-firing": f"Alert {subject} kept firing, as it should until the cause is removed",
               "service-recovered": f"Service check {subject} passed{detail}",
               "no-other-critical-alerts": "No other critical alert fired",
               "within-target": f"Recovered within the target{detail}",
               "within-budget": f"The {subject} phase kept its budget{detail}",
               "abort-condition": "No abort condition held"}
    return phrases.get(name, f"{check.name} passed{detail}")


def what_went_well(result: DrillResult) -> list[str]:
    """Passed checks and budgets met: worth keeping, and the template asks for them."""
    lines = [f"- {went_well(c)}" for c in result.checks if c.ok]
    lines += [f"- {b.phase} within its {secs(b.budget_s)} budget ({secs(b.actual_s)}, {b.source})"
              for b in result.budgets if b.ok and b.actual_s is not None]
    return ["## What Went Well", "", *(lines or ["- [Nothing passed: note what the team did well]"])]


def missed(b: PhaseBudget) -> str:
    """A missed budget says by how much, which tells a slow runbook from a broken one."""
    if b.over_s is not None and b.over_s > 0:
        return f"- **{b.phase}** budget of {secs(b.budget_s)} ({b.source}) missed by {secs(b.over_s)}"
    return f"- **{b.phase}** budget of {secs(b.budget_s)} ({b.source}) missed: not reached at all"


def what_went_wrong(result: DrillResult) -> list[str]:
    """Failed checks with their detail, missed budgets, an error or a failed revert."""
    lines = [f"- **{c.name}**: {c.detail}" if c.detail else f"- **{c.name}**"
             for c in result.checks if not c.ok]
    lines += [missed(b) for b in result.budgets if not b.ok]
    if result.verdict == Verdict.ERROR and result.reason:
        lines.append(f"- The drill ended in an error: {result.reason}")
    if result.fault and result.fault.revert_error:
        lines.append(f"- The fault's revert failed: {result.fault.revert_error}")
    return ["## What Went Wrong", "", *(lines or ["- [Things that could have been better]"])]


def check_action(check: Check) -> str:
    """A failed check as something to do, rather than a check id."""
    name, _, subject = check.name.partition(":")
    detail = f" ({check.detail})" if check.detail else ""
    actions = {"alert-fired": f"Make alert {subject} fire within the detection budget{detail}",
               "alert-resolved": f"Find why alert {subject} kept firing after the runbook{detail}",
               "within-target": f"Bring recovery within the target{detail}",
               "within-budget": f"Bring the {subject} phase within its budget{detail}",
               "abort-condition": f"Find why the drill's blast radius crossed its abort condition{detail}",
               "fault-reverted": f"Revert the fault by hand and fix its revert{detail}"}
    return actions.get(name, f"Investigate failed check {check.name}{detail}")


def finding_action(finding: str) -> str:
    """A runner finding (``file:line: status: reason``) turned into what to do about that runbook step."""
    match = _FINDING.match(finding)
    if not match:
        return f"Follow up runbook finding: {finding}"
    loc, why = match["loc"], match["reason"]
    return {"skipped-manual": f"Automate or justify the manual step at {loc} ({why})",
            "skipped-external": f"Make the external step at {loc} drillable ({why})",
            "unbound": f"Bind the placeholder of the step at {loc} ({why})"}[match["status"]]


def actions(result: DrillResult) -> list[str]:
    """Failing runbook steps first, then the other failed checks, then the runner's findings."""
    failed_steps = [s for s in result.steps if s.status == "ran" and s.exit_code != 0]
    items = [f"Fix runbook step at {result.runbook_file}:{s.line} (exited {s.exit_code})"
             for s in failed_steps]
    for c in result.checks:
        if c.ok or (c.name == "remediation-steps-succeeded" and failed_steps):
            continue
        items.append(check_action(c))
    items += [finding_action(f) for f in result.findings]
    return items


def action_items(result: DrillResult) -> list[str]:
    """The template's table; owners and dates are placeholders the review fills in."""
    priority = "High" if high_priority(result) else "Medium"
    rows = ["## Action Items", "", "| Action | Owner | Due Date | Priority |",
            "|--------|-------|----------|----------|"]
    rows += [f"| {cell(a)} | {OWNER} | {DUE} | {priority} |" for a in actions(result)]
    return rows


def closing(result: DrillResult) -> list[str]:
    """Lessons, prevention and sign-off are for people: left as placeholders, in the template's order."""
    start = result.injected_at or result.started_at
    return ["## Lessons Learned", "", "[Key takeaways and preventive measures: for the team to write]", "",
            "## Prevention", "", "[How to prevent this in the future: for the team to write]", "",
            "---", "",
            f"**Postmortem Owner:** {OWNER}",
            "**Reviewed By:** [to be filled]",
            f"**Date:** {day(start) if start is not None else 'unknown'}"]


# -- public API -----------------------------------------------------------------------------------------
def render_postmortem(result: DrillResult) -> str:
    """The postmortem draft of one drill, as Markdown in the seed template's structure."""
    sections = [header(result), summary(result), impact(result), timeline(result), root_cause(result),
                resolution(result), detection(result), what_went_well(result), what_went_wrong(result),
                action_items(result), closing(result)]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def postmortem_name(drill_id: str) -> str:
    """A file name per drill: the id's ``/`` would otherwise make a subdirectory."""
    return drill_id.replace("/", "__") + ".md"


def write_postmortems(results: list[DrillResult], directory: Path) -> list[Path]:
    """Write ``directory/postmortems/<id>.md`` for each failed or errored drill; passed/skipped get none."""
    wanted = [r for r in results if r.verdict in POSTMORTEM_VERDICTS]
    if not wanted:
        return []
    out = directory / "postmortems"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in wanted:
        path = out / postmortem_name(r.id)
        path.write_text(render_postmortem(r), encoding="utf-8")
        paths.append(path)
    return paths
