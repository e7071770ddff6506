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

- ``long-conversations`` (Large Context Windows): users come back to long conversations - their history,
  up to the agent's ``MAX_HISTORY_LENGTH`` exchanges, is in Redis - and the load generator continues them
  with long messages, while the LLM stub answers with a real model's time to first token, which grows with
  the prompt it must read (its ``prefill_per_1k_input_s``; the stub otherwise answers at once whatever the
  prompt, so the other drills' traffic stays fast). Proven by tokens per request and by the runbook's own
  symptom: the agents' request durations correlate with the tokens each request sent.

Symptoms are read in :mod:`faults.spend`. Every change is undone by putting back the keys' earlier values
(absent keys removed again); the snapshot restore after it rolls the restarted workload back (see
:func:`revert`).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import statistics
import time
from typing import Any

from pydantic import BaseModel, Field, model_validator

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults import upstream_latency as stub_file
from faults.common import ConfigChange, apply_config_change, config_change_undo, wait_for
from faults.promql import query
from faults.spend import COST, TOKENS_PER_REQUEST, BillSource, bill, billed_since, requests_by_user

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


# -- long-conversations ---------------------------------------------------------------------------
_CHAT = re.compile(r'^ts=(\S+) .*msg="chat request" status=200 duration=([0-9.]+) \S+ tokens=(\d+) ')
# One Lua call writes every conversation as the agent stores it (conv:<id>, JSON {role, content} turns, a day's
# TTL): ARGV = user message chars, exchanges, a sentence to fill the messages with, the assistant's reply.
_SEED = """local text = string.sub(string.rep(ARGV[3], math.ceil(tonumber(ARGV[1]) / #ARGV[3])), 1, tonumber(ARGV[1]))
local user = cjson.encode({role = 'user', content = text})
local reply = cjson.encode({role = 'assistant', content = ARGV[4]})
local n = 0
for _, key in ipairs(KEYS) do
  redis.call('DEL', key)
  for i = 1, tonumber(ARGV[2]) do redis.call('RPUSH', key, user, reply) end
  redis.call('EXPIRE', key, 86400)
  n = n + redis.call('LLEN', key)
end
return n"""
_FILL = "please summarise the incident timeline and list the follow-up actions for the on-call team "
_REPLY = "Here is the summary of the incident timeline and the follow-up actions for the on-call team. " * 2


class HistorySource(BaseModel):
    """Where the agents keep conversations, and how long the returning users' conversations already are."""

    namespace: str
    pod: str = Field(description="the Redis pod, e.g. redis-0 (its redis-cli writes the histories)")
    users: int = Field(ge=1, description="this many of the load generator's users come back to a long conversation")
    exchanges: int = Field(ge=1, description="user/assistant exchanges already in each of them")


class ProviderLatency(BaseModel):
    """The LLM stub's time to first token: seconds per 1000 uncached input tokens (its behaviour file)."""

    namespace: str
    pod: str
    prefill_per_1k_input_s: float = Field(gt=0)


class LongConversationsParams(BaseModel):
    namespace: str
    selector: dict[str, str] = Field(min_length=1, description="the agents, whose logs give duration and tokens")
    change: ConfigChange = Field(description="the load generator's new settings; MESSAGE_CHARS sizes the history")
    prefix_key: str = Field(default="USER_PREFIX", description="the load generator's user-id prefix, fresh "
                                                                "each run so the histories are this run's")
    history: HistorySource
    provider: ProviderLatency
    tokens_per_request: float = Field(gt=0, description="tokens per request over this")
    min_correlation: float = Field(default=0.7, gt=0, le=1,
                                   description="Pearson correlation of request duration with tokens, at least")
    min_requests: int = Field(default=8, ge=3, description="answered requests the correlation is computed over")

    @model_validator(mode="after")
    def _sized(self) -> LongConversationsParams:
        for key in ("MESSAGE_CHARS", "USERS"):
            if not self.change.set.get(key, "").isdigit():
                raise ValueError(f"change.set needs {key} (a number): the histories are written to match it")
        if self.history.users > int(self.change.set["USERS"]):
            raise ValueError("history.users cannot exceed the load generator's USERS")
        return self


def _conversation_keys(prefix: str, users: int) -> list[str]:
    """The load generator's first conversation of each user (``<prefix>-<nnnn>-c0``), as the agent keys it."""
    return [f"conv:{prefix}-{i:04d}-c0" for i in range(users)]


def long_undo(target: Target, p: LongConversationsParams) -> Undo:
    record = config_change_undo(target, p.change.model_copy(update={"set": {**p.change.set, p.prefix_key: "-"}}))
    stub = stub_file.file_undo(target, p.provider.namespace, p.provider.pod)
    return {**record, "prefix_key": p.prefix_key, "users": int(p.change.set["USERS"]),
            "redis": {"namespace": p.history.namespace, "pod": p.history.pod}, "stub": stub}


def long_inject(target: Target, p: LongConversationsParams) -> None:
    """The histories first (under a fresh prefix, before the load generator uses it), then the provider's
    time to first token, then the load generator's new settings."""
    prefix = f"user-{secrets.token_hex(3)}"
    keys = _conversation_keys(prefix, p.history.users)
    result = target.exec(p.history.namespace, p.history.pod,
                         ["redis-cli", "EVAL", _SEED, str(len(keys)), *keys, p.change.set["MESSAGE_CHARS"],
                          str(p.history.exchanges), _FILL, _REPLY.strip()], timeout_s=60)
    if result.exit_code != 0 or not result.output.strip().isdigit():
        raise FaultError(f"writing the conversations in {p.history.pod} failed: {result.output.strip()[:300]}")
    stub_file.set_knobs(target, p.provider.namespace, p.provider.pod,
                        prefill_per_1k_input_s=p.provider.prefill_per_1k_input_s)
    apply_config_change(target, p.change.model_copy(update={"set": {**p.change.set, p.prefix_key: prefix}}))


def durations_by_tokens(log: str, since: float) -> list[tuple[int, float]]:
    """(tokens, seconds) of every answered chat request an agent logged at or after ``since``."""
    out = []
    for line in log.splitlines():
        m = _CHAT.match(line)
        if m and dt.datetime.fromisoformat(m[1].replace("Z", "+00:00")).timestamp() >= since:
            out.append((int(m[3]), float(m[2])))
    return out


def _correlated(target: Target, p: LongConversationsParams, since: float) -> dict[str, Any] | None:
    points = [pt for pod in target.pods(p.namespace, p.selector)
              for pt in durations_by_tokens(target.logs(p.namespace, pod.name, tail=1000), since)]
    if len(points) < p.min_requests or len({t for t, _ in points}) < 2 or len({d for _, d in points}) < 2:
        return None
    r = statistics.correlation([float(t) for t, _ in points], [d for _, d in points])
    if r < p.min_correlation:
        return None
    ordered = sorted(points)
    return {"requests": len(points), "correlation": round(r, 3),
            "shortest": [{"tokens": t, "duration_s": round(d, 2)} for t, d in ordered[:3]],
            "longest": [{"tokens": t, "duration_s": round(d, 2)} for t, d in ordered[-3:]]}


def long_confirm(target: Target, p: LongConversationsParams, since: float, timeout_s: float) -> Evidence:
    """Tokens per request over the limit, and request durations that grow with the tokens sent."""
    deadline = since + timeout_s
    limit = p.tokens_per_request

    def heavy() -> dict[str, float] | None:
        tokens = query(target, TOKENS_PER_REQUEST)
        return {"tokens_per_request": round(tokens)} if tokens is not None and tokens > limit else None

    tokens = wait_for(heavy, max(1.0, deadline - time.time()), f"over {limit:g} tokens per request")
    latency = wait_for(lambda: _correlated(target, p, since), max(1.0, deadline - time.time()),
                       f"request duration correlating (r >= {p.min_correlation:g}) with the tokens sent")
    return {"load": dict(p.change.set), "tokens": tokens, "latency_by_tokens": latency,
            "history": {"conversations": p.history.users, "exchanges": p.history.exchanges},
            "provider": {"prefill_per_1k_input_s": p.provider.prefill_per_1k_input_s}}


def long_revert(target: Target, record: Undo) -> None:
    """Put the stub's behaviour file and the load generator's keys back (see :func:`revert`), then delete
    this run's conversations, named by the prefix the load generator was given (if it was given one)."""
    key = record["prefix_key"]
    prefix = target.get_config(record["namespace"], record["configmap"]).get(key)
    stub_file.revert(target, record["stub"])
    revert(target, record)
    if prefix and prefix != record["data"].get(key):
        keys = _conversation_keys(prefix, record["users"])
        result = target.exec(record["redis"]["namespace"], record["redis"]["pod"], ["redis-cli", "UNLINK", *keys])
        if result.exit_code != 0:
            raise FaultError(f"deleting the drill's conversations failed: {result.output.strip()[:300]}")


EXPENSIVE_MODEL = FaultPlugin(kind="expensive-model", summary="roll out a config that sends every request to the "
                              "most expensive model", params=ExpensiveModelParams, undo=model_undo,
                              inject=model_inject, confirm=model_confirm, revert=revert)
TRAFFIC_SHIFT = FaultPlugin(kind="traffic-shift", summary="change what the clients ask for (the load generator's "
                            "settings)", params=TrafficShiftParams, undo=shift_undo, inject=shift_inject,
                            confirm=shift_confirm, revert=revert, binds=frozenset({"USER_ID"}))
LONG_CONVERSATIONS = FaultPlugin(kind="long-conversations", summary="users continue long conversations: every "
                                 "request sends the whole history, and the model reads it before answering",
                                 params=LongConversationsParams, undo=long_undo, inject=long_inject,
                                 confirm=long_confirm, revert=long_revert)
