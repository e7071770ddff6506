"""The upstream faults write the stub's behaviour file the way the stub reads it, and confirm only real symptoms.

The behaviour file is written by a shell script run in the stub's pod: here the same argv runs in a real
``sh`` in a temporary directory, and the stub's own parser (:class:`refsystem.llm_stub.Stub`) reads the result.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path
from typing import Any, cast

import pytest

from drills.errors import FaultError
from drills.registry import faults
from drills.targets.base import ExecResult, PodState, Target
from faults import upstream
from refsystem.llm_stub import Behaviour, Stub

KEY = "sk-ant-drill-0000-valid"


def _pod(name: str) -> PodState:
    return PodState(name=name, namespace="ns", node="n1", ip="127.0.0.1", phase="Running", ready=True, restarts=0,
                    waiting_reason=None, last_reason=None, last_exit_code=None)


class ShellTarget:
    """Just what the upstream faults call: exec runs for real in a local sh; logs and secrets are canned."""

    def __init__(self, logs: dict[str, str] | None = None) -> None:
        self.execs: list[list[str]] = []
        self.log_text = logs or {}

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        self.execs.append(argv)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
        return ExecResult(done.returncode, done.stdout + done.stderr)

    def get_secret(self, namespace: str, name: str) -> dict[str, str]:
        return {"anthropic-api-key": KEY}

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        return [_pod(name) for name in self.log_text if name.startswith(namespace)]

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        return self.log_text.get(pod, "")


def _stamp(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


STUB = {"spec": {"selector": {"matchLabels": {"app": "anthropic-stub"}},
                 "template": {"spec": {"containers": [{"name": "stub", "env": [
                     {"name": "STUB_PORT", "value": "8090"},
                     {"name": "STUB_BEHAVIOUR_FILE", "value": "/tmp/stub-behaviour.json"}]}]}}}}


def test_both_faults_are_registered() -> None:
    assert faults()["upstream-rate-limit"] is upstream.UPSTREAM_RATE_LIMIT
    assert faults()["upstream-failure"] is upstream.UPSTREAM_FAILURE


def test_the_behaviour_file_is_found_in_the_stub_workloads_env() -> None:
    assert upstream.behaviour_file(STUB) == ({"app": "anthropic-stub"}, "/tmp/stub-behaviour.json")
    assert upstream.behaviour_file({"spec": {"template": {"spec": {"containers": [{"name": "stub"}]}}}}) is None


def test_rate_limit_writes_a_quota_for_the_agents_key_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stub-behaviour.json"
    monkeypatch.setattr(upstream, "_stub", lambda target, ns, workload: ("anthropic-stub-0", str(path)))
    target = ShellTarget()
    params = upstream.RateLimitParams(namespace="production-agents", selector={"app": "production-agent"},
                                      secret="agent-secrets", key="anthropic-api-key", rpm=120, interval_s=1)
    upstream.rate_limit_inject(cast(Target, target), params)
    beh = Stub(Behaviour(valid_keys=frozenset({KEY})), str(path)).behaviour()  # read as the stub reads it
    assert (beh.rate_limit_rpm, beh.rate_limit_interval_s, beh.rate_limit_keys) == (120, 1.0, frozenset({KEY}))
    assert not path.with_name(path.name + ".tmp").exists()  # written to a temporary file, then renamed
    record = upstream.stub_undo(cast(Target, target), params)
    upstream.clear_behaviour(cast(Target, target), record)
    upstream.clear_behaviour(cast(Target, target), record)  # idempotent
    assert not path.exists()
    assert Stub(Behaviour(valid_keys=frozenset({KEY})), str(path)).behaviour().rate_limit_rpm == 0


def test_failure_writes_the_error_knobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.json"
    monkeypatch.setattr(upstream, "_stub", lambda target, ns, workload: ("anthropic-stub-0", str(path)))
    params = upstream.FailureParams(namespace="production-agents", selector={"app": "production-agent"})
    upstream.failure_inject(cast(Target, ShellTarget()), params)
    beh = Stub(Behaviour(valid_keys=frozenset({KEY})), str(path)).behaviour()
    assert (beh.error_rate, beh.error_status) == (1.0, 529)
    with pytest.raises(FaultError, match="500 or 529"):
        upstream.failure_inject(cast(Target, ShellTarget()), params.model_copy(update={"error_status": 503}))


def _rate_limit_logs(at: float) -> dict[str, str]:
    return {
        "production-agents-a": f'ts={_stamp(at)} level=ERROR msg="429 Too Many Requests rate_limit_error from '
                               'Anthropic API" request_id=req_1',
        "drillbook-system-stub": f'ts={_stamp(at)} level=WARNING msg="LOCAL STUB 429 Too Many Requests '
                                 'rate_limit_error" model=m status=429 retry_after=1',
    }


def test_rate_limit_confirm_needs_all_three_symptoms_after_the_injection(monkeypatch: pytest.MonkeyPatch) -> None:
    since = time.time()
    monkeypatch.setattr(upstream, "_stub", lambda target, ns, workload: ("drillbook-system-stub", "/x"))
    counted: list[float | None] = [3.0]
    monkeypatch.setattr(upstream, "query", lambda target, expr: counted[0])
    params = upstream.RateLimitParams(namespace="production-agents", selector={"app": "production-agent"},
                                      secret="s", key="k", rpm=120)
    evidence = upstream.rate_limit_confirm(cast(Target, ShellTarget(_rate_limit_logs(since + 1))), params, since, 1)
    assert evidence["agents_logged"]["production-agents-a"].endswith("request_id=req_1")
    assert "retry_after=1" in evidence["stub_logged"] and evidence["upstream_rate_limit_errors"] == 3.0
    with pytest.raises(FaultError, match="not observed"):  # the same lines, written before the injection
        upstream.rate_limit_confirm(cast(Target, ShellTarget(_rate_limit_logs(since - 5))), params, since, 0.3)
    counted[0] = None  # logged, but Prometheus counted no upstream_rate_limit error
    with pytest.raises(FaultError, match="not observed"):
        upstream.rate_limit_confirm(cast(Target, ShellTarget(_rate_limit_logs(since + 1))), params, since, 0.3)


def test_failure_confirm_needs_the_breaker_open_in_prometheus_and_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    since = time.time()
    opened = f'ts={_stamp(since + 1)} level=WARNING msg="circuit breaker state change" old=closed new=open'
    probed = f'ts={_stamp(since + 1)} level=INFO msg="circuit breaker state change" old=open new=half_open'
    state: list[Any] = [1.0]
    monkeypatch.setattr(upstream, "query", lambda target, expr: state[0])
    params = upstream.FailureParams(namespace="production-agents", selector={"app": "production-agent"})
    evidence = upstream.failure_confirm(cast(Target, ShellTarget({"production-agents-a": opened})), params, since, 1)
    assert evidence["agents_logged"] == {"production-agents-a": opened}
    with pytest.raises(FaultError):  # a half-open line is not the breaker opening
        upstream.failure_confirm(cast(Target, ShellTarget({"production-agents-a": probed})), params, since, 0.3)
    state[0] = 0.0
    with pytest.raises(FaultError):  # logged, but Prometheus never saw the open state
        upstream.failure_confirm(cast(Target, ShellTarget({"production-agents-a": opened})), params, since, 0.3)
