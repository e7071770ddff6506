"""The upstream-latency fault: the stub's behaviour file is changed in its pod, other knobs kept, put back exactly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from drills.errors import FaultError
from drills.targets.base import ExecResult
from faults import promql, upstream_latency

PARAMS = upstream_latency.UpstreamLatencyParams(
    namespace="drillbook-system", pod="anthropic-stub-0", latency_s=1.0, latency_per_1k_input_s=75.0,
    min_call_s=20.0, latency_metric="agent_request_duration_seconds", min_p95_s=30.0)


class StubPod:
    """``kubectl exec`` into a pod whose environment names the behaviour file: runs the fault's real shell."""

    def __init__(self, path: Path, log: str = "") -> None:
        self.path, self.log, self.argv = path, log, []

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        self.argv.append(argv)
        done = subprocess.run(argv, env={"STUB_BEHAVIOUR_FILE": str(self.path), "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=timeout_s)
        return ExecResult(done.returncode, done.stdout + done.stderr)

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        return self.log


def test_inject_keeps_other_knobs_and_revert_restores_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stub-behaviour.json"
    path.write_text('{"rate_limit_rpm": 30}')
    pod = StubPod(path)
    undo = upstream_latency.undo(pod, PARAMS)  # type: ignore[arg-type]
    upstream_latency.inject(pod, PARAMS)  # type: ignore[arg-type]
    assert json.loads(path.read_text()) == {"rate_limit_rpm": 30, "latency_s": 1.0, "latency_per_1k_input_s": 75.0}
    assert not (tmp_path / "stub-behaviour.json.drillbook").exists()  # written through a rename
    upstream_latency.revert(pod, undo)  # type: ignore[arg-type]
    assert path.read_text() == '{"rate_limit_rpm": 30}'


def test_revert_removes_a_file_that_was_not_there(tmp_path: Path) -> None:
    path = tmp_path / "stub-behaviour.json"
    pod = StubPod(path)
    undo = upstream_latency.undo(pod, PARAMS)  # type: ignore[arg-type]
    assert undo["before"] is None
    upstream_latency.inject(pod, PARAMS)  # type: ignore[arg-type]
    assert json.loads(path.read_text())["latency_per_1k_input_s"] == 75.0
    upstream_latency.revert(pod, undo)  # type: ignore[arg-type]
    upstream_latency.revert(pod, undo)  # type: ignore[arg-type]  # idempotent
    assert not path.exists()


def test_a_failing_exec_is_a_fault_error(tmp_path: Path) -> None:
    pod = StubPod(tmp_path / "missing-dir" / "stub-behaviour.json")
    with pytest.raises(FaultError, match="exec in drillbook-system/anthropic-stub-0 failed"):
        upstream_latency.inject(pod, PARAMS)  # type: ignore[arg-type]


LOG = "\n".join([
    'ts=2026-12-03T15:00:00.000Z level=INFO msg="LOCAL STUB message served" model=m status=200 duration=34.6',
    'ts=2026-12-03T15:01:00.000Z level=INFO msg="LOCAL STUB message served" model=m status=200 duration=5.2',
    'ts=2026-12-03T15:01:01.000Z level=INFO msg="LOCAL STUB message served" model=m status=200 duration=27.1',
    'ts=2026-12-03T15:01:02.000Z level=WARNING msg="LOCAL STUB 429 Too Many Requests rate_limit_error" status=429',
])
SINCE = 1796310030.0  # 2026-12-03T15:00:30Z


def test_slow_calls_are_the_served_calls_after_the_fault_over_the_bar() -> None:
    assert upstream_latency.slow_calls(LOG, SINCE, 20.0) == [27.1]


def test_confirm_needs_slow_calls_and_p95_over_the_threshold(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setattr(promql, "p95", lambda target, metric: 60.0)
    evidence = upstream_latency.confirm(StubPod(tmp_path / "f", LOG), PARAMS, SINCE, 1.0)  # type: ignore[arg-type]
    assert evidence["slow_calls_s"] == [27.1] and evidence["p95_s"] == 60.0
    monkeypatch.setattr(promql, "p95", lambda target, metric: 12.0)
    with pytest.raises(FaultError, match="p95 latency above 30s"):
        upstream_latency.confirm(StubPod(tmp_path / "f", LOG), PARAMS, SINCE, 0.3)  # type: ignore[arg-type]
