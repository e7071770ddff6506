"""Deployment/StatefulSet controller arithmetic: surge/unavailable budgets, stalls, Recreate, ordinals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from drills.targets.local.workloads import int_or_percent, plan_deployment, plan_statefulset, template_hash

OLD, NEW = "oldhash000", "newhash111"


@dataclass
class P:
    name: str
    template_hash: str
    ready: bool


def deploy(replicas: int = 2, **strategy: object) -> dict:
    return {"replicas": replicas, "strategy": dict(strategy)}


# -- template_hash / int_or_percent ------------------------------------------------------------------
def test_template_hash_is_stable_short_and_key_order_independent() -> None:
    a = {"metadata": {"labels": {"app": "x", "tier": "web"}},
         "spec": {"containers": [{"name": "c", "image": "i:1"}]}}
    b = {"spec": {"containers": [{"image": "i:1", "name": "c"}]},
         "metadata": {"labels": {"tier": "web", "app": "x"}}}
    assert template_hash(a) == template_hash(b)
    assert len(template_hash(a)) == 10 and all(c in "0123456789abcdef" for c in template_hash(a))
    changed = {**a, "spec": {"containers": [{"name": "c", "image": "i:2"}]}}
    assert template_hash(changed) != template_hash(a)


@pytest.mark.parametrize(("value", "replicas", "up", "expected"), [
    ("25%", 2, True, 1), ("25%", 2, False, 0), ("25%", 4, True, 1), ("25%", 4, False, 1),
    ("33%", 10, True, 4), ("33%", 10, False, 3), ("50%", 3, True, 2), ("50%", 3, False, 1),
    (2, 10, True, 2), ("1", 10, False, 1), ("0%", 5, True, 0),
])
def test_int_or_percent(value: object, replicas: int, up: bool, expected: int) -> None:
    assert int_or_percent(value, replicas, round_up=up) == expected


# -- RollingUpdate ----------------------------------------------------------------------------------
def test_steady_deployment_does_nothing() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("a", NEW, True), P("b", NEW, True)])
    assert (plan.create, plan.delete) == (0, [])


def test_empty_deployment_creates_all_replicas() -> None:
    plan = plan_deployment(deploy(3), NEW, [])
    assert (plan.create, plan.delete) == (3, [])


def test_template_change_surges_one_and_keeps_old_pods() -> None:
    # default 25%/25% of 2 replicas: maxSurge 1, maxUnavailable 0
    plan = plan_deployment(deploy(2), NEW, [P("a", OLD, True), P("b", OLD, True)])
    assert (plan.create, plan.delete) == (1, [])


def test_new_pod_not_ready_yet_nothing_more_happens() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("a", OLD, True), P("b", OLD, True), P("n1", NEW, False)])
    assert (plan.create, plan.delete) == (0, [])


def test_new_pod_ready_deletes_exactly_one_old() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("a", OLD, True), P("b", OLD, True), P("n1", NEW, True)])
    assert plan.create == 0
    assert len(plan.delete) == 1 and plan.delete[0] in {"a", "b"}


def test_after_one_old_deleted_second_new_pod_is_created() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("b", OLD, True), P("n1", NEW, True)])
    assert (plan.create, plan.delete) == (1, [])


def _simulate(spec: dict, steps: int, new_becomes_ready: bool,
              start: list[P]) -> tuple[list[P], list[int], list[int]]:
    """Run the controller loop: created pods appear not ready; optionally become ready on the next step."""
    pods = list(start)
    totals, ready_counts = [], []
    counter = 0
    for _ in range(steps):
        plan = plan_deployment(spec, NEW, pods)
        pods = [p for p in pods if p.name not in plan.delete]
        if new_becomes_ready:
            for p in pods:
                if p.template_hash == NEW:
                    p.ready = True
        for _ in range(plan.create):
            counter += 1
            pods.append(P(f"new-{counter}", NEW, False))
        totals.append(len(pods))
        ready_counts.append(sum(p.ready for p in pods))
    return pods, totals, ready_counts


def test_stalled_rollout_keeps_old_pods_and_is_bounded_by_surge() -> None:
    """REFERENCE subtlety: a bad image's pods never become Ready; the old ones keep serving."""
    start = [P("a", OLD, True), P("b", OLD, True)]
    pods, totals, ready_counts = _simulate(deploy(2), 10, new_becomes_ready=False, start=start)
    assert sorted(p.name for p in pods if p.template_hash == OLD) == ["a", "b"]
    assert [p.name for p in pods if p.template_hash == NEW] == ["new-1"]  # surge 1, never more
    assert max(totals) == 3
    assert min(ready_counts) == 2


def test_stalled_rollout_with_larger_budget_stops_at_replicas_plus_surge() -> None:
    start = [P(f"o{i}", OLD, True) for i in range(4)]
    spec = deploy(4, type="RollingUpdate", rollingUpdate={"maxSurge": 1, "maxUnavailable": 1})
    pods, totals, ready_counts = _simulate(spec, 10, new_becomes_ready=False, start=start)
    assert max(totals) == 5  # replicas + maxSurge
    assert sum(p.template_hash == OLD for p in pods) == 3  # only maxUnavailable old pods gone
    assert min(ready_counts) == 3  # replicas - maxUnavailable


def test_healthy_rollout_completes_without_losing_capacity() -> None:
    start = [P("a", OLD, True), P("b", OLD, True)]
    pods, totals, ready_counts = _simulate(deploy(2), 10, new_becomes_ready=True, start=start)
    assert all(p.template_hash == NEW and p.ready for p in pods) and len(pods) == 2
    assert max(totals) <= 3
    assert min(ready_counts) >= 2  # maxUnavailable 0


def test_crash_looping_old_pods_are_deleted_at_once_and_all_new_created() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("a", OLD, False), P("b", OLD, False)])
    assert plan.create == 2
    assert sorted(plan.delete) == ["a", "b"]


def test_only_unready_old_pod_deleted_when_mixed() -> None:
    plan = plan_deployment(deploy(2), NEW, [P("a", OLD, True), P("b", OLD, False)])
    assert plan.delete == ["b"]
    assert plan.create == 2  # total a + 2 new = replicas + surge


def test_int_surge_and_unavailable() -> None:
    spec = deploy(4, rollingUpdate={"maxSurge": 2, "maxUnavailable": 1})
    plan = plan_deployment(spec, NEW, [P(f"o{i}", OLD, True) for i in range(4)])
    assert plan.create == 2
    assert len(plan.delete) == 1


def test_zero_surge_and_zero_unavailable_falls_back_to_one_unavailable() -> None:
    spec = deploy(2, rollingUpdate={"maxSurge": 0, "maxUnavailable": 0})
    plan = plan_deployment(spec, NEW, [P("a", OLD, True), P("b", OLD, True)])
    assert plan.create == 0
    assert len(plan.delete) == 1


def test_percent_surge_of_ten_replicas() -> None:
    spec = deploy(10, rollingUpdate={"maxSurge": "30%", "maxUnavailable": "10%"})
    plan = plan_deployment(spec, NEW, [P(f"o{i}", OLD, True) for i in range(10)])
    assert plan.create == 3  # ceil(3.0)
    assert len(plan.delete) == 1  # floor(1.0)


# -- Recreate ---------------------------------------------------------------------------------------
def test_recreate_deletes_all_old_before_creating() -> None:
    spec = deploy(2, type="Recreate")
    plan = plan_deployment(spec, NEW, [P("a", OLD, True), P("b", OLD, True)])
    assert (plan.create, sorted(plan.delete)) == (0, ["a", "b"])
    plan = plan_deployment(spec, NEW, [])
    assert (plan.create, plan.delete) == (2, [])


def test_recreate_tops_up_missing_new_pods() -> None:
    plan = plan_deployment(deploy(3, type="Recreate"), NEW, [P("n1", NEW, True)])
    assert (plan.create, plan.delete) == (2, [])


# -- scale down -------------------------------------------------------------------------------------
def test_scale_down_prefers_not_ready_pods() -> None:
    pods = [P("a", NEW, True), P("b", NEW, False), P("c", NEW, True)]
    plan = plan_deployment(deploy(2), NEW, pods)
    assert (plan.create, plan.delete) == (0, ["b"])


def test_scale_down_to_zero() -> None:
    plan = plan_deployment(deploy(0), NEW, [P("a", NEW, True), P("b", NEW, True)])
    assert (plan.create, sorted(plan.delete)) == (0, ["a", "b"])


# -- StatefulSet ------------------------------------------------------------------------------------
def test_statefulset_creates_ordinals() -> None:
    assert plan_statefulset({"replicas": 3}, "redis", NEW, []) == (["redis-0", "redis-1", "redis-2"], [])


def test_statefulset_steady_and_scale_down() -> None:
    pods = [P("redis-0", NEW, True), P("redis-1", NEW, True)]
    assert plan_statefulset({"replicas": 2}, "redis", NEW, pods) == ([], [])
    assert plan_statefulset({"replicas": 1}, "redis", NEW, pods) == ([], ["redis-1"])


def test_statefulset_replaces_highest_outdated_ordinal_first() -> None:
    pods = [P("redis-0", OLD, True), P("redis-1", OLD, True), P("redis-2", OLD, True)]
    assert plan_statefulset({"replicas": 3}, "redis", NEW, pods) == ([], ["redis-2"])


def test_statefulset_waits_for_others_to_be_ready() -> None:
    pods = [P("redis-0", OLD, True), P("redis-1", NEW, False)]
    assert plan_statefulset({"replicas": 2}, "redis", NEW, pods) == ([], [])
    pods[1].ready = True
    assert plan_statefulset({"replicas": 2}, "redis", NEW, pods) == ([], ["redis-0"])


def test_statefulset_replaces_outdated_crashing_pod_itself() -> None:
    # the outdated pod's own readiness does not block its replacement (others are ready)
    pods = [P("redis-0", OLD, False)]
    assert plan_statefulset({"replicas": 1}, "redis", NEW, pods) == ([], ["redis-0"])
    assert plan_statefulset({"replicas": 1}, "redis", NEW, []) == (["redis-0"], [])
