"""Run one drill: steady state → inject → confirm → detect → remediate → recover → revert → verdict.

The flow is owned here once for every fault (faults only know how to inject, confirm and revert). The
fault's undo is journaled before injection and the revert runs in ``finally`` with SIGINT/SIGTERM deferred,
so a fault is put back on success, on failure, on Ctrl-C, on SIGTERM and when an abort condition trips; after
``kill -9`` the journal still has it, with the phase the drill was in. While the fault is in, the abort guard
also watches the target's liveness: a lost target (control plane or API server gone, or restarted) stops the
drill within seconds with verdict ``error``, runs nothing more against it, and leaves the journal entry for
``drillbook cleanup`` to revert once the target is back. Every phase is timed against its
budget (``drills.budgets``); secrets are scrubbed from the result before anyone sees it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import requests

from drills import budgets, carry, registry, series, steps
from drills.budgets import Budget
from drills.errors import DrillbookError, FaultError, PrerequisiteError
from drills.journal import Journal, JournalEntry
from drills.model import AlertTiming, Budgets, Check, DrillResult, ExpectedAlert, FaultRecord, Verdict
from drills.secrets import credential_bindings, scrub, secret_params
from drills.specs import ResolvedDrill
from drills.targets.base import Target
from verifiers import conditions
from verifiers.alerts import AlertWatcher, active_alerts
from verifiers.guard import AbortGuard
from verifiers.health import hold, restarts, service_recovered

SERIES_LEAD_S = 30.0  # charts start this long before the fault, to show the steady state it broke

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
    """Run one drill; the fault is reverted whatever happens (see the module docstring)."""
    with _sigint_delivered():
        return _run_drill(drill, ctx)


def _run_drill(drill: ResolvedDrill, ctx: RunContext) -> DrillResult:
    spec, runbook = drill.spec, drill.runbook
    target = ctx.target
    profile = str(target.describe().get("profile") or "")
    limits, chosen = budgets.for_drill(spec, drill.document, runbook.priority, profile)
    result = DrillResult(id=spec.id, runbook=runbook.title, cause=drill.cause_title, story=spec.story,
                         runbook_file=spec.runbook_file, target=target.name, severity=runbook.severity,
                         priority=runbook.priority, started_at=time.time(), target_s=chosen["recover"].seconds)
    expectations = spec.expect_alerts if spec.expect_alerts is not None else \
        [ExpectedAlert(name=a) for a in runbook.expected_alerts]
    expected = [e.name for e in expectations]
    lasting = {e.name for e in expectations if not e.resolves}
    plugin = registry.fault(spec.fault.kind)
    params = plugin.params.model_validate(spec.fault.params)
    result.fault = FaultRecord(kind=plugin.kind, params=params.model_dump(mode="json"))
    secrets = credential_bindings(spec.bind) | secret_params(params)
    guard: AbortGuard | None = None
    try:
        ctx.events("steady", "bringing the target up and checking steady state")
        target.ensure_up()
        result.tools = target.tools()
        target.wait_steady(ctx.steady_timeout_s)
        secrets |= target.secret_values()
        missing = sorted(plugin.requires - target.capabilities())
        if missing:
            raise PrerequisiteError(f"fault {plugin.kind!r} needs {', '.join(missing)} on this machine "
                                    "(run as root with cgroups, tmpfs and iptables available)")
        for_s = target.alert_for_seconds()
        scrape, evaluation = target.scrape_and_eval_seconds()
        result.detection_floor_s = scrape + evaluation + max((for_s.get(a, 0.0) for a in expected), default=0.0)
        if not _steady(target, drill, limits, result, ctx):
            return _finish(result, secrets)
        guard = AbortGuard(target.prometheus_url(), spec.abort, liveness=target.liveness, session=target.http())
        plan = _Plan(limits, chosen, expected, lasting, guard, secrets)
        _inject_and_verify(drill, ctx, plugin, params, plan, result)
    except PrerequisiteError as exc:
        result.verdict, result.reason = Verdict.SKIPPED, str(exc)
        return _finish(result, secrets, keep_verdict=True)
    except KeyboardInterrupt as exc:
        if guard is not None and guard.lost:  # the watchdog's SIGINT, or lost_now() before the runbook
            result.reason = f"{guard.lost}; no runbook step ran against it after that, and the fault stays in " \
                            "the journal for `drillbook cleanup`"
            result.check("target-reachable", False, guard.lost, guard.lost_at)
            return _finish(result, secrets)
        if guard is not None and guard.tripped:
            result.reason = "stopped by the drill's abort condition; the fault was reverted"
            result.check("abort-condition", False, guard.tripped, guard.tripped_at)
            return _finish(result, secrets)
        result.reason = "interrupted (Ctrl-C / SIGTERM); the fault was reverted"
        result.check("not-interrupted", False)
        raise Interrupted(_finish(result, secrets)) from exc
    except Exception as exc:  # a bug must not lose the other drills' reports; the fault was reverted in finally
        if guard is not None and guard.lost:  # not a bug: the target went away under the drill
            result.reason = f"{guard.lost}; the fault stays in the journal for `drillbook cleanup`"
        elif isinstance(exc, DrillbookError):
            result.reason = f"{type(exc).__name__}: {exc}"
            result.check("drill-completed", False, str(exc))
        else:
            ctx.events("error", traceback.format_exc())
            result.reason = f"unexpected {type(exc).__name__}: {exc}"
            result.check("drill-completed", False, result.reason)
    if guard is not None and guard.lost:  # lost as the drill failed or ended: the revert was not attempted
        result.check("target-reachable", False, guard.lost, guard.lost_at)
    if guard is not None and guard.tripped:  # tripped, but its signal came too late to stop anything
        result.check("abort-condition", False, guard.tripped, guard.tripped_at)
    elif spec.abort and guard is not None:
        result.check("abort-condition", True, f"never true: {'; '.join(a.expr for a in spec.abort)}")
    return _finish(result, secrets)


@dataclass
class _Plan:
    """What one drill is held to, decided before the fault goes in."""

    limits: Budgets
    budgets: dict[str, Budget]
    expected: list[str]
    lasting: set[str]
    guard: AbortGuard
    secrets: set[str]
    held: carry.Verified | None = None  # what the recovery hold proved, for the next drill


def _steady(target: Target, drill: ResolvedDrill, limits: Budgets, result: DrillResult,
            ctx: RunContext) -> bool:
    """The drill starts only from a verified steady state: service healthy and stable, no alert active."""
    spec = drill.spec

    def probe(http: requests.Session) -> list[Check]:
        try:
            active = [f"{a['labels']['alertname']} ({a['state']})"
                      for a in active_alerts(target.prometheus_url(), session=http)]
            alerts = Check(name="no-active-alerts", ok=not active, detail=f"active: {active}" if active else "none")
        except requests.RequestException as exc:
            alerts = Check(name="no-active-alerts", ok=False, detail=f"Prometheus unreachable: {exc}")
        return [*service_recovered(target, spec.recovery), alerts]

    with target.http() as http:
        held = carry.take(target, carry.service(spec.recovery), limits.stable_s)
        if held is not None:  # the previous drill's recovery hold, nothing changed since: one probe suffices
            checks = probe(http)
            if all(c.ok for c in checks):
                return result.check("steady-state", True, (
                    f"carried over from {held.drill}: stable for {held.stable_s:.0f}s until "
                    f"{time.time() - held.at:.0f}s ago, no object, pod or node changed since; now "
                    + "; ".join(c.detail for c in checks)))
        stable = hold(lambda: probe(http), lambda: restarts(target, spec.recovery), limits.stable_s,
                      time.time() + ctx.steady_timeout_s)
    detail = "; ".join(c.detail for c in stable.checks if not c.ok) or "; ".join(c.detail for c in stable.checks)
    if not stable.ok:
        result.reason = f"steady state not reached before the fault: {detail}"
    return result.check("steady-state", stable.ok, detail)


def _inject_and_verify(drill: ResolvedDrill, ctx: RunContext, plugin: registry.FaultPlugin, params: object,
                       plan: _Plan, result: DrillResult) -> None:
    spec, target, journal = drill.spec, ctx.target, ctx.journal
    assert result.fault is not None
    watcher = AlertWatcher(target.prometheus_url(), target.http()).start()
    undo = plugin.undo(target, params)
    snapshot = target.snapshot()
    journal.add(JournalEntry(drill_id=spec.id, target=target.describe(), fault_kind=plugin.kind, undo=undo,
                             snapshot=snapshot))
    t0 = time.time()
    try:
        ctx.events("inject", f"injecting {plugin.kind}: {plugin.summary}")
        result.fault.injected_at = t0
        plan.guard.start()
        plugin.inject(target, params)
        journal.set_phase(spec.id, "injected")
        try:
            result.fault.evidence = plugin.confirm(target, params, t0, plan.limits.confirm_s)
            result.fault.confirmed_at = time.time()
            result.check("fault-took-effect", True, f"confirmed after {result.fault.confirmed_at - t0:.1f}s")
        except FaultError as exc:
            result.check("fault-took-effect", False, str(exc))
            result.reason = "the fault did not take effect, so the runbook was not exercised"
            return
        journal.set_phase(spec.id, "detecting")
        _detect(plan, t0, watcher, result, ctx)
        journal.set_phase(spec.id, "remediating")
        if plan.guard.lost_now():  # lost since the watchdog's last round: no runbook step runs against it
            raise KeyboardInterrupt
        _remediate(drill, ctx, plan, t0, result)
        plan.secrets |= target.secret_values()  # the runbook may have written a new key
        journal.set_phase(spec.id, "recovering")
        _recover(drill, ctx, plan, t0, watcher, result)
    finally:
        with _signals_deferred():  # a guard's SIGINT or a Ctrl-C during stop() must not skip the revert
            plan.guard.stop()
            if sys.exc_info()[0] is not None and not isinstance(sys.exc_info()[1], KeyboardInterrupt):
                plan.guard.lost_now()  # a failure may be the target's loss: then there is nothing to revert
            _revert(drill, ctx, plugin, undo, snapshot, plan, t0, watcher, result)


def _revert(drill: ResolvedDrill, ctx: RunContext, plugin: registry.FaultPlugin, undo: dict[str, object],
            snapshot: object, plan: _Plan, t0: float, watcher: AlertWatcher, result: DrillResult) -> None:
    """Put the fault back, restore the target's pre-drill state, collect alert timings and charts."""
    spec, target = drill.spec, ctx.target
    assert result.fault is not None
    if plan.guard.lost:  # nothing can be reverted on a lost target: the journal keeps the entry for cleanup
        ctx.events("revert", f"{plan.guard.lost}: {plugin.kind} left in the journal for `drillbook cleanup`")
        result.fault.revert_error = f"not reverted: {plan.guard.lost}"
        watcher.stop()
        return
    ctx.events("revert", f"reverting {plugin.kind}")
    try:
        ctx.journal.set_phase(spec.id, "reverting")
        plugin.revert(target, undo)
        target.restore(snapshot)
        ctx.journal.remove(spec.id)
    except Exception as exc:  # keep the journal entry: cleanup will retry
        result.fault.revert_error = f"{type(exc).__name__}: {exc}"
        result.check("fault-reverted", False, result.fault.revert_error)
    result.fault.reverted_at = time.time()
    watcher.stop()
    result.alerts = [AlertTiming(name=t.name, expected=t.name in plan.expected, pending_at=t.pending_at,
                                 firing_at=t.firing_at, resolved_at=t.resolved_at, severity=t.severity)
                     for t in watcher.snapshot().values()]
    for name in plan.expected:
        if name not in {a.name for a in result.alerts}:
            result.alerts.append(AlertTiming(name=name, expected=True))
    scrape, _ = target.scrape_and_eval_seconds()
    with target.http() as http:
        result.series, problems = series.fetch(target.prometheus_url(), spec.series, t0 - SERIES_LEAD_S,
                                               result.fault.reverted_at + 2 * scrape, scrape, session=http)
    result.findings.extend(problems)
    try:
        target.wait_steady(ctx.steady_timeout_s)
    except DrillbookError as exc:  # the next drill would start broken: this drill's revert failed
        result.check("steady-after-revert", False, str(exc))
        carry.offer(target, None)
    else:
        carry.offer(target, None if result.fault.revert_error else plan.held)


def _detect(plan: _Plan, t0: float, watcher: AlertWatcher, result: DrillResult, ctx: RunContext) -> None:
    budget, expected = plan.budgets["detect"], plan.expected
    ctx.events("detect", f"waiting for {', '.join(expected) or 'no alert'} to fire (budget {budget.seconds:.0f}s)")
    tracks = watcher.wait_for(expected, "firing",
                              time.monotonic() + budget.seconds + plan.limits.overrun_s - (time.time() - t0))
    fired = []
    for name in expected:
        track = tracks.get(name)
        firing_at = track.firing_at if track else None
        detail = f"firing {firing_at - t0:.1f}s after the fault" if firing_at \
            else f"not firing within {budget.seconds + plan.limits.overrun_s:.0f}s"
        result.check(f"alert-fired:{name}", firing_at is not None, detail)
        if firing_at:
            fired.append(firing_at)
    if fired and len(fired) == len(expected):
        result.ttd_s = round(max(fired) - t0, 3)
    if expected:  # a drill that expects no alert has no detection to time
        _judge(result, budget, result.ttd_s, "within-budget:detect", "every expected alert firing")


def _judge(result: DrillResult, budget: Budget, actual_s: float | None, check: str, what: str) -> None:
    judged = budgets.judge(budget, actual_s)
    result.budgets.append(judged)
    result.check(check, judged.ok, budgets.describe(judged, what))


def _bindings(drill: ResolvedDrill, result: DrillResult) -> dict[str, str]:
    """Placeholder values: what the fault chose (e.g. NODE_NAME, from its evidence), then the spec's ``bind``."""
    evidence = result.fault.evidence if result.fault else {}
    return {**evidence.get("bindings", {}), **drill.spec.bind}


def _remediate(drill: ResolvedDrill, ctx: RunContext, plan: _Plan, t0: float, result: DrillResult) -> None:
    spec = drill.spec
    commands = drill.commands
    selected = steps.select(commands, spec.steps)
    ctx.events("remediate", f"running {len(selected)} runbook step(s)")
    steps.execute(commands, selected, _bindings(drill, result), ctx.target.step_environment(),
                  plan.limits.step_timeout_s, results=result.steps,
                  on_step=lambda c: ctx.events("step", f"line {c.line}: {c.text[:90]}"))
    ran = [s for s in result.steps if s.status == "ran"]
    failed = [f"line {s.line} exited {s.exit_code}" for s in ran if s.exit_code != 0]
    result.check("remediation-steps-succeeded", bool(ran) and not failed,
                 "; ".join(failed) if failed else f"{len(ran)} step(s) ran" if ran else "no runbook step ran")
    for s in result.steps:
        if s.status in ("skipped-manual", "skipped-external", "unbound"):
            result.findings.append(f"{spec.runbook_file}:{s.line}: {s.status}: {s.reason}")
    ends = [s.started_at + (s.duration_s or 0) for s in ran if s.started_at is not None]
    result.ttm_s = round(max(ends) - t0, 3) if ends else None
    _judge(result, plan.budgets["mitigate"], result.ttm_s, "within-budget:mitigate", "runbook steps finished")


def _recover(drill: ResolvedDrill, ctx: RunContext, plan: _Plan, t0: float, watcher: AlertWatcher,
             result: DrillResult) -> None:
    spec, target_budget = drill.spec, plan.budgets["recover"]
    stable_s = plan.limits.stable_s
    ctx.events("recover", f"verifying recovery (target {target_budget.seconds:.0f}s from the fault, "
                          f"stable for {stable_s:.0f}s)")

    # what the remediation promises (recovery.conditions) is bound like its steps, plus when the fault went in
    bindings = {**_bindings(drill, result), "INJECTED_AT": f"{t0:.3f}"}

    def probe() -> list[Check]:
        tracks = watcher.snapshot()
        checks = [Check(name=f"service-recovered:{c.name}", ok=c.ok, detail=c.detail, at=c.at)
                  for c in [*service_recovered(ctx.target, spec.recovery),
                            *conditions.holding(ctx.target, spec.recovery.conditions, bindings)]]
        for name in plan.expected:
            state = tracks[name].state if name in tracks else "inactive"
            if name in plan.lasting:  # must still fire: the cause is not gone, only worked around
                checks.append(Check(name=f"alert-still-firing:{name}", ok=state == "firing",
                                    detail=f"{state} (expected to keep firing until the cause is removed)"))
            else:
                checks.append(Check(name=f"alert-resolved:{name}", ok=state == "inactive",
                                    detail="resolved" if state == "inactive" else f"still {state}"))
        others = [n for n in watcher.firing("critical") if n not in plan.expected]
        checks.append(Check(name="no-other-critical-alerts", ok=not others,
                            detail=f"firing: {others}" if others else "none"))
        return checks

    # Measure past the budget, so a late recovery is reported with how late it was; stop at the earlier of the
    # two budgets plus the overrun window (never less than the stability hold, or a recovery just before the
    # budget could not be confirmed): a P3 drill does not wait a day.
    resolve_budget = plan.budgets["resolve"]
    horizon = min(target_budget.seconds, resolve_budget.seconds) + max(plan.limits.overrun_s, stable_s)
    stable = hold(probe, lambda: restarts(ctx.target, spec.recovery), stable_s, t0 + horizon)
    for c in stable.checks:
        result.check(c.name, c.ok, c.detail, c.at)
    if stable.ok and stable.since is not None:
        result.ttr_s = round(stable.since - t0, 3)
        plan.held = carry.Verified(drill=spec.id, version=ctx.target.state_version(), at=time.time(),
                                   stable_s=stable_s, service=carry.service(spec.recovery))
    _judge(result, target_budget, result.ttr_s, "within-target", f"recovered (and stable for {stable_s:.0f}s)")
    if result.ttr_s is not None or horizon >= resolve_budget.seconds:
        _judge(result, resolve_budget, result.ttr_s, "within-budget:resolve", "resolved")
    else:  # measurement stopped before the resolution budget ended: no verdict on it either way
        result.findings.append(f"resolution budget ({resolve_budget.seconds:.0f}s) not judged: not recovered "
                               f"{horizon:.0f}s after the fault, when measuring stopped")
    manual = [s for s in result.steps if s.status in ("skipped-manual", "skipped-external")]
    if manual:
        result.findings.append(f"the automatable steps alone {'recovered' if stable.ok else 'did not recover'} "
                               f"the service ({len(manual)} manual/external step(s) not run)")


def _finish(result: DrillResult, secrets: set[str], keep_verdict: bool = False) -> DrillResult:
    """Stamp the end, decide the verdict, and mask every secret in the result before anyone sees it."""
    result = DrillResult.model_validate(scrub(result.model_dump(), secrets))
    result.finished_at = time.time()
    if result.started_at:
        result.wall_s = round(result.finished_at - result.started_at, 3)
    if not keep_verdict:
        drill_problem = {"fault-took-effect", "steady-state", "drill-completed", "fault-reverted",
                         "target-reachable", "steady-after-revert", "abort-condition", "not-interrupted"}
        if not result.failed_checks:
            result.verdict = Verdict.PASSED
        elif drill_problem & set(result.failed_checks):
            result.verdict = Verdict.ERROR
        else:
            result.verdict = Verdict.FAILED
    return result


@contextmanager
def _sigint_delivered() -> Iterator[None]:
    """Ctrl-C and the abort guards stop a drill through SIGINT; a process started in the background by a
    script (``cmd &``) begins with SIGINT ignored, which would silence both. Deliver it for the drill."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Let a revert finish: a Ctrl-C or SIGTERM that arrives during it is delivered afterwards."""
    pending: list[int] = []
    deferred = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {s: signal.signal(s, lambda signum, _frame: pending.append(signum)) for s in deferred}
    except ValueError:  # not in the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:
            raise KeyboardInterrupt
