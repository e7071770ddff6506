"""Traffic and spend faults: what the service is asked to do changes, and the bill (or the latency) follows.

Runbook 4 "Cost Spike" and Runbook 3 "Large Context Windows" have no broken part: the agents are healthy and
answer 200, they are asked for more, or configured to spend more. Each fault changes one of the two levers a
production incident of that kind comes from, through the target interface only:

- ``expensive-model`` (Model Misconfiguration): a config change sets ``DEFAULT_MODEL`` in the agents'
  ConfigMap to the most expensive model and is rolled out (``rollout restart``, as a deploy would): every
  request is billed at that model's price. Proven from the provider's bill (every dollar billed since the
  rollout is on that model) and the spend rate (more than ``cost_ratio`` times the one before the fault).
- ``traffic-shift`` (Bot/Abuse, Inefficient Prompts, Feature Launch, Large Context): the load generator's
  ConfigMap (its clients) changes and it is restarted: a flood from one user id, long conversations of long
  messages, a step up in traffic. Proven by the symptoms the runbook lists, each optional: the spend rate
  against its pre-fault value, tokens per request, and the share of requests made by the top user — whose id
  the evidence binds to the runbook's ``${USER_ID}``.

Symptoms are read in :mod:`faults.spend`. Every change is undone by putting back the keys' earlier values
(absent keys removed again); the snapshot restore after it rolls the restarted workload back (see
:func:`revert`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from pydantic import BaseModel, Field

from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import ConfigChange, apply_config_change, config_change_undo, wait_for
from faults.spend import COST, TOKENS_PER_REQUEST, BillSource, bill, billed_since, query, requests_by_user

SETTLE_S = 3.0  # spend per model is compared over this long, once the rollout is complete


def revert(target: Target, record: Undo) -> None:
    """Put the keys back (a key that was absent is removed).

    No restart here: the injection restarted the workload, so its template differs from the pre-drill one,
    and the target's snapshot restore that follows every revert (in the runner and in ``drillbook cleanup``)
    rolls it back to that template, which starts fresh pods reading these values. A restart here would be a
    second rollout racing that restore's write (409 Conflict) for nothing."""
    target.set_config(record["namespace"], record["configmap"], record["data"])


def _spend_rate(target: Target, baseline: float | None, ratio: float) -> dict[str, float] | None:
    """The spend rate if it is over ``ratio`` times ``baseline`` (the rate just before the fault)."""
    now = query(target, COST)
    if not baseline or now is None or now <= ratio * baseline:
        return None
    return {"cost_per_s_before": round(baseline, 6), "cost_per_s": round(now, 6), "ratio": round(now / baseline, 2)}


# -- expensive-model ------------------------------------------------------------------------------
class ExpensiveModelParams(BaseModel):
    change: ConfigChange = Field(description="the config change, e.g. DEFAULT_MODEL: claude-3-opus-20240229")
    model: str = Field(description="the expensive model every request must then be billed on")
    bill: BillSource = Field(description="where the provider's bill per model is read")
    cost_ratio: float = Field(default=2.0, gt=1, description="spend rate over its pre-fault value, at least")


def model_undo(target: Target, p: ExpensiveModelParams) -> Undo:
    return config_change_undo(target, p.change)


def model_inject(target: Target, p: ExpensiveModelParams) -> None:
    apply_config_change(target, p.change)


def model_confirm(target: Target, p: ExpensiveModelParams, since: float, timeout_s: float) -> Evidence:
    """Every replica runs the change, every dollar billed since then is on ``model``, spend is up."""
    baseline = query(target, COST, at=since)
    ref = WorkloadRef.parse(p.change.workload, p.change.namespace)
    evidence: dict[str, Any] = {}

    def billed_on_model() -> dict[str, Any] | None:
        s = target.rollout_status(ref)
        if not s["updatedReadyReplicas"] == s["replicas"] == s["currentReplicas"]:
            return None
        before = bill(target, p.bill)
        time.sleep(SETTLE_S)
        billed = billed_since(before, bill(target, p.bill))
        if not billed or set(billed) != {p.model}:
            return None
        return {"billed_per_model": billed, "over_s": SETTLE_S}

    evidence["bill"] = wait_for(billed_on_model, timeout_s, f"every request billed on {p.model}")
    remaining = max(1.0, timeout_s - (time.time() - since))
    evidence["spend"] = wait_for(lambda: _spend_rate(target, baseline, p.cost_ratio), remaining,
                                 f"spend rate over {p.cost_ratio:g}x its pre-fault value ({baseline})")
    return {**evidence, "config": dict(p.change.set), "model": p.model}


# -- traffic-shift --------------------------------------------------------------------------------
class TrafficShiftParams(BaseModel):
    namespace: str
    selector: dict[str, str] = Field(min_length=1, description="the agents, whose logs name each request's user")
    change: ConfigChange = Field(description="the load generator's new settings")
    cost_ratio: float | None = Field(default=None, gt=1, description="spend rate over its pre-fault value")
    tokens_per_request: float | None = Field(default=None, gt=0, description="tokens per request over this")
    top_user_share: float | None = Field(default=None, gt=0, le=1,
                                         description="one user makes at least this share of the requests; "
                                                     "the evidence binds it to ${USER_ID}")
    fresh_user: str | None = Field(default=None,
                                   description="a load generator key set to a new user id (or id prefix) at "
                                               "each injection, e.g. FLOOD_USER: a block or a conversation left by "
                                               "an earlier run does not apply, and the runbook can only learn the "
                                               "id from the evidence")


def _shift_change(p: TrafficShiftParams, user: str | None = None) -> ConfigChange:
    if p.fresh_user is None:
        return p.change
    fresh = user or f"user-{secrets.token_hex(3)}"
    return p.change.model_copy(update={"set": {**p.change.set, p.fresh_user: fresh}})


def shift_undo(target: Target, p: TrafficShiftParams) -> Undo:
    # records the keys' current values, not this one
    return config_change_undo(target, _shift_change(p, user="(any)"))


def shift_inject(target: Target, p: TrafficShiftParams) -> None:
    apply_config_change(target, _shift_change(p))


def _top_user(target: Target, p: TrafficShiftParams, since: float, share: float) -> dict[str, Any] | None:
    users = requests_by_user(target, p.namespace, p.selector, since)
    total = sum(users.values())
    if total < 20:
        return None
    user, n = users.most_common(1)[0]
    if n < share * total:
        return None
    return {"user": user, "requests": n, "of": total, "share": round(n / total, 3),
            "next_users": dict(users.most_common(4)[1:])}


def shift_confirm(target: Target, p: TrafficShiftParams, since: float, timeout_s: float) -> Evidence:
    """Each symptom the params ask for, observed after ``since``; the top user bound as ``USER_ID``."""
    deadline = since + timeout_s
    baseline = query(target, COST, at=since)
    evidence: dict[str, Any] = {"load": dict(p.change.set)}
    if p.top_user_share is not None:
        share = p.top_user_share
        top = wait_for(lambda: _top_user(target, p, since + 1.0, share), deadline - time.time(),
                       f"one user making {share:.0%}+ of the requests")
        evidence["top_user"] = top
        evidence["bindings"] = {"USER_ID": top["user"]}
    if p.tokens_per_request is not None:
        limit = p.tokens_per_request

        def heavy() -> dict[str, float] | None:
            tokens = query(target, TOKENS_PER_REQUEST)
            return {"tokens_per_request": round(tokens)} if tokens is not None and tokens > limit else None

        evidence["tokens"] = wait_for(heavy, max(1.0, deadline - time.time()), f"over {limit:g} tokens per request")
    if p.cost_ratio is not None:
        ratio = p.cost_ratio
        evidence["spend"] = wait_for(lambda: _spend_rate(target, baseline, ratio), max(1.0, deadline - time.time()),
                                     f"spend rate over {ratio:g}x its pre-fault value ({baseline})")
    return evidence


EXPENSIVE_MODEL = FaultPlugin(kind="expensive-model", summary="roll out a config that sends every request to the "
                              "most expensive model", params=ExpensiveModelParams, undo=model_undo,
                              inject=model_inject, confirm=model_confirm, revert=revert)
TRAFFIC_SHIFT = FaultPlugin(kind="traffic-shift", summary="change what the clients ask for (the load generator's "
                            "settings)", params=TrafficShiftParams, undo=shift_undo, inject=shift_inject,
                            confirm=shift_confirm, revert=revert, binds=frozenset({"USER_ID"}))
