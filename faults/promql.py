"""Reading a fault's symptoms from the target's Prometheus: what the alert will see, before it is awaited."""

from __future__ import annotations

import math

from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests import RequestException

from drills.series import rate_window
from drills.targets.base import Target


def window(target: Target) -> str:
    """The rate window the target's alert rules and charts use (15s on the fast sandbox, 1m at 15s scrapes)."""
    scrape, _ = target.scrape_and_eval_seconds()
    return rate_window(scrape)


def values(target: Target, expr: str, by: str) -> dict[str, float]:
    """An instant query's finite samples, keyed by the label ``by`` (``""`` for a label-less result); none on
    an unreachable Prometheus (the caller polls until its deadline)."""
    with target.http() as session:
        prom = PrometheusConnect(url=target.prometheus_url(), session=session, timeout=5)
        try:
            data = prom.custom_query(expr)
        except (RequestException, PrometheusApiClientException, ValueError):
            return {}
    out = {}
    for sample in data:
        value = float(sample["value"][1])
        if math.isfinite(value):
            out[str(sample["metric"].get(by, ""))] = value
    return out


def p95(target: Target, metric: str) -> float | None:
    """The p95 of a latency histogram over the rate window, as HighLatency computes it (``sum by (le)``)."""
    expr = f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket[{window(target)}])))"
    return values(target, expr, "").get("")
