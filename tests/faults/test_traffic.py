"""Traffic and spend faults (faults/traffic.py, faults/spend.py) against an in-memory target.

The target keeps ConfigMaps, rollout state and pod logs in memory; the Prometheus and bill readings are
replaced per test, so each confirm is driven through the states a real drill passes (rollout under way, mixed
models billed, spend not yet up) and must wait, then prove, exactly what its params ask for.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from drills import registry
from drills.errors import FaultError
from faults import spend, traffic
from tests.faults.memory_target import MemoryTarget

AGENTS = {"app": "production-agent"}


def chat_line(at: float, user: str, status: int = 200) -> str:
    ts = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return (f'ts={ts} level=INFO msg="chat request" status={status} duration=0.05 cost=0.002 tokens=400 '
            f"user={user} model=claude-3-5-sonnet-20241022 context_bytes=16384")


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traffic, "SETTLE_S", 0.0)
    monkeypatch.setattr("faults.common.POLL_S", 0.01)


def readings(monkeypatch: pytest.MonkeyPatch, values: dict[str, list[float | None]]) -> list[tuple[str, Any]]:
    """Replace Prometheus: each query (COST at the fault's start, COST now, TOKENS) answers its list in turn."""
    asked: list[tuple[str, Any]] = []
    queues = {k: iter(v) for k, v in values.items()}

    def query(target: object, expr: str, at: float | None = None) -> float | None:
        asked.append((expr, at))
        key = "before" if expr == spend.COST and at is not None else "tokens" if expr == spend.TOKENS_PER_REQUEST \
            else "cost"
        return next(queues[key], values[key][-1])

    monkeypatch.setattr(traffic, "query", query)
    return asked


def model_params(**kw: Any) -> traffic.ExpensiveModelParams:
    return traffic.ExpensiveModelParams.model_validate({
        "model": "claude-3-opus-20240229",
        "change": {"namespace": "production-agents", "configmap": "agent-config",
                   "workload": "deployment/agent-deployment", "set": {"DEFAULT_MODEL": "claude-3-opus-20240229"}},
        "bill": {"namespace": "drillbook-system", "service": "anthropic-stub", "port": 8090}, **kw})


def test_entry_points_register_both_faults() -> None:
    assert registry.fault("expensive-model") is traffic.EXPENSIVE_MODEL
    assert registry.fault("traffic-shift") is traffic.TRAFFIC_SHIFT
    assert traffic.TRAFFIC_SHIFT.binds == {"USER_ID"}


def test_expensive_model_injects_rolls_out_and_reverts_the_config() -> None:
    target, p = MemoryTarget(), model_params()
    undo = traffic.EXPENSIVE_MODEL.undo(target, p)  # type: ignore[arg-type]
    traffic.EXPENSIVE_MODEL.inject(target, p)  # type: ignore[arg-type]
    assert target.configs[("production-agents", "agent-config")]["DEFAULT_MODEL"] == "claude-3-opus-20240229"
    assert target.restarts == ["production-agents/agent-deployment"]
    traffic.EXPENSIVE_MODEL.revert(target, undo)  # type: ignore[arg-type]
    assert target.configs[("production-agents", "agent-config")] == {"DEFAULT_MODEL": "claude-3-5-sonnet-20241022"}


def test_expensive_model_waits_for_every_dollar_on_the_model_then_for_the_spend(
        monkeypatch: pytest.MonkeyPatch) -> None:
    target, p = MemoryTarget(), model_params()
    bills = iter([{"claude-3-5-sonnet-20241022": 1.0}, {"claude-3-5-sonnet-20241022": 1.1,
                                                        "claude-3-opus-20240229": 0.2},  # old pod still billing
                  {"claude-3-5-sonnet-20241022": 1.1, "claude-3-opus-20240229": 0.2},
                  {"claude-3-5-sonnet-20241022": 1.1, "claude-3-opus-20240229": 0.7}])
    monkeypatch.setattr(traffic, "bill", lambda target, source: next(bills))
    asked = readings(monkeypatch, {"before": [0.02], "cost": [0.03, 0.05, 0.1]})
    since = time.time()
    evidence = traffic.model_confirm(target, p, since, 5)  # type: ignore[arg-type]
    assert evidence["bill"]["billed_per_model"] == {"claude-3-opus-20240229": 0.5}
    assert evidence["spend"] == {"cost_per_s_before": 0.02, "cost_per_s": 0.05, "ratio": 2.5}
    assert (spend.COST, since) in asked  # the baseline is the rate at the injection, not now


def test_expensive_model_is_not_confirmed_while_the_rollout_is_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    target, p = MemoryTarget(), model_params()
    target.status["updatedReadyReplicas"] = 1
    monkeypatch.setattr(traffic, "bill", lambda target, source: pytest.fail("read the bill mid-rollout"))
    readings(monkeypatch, {"before": [0.02], "cost": [0.2]})
    with pytest.raises(FaultError, match="every request billed on claude-3-opus-20240229"):
        traffic.model_confirm(target, p, time.time(), 0.2)  # type: ignore[arg-type]


def test_expensive_model_fails_without_a_baseline_spend(monkeypatch: pytest.MonkeyPatch) -> None:
    target, p = MemoryTarget(), model_params()
    bills = iter([{"claude-3-opus-20240229": 0.1}, {"claude-3-opus-20240229": 0.2}] * 100)
    monkeypatch.setattr(traffic, "bill", lambda target, source: next(bills))
    readings(monkeypatch, {"before": [None], "cost": [0.2]})
    with pytest.raises(FaultError, match="spend rate over 2x"):
        traffic.model_confirm(target, p, time.time(), 0.3)  # type: ignore[arg-type]


def shift_params(**kw: Any) -> traffic.TrafficShiftParams:
    return traffic.TrafficShiftParams.model_validate({
        "namespace": "production-agents", "selector": AGENTS,
        "change": {"namespace": "drillbook-system", "configmap": "loadgen-config", "workload": "deployment/loadgen",
                   "set": {"RATE": "40", "FLOOD_SHARE": "0.75"}}, **kw})


def test_traffic_shift_sets_a_fresh_user_each_time_and_removes_it_again() -> None:
    target, p = MemoryTarget(), shift_params(fresh_user="FLOOD_USER")
    undo = traffic.shift_undo(target, p)  # type: ignore[arg-type]
    assert undo["data"] == {"RATE": "10", "FLOOD_SHARE": None, "FLOOD_USER": None}
    traffic.shift_inject(target, p)  # type: ignore[arg-type]
    first = target.configs[("drillbook-system", "loadgen-config")]["FLOOD_USER"]
    traffic.shift_inject(target, p)  # type: ignore[arg-type]
    assert target.configs[("drillbook-system", "loadgen-config")]["FLOOD_USER"] != first
    assert first.startswith("user-") and target.restarts == ["drillbook-system/loadgen"] * 2
    traffic.revert(target, undo)  # type: ignore[arg-type]
    assert target.configs[("drillbook-system", "loadgen-config")] == {"RATE": "10", "USERS": "20"}


def test_traffic_shift_binds_the_flooding_user_from_the_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    since = time.time() - 10
    target = MemoryTarget(log_lines={
        "agent-a": [chat_line(since - 5, "user-0001")] * 50  # before the fault: not counted
        + [chat_line(since + 2, "user-0001"), chat_line(since + 2, "user-0002")]
        + [chat_line(since + 3, "user-8f3a2c", 200)] * 15,
        "agent-b": [chat_line(since + 3, "user-8f3a2c")] * 10 + [chat_line(since + 4, "user-0003")] * 2,
    })
    readings(monkeypatch, {"before": [0.02], "cost": [0.09]})
    evidence = traffic.shift_confirm(target, shift_params(top_user_share=0.66, cost_ratio=2), since, 2)  # type: ignore[arg-type]
    assert evidence["bindings"] == {"USER_ID": "user-8f3a2c"}
    assert evidence["top_user"]["requests"] == 25 and evidence["top_user"]["of"] == 29
    assert evidence["spend"]["ratio"] == 4.5


def test_traffic_shift_without_a_dominant_user_is_not_confirmed(monkeypatch: pytest.MonkeyPatch) -> None:
    since = time.time() - 10
    target = MemoryTarget(log_lines={"agent-a": [chat_line(since + 2, f"user-{i % 5:04d}") for i in range(60)]})
    readings(monkeypatch, {"before": [0.02], "cost": [0.09]})
    with pytest.raises(FaultError, match="one user making 66%"):
        traffic.shift_confirm(target, shift_params(top_user_share=0.66), since, 0.2)  # type: ignore[arg-type]


def test_traffic_shift_proves_tokens_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    readings(monkeypatch, {"before": [0.02], "cost": [0.02], "tokens": [800.0, 4000.0, 6100.0]})
    evidence = traffic.shift_confirm(MemoryTarget(), shift_params(tokens_per_request=5000), time.time(), 2)  # type: ignore[arg-type]
    assert evidence["tokens"] == {"tokens_per_request": 6100} and "bindings" not in evidence


def test_requests_by_user_reads_quoted_users_and_skips_other_lines() -> None:
    now = time.time()
    target = MemoryTarget(log_lines={"agent-a": [
        chat_line(now, '"user with space"'), 'ts=2026-01-01T00:00:00.000Z level=INFO msg="agent listening"',
        "not logfmt at all", chat_line(now, "user-0001")]})
    users = spend.requests_by_user(target, "production-agents", AGENTS, now - 1)  # type: ignore[arg-type]
    assert users == {"user with space": 1, "user-0001": 1}


def test_billed_since_counts_new_models_from_zero() -> None:
    assert spend.billed_since({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.5, "c": 0.25}) == {"b": 0.5, "c": 0.25}


class _Reply:
    def __init__(self, text: str) -> None:
        self.text = text


class _Session:
    def __init__(self, text: str) -> None:
        self.text, self.urls = text, []

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def get(self, url: str, timeout: float) -> _Reply:
        self.urls.append(url)
        return _Reply(self.text)


@pytest.fixture()
def stub_metrics() -> Iterator[str]:
    yield ('# HELP llm_stub_cost_dollars_total Billed dollars at list price\n'
           '# TYPE llm_stub_cost_dollars_total counter\n'
           'llm_stub_cost_dollars_total{model="claude-3-opus-20240229"} 1.5\n'
           'llm_stub_cost_dollars_total{model="claude-3-5-sonnet-20241022"} 0.25\n'
           '# TYPE llm_stub_requests_total counter\nllm_stub_requests_total{status="200"} 7.0\n')


def test_bill_reads_the_providers_counters_through_the_service_proxy(stub_metrics: str) -> None:
    session = _Session(stub_metrics)

    class Proxy:
        def http(self) -> _Session:
            return session

        def service_url(self, namespace: str, service: str, port: int) -> str:
            return f"https://api/namespaces/{namespace}/services/{service}:{port}/proxy"

    source = spend.BillSource(namespace="drillbook-system", service="anthropic-stub", port=8090)
    assert spend.bill(Proxy(), source) == {"claude-3-opus-20240229": 1.5,  # type: ignore[arg-type]
                                           "claude-3-5-sonnet-20241022": 0.25}
    assert session.urls == ["https://api/namespaces/drillbook-system/services/anthropic-stub:8090/proxy/metrics"]
