"""Label selection, the one rule every controller, Service, policy and kubectl verb of the sandbox shares."""

from __future__ import annotations

from collections.abc import Mapping


def matches(match_labels: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """``matchLabels`` semantics: every key present with the same value (an empty selector matches all)."""
    return all(labels.get(k) == v for k, v in (match_labels or {}).items())
