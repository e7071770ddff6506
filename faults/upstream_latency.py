"""The upstream LLM API answering slowly: prefill takes seconds per thousand input tokens (Runbook 3, Cause 1).

Story reproduced: the provider degrades and every Messages call takes ``latency_s`` plus
``latency_per_1k_input_s`` per 1000 input tokens, as a real API's time to answer grows with the prompt it must
read. The drill's own LLM stub (:mod:`refsystem.llm_stub`) is slowed through its behaviour file, which it
re-reads on every request: the fault writes its knobs into the file in the stub's pod with ``kubectl exec``
(the file's path is the pod's ``STUB_BEHAVIOUR_FILE``), keeping any other fault's knobs already there, and the
revert puts the file back as it was. Nothing in the agent changes: its SDK timeout (``API_TIMEOUT``) and one
retry meet the slow calls as they would meet a slow Anthropic API.

``confirm`` proves the runbook's symptoms: the stub logs calls slower than ``min_call_s`` ("API calls taking
20+ seconds") and the agents' p95 request latency, from Prometheus as HighLatency computes it, is above
``min_p95_s``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults import promql
from faults.common import wait_for

FILE_ENV = "STUB_BEHAVIOUR_FILE"
READ = f'cat "${FILE_ENV}" 2>/dev/null || true'
# Write atomically (the stub may read the file at any moment): a temporary file renamed over it.
WRITE = f'printf "%s" "$1" > "${FILE_ENV}.drillbook" && mv -f "${FILE_ENV}.drillbook" "${FILE_ENV}"'
REMOVE = f'rm -f "${FILE_ENV}"'
SERVED = re.compile(r'^ts=(\S+) .*msg="LOCAL STUB message served".* duration=([0-9.]+)')


class UpstreamLatencyParams(BaseModel):
    namespace: str = Field(description="where the LLM stub runs")
    pod: str = Field(description="the LLM stub's pod, e.g. anthropic-stub-0")
    latency_s: float = Field(0.0, ge=0, description="seconds every call takes before answering")
    latency_per_1k_input_s: float = Field(gt=0, description="extra seconds per 1000 input tokens")
    min_call_s: float = Field(gt=0, description="a served call at least this slow proves the slowness")
    latency_metric: str = Field(description="the service's request-duration histogram (without _bucket)")
    min_p95_s: float = Field(gt=0, description="p95 latency the alert fires above")


def _sh(target: Target, namespace: str, pod: str, script: str, *args: str) -> str:
    result = target.exec(namespace, pod, ["sh", "-c", script, "sh", *args])
    if result.exit_code != 0:
        raise FaultError(f"exec in {namespace}/{pod} failed ({result.exit_code}): {result.output.strip()}")
    return result.output


def _knobs(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def file_undo(target: Target, namespace: str, pod: str) -> Undo:
    """The behaviour file as it is now (None: absent), for :func:`revert`."""
    before = _sh(target, namespace, pod, READ)
    return {"namespace": namespace, "pod": pod, "before": before if before.strip() else None}


def set_knobs(target: Target, namespace: str, pod: str, **knobs: Any) -> None:
    """Set these knobs in the stub's behaviour file, keeping any other fault's knobs already there."""
    current = _knobs(_sh(target, namespace, pod, READ))
    current.update(knobs)
    _sh(target, namespace, pod, WRITE, json.dumps(current))


def undo(target: Target, p: UpstreamLatencyParams) -> Undo:
    return file_undo(target, p.namespace, p.pod)


def inject(target: Target, p: UpstreamLatencyParams) -> None:
    set_knobs(target, p.namespace, p.pod, latency_s=p.latency_s, latency_per_1k_input_s=p.latency_per_1k_input_s)


def slow_calls(log: str, since: float, min_call_s: float) -> list[float]:
    """Durations of the stub's served calls logged after ``since`` that took at least ``min_call_s``."""
    found = []
    for line in log.splitlines():
        m = SERVED.match(line)
        if m and datetime.fromisoformat(m[1].replace("Z", "+00:00")).timestamp() >= since \
                and float(m[2]) >= min_call_s:
            found.append(round(float(m[2]), 2))
    return found


def confirm(target: Target, p: UpstreamLatencyParams, since: float, timeout_s: float) -> Evidence:
    def symptoms() -> Evidence | None:
        calls = slow_calls(target.logs(p.namespace, p.pod, tail=500), since, p.min_call_s)
        latency = promql.p95(target, p.latency_metric) if calls else None
        if latency is None or latency <= p.min_p95_s:
            return None
        return {"slow_calls_s": sorted(calls)[-5:], "p95_s": round(latency, 2),
                "behaviour": {"latency_s": p.latency_s, "latency_per_1k_input_s": p.latency_per_1k_input_s}}

    return wait_for(symptoms, timeout_s, f"LLM calls taking {p.min_call_s:g}s+ and p95 latency above "
                                         f"{p.min_p95_s:g}s")


def revert(target: Target, record: Undo) -> None:
    """The behaviour file as it was (absent: the stub's env defaults); the stub reads it on the next call."""
    if record.get("before") is None:
        _sh(target, record["namespace"], record["pod"], REMOVE)
    else:
        _sh(target, record["namespace"], record["pod"], WRITE, record["before"])


FAULT = FaultPlugin(kind="upstream-latency", summary="slow the LLM API: seconds per thousand input tokens",
                    params=UpstreamLatencyParams, undo=undo, inject=inject, confirm=confirm, revert=revert)
