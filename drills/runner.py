"""Run one drill: steady state → inject → confirm → detect → remediate → recover → revert → verdict.

The flow is owned here once for every fault (faults only know how to inject, confirm and revert). The
fault's undo is journaled before injection and the revert runs in ``finally`` with SIGINT deferred, so a
fault is put back on success, on failure and on Ctrl-C; after ``kill -9`` the journal still has it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from drills import registry, steps
from drills.errors import DrillbookError, FaultError, PrerequisiteError
from drills.journal import Journal, JournalEntry
from drills.model import AlertTiming, Check, DrillResult, ExpectedAlert, FaultRecord, Verdict
from drills.specs import ResolvedDrill
from drills.targets.base import Target
from verifiers.alerts import AlertWatcher, active_alerts
from verifiers.health import hold, restarts, service_recovered

Events = Callable[[str, str], None]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a drill; the fault was reverted and ``result`` says how far it got."""

    def __init__(self, result: DrillResult) -> None:
        super().__init__(result.id)
        self.result = result


@dataclass
class RunContext:
    target: Target
    journal: Journal = field(default_factory=Journal)
    events: Events = lambda phase, message: None
    steady_timeout_s: float = 180.0


def run_drill(drill: ResolvedDrill, ctx: RunContext) -> DrillResult:
    spec, runbook = drill.spec, drill.runbook
    target = ctx.target
    result = DrillResult(id=spec.id, runbook=runbook.title, cause=drill.cause_title,
                         runbook_file=spec.runbook_file, target=target.name, severity=runbook.severity,
                         priority=runbook.priority, started_at=time.time())
    result.target_s = spec.budgets.recover_s or float(drill.document.target_seconds(runbook.priority or "P0"))
    expectations = spec.expect_alerts if spec.expect_alerts is not None else \
        [ExpectedAlert(name=a) for a in runbook.expected_alerts]
    expected = [e.name for e in expectations]
    lasting = {e.name for e in expectations if not e.resolves}
    plugin = registry.fault(spec.fault.kind)
    params = plugin.params.model_validate(spec.fault.params)
    result.fault = FaultRecord(kind=plugin.kind, params=params.model_dump())
    try:
        ctx.events("steady", "bringing the target up and checking steady state")
        target.ensure_up()
        target.wait_steady(ctx.steady_timeout_s)
        missing = sorted(plugin.requires - target.capabilities())
        if missing:
            raise PrerequisiteError(f"fault {plugin.kind!r} needs {', '.join(missing)} on this machine "
                                    "(run as root with cgroups, tmpfs and iptables available)")
        for_s = target.alert_for_seconds()
        scrape, evaluation = target.scrape_and_eval_seconds()
        result.detection_floor_s = scrape + evaluation + max((for_s.get(a, 0.0) for a in expected), default=0.0)
        if not _steady(target, drill, result, ctx):
            return _finish(result)
        _inject_and_verify(drill, ctx, plugin, params, expected, lasting, result)
    except PrerequisiteError as exc:
        result.verdict, result.reason = Verdict.SKIPPED, str(exc)
        return _finish(result, keep_verdict=True)
    except KeyboardInterrupt as exc:
        result.reason = "interrupted (Ctrl-C / SIGTERM); the fault was reverted"
        result.check("not-interrupted", False)
        raise Interrupted(_finish(result)) from exc
    except DrillbookError as exc:
        result.reason = f"{type(exc).__name__}: {exc}"
        result.check("drill-completed", False, str(exc))
    return _finish(result)


def _steady(target: Target, drill: ResolvedDrill, result: DrillResult, ctx: RunContext) -> bool:
    """The drill starts only from a verified steady state: service healthy and stable, no alert active."""
    spec = drill.spec

    def probe() -> list[Check]:
        try:
            active = [f"{a['labels']['alertname']} ({a['state']})"
                      for a in active_alerts(target.prometheus_url())]
            alerts = Check(name="no-active-alerts", ok=not active, detail=f"active: {active}" if active else "none")
        except requests.RequestException as exc:
            alerts = Check(name="no-active-alerts", ok=False, detail=f"Prometheus unreachable: {exc}")
        return [*service_recovered(target, spec.recovery), alerts]

    stable = hold(probe, lambda: restarts(target, spec.recovery), spec.budgets.stable_s,
                  time.time() + ctx.steady_timeout_s)
    detail = "; ".join(c.detail for c in stable.checks if not c.ok) or "; ".join(c.detail for c in stable.checks)
    if not stable.ok:
        result.reason = f"steady state not reached before the fault: {detail}"
    return result.check("steady-state", stable.ok, detail)


def _inject_and_verify(drill: ResolvedDrill, ctx: RunContext, plugin: registry.FaultPlugin, params: object,
                       expected: list[str], lasting: set[str], result: DrillResult) -> None:
    spec, target = drill.spec, ctx.target
    assert result.fault is not None and result.target_s is not None
    watcher = AlertWatcher(target.prometheus_url()).start()
    undo = plugin.undo(target, params)
    snapshot = target.snapshot()
    ctx.journal.add(JournalEntry(drill_id=spec.id, target=target.describe(), fault_kind=plugin.kind, undo=undo,
                                 snapshot=snapshot))
    t0 = time.time()
    try:
        ctx.events("inject", f"injecting {plugin.kind}: {plugin.summary}")
        result.fault.injected_at = t0
        plugin.inject(target, params)
        ctx.journal.set_phase(spec.id, "injected")
        try:
            result.fault.evidence = plugin.confirm(target, params, t0, spec.budgets.confirm_s)
            result.fault.confirmed_at = time.time()
            result.check("fault-took-effect", True, f"confirmed after {result.fault.confirmed_at - t0:.1f}s")
        except FaultError as exc:
            result.check("fault-took-effect", False, str(exc))
            result.reason = "the fault did not take effect, so the runbook was not exercised"
            return
        _detect(spec.budgets.detect_s or result.target_s, t0, expected, watcher, result, ctx)
        _remediate(drill, ctx, result)
        _recover(drill, ctx, t0, expected, lasting, watcher, result)
    finally:
        with _sigint_deferred():
            ctx.events("revert", f"reverting {plugin.kind}")
            try:
                plugin.revert(target, undo)
                target.restore(snapshot)
                ctx.journal.remove(spec.id)
            except Exception as exc:  # keep the journal entry: cleanup will retry
                result.fault.revert_error = f"{type(exc).__name__}: {exc}"
                result.check("fault-reverted", False, result.fault.revert_error)
            result.fault.reverted_at = time.time()
            watcher.stop()
            result.alerts = [AlertTiming(name=t.name, expected=t.name in expected, pending_at=t.pending_at,
                                         firing_at=t.firing_at, resolved_at=t.resolved_at, severity=t.severity)
                             for t in watcher.snapshot().values()]
            for name in expected:
                if name not in {a.name for a in result.alerts}:
                    result.alerts.append(AlertTiming(name=name, expected=True))
            try:
                target.wait_steady(ctx.steady_timeout_s)
            except DrillbookError as exc:  # the next drill would start broken: this drill's revert failed
                result.check("steady-after-revert", False, str(exc))


def _detect(budget_s: float, t0: float, expected: list[str], watcher: AlertWatcher, result: DrillResult,
            ctx: RunContext) -> None:
    ctx.events("detect", f"waiting for {', '.join(expected) or 'no alert'} to fire (budget {budget_s:.0f}s)")
    tracks = watcher.wait_for(expected, "firing", time.monotonic() + budget_s - (time.time() - t0))
    fired = []
    for name in expected:
        track = tracks.get(name)
        ok = track is not None and track.firing_at is not None
        detail = f"firing {track.firing_at - t0:.1f}s after the fault" if ok and track and track.firing_at \
            else f"not firing within {budget_s:.0f}s"
        result.check(f"alert-fired:{name}", ok, detail)
        if ok and track and track.firing_at:
            fired.append(track.firing_at)
    if fired and len(fired) == len(expected):
        result.ttd_s = round(max(fired) - t0, 3)


def _remediate(drill: ResolvedDrill, ctx: RunContext, result: DrillResult) -> None:
    spec = drill.spec
    commands = drill.commands
    selected = steps.select(commands, spec.steps)
    ctx.events("remediate", f"running {len(selected)} runbook step(s)")
    evidence = result.fault.evidence if result.fault else {}
    bindings = {**evidence.get("bindings", {}), **spec.bind}  # a fault may bind what it chose, e.g. NODE_NAME
    result.steps = steps.execute(commands, selected, bindings, ctx.target.step_environment(),
                                 spec.budgets.step_timeout_s,
                                 on_step=lambda c: ctx.events("step", f"line {c.line}: {c.text[:90]}"))
    ran = [s for s in result.steps if s.status == "ran"]
    failed = [f"line {s.line} exited {s.exit_code}" for s in ran if s.exit_code != 0]
    result.check("remediation-steps-succeeded", bool(ran) and not failed,
                 "; ".join(failed) if failed else f"{len(ran)} step(s) ran" if ran else "no runbook step ran")
    for s in result.steps:
        if s.status in ("skipped-manual", "skipped-external", "unbound"):
            result.findings.append(f"{spec.runbook_file}:{s.line}: {s.status}: {s.reason}")


def _recover(drill: ResolvedDrill, ctx: RunContext, t0: float, expected: list[str], lasting: set[str],
             watcher: AlertWatcher, result: DrillResult) -> None:
    assert result.target_s is not None
    spec = drill.spec
    ctx.events("recover", f"verifying recovery (target {result.target_s:.0f}s from the fault, "
                          f"stable for {spec.budgets.stable_s:.0f}s)")

    def probe() -> list[Check]:
        tracks = watcher.snapshot()
        checks = [Check(name=f"service-recovered:{c.name}", ok=c.ok, detail=c.detail, at=c.at)
                  for c in service_recovered(ctx.target, spec.recovery)]
        for name in expected:
            state = tracks[name].state if name in tracks else "inactive"
            if name in lasting:  # must still fire: the cause is not gone, only worked around
                checks.append(Check(name=f"alert-still-firing:{name}", ok=state == "firing",
                                    detail=f"{state} (expected to keep firing until the cause is removed)"))
            else:
                checks.append(Check(name=f"alert-resolved:{name}", ok=state == "inactive",
                                    detail="resolved" if state == "inactive" else f"still {state}"))
        others = [n for n in watcher.firing("critical") if n not in expected]
        checks.append(Check(name="no-other-critical-alerts", ok=not others,
                            detail=f"firing: {others}" if others else "none"))
        return checks

    stable = hold(probe, lambda: restarts(ctx.target, spec.recovery), spec.budgets.stable_s, t0 + result.target_s)
    for c in stable.checks:
        result.check(c.name, c.ok, c.detail, c.at)
    if stable.ok and stable.since is not None:
        result.ttr_s = round(stable.since - t0, 3)
    result.check("within-target", stable.ok,
                 f"recovered {result.ttr_s}s after the fault, stable for {spec.budgets.stable_s:.0f}s "
                 f"(target {result.target_s:.0f}s)" if stable.ok
                 else f"not recovered and stable within the {result.target_s:.0f}s target")
    manual = [s for s in result.steps if s.status in ("skipped-manual", "skipped-external")]
    if manual:
        result.findings.append(f"the automatable steps alone {'recovered' if stable.ok else 'did not recover'} "
                               f"the service ({len(manual)} manual/external step(s) not run)")


def _finish(result: DrillResult, keep_verdict: bool = False) -> DrillResult:
    result.finished_at = time.time()
    if result.started_at:
        result.wall_s = round(result.finished_at - result.started_at, 3)
    if not keep_verdict:
        fault_problem = {"fault-took-effect", "steady-state", "drill-completed", "fault-reverted",
                         "steady-after-revert"}
        if not result.failed_checks:
            result.verdict = Verdict.PASSED
        elif fault_problem & set(result.failed_checks) or "not-interrupted" in result.failed_checks:
            result.verdict = Verdict.ERROR
        else:
            result.verdict = Verdict.FAILED
    return result


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Let a revert finish: a Ctrl-C that arrives during it is delivered afterwards."""
    pending: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    except ValueError:  # not in the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt
