"""The runner's edge paths, on an in-memory target (tests/fakes.py), without root.

The drill is the documented example (examples/checkout): ``config-error`` drops DATABASE_URL, every replica
crash-loops, CheckoutDown fires, the runbook's kubectl steps put the key back and restart the Deployment.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from drills import carry, registry
from drills.journal import Journal
from drills.model import AbortCondition, Budgets, DrillResult, RecoveryCondition, StepSelector, Verdict
from drills.runner import RunContext, run_drill
from drills.specs import load_spec, resolve
from drills.targets.base import Target, WorkloadRef
from tests.fakes import FakeTarget, checkout_app, http_server, prometheus

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checkout" / "drills" / "checkout-down" / \
    "database-url-missing.yaml"
QUICK = Budgets(detect_s=10, confirm_s=10, overrun_s=5, stable_s=0.3, step_timeout_s=20)


@dataclass
class World:
    target: FakeTarget
    app_port: int
    journal: Journal
    queries: list[Callable[[str], list[dict[str, Any]]]]

    def run(self, **update: Any) -> DrillResult:
        spec = load_spec(EXAMPLE)
        recovery = spec.recovery.model_copy(update={"port": self.app_port})
        spec = spec.model_copy(update={"recovery": recovery, "budgets": QUICK, "abort": [], **update})
        assert isinstance(self.target, Target)  # the fake keeps up with the protocol
        return run_drill(resolve(spec), RunContext(target=self.target, journal=self.journal, steady_timeout_s=10))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    holder: list[FakeTarget] = []
    queries: list[Callable[[str], list[dict[str, Any]]]] = [lambda expr: []]
    with ExitStack() as stack:
        app = stack.enter_context(http_server(checkout_app(lambda: holder[0])))
        prom = stack.enter_context(http_server(prometheus(lambda: holder[0], lambda expr: queries[0](expr))))
        holder.append(FakeTarget(tmp_path / "target", app_url=app, prometheus=prom))
        yield World(holder[0], int(app.rsplit(":", 1)[1]), Journal(tmp_path / "journal.json"), queries)


def names(result: DrillResult) -> list[str]:
    return [c.name for c in result.checks]


def test_the_example_drill_passes_on_the_fake_target(world: World) -> None:
    result = world.run()
    assert result.verdict == Verdict.PASSED, (result.reason, result.failed_checks)
    assert {"alert-fired:CheckoutDown", "within-budget:detect", "service-recovered:end-to-end-request",
            "alert-resolved:CheckoutDown", "within-target", "within-budget:resolve"} <= set(names(result))
    assert [s.status for s in result.steps] == ["ran", "ran", "not-selected"]
    assert world.target.unknown == [] and world.target.config["DATABASE_URL"].startswith("postgres://")
    assert world.journal.entries() == []


def test_a_drill_that_expects_no_alert_has_no_detection_to_judge(world: World) -> None:
    result = world.run(expect_alerts=[])
    assert result.verdict == Verdict.PASSED, (result.reason, result.failed_checks)
    assert not [n for n in names(result) if n.startswith(("alert-fired", "within-budget:detect", "alert-resolved"))]
    assert [b.phase for b in result.budgets] == ["mitigate", "recover", "resolve"] and result.ttd_s is None
    # CheckoutDown fires while no replica is ready; the runbook may fix that before the watcher's next poll,
    # so it may or may not be on record — when it is, it is recorded as not expected.
    assert all(not a.expected for a in result.alerts), result.alerts


@pytest.mark.parametrize(("resolve_s", "judged"), [(3600.0, False), (0.5, True)])
def test_a_resolution_budget_beyond_the_measurement_is_not_judged(world: World, resolve_s: float,
                                                                  judged: bool) -> None:
    # Only the restart runs, not the patch that puts the key back: the service never recovers.
    spec_budgets = QUICK.model_copy(update={"recover_s": 0.5, "resolve_s": resolve_s, "overrun_s": 0.0})
    result = world.run(steps=[StepSelector(contains="rollout restart")], budgets=spec_budgets)
    assert result.verdict == Verdict.FAILED
    assert "within-target" in result.failed_checks and result.ttr_s is None
    assert [s.status for s in result.steps] == ["not-selected", "ran", "not-selected"]
    not_judged = [f for f in result.findings if f.startswith("resolution budget (3600s) not judged")]
    if judged:
        assert "within-budget:resolve" in result.failed_checks and not not_judged
    else:
        assert "within-budget:resolve" not in names(result) and not_judged, result.findings
    assert world.target.ready_pods() == world.target.replicas  # the revert still put the service back


def test_an_abort_condition_that_trips_as_the_drill_stops_still_fails_it(world: World) -> None:
    """The guard's query answers true only after the service recovered and the drill began stopping the
    guard: no signal is sent any more (nothing left to interrupt), but the trip must not go unreported."""

    def late(expr: str) -> list[dict[str, Any]]:
        if not world.target.recovered.is_set():
            return []
        time.sleep(2.5)  # the runner stops the guard well within this (its own query timeout is 5s)
        return [{"metric": {}, "value": [time.time(), "7"]}]

    world.queries[0] = late
    abort = [AbortCondition(expr="storefront_errors > 5", description="storefront failing")]
    result = world.run(abort=abort)
    assert result.verdict == Verdict.ERROR
    assert result.failed_checks == ["abort-condition"], result.failed_checks
    tripped = next(c for c in result.checks if c.name == "abort-condition")
    assert "storefront failing" in tripped.detail and "value 7" in tripped.detail
    assert result.ttr_s is not None  # it recovered: only the guard failed it


def steady_detail(result: DrillResult) -> str:
    return next(c.detail for c in result.checks if c.name == "steady-state")


def test_a_steady_state_just_verified_is_carried_to_the_next_drill_when_nothing_changed(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # The runbook put the key back and restarted the pods itself; a revert with nothing left to do (the key
    # already there) changes nothing, so the recovery hold's steady state still stands for the next drill.
    world.target.config["DATABASE_URL"] = load_spec(EXAMPLE).bind["DATABASE_URL"]  # the runbook's own value
    plugin = registry.fault("config-error")
    monkeypatch.setattr(registry, "fault", lambda kind: dataclasses.replace(
        plugin, revert=lambda target, record: target.set_config(record["namespace"], record["configmap"],
                                                                record["data"])))
    first = world.run()
    second = world.run()
    assert first.verdict == second.verdict == Verdict.PASSED, (second.reason, second.failed_checks)
    assert "carried over" not in steady_detail(first)
    assert steady_detail(second).startswith("carried over from checkout-down/database-url-missing"), \
        steady_detail(second)
    third = world.run()  # the second drill's own revert recycled nothing either: carried again
    assert "carried over" in steady_detail(third)


def test_a_revert_that_replaces_the_pods_ends_the_carried_steady_state(world: World) -> None:
    assert world.run().verdict == Verdict.PASSED  # config-error's revert recycles the pods
    second = world.run()
    assert second.verdict == Verdict.PASSED and "carried over" not in steady_detail(second)


@pytest.mark.parametrize("between", ["pods replaced", "too old", "longer hold"])
def test_a_steady_state_is_held_again_after_any_change_or_when_old(world: World, between: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.run().verdict == Verdict.PASSED
    update: dict[str, Any] = {}
    if between == "pods replaced":
        world.target.restart(WorkloadRef("Deployment", world.target.namespace, world.target.workload))
    elif between == "too old":
        monkeypatch.setattr(carry, "MAX_AGE_S", 0.0)
    else:
        update["budgets"] = QUICK.model_copy(update={"stable_s": 0.6})
    second = world.run(**update)
    assert second.verdict == Verdict.PASSED, (second.reason, second.failed_checks)
    assert "carried over" not in steady_detail(second)


@pytest.mark.parametrize("holds", [True, False])
def test_a_recovery_condition_is_held_after_the_runbook_and_names_its_check(world: World, holds: bool) -> None:
    """The service recovers either way; a condition that does not hold (the remediation's promise not kept)
    fails the drill by name. It is asked only after the runbook, with ${INJECTED_AT} bound to the fault's time."""
    asked: list[str] = []

    def query(expr: str) -> list[dict[str, Any]]:
        asked.append(expr)
        return [{"metric": {}, "value": [time.time(), "0.2"]}] if holds else []

    world.queries[0] = query
    spec = load_spec(EXAMPLE)
    condition = RecoveryCondition(expr="orders_rate[{window}] @ ${INJECTED_AT} > 0", description="orders flow")
    recovery = spec.recovery.model_copy(update={"port": world.app_port, "conditions": [condition]})
    budgets = QUICK.model_copy(update={"recover_s": 3.0, "resolve_s": 3.0, "overrun_s": 0.0})
    result = world.run(recovery=recovery, budgets=budgets)
    check = next(c for c in result.checks if c.name == "service-recovered:condition:orders flow")
    assert result.fault is not None and result.fault.injected_at is not None
    assert asked and all(q == f"orders_rate[15s] @ {result.fault.injected_at:.3f} > 0" for q in asked), asked[:3]
    if holds:
        assert result.verdict == Verdict.PASSED and check.ok, (result.reason, result.failed_checks)
    else:
        assert result.verdict == Verdict.FAILED and not check.ok
        assert {"service-recovered:condition:orders flow", "within-target"} <= set(result.failed_checks)
        assert "service-recovered:end-to-end-request" not in result.failed_checks  # the service itself serves
