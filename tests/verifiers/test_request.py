"""The end-to-end request is spec data: what is sent, and how the reply is judged, over real local HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from drills.model import EndToEndRequest
from tests.fakes import http_server
from verifiers.health import _fresh, judge_reply


def route(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    if path == "/api/orders" and json.loads(body or b"{}").get("key", "").startswith("drill-"):
        return 201, {"order_id": "o-1", "status": "accepted"}
    if path == "/empty":
        return 200, {"order_id": ""}
    return 404, {}


@pytest.mark.parametrize(("request_spec", "problem"), [
    ({"method": "POST", "path": "/api/orders", "json": {"key": "drill-{uuid}"}, "expect_status": 201,
      "expect_json_key": "order_id"}, None),
    ({"method": "POST", "path": "/api/orders", "json": {"key": "drill-{uuid}"}, "expect_json_key": "order_id"},
     "status 201, expected 200"),
    ({"method": "POST", "path": "/api/orders", "expect_status": 201}, "status 404, expected 201"),  # no body sent
    ({"path": "/empty", "expect_json_key": "order_id"}, "no non-empty 'order_id' in the JSON body"),
    ({"path": "/api/orders", "json": {"key": "drill-1"}, "expect_status": 201,
      "expect_body": '"status": "accepted"'}, None),
    ({"path": "/api/orders", "json": {"key": "drill-1"}, "expect_status": 201, "expect_body": "rejected"},
     "body does not match 'rejected'"),
])
def test_the_reply_is_judged_as_the_spec_says(request_spec: dict[str, Any], problem: str | None) -> None:
    spec = EndToEndRequest.model_validate(request_spec)
    with http_server(route) as url:
        reply = requests.request(spec.method, url + spec.path, json=_fresh(spec.body), timeout=5)
    assert judge_reply(spec, reply) == problem


def test_uuid_in_the_body_is_fresh_per_request() -> None:
    spec = EndToEndRequest.model_validate({"method": "POST", "path": "/api/orders",
                                           "json": {"key": "drill-{uuid}", "items": [{"sku": "{uuid}"}], "n": 1}})
    first, second = _fresh(spec.body), _fresh(spec.body)
    assert first["key"].startswith("drill-") and first["key"] != second["key"] and "{uuid}" not in str(first)
    assert first["n"] == 1 and spec.body["key"] == "drill-{uuid}"
