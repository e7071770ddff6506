"""The agent's Prometheus metrics, the outcome types they count, and what a completion costs.

Why here: the runbooks' alert rules and remediation checks query these exact names
(``agent_requests_total``, ``agent_errors_total{type}``, ``agent_cost_dollars_total`` ...), so they are
declared once, next to the list of error types a request can end in (:class:`Reject` carries one) and
the pricing (:mod:`refsystem.pricing`) that turns token usage into the dollars the CostSpike alert watches.

Each :class:`Metrics` owns a private registry so tests and processes never share counters.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from refsystem.pricing import dollars

# Request-latency buckets, shared with the load generator so both sides of a drill bucket alike.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)
ERROR_TYPES = ("upstream_auth", "upstream_rate_limit", "upstream_timeout", "upstream_error", "redis_connection",
               "redis_error", "blocked", "rate_limited", "budget_exceeded", "bad_request", "internal")


def cost_of(model: str, usage: Any) -> tuple[int, int, float]:
    """(input tokens incl. cached, output tokens, dollars) at the list prices of :mod:`refsystem.pricing`."""
    plain, out = usage.input_tokens or 0, usage.output_tokens or 0
    c_write = getattr(usage, "cache_creation_input_tokens", 0) or 0
    c_read = getattr(usage, "cache_read_input_tokens", 0) or 0
    return plain + c_write + c_read, out, dollars(model, plain, out, c_write, c_read)


class Reject(Exception):
    """An early HTTP answer: status, client payload and the ``agent_errors_total`` type (if any)."""

    def __init__(self, status: int, err_type: str | None, payload: dict[str, Any]) -> None:
        super().__init__(err_type or str(status))
        self.status, self.err_type, self.payload = status, err_type, payload


class Metrics:
    """The runbooks' metric names, on a private registry so tests/processes never share state."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("agent_requests_total", "Chat requests by HTTP status", ["status"], registry=r)
        self.errors = Counter("agent_errors_total", "Chat errors by type", ["type"], registry=r)
        self.duration = Histogram("agent_request_duration_seconds", "Chat request duration", registry=r,
                                  buckets=LATENCY_BUCKETS)
        self.tokens = Counter("agent_tokens_used_total", "LLM tokens", ["type", "model"], registry=r)
        self.cost = Counter("agent_cost_dollars_total", "LLM spend in dollars", ["model"], registry=r)
        self.breaker = Gauge("agent_circuit_breaker_state", "1 for the current state", ["state"], registry=r)
        self.cache_bytes = Gauge("agent_context_cache_bytes", "Bytes held by the context cache", registry=r)
        self.requests.labels("200")
        for t in ERROR_TYPES:  # pre-create so rate() over errors works from the first scrape
            self.errors.labels(t)

    def spend(self, model: str, usage: Any) -> tuple[int, int, float]:
        """Count one completion's tokens and dollars; returns :func:`cost_of` for the request log line."""
        tokens_in, tokens_out, dollars = cost_of(model, usage)
        self.tokens.labels("input", model).inc(tokens_in)
        self.tokens.labels("output", model).inc(tokens_out)
        self.cost.labels(model).inc(dollars)
        return tokens_in, tokens_out, dollars
