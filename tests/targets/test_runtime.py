"""Containers as real processes in a real cgroup: OOMKilled vs Error, back-off, process-group stop."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from drills.targets.local import cgroups
from drills.targets.local.podspec import ContainerConfig
from drills.targets.local.runtime import Backoff, Container

CGROUP_TOP = f"drillbook/pytest-{os.getpid()}"
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1"}


def config(argv: list[str], memory_limit: int | None = None) -> ContainerConfig:
    return ContainerConfig(name="agent", image="ghcr.io/drillbook/production-agent:1.0.0", argv=argv,
                           env=dict(ENV), memory_limit=memory_limit, cpu_millicores=None, readiness=None,
                           mounts={})


@pytest.fixture
def flavour() -> Iterator[str]:
    support = cgroups.cgroup_support()
    if support is None:
        pytest.skip("needs a writable cgroup memory controller (run as root)")
    try:
        yield support
    finally:
        cgroups.remove_tree(support, CGROUP_TOP)


def wait_exit(container: Container, timeout: float = 15) -> None:
    assert container.process is not None
    container.process.wait(timeout)


def test_backoff_doubles_from_ten_and_caps_at_five_minutes() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff.delay(0) == 10
    assert Backoff(base_s=2, cap_s=20).delay(5) == 20


def test_oom_killed_in_cgroup(flavour: str, tmp_path: Path) -> None:
    cgroup = cgroups.ContainerCgroup(flavour, f"{CGROUP_TOP}/oom")
    container = Container("agent", "ghcr.io/drillbook/production-agent:1.0.0", tmp_path / "agent.log", cgroup)
    argv = [sys.executable, "-c", "b = bytearray(b'x') * (300 * 1024 * 1024)"]
    try:
        container.start(config(argv, memory_limit=64 * 1024 * 1024), tmp_path)
        limit_file = cgroup.memory_dir / ("memory.limit_in_bytes" if flavour == "v1" else "memory.max")
        assert int(limit_file.read_text()) == 64 * 1024 * 1024
        wait_exit(container)
        assert cgroup.oom_kills() >= 1
        assert container.reap(Backoff()) is True
        status = container.status()
        terminated = status["lastState"]["terminated"]
        assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137)
        assert status["restartCount"] == 1
        assert status["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                               "message": "back-off restarting failed container agent"}}
        assert status["ready"] is False
        assert 9 < container.backoff_until - time.time() <= 10  # first back-off: 10 s
        assert container.reap(Backoff()) is False  # nothing more to reap
    finally:
        container.stop()


def test_sigkill_not_from_oom_is_error_137(flavour: str, tmp_path: Path) -> None:
    cgroup = cgroups.ContainerCgroup(flavour, f"{CGROUP_TOP}/killed")
    container = Container("agent", "img", tmp_path / "agent.log", cgroup)
    try:
        argv = [sys.executable, "-c", "import time; time.sleep(60)"]
        container.start(config(argv, 64 * 1024 * 1024), tmp_path)
        assert container.running
        assert container.status()["state"]["running"]["startedAt"].endswith("Z")
        pid = container.process.pid
        procs = (cgroup.memory_dir / "cgroup.procs").read_text().split()
        assert str(pid) in procs  # the child joined its cgroup before exec
        os.kill(pid, signal.SIGKILL)
        wait_exit(container)
        assert container.reap(Backoff()) is True
        terminated = container.status()["lastState"]["terminated"]
        assert (terminated["reason"], terminated["exitCode"]) == ("Error", 137)
        assert cgroup.oom_kills() == 0
    finally:
        container.stop()


def test_exit_code_3_is_error_and_restarts_count_up(tmp_path: Path) -> None:
    container = Container("agent", "img", tmp_path / "logs" / "agent.log", None)
    backoff = Backoff()
    for attempt in (1, 2):
        container.start(config([sys.executable, "-c", "print('boom', flush=True); raise SystemExit(3)"]),
                        tmp_path)
        wait_exit(container)
        assert container.reap(backoff) is True
        status = container.status()
        assert status["lastState"]["terminated"]["reason"] == "Error"
        assert status["lastState"]["terminated"]["exitCode"] == 3
        assert status["restartCount"] == attempt
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert container.failures == attempt
    # second failure: 20 s back-off; the previous run's log is kept
    assert 19 < container.backoff_until - time.time() <= 20
    assert (tmp_path / "logs" / "agent.log").read_text() == "boom\n"
    assert (tmp_path / "logs" / "agent.previous.log").read_text() == "boom\n"


def test_clean_exit_is_completed(tmp_path: Path) -> None:
    container = Container("job", "img", tmp_path / "job.log", None)
    container.start(config([sys.executable, "-c", "pass"]), tmp_path)
    wait_exit(container)
    container.reap(Backoff())
    terminated = container.status()["lastState"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Completed", 0)


def test_status_before_start_is_container_creating(tmp_path: Path) -> None:
    status = Container("agent", "img", tmp_path / "a.log", None).status()
    assert status["state"] == {"waiting": {"reason": "ContainerCreating", "message": ""}}
    assert status["restartCount"] == 0 and status["lastState"] == {}


def test_stop_terminates_whole_process_group(tmp_path: Path) -> None:
    container = Container("agent", "img", tmp_path / "a.log", None)
    container.start(config(["sh", "-c", "sleep 100 & sleep 100"]), tmp_path)
    assert container.process is not None
    shell = psutil.Process(container.process.pid)
    deadline = time.monotonic() + 5
    sleeps: list[psutil.Process] = []
    while time.monotonic() < deadline:
        family = [shell, *shell.children(recursive=True)]
        sleeps = [p for p in family if p.name() == "sleep"]
        if len(sleeps) == 2:
            break
        time.sleep(0.02)
    assert len(sleeps) == 2, "expected two sleep processes"
    family = [shell, *shell.children(recursive=True)]
    started = time.monotonic()
    container.stop(grace_s=2)
    assert time.monotonic() - started < 2  # SIGTERM was enough, no grace period wait
    deadline = time.monotonic() + 3
    while any(_running(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p.pid for p in family if _running(p)] == []  # shell and both sleeps gone (zombies count as gone)
    assert not container.running and container.ready is False


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_restart_keeps_one_previous_log_and_a_new_pod_starts_clean(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"

    def started(container: Container, word: str) -> None:
        container.start(config([sys.executable, "-c", f"print({word!r})"]), tmp_path)
        wait_exit(container)

    first = Container("redis", "redis:7", log, None)
    started(first, "first")
    first.restart_count = 1
    started(first, "restarted")
    assert (log.read_text(), log.with_suffix(".previous.log").read_text()) == ("restarted\n", "first\n")
    # The StatefulSet recreates redis-0: same name, same log path, a new container with no history.
    started(Container("redis", "redis:7", log, None), "new pod")
    assert log.read_text() == "new pod\n"
    assert not log.with_suffix(".previous.log").exists()
