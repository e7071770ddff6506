"""Drill verdicts and timings as Prometheus metrics, pushed to a Pushgateway.

Drills are batch jobs: nothing stays up for Prometheus to scrape, so the results are pushed and the
Pushgateway keeps them for dashboards and alerts on drills themselves (a runbook whose drill started failing,
a time to recover creeping up). Each drill is pushed as its own group (``job`` + ``drill``) with PUT, so a
re-run replaces exactly that drill's values, including dropping a timing that was not measured this time,
and leaves the other drills' groups alone.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from drills.errors import ReportError
from drills.model import DrillResult, Verdict

LABELS = ("runbook", "cause", "drill")


def drill_registry(result: DrillResult) -> CollectorRegistry:
    """A fresh registry per drill: a push sends a whole registry, and each drill is a group of its own."""
    registry = CollectorRegistry()
    labels = {"runbook": result.runbook, "cause": result.cause, "drill": result.id}

    def gauge(name: str, doc: str, value: float) -> None:
        """One labelled sample: every metric carries the same labels, so they join in PromQL."""
        Gauge(name, doc, LABELS, registry=registry).labels(**labels).set(value)

    gauge("drillbook_drill_success", "1 if the drill passed, 0 if it failed or errored",
          1.0 if result.verdict == Verdict.PASSED else 0.0)
    if result.ttd_s is not None:
        gauge("drillbook_time_to_detect_seconds", "fault injected → expected alerts firing", result.ttd_s)
    if result.ttr_s is not None:
        gauge("drillbook_time_to_recover_seconds", "fault injected → service recovered", result.ttr_s)
    gauge("drillbook_drill_last_run_timestamp_seconds", "when the drill last ran (Unix time, its end)",
          result.finished_at or result.started_at or time.time())
    return registry


def push_metrics(results: list[DrillResult], url: str, job: str = "drillbook", timeout_s: float = 10) -> None:
    """Push every drill that ran (a skipped one measured nothing) to the Pushgateway at ``url``.

    Raises ``ReportError`` naming the URL when the Pushgateway cannot be reached or refuses the push, so
    the CLI can say where it tried instead of showing a urllib traceback.
    """
    for result in results:
        if result.verdict == Verdict.SKIPPED:
            continue
        try:
            push_to_gateway(url, job=job, registry=drill_registry(result), grouping_key={"drill": result.id},
                            timeout=timeout_s)
        except (OSError, ValueError) as exc:  # urllib's URLError/HTTPError and timeouts are OSErrors
            raise ReportError(f"could not push drill {result.id} metrics to the Pushgateway at {url}: "
                              f"{type(exc).__name__}: {exc}") from exc
