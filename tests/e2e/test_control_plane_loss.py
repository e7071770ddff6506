"""A drill whose cluster dies stops within seconds and leaves the fault for cleanup; a dead control plane's pods
never outlive it: ``kill -9`` of the sandbox's controller in a drill phase, then ``drillbook cleanup``, leaves a
steady cluster run by the new controller alone, and ``drillbook down`` after such a kill leaves nothing.

Three phases are exercised for the controller (the fault just confirmed, detection, remediation), not all
six: each costs a drill and a control-plane restart (30-50 s), and the runner's watchdog is the same in every
phase; the API server is killed once, in detection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.journal import Journal
from drills.targets.local import LocalTarget, cgroups
from drills.targets.local import sandbox as local_sandbox
from tests.e2e.conftest import desired, wait_for_phase
from tests.e2e.test_no_fault_left_behind import assert_steady_and_clean, start

pytestmark = pytest.mark.slow


def ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state is the parent's pid
        chain.append(pid)
    return chain


def orphans(target: LocalTarget) -> dict[int, str]:
    """Processes in the sandbox's cgroup tree that the running controller did not start."""
    controller = local_sandbox.controller_pid(target.root)
    tree = cgroups.tree_pids(cgroups.cgroup_support() or "v1", target.config.cgroup_name)
    return {pid: group for pid, group in tree.items() if controller not in ancestors(pid)}


def cgroup_dirs(name: str) -> list[Path]:
    roots = (cgroups.V1_MEMORY, cgroups.V1_CPU, cgroups.V2_HYBRID, cgroups.V2_ROOT)
    return [root / name for root in roots if (root / name).is_dir()]


def running(target: LocalTarget, daemon: str) -> int:
    """The daemon's pid, once it runs: a controller killed by the previous test may be in restart backoff."""
    deadline = time.monotonic() + 60
    while (pid := local_sandbox._pid(target.root / f"{daemon}.pid")) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid is not None, f"no {daemon} running"
    return pid


def kill_controller(target: LocalTarget, daemon: str = "controller") -> float:
    os.kill(running(target, daemon), signal.SIGKILL)
    return time.time()


def cleanup(target: LocalTarget, journal_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(journal_path)}
    return subprocess.run([sys.executable, "-m", "drills.cli", "cleanup", "--sandbox", str(target.root)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(("phase", "daemon"), [("injected", "controller"), ("detecting", "controller"),
                                               ("remediating", "controller"), ("detecting", "apiserver")])
def test_control_plane_sigkill_stops_the_drill_and_cleanup_restores(sandbox: LocalTarget, tmp_path: Path,
                                                                    journal_path: Path, phase: str,
                                                                    daemon: str) -> None:
    before = desired(sandbox.snapshot())
    proc = start(sandbox, tmp_path, journal_path)
    try:
        wait_for_phase(journal_path, phase, proc)
        killed_at = kill_controller(sandbox, daemon)
        out, _ = proc.communicate(timeout=60)  # the drill ends within a minute, not after its budgets
    finally:
        proc.kill()
    ended_s = time.time() - killed_at
    (result,) = json.loads((tmp_path / "reports" / "results.json").read_text())["drills"]
    assert proc.returncode == 1, out.decode()
    assert result["verdict"] == "error" and "target-reachable" in result["failed_checks"], out.decode()
    assert result["reason"].startswith("target lost at +"), result["reason"]
    noticed = next(c for c in result["checks"] if c["name"] == "target-reachable")["at"]
    print(f"{daemon} killed in {phase}: lost target noticed {noticed - killed_at:.1f}s after the kill; drill ended "
          f"{ended_s:.1f}s after it")
    assert noticed - killed_at < 10
    late = [s for s in result["steps"] if s.get("started_at") and s["started_at"] > noticed]
    assert late == [], "a runbook step ran against the lost target"
    assert [e.drill_id for e in Journal(journal_path).entries()] == ["agent-down/config-error"]

    done = cleanup(sandbox, journal_path)
    assert done.returncode == 0, done.stderr
    assert "reverted" in done.stderr and "is steady" in done.stderr, done.stderr
    assert_steady_and_clean(sandbox, journal_path, before)
    assert orphans(sandbox) == {}


def test_next_drill_passes_after_a_lost_target(sandbox: LocalTarget, tmp_path: Path, journal_path: Path) -> None:
    kill_controller(sandbox)
    done = cleanup(sandbox, journal_path)
    assert done.returncode == 0, done.stderr
    assert orphans(sandbox) == {}
    proc = start(sandbox, tmp_path, journal_path)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out.decode()


def test_cleanup_with_an_empty_journal_says_what_is_wrong(sandbox: LocalTarget, journal_path: Path) -> None:
    controller = running(sandbox, "controller")  # not in the restart backoff the previous test caused
    os.kill(running(sandbox, "supervisor"), signal.SIGKILL)  # nothing restarts the control plane now
    os.kill(controller, signal.SIGKILL)
    time.sleep(0.5)
    name = sandbox.config.cgroup_name
    assert cgroups.tree_pids(cgroups.cgroup_support() or "v1", name), "the pods should outlive the kill"
    try:
        done = cleanup(sandbox, journal_path)
        assert done.returncode == 1, done.stderr
        assert "journal empty" in done.stderr and "control plane" in done.stderr and "dead" in done.stderr
        assert cgroups.tree_pids(cgroups.cgroup_support() or "v1", name) == {}
        assert cgroup_dirs(name) == []
    finally:
        sandbox.ensure_up()
        sandbox.wait_steady(180)
    assert orphans(sandbox) == {}


@pytest.mark.parametrize("also_supervisor", [False, True], ids=["controller", "controller+supervisor"])
def test_down_after_control_plane_sigkill_leaves_nothing(sandbox: LocalTarget, also_supervisor: bool) -> None:
    name, root = sandbox.config.cgroup_name, sandbox.root
    try:
        kill_controller(sandbox)  # first: it waits for a controller in restart backoff
        supervisor, api = local_sandbox.supervisor_pid(root), local_sandbox._pid(root / "apiserver.pid")
        assert supervisor is not None and api is not None
        daemons = [supervisor, api]
        if also_supervisor:
            os.kill(supervisor, signal.SIGKILL)
        sandbox.down()
        assert cgroup_dirs(name) == []
        left = [pid for pid in daemons if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
        assert left == [], "a daemon of the sandbox survived down"
    finally:
        sandbox.ensure_up()
        sandbox.wait_steady(180)
