"""A sandbox's cgroup tree is the truth about its processes: every one is found and stopped, forks included."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from drills.targets.local import cgroups

NAME = f"drillbook/unit-{os.getpid()}"


@pytest.fixture()
def flavour() -> Iterator[str]:
    found = cgroups.cgroup_support()
    if found is None or os.geteuid() != 0:
        pytest.skip(f"needs {cgroups.MISSING}")
    yield found
    cgroups.kill_tree(found, NAME)
    cgroups.remove_tree(found, NAME)


def start_in(group: cgroups.ContainerCgroup, script: str) -> subprocess.Popen[bytes]:
    group.create(None, None)
    files = group.procs_files()
    return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: cgroups.join(files))  # noqa: PLW1509 as the runtime joins


def test_every_process_of_the_tree_is_found_and_killed(flavour: str) -> None:
    a = start_in(cgroups.ContainerCgroup(flavour, f"{NAME}/ns_a"), "sleep 60 & sleep 60 & wait")
    b = start_in(cgroups.ContainerCgroup(flavour, f"{NAME}/ns_b"), "exec sleep 60")
    try:
        deadline = time.monotonic() + 5
        while len(pids := cgroups.tree_pids(flavour, NAME)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the shell forks its two sleeps: they join its cgroup, whoever their parent is
        assert a.pid in pids and b.pid in pids and pids[b.pid] == f"{NAME}/ns_b"
        assert len([g for g in pids.values() if g == f"{NAME}/ns_a"]) == 3
        killed, remaining = cgroups.kill_tree(flavour, NAME)
        assert killed == 4 and remaining == {}
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()
    assert cgroups.tree_pids(flavour, NAME) == {}
    cgroups.remove_tree(flavour, NAME)
    assert not (cgroups.V1_MEMORY / NAME).exists() and not (cgroups.V2_ROOT / NAME).exists()


def test_an_empty_or_missing_tree_has_no_process(flavour: str) -> None:
    assert cgroups.tree_pids(flavour, NAME) == {}
    assert cgroups.kill_tree(flavour, NAME, timeout_s=1) == (0, {})


def test_a_cpu_quota_throttles_a_busy_process_and_cpu_stat_counts_it(flavour: str) -> None:
    limited = cgroups.ContainerCgroup(flavour, f"{NAME}/ns_limited")
    limited.create(None, 20)  # 20m: 2 ms of CPU per 100 ms period
    files = limited.procs_files()
    busy = subprocess.Popen(["sh", "-c", "while :; do :; done"], start_new_session=True, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: cgroups.join(files))  # noqa: PLW1509 as the runtime joins
    try:
        time.sleep(1.0)
        stat = limited.cpu_stat()
    finally:
        busy.kill()
        busy.wait()
    assert stat is not None
    assert stat.periods >= 5 and stat.throttled_periods >= stat.periods * 0.8  # throttled in nearly every period
    assert stat.throttled_seconds > 0.5


def test_a_container_without_a_cpu_limit_has_no_cfs_counters(flavour: str) -> None:
    group = cgroups.ContainerCgroup(flavour, f"{NAME}/ns_free")
    group.create(None, None)
    assert group.cpu_stat() is None
