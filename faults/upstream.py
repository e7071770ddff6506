"""The upstream LLM API misbehaving as the real one does: a key's rate limit exhausted, or the API failing.

The upstream is the local stub of the Anthropic Messages API (``refsystem/llm_stub.py``). Its one fault
control is its behaviour file (path in the stub container's ``STUB_BEHAVIOUR_FILE``), re-read on every
request; a fault writes it atomically with ``kubectl exec`` into the stub's pod and reverts by deleting it,
so no process restarts and the agents meet the change on their next call.

- ``upstream-rate-limit`` (Runbook 2, cause 1): the agents' key gets a quota below their traffic, enforced
  per second as the real API may, so calls over it are answered 429 ``rate_limit_error`` with a short
  ``retry-after``. Only that key is limited: a quota belongs to the key's workspace. Proof: the agents log
  ``429 Too Many Requests rate_limit_error``, the stub logs the 429 with its ``retry_after``, and Prometheus
  counts ``agent_errors_total{type="upstream_rate_limit"}``, all since the injection.
- ``upstream-failure`` (Runbook 2, cause 4): the API answers every call ``529 overloaded_error`` (or 500);
  five failures in a row open each agent's circuit breaker. Proof: ``agent_circuit_breaker_state{state="open"}``
  at 1 in Prometheus and the breaker's state change in the agents' logs, since the injection.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target, WorkloadRef
from faults.common import wait_for
from faults.observe import first_logged, logged, read_workload, window
from faults.promql import query

ENV = "STUB_BEHAVIOUR_FILE"
RATE_LIMITED = "429 Too Many Requests rate_limit_error"
STUB_RATE_LIMITED = "LOCAL STUB 429 Too Many Requests rate_limit_error"
BREAKER_OPENED = "circuit breaker state change"


class StubParams(BaseModel):
    namespace: str = Field(description="the agents' namespace")
    selector: dict[str, str] = Field(min_length=1, description="the agents' pods")
    stub_namespace: str = "drillbook-system"
    stub_workload: str = Field("statefulset/anthropic-stub", description="the upstream API stub")


def behaviour_file(workload: dict[str, Any]) -> tuple[dict[str, str], str] | None:
    """(the workload's pod selector, its containers' ``STUB_BEHAVIOUR_FILE``) from its JSON, or None."""
    spec = workload.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    path = next((e.get("value") for c in containers for e in (c.get("env") or []) if e.get("name") == ENV), None)
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return (dict(selector), str(path)) if path and selector else None


def _stub(target: Target, namespace: str, workload: str) -> tuple[str, str]:
    """(a running stub pod, its behaviour file path) from the workload's own spec, as ``kubectl get -o json``."""
    ref = WorkloadRef.parse(workload, namespace)
    found = behaviour_file(read_workload(target, ref))
    if not found:
        raise FaultError(f"{ref} sets no {ENV}: the stub has no runtime fault control")
    selector, path = found
    pods = [p for p in target.pods(namespace, selector) if p.phase == "Running"]
    if not pods:
        raise FaultError(f"{ref} has no running pod to write {path} in")
    return pods[0].name, path


def write_behaviour(target: Target, namespace: str, pod: str, path: str, knobs: dict[str, Any]) -> None:
    """Write the stub's behaviour file atomically (temporary file, then rename) inside its pod."""
    script = 'printf "%s" "$1" > "$2.tmp" && mv -f "$2.tmp" "$2"'
    result = target.exec(namespace, pod, ["sh", "-c", script, "sh", json.dumps(knobs), path])
    if result.exit_code != 0:
        raise FaultError(f"writing {path} in {namespace}/{pod} failed ({result.exit_code}): {result.output}")


def clear_behaviour(target: Target, record: dict[str, Any]) -> None:
    """Delete the behaviour file: the stub is back to its env defaults on the next request. Idempotent."""
    pod, path = _stub(target, record["stub_namespace"], record["stub_workload"])
    result = target.exec(record["stub_namespace"], pod, ["rm", "-f", path])
    if result.exit_code != 0:
        raise FaultError(f"removing {path} in {pod} failed ({result.exit_code}): {result.output}")


def stub_undo(target: Target, p: StubParams) -> Undo:
    return {"stub_namespace": p.stub_namespace, "stub_workload": p.stub_workload}


def _agent_lines(target: Target, p: StubParams, text: str, since: float) -> dict[str, str]:
    return first_logged(target, p.namespace, target.pods(p.namespace, p.selector), text, since)


# ----------------------------------------------------------------------------------- upstream-rate-limit
class RateLimitParams(StubParams):
    secret: str = Field(description="the Secret holding the agents' API key")
    key: str = Field(description="its key")
    rpm: int = Field(gt=0, description="the key's quota, requests per minute (below the agents' traffic)")
    interval_s: float = Field(1.0, gt=0, le=60, description="the interval the quota is enforced over")


def rate_limit_inject(target: Target, p: RateLimitParams) -> None:
    api_key = target.get_secret(p.namespace, p.secret).get(p.key)
    if not api_key:
        raise FaultError(f"secret {p.namespace}/{p.secret} has no key {p.key!r}")
    write_behaviour(target, p.stub_namespace, *_stub(target, p.stub_namespace, p.stub_workload),
                    {"rate_limit_rpm": p.rpm, "rate_limit_interval_s": p.interval_s, "rate_limit_keys": [api_key]})


def rate_limit_confirm(target: Target, p: RateLimitParams, since: float, timeout_s: float) -> Evidence:
    def seen() -> Evidence | None:
        agents = _agent_lines(target, p, RATE_LIMITED, since)
        if not agents:
            return None
        stub_pod, _ = _stub(target, p.stub_namespace, p.stub_workload)
        stub_lines = [line for line in logged(target, p.stub_namespace, stub_pod, STUB_RATE_LIMITED, since)
                      if "retry_after=" in line]
        if not stub_lines:
            return None
        counted = query(target, 'sum(increase(agent_errors_total{type="upstream_rate_limit"}'
                                f'[{window(since, time.time())}]))')
        if not counted:
            return None
        return {"agents_logged": agents, "stub_logged": stub_lines[0], "upstream_rate_limit_errors": counted,
                "quota_rpm": p.rpm, "enforced_over_s": p.interval_s}

    return wait_for(seen, timeout_s, f"{RATE_LIMITED!r} in the agents' logs, the stub's 429 with retry-after and "
                                     "agent_errors_total{type=\"upstream_rate_limit\"} rising")


# ----------------------------------------------------------------------------------------- upstream-failure
class FailureParams(StubParams):
    error_status: int = Field(529, description="529 overloaded_error or 500 api_error")
    error_rate: float = Field(1.0, gt=0, le=1, description="share of calls that fail")


def failure_inject(target: Target, p: FailureParams) -> None:
    if p.error_status not in (500, 529):
        raise FaultError(f"error_status must be 500 or 529, not {p.error_status}")
    write_behaviour(target, p.stub_namespace, *_stub(target, p.stub_namespace, p.stub_workload),
                    {"error_rate": p.error_rate, "error_status": p.error_status})


def failure_confirm(target: Target, p: FailureParams, since: float, timeout_s: float) -> Evidence:
    def seen() -> Evidence | None:
        opened = query(target, f'max(max_over_time(agent_circuit_breaker_state{{state="open"}}'
                               f'[{window(since, time.time())}]))')
        if opened != 1:
            return None
        agents = {pod: line for pod, line in _agent_lines(target, p, BREAKER_OPENED, since).items()
                  if "new=open" in line}
        if not agents:
            return None
        return {"breaker_open_in_prometheus": opened, "agents_logged": agents, "error_status": p.error_status}

    return wait_for(seen, timeout_s, 'agent_circuit_breaker_state{state="open"} at 1 in Prometheus and the '
                                     "breaker opening in the agents' logs")


UPSTREAM_RATE_LIMIT = FaultPlugin(
    kind="upstream-rate-limit", summary="give the agents' API key a quota below their traffic at the upstream "
    "(429 rate_limit_error with retry-after)", params=RateLimitParams, undo=stub_undo, inject=rate_limit_inject,
    confirm=rate_limit_confirm, revert=clear_behaviour)
UPSTREAM_FAILURE = FaultPlugin(
    kind="upstream-failure", summary="make the upstream API fail every call (529 overloaded) so the agents' "
    "circuit breakers open", params=FailureParams, undo=stub_undo, inject=failure_inject,
    confirm=failure_confirm, revert=clear_behaviour)
