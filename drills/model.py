"""Typed data at the engine's edges: drill specs (input) and drill results (output).

Specs are validated with pydantic so a malformed YAML gets a precise error (the catalog adds file:line);
results are what ``results.json`` and the JUnit/HTML reports are made of.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- drill specs ------------------------------------------------------------------------------------
class FaultSpec(Strict):
    kind: str = Field(description="registered fault kind, e.g. 'oom'")
    params: dict[str, Any] = Field(default_factory=dict)


class StepSelector(Strict):
    """Pick a runbook step by its text (substring) or its line in the runbook."""

    contains: str | None = None
    line: int | None = None


class EndToEndRequest(Strict):
    """One request through the Service that proves the service does its job, not just that it is up.

    ``{uuid}`` in a string of the JSON body becomes a fresh random hex per request (e.g. a conversation id,
    so repeated probes do not pile onto one record)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = Field(default="GET", pattern=r"^[A-Z]+$")
    path: str = Field(pattern=r"^/", description="path on the Service, e.g. /api/orders")
    body: Any = Field(default=None, alias="json", description="JSON body to send (none: no body)")
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_json_key: str | None = Field(default=None,
                                        description="the response is a JSON object with this key, non-empty")
    expect_body: str | None = Field(default=None, description="regex the response body must contain a match of")
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("expect_body")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class RecoveryCondition(Strict):
    """What the remediation promises beyond a serving service, as PromQL that must return a sample (hold)
    throughout the recovery hold: e.g. a blocked bot's flood no longer billed, spend back near its rate when
    the fault went in. ``{window}`` becomes the target's rate window (as in ``series``); ``${NAME}`` is bound
    like a runbook step's placeholders (the fault's evidence, the spec's ``bind``) plus ``${INJECTED_AT}``,
    the Unix time the fault went in (for PromQL's ``@``). Checked after the runbook only: the steady state
    before the fault knows no injection time, and a promise is about the remediation."""

    expr: str = Field(min_length=1, description="PromQL; holds while it returns at least one sample")
    description: str = Field(default="", description="names the check (default: the condition's 1-based index)")


class ServiceCheck(Strict):
    """The service a drill must leave recovered: where it runs and how to tell it serves."""

    namespace: str = Field(min_length=1)
    workload: str = Field(description="deployment/NAME or statefulset/NAME; its rollout must be complete")
    service: str = Field(min_length=1, description="the Service the end-to-end request goes through")
    selector: dict[str, str] = Field(min_length=1, description="labels of the workload's pods")
    port: int = Field(ge=1, le=65535, description="the pods' (and Service's) HTTP port")
    replicas: int = Field(default=1, ge=1, description="at least this many ready replicas")
    health_path: str | None = Field(default=None, pattern=r"^/",
                                    description="per-replica health path that must answer 200 (none: readiness only)")
    request: EndToEndRequest | None = Field(default=None, description="the end-to-end request (none: not checked)")
    conditions: list[RecoveryCondition] = Field(default_factory=list,
                                                description="PromQL the remediation promises, held through "
                                                            "the recovery hold (none: only the service)")

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str) -> str:
        kind, _, name = value.partition("/")
        if not name or kind.lower() not in {"deployment", "deploy", "statefulset", "sts"}:
            raise ValueError(f"expected deployment/NAME or statefulset/NAME, got {value!r}")
        return value


class ExpectedAlert(Strict):
    """An alert the fault must fire. ``resolves: false`` for one that rightly stays firing after the runbook
    (e.g. the node is still down until it is replaced); it must then still be firing at recovery."""

    name: str
    resolves: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class Budgets(Strict):
    """Time budgets, each counted from the moment the fault is injected.

    Unset phase budgets come from the runbook document: ``recover_s`` from the escalation table (the
    severity's response time), ``detect_s``/``mitigate_s``/``resolve_s`` from the end of the general
    checklist's Detection, Mitigation and Resolution phases. A value here overrides the document.
    """

    detect_s: float | None = Field(default=None, description="fault → every expected alert firing")
    mitigate_s: float | None = Field(default=None, description="fault → the last runbook step finished")
    recover_s: float | None = Field(default=None, description="fault → recovered and stable (severity target)")
    resolve_s: float | None = Field(default=None, description="fault → recovered (checklist Resolution phase)")
    overrun_s: float = Field(default=120.0, ge=0,
                             description="keep measuring this long past a budget, to say by how much it was "
                                         "missed")
    confirm_s: float = 90.0
    stable_s: float = Field(default=10.0,
                            description="recovery must hold this long, with no restart, to count")
    step_timeout_s: float = 120.0


class AbortCondition(Strict):
    """A safety guard: while the fault is in, the drill stops and reverts as soon as this PromQL expression
    has returned a sample for ``for_s`` seconds (e.g. an error rate above a ceiling for too long)."""

    expr: str = Field(description="PromQL; any sample returned counts as true")
    for_s: float = Field(default=0.0, ge=0)
    description: str = ""


class SeriesQuery(Strict):
    """A Prometheus series the HTML report charts over the drill window. ``{window}`` in ``expr`` becomes a
    rate window suited to the target's scrape interval (15s on the fast sandbox, 1m at 15s scrapes)."""

    name: str
    expr: str
    unit: str = ""


class ProfileOverride(Strict):
    """What changes when the drill runs on a target with this timing profile (e.g. 'realistic')."""

    budgets: dict[str, float] = Field(default_factory=dict, description="Budgets fields to override")


class DrillSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")
    runbook_file: str = Field(description="path of the runbook Markdown, relative to the project root")
    runbook: str = Field(description="runbook title or heading, e.g. 'Agent Down'")
    cause: str | None = Field(default=None,
                              description="cause title or heading, e.g. 'Out of Memory (OOM)'; omit for a "
                                          "runbook without causes (its Investigation & Resolution steps)")
    description: str = ""
    story: str = Field(default="",
                       description="which production story the fault reproduces, and why that one")
    fault: FaultSpec
    expect_alerts: list[ExpectedAlert] | None = Field(default=None,
                                                      description="default: the runbook's Symptoms alerts")
    steps: list[StepSelector] | None = Field(default=None, description="default: the cause's mutating steps")
    bind: dict[str, str] = Field(default_factory=dict, description="placeholder -> value")
    recovery: ServiceCheck = Field(description="the service that must recover (may come from _service.yaml)")
    budgets: Budgets = Field(default_factory=Budgets)
    profiles: dict[str, ProfileOverride] = Field(default_factory=dict,
                                                 description="per target profile overrides")
    abort: list[AbortCondition] = Field(default_factory=list, description="safety guards (PromQL)")
    series: list[SeriesQuery] = Field(default_factory=list,
                                      description="Prometheus series the HTML report charts (none: no chart)")
    source: str = Field(default="", exclude=True)  # file the spec came from (set by the catalog)
    shared: str = Field(default="", exclude=True)  # the _service.yaml it inherited from, if any


# -- results ----------------------------------------------------------------------------------------
class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""
    at: float | None = None


class StepResult(BaseModel):
    command: str
    cls: str = Field(serialization_alias="class")
    line: int
    status: str  # ran | interrupted | skipped-manual | skipped-external | unbound | not-selected
    exit_code: int | None = None
    duration_s: float | None = None
    output: str = ""
    reason: str = ""
    started_at: float | None = None


class AlertTiming(BaseModel):
    name: str
    expected: bool
    pending_at: float | None = None
    firing_at: float | None = None
    resolved_at: float | None = None
    severity: str | None = None


class PhaseBudget(BaseModel):
    """One budget the drill was held to: where it came from, what was measured, by how much it was missed."""

    phase: str  # detect | mitigate | recover | resolve
    budget_s: float
    source: str  # e.g. "escalation table P0 (5 min)", "checklist Phase 1: Detection & Acknowledgment"
    actual_s: float | None = None
    over_s: float | None = None  # > 0: over budget by this much; None: not reached at all
    ok: bool = False


class Series(BaseModel):
    """A Prometheus series over the drill window, kept for the HTML report."""

    name: str
    query: str
    unit: str = ""
    points: list[tuple[float, float]] = Field(default_factory=list)


class TimelineEvent(BaseModel):
    at: float
    kind: str  # fault | alert-pending | alert-firing | alert-resolved | step | recovered | reverted | abort
    label: str


class FaultRecord(BaseModel):
    kind: str
    params: dict[str, Any]
    injected_at: float | None = None
    confirmed_at: float | None = None
    reverted_at: float | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    revert_error: str | None = None


class DrillResult(BaseModel):
    id: str
    runbook: str
    cause: str
    runbook_file: str
    target: str
    tools: dict[str, str] = Field(default_factory=dict,
                                  description="versions of the tools the drill ran, e.g. kubectl, prometheus, redis")
    verdict: Verdict = Verdict.ERROR
    reason: str = ""
    failed_checks: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    severity: str | None = None
    priority: str | None = None
    target_s: float | None = None
    detection_floor_s: float | None = None
    ttd_s: float | None = None
    ttm_s: float | None = Field(default=None, description="fault → the last runbook step finished")
    ttr_s: float | None = None
    budgets: list[PhaseBudget] = Field(default_factory=list)
    story: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    wall_s: float | None = None
    alerts: list[AlertTiming] = Field(default_factory=list)
    steps: list[StepResult] = Field(default_factory=list)
    fault: FaultRecord | None = None
    findings: list[str] = Field(default_factory=list)
    series: list[Series] = Field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "", at: float | None = None) -> bool:
        self.checks.append(Check(name=name, ok=ok, detail=detail, at=at))
        if not ok:
            self.failed_checks.append(name)
        return ok

    @property
    def injected_at(self) -> float | None:
        """The drill's time zero (the fault's injection), or None for a drill stopped before it."""
        return self.fault.injected_at if self.fault else None

    def timeline(self) -> list[TimelineEvent]:
        """The drill's events in time order: what the HTML chart and the postmortem's table show."""
        events: list[TimelineEvent] = []

        def add(at: float | None, kind: str, label: str) -> None:
            if at is not None:
                events.append(TimelineEvent(at=at, kind=kind, label=label))

        if self.fault:
            add(self.fault.injected_at, "fault", f"fault injected: {self.fault.kind}")
            add(self.fault.confirmed_at, "fault", "fault confirmed (symptoms observed)")
        for a in self.alerts:
            add(a.pending_at, "alert-pending", f"{a.name} pending")
            add(a.firing_at, "alert-firing", f"{a.name} firing")
            add(a.resolved_at, "alert-resolved", f"{a.name} resolved")
        for s in self.steps:
            if s.status == "ran":
                add(s.started_at, "step", f"runbook line {s.line} (exit {s.exit_code}): {s.command[:80]}")
            elif s.status == "interrupted":
                add(s.started_at, "step", f"runbook line {s.line} (interrupted): {s.command[:80]}")
        if self.injected_at is not None and self.ttr_s is not None:
            add(self.injected_at + self.ttr_s, "recovered", "service recovered (and held stable)")
        for c in self.checks:
            if c.name == "abort-condition" and not c.ok:
                add(c.at, "abort", f"aborted: {c.detail}")
        if self.fault:
            add(self.fault.reverted_at, "reverted", "fault reverted")
        return sorted(events, key=lambda e: e.at)
