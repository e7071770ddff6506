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


def _samples(target: Target, expr: str, at: float | None) -> list[tuple[dict[str, str], float]]:
    """An instant query's finite samples; none on an unreachable Prometheus or a failed query."""
    params = {"time": f"{at:.3f}"} if at is not None else None
    with target.http() as session:
        prom = PrometheusConnect(url=target.prometheus_url(), session=session, timeout=5)
        try:
            data = prom.custom_query(expr.replace("{window}", window(target)), params=params)
        except (RequestException, PrometheusApiClientException, ValueError):
            return []
    found = [(sample["metric"], float(sample["value"][1])) for sample in data]
    return [(metric, value) for metric, value in found if math.isfinite(value)]  # NaN: 0/0, no traffic


def values(target: Target, expr: str, by: str, at: float | None = None) -> dict[str, float]:
    """An instant query's finite samples keyed by the label ``by`` (``""`` for a label-less result).

    ``{window}`` in ``expr`` becomes the target's rate window; ``at`` (unix seconds) evaluates it then.
    Nothing is an answer too (Prometheus unreachable, the query failed, no sample): callers poll until their
    deadline, so a passing hiccup is not a failed fault."""
    return {str(metric.get(by, "")): value for metric, value in _samples(target, expr, at)}


def query(target: Target, expr: str, at: float | None = None) -> float | None:
    """The value of a one-series query (``sum(...)``), or None when there is none (see :func:`values`)."""
    found = _samples(target, expr, at)
    return found[0][1] if found else None


def p95(target: Target, metric: str) -> float | None:
    """The p95 of a latency histogram over the rate window, as HighLatency computes it (``sum by (le)``)."""
    return query(target, f"histogram_quantile(0.95, sum by (le) (rate({metric}_bucket[{{window}}])))")
