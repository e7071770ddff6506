"""No fault is ever left behind: SIGKILL in every phase of a drill, then ``drillbook cleanup``, restores the
steady state every time; SIGTERM and Ctrl-C revert before the runner exits.

The drill is agent-down/config-error (REDIS_URL removed from the agents' ConfigMap), whose remediation step
waits for a rollout, so every journal phase lasts long enough to be hit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drills.journal import Journal
from drills.targets.local import LocalTarget
from tests.e2e.conftest import desired, wait_for_phase

pytestmark = pytest.mark.slow
DRILL = "agent-down/config-error"
PHASES = ["injecting", "injected", "detecting", "remediating", "recovering", "reverting"]


def start(sandbox: LocalTarget, tmp_path: Path, journal_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
    return subprocess.Popen([sys.executable, "-m", "drills.cli", "run", DRILL, "--sandbox", str(sandbox.root),
                             "--report-dir", str(tmp_path / "reports")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def assert_steady_and_clean(sandbox: LocalTarget, journal_path: Path, before: dict[str, object]) -> None:
    assert Journal(journal_path).entries() == []
    assert "REDIS_URL" in sandbox.get_config("production-agents", "agent-config"), "the fault is still in"
    sandbox.wait_steady(180)
    assert desired(sandbox.snapshot()) == before


@pytest.mark.parametrize("phase", PHASES)
def test_sigkill_in_each_phase_then_cleanup_restores_steady_state(sandbox: LocalTarget, tmp_path: Path,
                                                                  journal_path: Path, phase: str) -> None:
    before = desired(sandbox.snapshot())
    proc = start(sandbox, tmp_path, journal_path)
    try:
        wait_for_phase(journal_path, phase, proc)
    finally:
        proc.kill()  # SIGKILL: no finally block, no revert
        proc.communicate()
    # The kill lands in that phase or, when the phase was shorter than one poll, just after it: the journal
    # says which, and cleanup must name that phase.
    (hit,) = [e.phase for e in Journal(journal_path).entries()] or ["(reverted)"]
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
    done = subprocess.run([sys.executable, "-m", "drills.cli", "cleanup", "--sandbox", str(sandbox.root)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    if phase != "reverting":  # killed mid-revert, the entry may or may not have been removed yet
        assert PHASES.index(hit) >= PHASES.index(phase), f"killed in {hit!r} before {phase!r}?"
        assert f"(phase {hit})" in done.stderr and "steady" in done.stderr, done.stderr
    assert_steady_and_clean(sandbox, journal_path, before)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_ctrl_c_revert_before_exit(sandbox: LocalTarget, tmp_path: Path, journal_path: Path,
                                               signum: int) -> None:
    before = desired(sandbox.snapshot())
    proc = start(sandbox, tmp_path, journal_path)
    try:
        wait_for_phase(journal_path, "detecting", proc)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 130, out.decode()
    assert_steady_and_clean(sandbox, journal_path, before)
    (result,) = json.loads((tmp_path / "reports" / "results.json").read_text())["drills"]
    assert result["verdict"] == "error" and "not-interrupted" in result["failed_checks"]
    assert result["fault"]["reverted_at"] is not None
