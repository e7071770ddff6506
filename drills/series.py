"""Fetch the Prometheus series a drill's report charts, over the drill's window, while the target is up."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests import RequestException, Session

from drills.model import Series, SeriesQuery


def rate_window(scrape_s: float) -> str:
    """A rate() window holding at least four scrapes, never under 15s: short enough to show a drill's edges."""
    return f"{max(15, int(4 * scrape_s))}s"


def fetch(prometheus_url: str, queries: list[SeriesQuery], start: float, end: float, scrape_s: float,
          session: Session | None = None) -> tuple[list[Series], list[str]]:
    """Each query's first series over [start, end] at the scrape step; problems are returned, not raised
    (a missing chart must not change a drill's verdict). ``session`` reaches ``prometheus_url`` (``Target.http()``)."""
    prom = PrometheusConnect(url=prometheus_url, session=session or Session(), timeout=10)
    window, step = rate_window(scrape_s), f"{max(1, int(scrape_s))}s"
    series, problems = [], []
    for q in queries:
        expr = q.expr.replace("{window}", window)
        try:
            data = prom.custom_query_range(expr, start_time=_utc(start), end_time=_utc(end), step=step)
        except (RequestException, PrometheusApiClientException, ValueError) as exc:
            problems.append(f"series {q.name!r}: {exc}")
            continue
        # 0/0 (no traffic) is NaN in PromQL: not a number JSON can carry, and no point to draw
        points = [(float(t), float(v)) for t, v in data[0]["values"] if math.isfinite(float(v))] if data else []
        series.append(Series(name=q.name, query=expr, unit=q.unit, points=points))
    return series, problems


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
