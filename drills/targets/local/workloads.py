"""Deployment and StatefulSet controllers as plain functions: given the spec and the pods, what to do.

Only the arithmetic lives here (template hashes, rolling-update surge/unavailable budgets, revisions), so it
can be tested without processes. The semantics follow kube-controller-manager closely enough for the
stories the runbooks tell: a RollingUpdate whose new pods never become Ready stalls while the old pods keep
serving; old pods that are not Ready are scaled down first; ``Recreate`` removes every old pod before any new
one starts.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Obj = dict[str, Any]


class PodView(Protocol):
    name: str
    template_hash: str

    @property
    def ready(self) -> bool: ...


def template_hash(template: Obj) -> str:
    """Stable short hash of a pod template, like the ``pod-template-hash`` label."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return digest[:10]


def int_or_percent(value: Any, replicas: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        raw = replicas * int(value[:-1]) / 100
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(value)


@dataclass
class RolloutPlan:
    create: int
    delete: list[str]


def plan_deployment(spec: Obj, current_hash: str, pods: Sequence[PodView]) -> RolloutPlan:
    """One reconcile step of a Deployment: how many new pods to create, which pods to delete."""
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy", {}) or {}
    new = [p for p in pods if p.template_hash == current_hash]
    old = [p for p in pods if p.template_hash != current_hash]
    delete: list[str] = []

    if len(new) > replicas:  # scaled down
        surplus = sorted(new, key=lambda p: p.ready)[: len(new) - replicas]
        delete += [p.name for p in surplus]
        new = [p for p in new if p.name not in delete]

    if strategy.get("type") == "Recreate":
        if old:
            return RolloutPlan(0, delete + [p.name for p in old])
        return RolloutPlan(max(0, replicas - len(new)), delete)

    rolling = strategy.get("rollingUpdate", {}) or {}
    max_surge = int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    max_unavailable = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if max_surge == 0 and max_unavailable == 0:
        max_unavailable = 1

    # Old pods that are not Ready carry no traffic: remove them first (cleanupUnhealthyReplicas).
    unhealthy_old = [p for p in old if not p.ready]
    delete += [p.name for p in unhealthy_old]
    old = [p for p in old if p.ready]

    create = max(0, min(replicas - len(new), replicas + max_surge - len(new) - len(old)))
    if not old:
        create = max(0, replicas - len(new))

    ready = sum(p.ready for p in new) + len(old)
    min_available = replicas - max_unavailable
    removable = max(0, ready - min_available)
    delete += [p.name for p in old[:removable]]
    return RolloutPlan(create, delete)


def plan_statefulset(spec: Obj, name: str, current_hash: str, pods: Sequence[PodView]) -> tuple[list[str], list[str]]:
    """StatefulSet: ordinal pods ``name-0..n-1``; a pod on an old template is replaced (highest first)."""
    replicas = int(spec.get("replicas", 1))
    wanted = [f"{name}-{i}" for i in range(replicas)]
    by_name = {p.name: p for p in pods}
    delete = [p.name for p in pods if p.name not in wanted]
    outdated = [n for n in reversed(wanted) if n in by_name and by_name[n].template_hash != current_hash]
    if outdated and all(by_name[n].ready for n in wanted if n in by_name and n not in outdated[:1]):
        delete.append(outdated[0])
    create = [n for n in wanted if n not in by_name]
    return create, delete
