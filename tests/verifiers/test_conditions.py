"""Recovery conditions: PromQL a remediation promises, asked of a real (local) HTTP Prometheus API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from drills.model import RecoveryCondition, ServiceCheck
from tests.fakes import FakeTarget, http_server, prometheus
from verifiers.conditions import bind, holding


def test_bind_replaces_the_window_and_the_placeholders() -> None:
    expr, unbound = bind('sum(rate(x{user="${USER_ID}"}[{window}])) < sum(rate(x[{window}] @ ${INJECTED_AT}))',
                         {"USER_ID": "user-8f3a2c", "INJECTED_AT": "1764787200.125"}, "15s")
    assert expr == 'sum(rate(x{user="user-8f3a2c"}[15s])) < sum(rate(x[15s] @ 1764787200.125))'
    assert unbound == []


def test_bind_names_what_is_unbound_and_escapes_a_value_for_a_promql_string() -> None:
    expr, unbound = bind('x{user="${USER_ID}"} @ ${INJECTED_AT} > ${LIMIT}', {"USER_ID": 'a"b\\c'}, "1m")
    assert expr == 'x{user="a\\"b\\\\c"} @ ${INJECTED_AT} > ${LIMIT}'
    assert unbound == ["INJECTED_AT", "LIMIT"]


Query = Callable[[str], list[dict[str, Any]]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeTarget, list[Query], list[str]]]:
    """A target whose Prometheus answers each query with ``answer[0](expr)``; ``asked`` records the queries."""
    answer: list[Query] = [lambda expr: []]
    asked: list[str] = []
    holder: list[FakeTarget] = []

    def query(expr: str) -> list[dict[str, Any]]:
        asked.append(expr)
        return answer[0](expr)

    with ExitStack() as stack:
        prom = stack.enter_context(http_server(prometheus(lambda: holder[0], query)))
        holder.append(FakeTarget(tmp_path, app_url="http://127.0.0.1:9", prometheus=prom))
        yield holder[0], answer, asked


def sample(value: str) -> dict[str, Any]:
    return {"metric": {}, "value": [1764787200.0, value]}


def test_a_condition_holds_while_its_expression_returns_a_sample(
        served: tuple[FakeTarget, list[Query], list[str]]) -> None:
    target, answer, asked = served
    answer[0] = lambda expr: [sample("0.0123")] if "spend" in expr else []
    conditions = [RecoveryCondition(expr="spend[{window}] < 1.5 * spend[{window}] @ ${INJECTED_AT}",
                                    description="spend back near its rate before the fault"),
                  RecoveryCondition(expr="flood_served > 0")]
    checks = holding(target, conditions, {"INJECTED_AT": "1764787200.000"})
    assert [(c.name, c.ok) for c in checks] == [("condition:spend back near its rate before the fault", True),
                                                ("condition:2", False)]
    assert checks[0].detail == "holds (0.0123): spend[15s] < 1.5 * spend[15s] @ 1764787200.000"
    assert checks[1].detail == "does not hold (no sample): flood_served > 0"
    assert asked == ["spend[15s] < 1.5 * spend[15s] @ 1764787200.000", "flood_served > 0"]  # fake: 0.25s scrapes


def test_an_unbound_placeholder_never_holds_and_is_not_queried(
        served: tuple[FakeTarget, list[Query], list[str]]) -> None:
    target, answer, asked = served
    answer[0] = lambda expr: [sample("1")]
    (check,) = holding(target, [RecoveryCondition(expr='requests{user="${USER_ID}"} == 0')], {})
    assert not check.ok and check.detail == 'unbound: ${USER_ID} in requests{user="${USER_ID}"} == 0'
    assert asked == []


def test_an_unreachable_prometheus_is_not_a_pass(tmp_path: Path) -> None:
    target = FakeTarget(tmp_path, app_url="http://127.0.0.1:9", prometheus="http://127.0.0.1:9")
    (check,) = holding(target, [RecoveryCondition(expr="vector(1)", description="anything")], {})
    assert check.name == "condition:anything" and not check.ok
    assert check.detail.startswith("Prometheus query failed")


def test_no_conditions_ask_nothing(served: tuple[FakeTarget, list[Query], list[str]]) -> None:
    target, _, asked = served
    assert holding(target, [], {}) == [] and asked == []


def test_the_spec_field_is_optional_and_strict() -> None:
    base = {"namespace": "shop", "workload": "deployment/checkout", "service": "checkout",
            "selector": {"app": "checkout"}, "port": 8080}
    assert ServiceCheck.model_validate(base).conditions == []
    check = ServiceCheck.model_validate({**base, "conditions": [{"expr": "up == 1"}]})
    assert check.conditions == [RecoveryCondition(expr="up == 1")]
    with pytest.raises(ValueError, match="expr"):
        ServiceCheck.model_validate({**base, "conditions": [{"expr": ""}]})
    with pytest.raises(ValueError, match="for_s"):
        ServiceCheck.model_validate({**base, "conditions": [{"expr": "up == 1", "for_s": 5}]})
