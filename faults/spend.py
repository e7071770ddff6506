"""Readings of what the service spends and who it serves, for the traffic faults' ``confirm``.

Why a module of its own: the Cost-Spike and Large-Context causes are proven by the runbook's own symptoms —
spend rate against its baseline, tokens per request, which model is billed, which user makes the requests —
and each is read where an operator reads it: the spend from Prometheus (what ``CostSpike`` evaluates), the
bill per model from the LLM provider's side (the stub's ``llm_stub_cost_dollars_total``, through the API
server's service proxy), and the users from the agents' logfmt request lines (``user=...``), as the
runbook's ``kubectl logs ... | grep -o 'user=[^ ]*'`` does. Everything goes through the target interface.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from drills.targets.base import Target

COST = "sum(rate(agent_cost_dollars_total[{window}]))"
TOKENS_PER_REQUEST = ('sum(rate(agent_tokens_used_total[{window}])) / '
                      'sum(rate(agent_requests_total{status="200"}[{window}]))')
_TS = re.compile(r'^ts=(\S+) ')
_USER = re.compile(r' user=("(?:[^"\\]|\\.)*"|\S+)')


class BillSource(BaseModel):
    """Where the LLM provider's bill per model is read: a Service serving ``llm_stub_cost_dollars_total``."""

    namespace: str
    service: str
    port: int = Field(ge=1, le=65535)
    path: str = Field(default="/metrics", pattern=r"^/")


def bill(target: Target, source: BillSource) -> dict[str, float]:
    """Dollars billed so far per model, as the provider's counters say."""
    url = target.service_url(source.namespace, source.service, source.port) + source.path
    with target.http() as http:
        text = http.get(url, timeout=5).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "llm_stub_cost_dollars":
            for sample in family.samples:
                if sample.name == "llm_stub_cost_dollars_total":
                    out[sample.labels["model"]] = sample.value
    return out


def billed_since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Dollars billed per model between two readings (a model first seen in ``after`` counts from 0)."""
    return {m: round(v - before.get(m, 0.0), 9) for m, v in after.items() if v - before.get(m, 0.0) > 0}


def requests_by_user(target: Target, namespace: str, selector: dict[str, str], since: float,
                     tail: int = 400) -> Counter[str]:
    """Chat requests per ``user=`` in the replicas' logs, logged at or after ``since`` (unix seconds)."""
    users: Counter[str] = Counter()
    for pod in target.pods(namespace, selector):
        for line in target.logs(namespace, pod.name, tail=tail).splitlines():
            stamp, user = _TS.match(line), _USER.search(line)
            if stamp is None or user is None or 'msg="chat request"' not in line:
                continue
            try:
                at = dt.datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
            except ValueError:
                continue
            if at.timestamp() >= since:
                users[user.group(1).strip('"')] += 1
    return users
