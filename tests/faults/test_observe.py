"""Symptoms are read from log lines and Prometheus only when they happened after the injection."""

from __future__ import annotations

import datetime as dt

import pytest

from faults.observe import line_time, lines_since, window

T0 = dt.datetime(2026, 12, 3, 15, 0, 0, tzinfo=dt.UTC).timestamp()
LOGS = "\n".join([
    'ts=2026-12-03T14:59:59.900Z level=ERROR msg="429 Too Many Requests rate_limit_error from Anthropic API"',
    'ts=2026-12-03T15:00:00.250Z level=INFO msg="chat request" status=200',
    'ts=2026-12-03T15:00:01.000Z level=ERROR msg="429 Too Many Requests rate_limit_error from Anthropic API"',
    "Traceback (most recent call last): 429 Too Many Requests rate_limit_error",  # unstamped: never counts
])


def test_line_time_reads_the_refsystem_timestamp() -> None:
    assert line_time(LOGS.splitlines()[1]) == pytest.approx(T0 + 0.25)
    assert line_time("no stamp here") is None
    assert line_time("ts=not-a-time level=INFO") is None


def test_only_lines_since_the_injection_count() -> None:
    found = lines_since(LOGS, "429 Too Many Requests", T0)
    assert found == [LOGS.splitlines()[2]]  # the line before T0 and the unstamped one are left out
    assert lines_since(LOGS, "429 Too Many Requests", T0 + 2) == []


def test_window_covers_since_to_now_in_whole_seconds() -> None:
    assert window(100.0, 112.2) == "13s"
    assert window(100.0, 100.0) == "1s"
