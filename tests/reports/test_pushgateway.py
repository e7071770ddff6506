"""Drill metrics pushed to a real Prometheus Pushgateway, read back from its /metrics page."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from drills.errors import DrillbookError, ReportError
from drills.model import DrillResult, Verdict
from drills.reports.pushgateway import push_metrics
from tests.reports.conftest import sample

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
METRICS = ("drillbook_drill_success", "drillbook_time_to_detect_seconds", "drillbook_time_to_recover_seconds",
           "drillbook_drill_last_run_timestamp_seconds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A throwaway Pushgateway on a free local port, in memory only.

    Debian's build defaults ``--persistence.file`` to /var/lib/prometheus/pushgateway.data: it is set to empty
    explicitly, or every run would share (and leave behind) that file.
    """
    if not Path(PUSHGATEWAY).exists() and not shutil.which("prometheus-pushgateway"):
        pytest.skip("needs prometheus-pushgateway (apt-get install prometheus-pushgateway)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("w")
    proc = subprocess.Popen([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pushgateway did not become ready: {(tmp_path / 'pushgateway.log').read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def scrape(url: str) -> dict[tuple[str, str], tuple[float, dict[str, str]]]:
    """Our metrics on the Pushgateway's /metrics, keyed by (metric, drill), each with its value and labels."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    found: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in METRICS:
                key = (s.name, s.labels["drill"])
                assert key not in found, f"two samples for {key}"
                found[key] = (s.value, dict(s.labels))
    return found


def test_push_exposes_success_timings_and_labels(pushgateway: str, passed_result: DrillResult,
                                                 failed_result: DrillResult) -> None:
    skipped = sample(Verdict.SKIPPED, "agent-down/skipped")
    push_metrics([passed_result, failed_result, skipped], pushgateway)
    got = scrape(pushgateway)
    assert got[("drillbook_drill_success", "agent-down/oom")][0] == 1.0
    assert got[("drillbook_drill_success", "agent-down/oom-withheld")][0] == 0.0
    assert got[("drillbook_time_to_detect_seconds", "agent-down/oom")][0] == pytest.approx(19.7)
    assert got[("drillbook_time_to_detect_seconds", "agent-down/oom-withheld")][0] == pytest.approx(19.7)
    assert got[("drillbook_time_to_recover_seconds", "agent-down/oom")][0] == pytest.approx(24.1)
    assert ("drillbook_time_to_recover_seconds", "agent-down/oom-withheld") not in got  # never recovered
    last_run = got[("drillbook_drill_last_run_timestamp_seconds", "agent-down/oom")][0]
    assert last_run == passed_result.finished_at
    assert not any(drill == "agent-down/skipped" for _, drill in got)
    labels = got[("drillbook_drill_success", "agent-down/oom-withheld")][1]
    assert {k: labels[k] for k in ("runbook", "cause", "drill", "job")} == {
        "runbook": "Agent Down", "cause": "Out of Memory (OOM)", "drill": "agent-down/oom-withheld",
        "job": "drillbook"}


def test_a_second_push_replaces_the_first(pushgateway: str, passed_result: DrillResult,
                                          failed_result: DrillResult) -> None:
    push_metrics([passed_result, failed_result], pushgateway)
    again = sample(Verdict.FAILED, "agent-down/oom")  # the drill that passed now fails: no recovery time
    again.ttd_s, again.finished_at = 42.5, (passed_result.finished_at or 0) + 3600
    fixed = sample(Verdict.PASSED, "agent-down/oom-withheld")
    push_metrics([again, fixed], pushgateway)
    got = scrape(pushgateway)
    assert got[("drillbook_drill_success", "agent-down/oom")][0] == 0.0
    assert got[("drillbook_time_to_detect_seconds", "agent-down/oom")][0] == pytest.approx(42.5)
    assert ("drillbook_time_to_recover_seconds", "agent-down/oom") not in got  # dropped, not stale
    assert got[("drillbook_drill_last_run_timestamp_seconds", "agent-down/oom")][0] == again.finished_at
    assert got[("drillbook_drill_success", "agent-down/oom-withheld")][0] == 1.0
    assert got[("drillbook_time_to_recover_seconds", "agent-down/oom-withheld")][0] == pytest.approx(24.1)


def test_unreachable_pushgateway_raises_naming_the_url(passed_result: DrillResult) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    with pytest.raises(DrillbookError) as info:
        push_metrics([passed_result], url, timeout_s=2)
    assert isinstance(info.value, ReportError)
    assert url in str(info.value) and "agent-down/oom" in str(info.value)
