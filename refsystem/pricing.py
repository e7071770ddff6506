"""List prices of the Messages API models and what one response's usage costs.

Why one table for both sides: the LLM stub bills usage the way the provider does (its
``llm_stub_cost_dollars_total`` is the "invoice"), and the agent prices the same usage for
``agent_cost_dollars_total``, which the CostSpike / DailyBudgetExceeded alerts and the budget lever
(``DAILY_BUDGET_DOLLARS``) act on. Two tables would drift, and a drill would then prove a cost
remediation against numbers nobody is billed.

Prices are the published per-million-token list prices of these models. Prompt caching is billed as
the real API does: writing a cache entry costs 1.25x the model's input price, reading one 0.1x, and a
prefix shorter than the model's minimum cacheable length is not cached at all (billed as plain input).
"""

from __future__ import annotations

from dataclasses import dataclass

CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.1


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens, and the shortest prompt prefix (in tokens) the model caches."""

    input: float
    output: float
    min_cacheable_tokens: int = 1024


PRICES: dict[str, Price] = {
    "claude-3-5-sonnet-20241022": Price(3.0, 15.0),
    "claude-3-5-haiku-20241022": Price(0.80, 4.0, 2048),
    "claude-3-haiku-20240307": Price(0.25, 1.25, 2048),
    "claude-3-opus-20240229": Price(15.0, 75.0),
}
# An unlisted model id is priced by its family name (e.g. a newer dated sonnet).
_FAMILIES: tuple[tuple[str, Price], ...] = (
    ("opus", PRICES["claude-3-opus-20240229"]),
    ("haiku", PRICES["claude-3-haiku-20240307"]),
    ("sonnet", PRICES["claude-3-5-sonnet-20241022"]),
)


def price_of(model: str) -> Price:
    """The model's list price: exact id first, then its family; unknown names cost like Sonnet."""
    exact = PRICES.get(model)
    if exact is not None:
        return exact
    return next((p for family, p in _FAMILIES if family in model), PRICES["claude-3-5-sonnet-20241022"])


def dollars(model: str, input_tokens: int, output_tokens: int, cache_write: int = 0, cache_read: int = 0) -> float:
    """What one response costs; ``input_tokens`` excludes the cached ones, as in the API's ``usage``."""
    p = price_of(model)
    return (input_tokens * p.input + cache_write * p.input * CACHE_WRITE_MULTIPLIER
            + cache_read * p.input * CACHE_READ_MULTIPLIER + output_tokens * p.output) / 1e6
