"""Recovery conditions: what a remediation promises, checked in the target's Prometheus.

A serving service is not always a recovered one. A cost spike's runbook blocks a bot: the agents answered
200 throughout, and without the block CostSpike still resolves by itself once its moving baseline has
absorbed the flood. What the block promises is that the flood is no longer billed, so a drill states that
as PromQL (``recovery.conditions``) and this module says, on each probe of the recovery hold, whether each
expression returns a sample. An unreachable Prometheus or an unbound placeholder is a condition not shown
to hold, never a pass.
"""

from __future__ import annotations

import math
import re
import time

from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests import RequestException

from drills.model import Check, RecoveryCondition
from drills.series import rate_window
from drills.targets.base import Target

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SHOWN = 3  # samples quoted in a check's detail


def bind(expr: str, bindings: dict[str, str], window: str) -> tuple[str, list[str]]:
    """``expr`` with ``{window}`` and each bound ``${NAME}`` replaced, and the names left unbound.

    A value is escaped for a PromQL string (``"`` and ``\\``), so an id read from logs cannot end a label
    matcher early; a number (``${INJECTED_AT}``) is unchanged by that."""
    unbound: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in bindings:
            unbound.append(name)
            return match.group(0)
        return bindings[name].replace("\\", "\\\\").replace('"', '\\"')

    return PLACEHOLDER.sub(value, expr.replace("{window}", window)), unbound


def check_name(condition: RecoveryCondition, index: int) -> str:
    """``condition:<description>``, or ``condition:<1-based index>`` for one without a description."""
    return f"condition:{condition.description or index}"


def holding(target: Target, conditions: list[RecoveryCondition], bindings: dict[str, str]) -> list[Check]:
    """One check per condition: ok while its expression returns at least one sample."""
    if not conditions:
        return []
    scrape, _ = target.scrape_and_eval_seconds()
    window = rate_window(scrape)
    checks = []
    with target.http() as session:
        prom = PrometheusConnect(url=target.prometheus_url(), session=session, timeout=5)
        for index, condition in enumerate(conditions, start=1):
            checks.append(_evaluate(prom, condition, check_name(condition, index), bindings, window))
    return checks


def _evaluate(prom: PrometheusConnect, condition: RecoveryCondition, name: str, bindings: dict[str, str],
              window: str) -> Check:
    expr, unbound = bind(condition.expr, bindings, window)
    if unbound:
        return Check(name=name, ok=False, at=time.time(),
                     detail=f"unbound: {', '.join('${' + n + '}' for n in unbound)} in {condition.expr}")
    try:
        samples = prom.custom_query(expr)
    except (RequestException, PrometheusApiClientException, ValueError) as exc:
        return Check(name=name, ok=False, detail=f"Prometheus query failed ({exc}): {expr}", at=time.time())
    if not samples:
        return Check(name=name, ok=False, detail=f"does not hold (no sample): {expr}", at=time.time())
    shown = ", ".join(_value(s) for s in samples[:SHOWN]) + (" ..." if len(samples) > SHOWN else "")
    return Check(name=name, ok=True, detail=f"holds ({shown}): {expr}", at=time.time())


def _value(sample: dict[str, object]) -> str:
    value = sample.get("value")
    text = str(value[1]) if isinstance(value, list) and len(value) > 1 else "?"
    try:
        number = float(text)
    except ValueError:
        return text
    return f"{number:.6g}" if math.isfinite(number) else text
