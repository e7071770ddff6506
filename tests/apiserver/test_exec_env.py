"""``kubectl exec`` runs with the container's own environment, read from its main process (as runc exec does)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from drills.targets.local.apiserver.subresources import _container_env


def test_the_container_processes_environment_is_the_execs() -> None:
    proc = subprocess.Popen(["sleep", "30"], env={"STUB_BEHAVIOUR_FILE": "/tmp/b.json", "PATH": "/usr/bin:/bin",
                                                  "WITH_EQUALS": "a=b"})
    try:
        deadline = time.monotonic() + 10  # until it has exec'd: a forked child shows its parent's environment
        while Path(f"/proc/{proc.pid}/comm").read_text().strip() != "sleep" and time.monotonic() < deadline:
            time.sleep(0.01)
        env = _container_env(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert env == {"STUB_BEHAVIOUR_FILE": "/tmp/b.json", "PATH": "/usr/bin:/bin", "WITH_EQUALS": "a=b"}


def test_no_process_no_environment() -> None:
    assert _container_env(None) == {}
    assert _container_env(2**22 + 12345) == {}  # no such pid
