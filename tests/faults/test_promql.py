"""The one way faults read Prometheus: {window} bound, NaN and failures read as no value (faults poll)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from faults import promql
from tests.fakes import Answer, http_server


@dataclass
class PromTarget:
    url: str
    asked: list[dict[str, list[str]]] = field(default_factory=list)

    def prometheus_url(self) -> str:
        return self.url

    def http(self) -> requests.Session:
        return requests.Session()

    def scrape_and_eval_seconds(self) -> tuple[float, float]:
        return 1.0, 1.0


SAMPLES = [{"metric": {"pod": "agent-a"}, "value": [0, "0.5"]}, {"metric": {"pod": "agent-b"}, "value": [0, "NaN"]},
           {"metric": {"pod": "agent-c"}, "value": [0, "2"]}]


@pytest.fixture
def target() -> Iterator[PromTarget]:
    holder: list[PromTarget] = []

    def route(method: str, path: str, body: bytes) -> Answer:
        params = parse_qs(urlparse(path).query) | parse_qs(body.decode())
        holder[0].asked.append(params)
        if "broken" in params["query"][0]:
            return 400, {"status": "error", "errorType": "bad_data", "error": "parse error"}
        result: list[dict[str, Any]] = [] if "empty" in params["query"][0] else SAMPLES
        return 200, {"status": "success", "data": {"resultType": "vector", "result": json.loads(json.dumps(result))}}

    with http_server(route) as url:
        holder.append(PromTarget(url))
        yield holder[0]


def test_values_are_keyed_by_a_label_without_nan_and_the_window_is_the_targets(target: PromTarget) -> None:
    assert promql.values(target, 'sum by (pod) (rate(x{job="a"}[{window}]))', "pod") == {"agent-a": 0.5,
                                                                                         "agent-c": 2.0}
    assert target.asked[-1]["query"] == ['sum by (pod) (rate(x{job="a"}[15s]))']  # label braces untouched


def test_query_is_the_first_finite_value_evaluated_when_asked(target: PromTarget) -> None:
    assert promql.query(target, "sum(x)", at=1700000000.5) == 0.5
    assert target.asked[-1]["time"] == ["1700000000.500"]
    assert promql.query(target, "empty") is None


def test_a_failed_query_or_an_unreachable_prometheus_is_no_value(target: PromTarget) -> None:
    assert promql.query(target, "broken(") is None and promql.values(target, "broken(", "pod") == {}
    assert promql.query(PromTarget("http://127.0.0.1:9"), "sum(x)") is None
