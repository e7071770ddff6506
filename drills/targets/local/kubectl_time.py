"""Time as the sandbox ``kubectl`` reads and prints it: timestamps, the AGE column, Go durations, and the
``--timeout`` deadlines its waiting verbs (``rollout status``, ``delete``, ``drain``) poll against."""

from __future__ import annotations

import re
import time
from calendar import timegm
from typing import Any

from drills.targets.local.kubectl_resources import KubectlError

POLL_S = 0.25  # how often a waiting verb looks at status.json again


def to_epoch(value: Any) -> float | None:
    """Epoch seconds from the sandbox's timestamps (floats in status.json, RFC 3339 in objects)."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return float(timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")))
        except ValueError:
            return None
    return None


def rfc3339(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else None


def human_duration(seconds: float) -> str:
    """kubectl's AGE column (k8s.io/apimachinery duration.HumanDuration)."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 192:
        return f"{h // 24}d{h % 24}h" if h % 24 else f"{h // 24}d"
    return f"{h // 24}d"


def age(value: Any) -> str:
    ts = to_epoch(value)
    return "<unknown>" if ts is None else human_duration(time.time() - ts)


def go_duration(seconds: float) -> str:
    """``5m0s``, ``2s``: how Go prints a time.Duration (kubectl's timeout messages)."""
    s = int(seconds)
    h, m, s = s // 3600, s % 3600 // 60, s % 60
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


def parse_duration(text: str | None) -> float:
    """``5m``, ``60s``, ``1h30m``, ``300ms``; a bare number is seconds. 0 means "no limit" to the caller."""
    if not text:
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise KubectlError(f'error: invalid duration "{text}"')
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def deadline(timeout: float) -> float | None:
    """The monotonic time a ``--timeout`` of ``timeout`` seconds ends at; None for no limit (0)."""
    return time.monotonic() + timeout if timeout else None


def expired(until: float | None) -> bool:
    return until is not None and time.monotonic() >= until
