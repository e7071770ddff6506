"""Memory (and CPU) limits the kernel enforces, via cgroup v1 or v2.

A pod's container gets its own cgroup; the child process moves itself into it before ``exec`` so the limit
applies from its first allocation. OOM kills are read back from the kernel's own counter (``oom_kill`` in
``memory.oom_control`` on v1, ``memory.events`` on v2), which is how the sandbox tells ``OOMKilled`` from
any other SIGKILL, exactly as the kubelet does.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

V1_MEMORY = Path("/sys/fs/cgroup/memory")
V1_CPU = Path("/sys/fs/cgroup/cpu")
V2_ROOT = Path("/sys/fs/cgroup")
V2_HYBRID = Path("/sys/fs/cgroup/unified")  # the cgroup2 hierarchy next to v1 controllers (hybrid mode)


def net_root() -> Path | None:
    """The cgroup2 hierarchy whose paths iptables' ``-m cgroup --path`` matches (NetworkPolicy enforcement)."""
    for root in (V2_HYBRID, V2_ROOT):
        if (root / "cgroup.procs").exists() and (root / "cgroup.controllers").exists() and os.access(root, os.W_OK):
            return root
    return None


def cgroup_support() -> str | None:
    """Which cgroup flavour this process can create limits in: "v1", "v2", or None (say what's missing)."""
    if (V1_MEMORY / "memory.limit_in_bytes").exists() and os.access(V1_MEMORY, os.W_OK):
        return "v1"
    if (V2_ROOT / "cgroup.controllers").exists() and os.access(V2_ROOT, os.W_OK):
        if "memory" in (V2_ROOT / "cgroup.controllers").read_text().split():
            return "v2"
    return None


@dataclass(frozen=True)
class CpuStat:
    """A cgroup's CFS bandwidth counters: enforcement periods, periods in which it was throttled, time throttled."""

    periods: int
    throttled_periods: int
    throttled_seconds: float


def cpu_quota_support() -> bool:
    """Whether a container's CPU limit becomes a CFS quota here (the cgroup cpu controller is writable)."""
    flavour = cgroup_support()
    if flavour == "v1":
        return (V1_CPU / "cpu.cfs_quota_us").exists() and os.access(V1_CPU, os.W_OK)
    return flavour == "v2" and "cpu" in (V2_ROOT / "cgroup.controllers").read_text().split()


MISSING = "a writable cgroup memory controller (/sys/fs/cgroup/memory or cgroup v2); run as root"


@dataclass
class ContainerCgroup:
    """One container's cgroup: created with its limits, read for OOM kills, removed when the pod goes."""

    flavour: str
    name: str  # path below the controller root, e.g. drillbook/<sandbox>/<ns>_<pod>

    @property
    def memory_dir(self) -> Path:
        return (V1_MEMORY if self.flavour == "v1" else V2_ROOT) / self.name

    @property
    def cpu_dir(self) -> Path:
        return (V1_CPU if self.flavour == "v1" else V2_ROOT) / self.name

    def create(self, memory_limit: int | None, cpu_millicores: int | None) -> None:
        if self.flavour == "v2":
            _enable_v2_controllers(self.memory_dir.parent)
        self.memory_dir.mkdir(parents=True, exist_ok=True)
        if self.flavour == "v1":
            limit = str(memory_limit) if memory_limit else "-1"
            # The kernel keeps memsw.limit >= limit at every step: when raising, memsw goes first; when
            # lowering, limit goes first. Try one order and fall back to the other (EINVAL).
            files = [self.memory_dir / "memory.limit_in_bytes"]
            if (self.memory_dir / "memory.memsw.limit_in_bytes").exists():
                files.append(self.memory_dir / "memory.memsw.limit_in_bytes")
            try:
                for path in files:
                    _write(path, limit)
            except OSError:
                for path in reversed(files):
                    _write(path, limit)
            if cpu_millicores and V1_CPU.exists():
                self.cpu_dir.mkdir(parents=True, exist_ok=True)
                _write(self.cpu_dir / "cpu.cfs_period_us", "100000")
                _write(self.cpu_dir / "cpu.cfs_quota_us", str(cpu_millicores * 100))
        else:
            _write(self.memory_dir / "memory.max", str(memory_limit) if memory_limit else "max")
            _write(self.memory_dir / "memory.swap.max", "0")
            if cpu_millicores:
                _write(self.memory_dir / "cpu.max", f"{cpu_millicores * 100} 100000")

    def procs_files(self) -> list[Path]:
        """Files a child writes its pid into to join the cgroup(s)."""
        files = [self.memory_dir / "cgroup.procs"]
        if self.flavour == "v1" and (self.cpu_dir / "cgroup.procs").exists():
            files.append(self.cpu_dir / "cgroup.procs")
        net = self.net_dir
        if net is not None and net != self.memory_dir:
            net.mkdir(parents=True, exist_ok=True)
            files.append(net / "cgroup.procs")
        return files

    @property
    def net_dir(self) -> Path | None:
        """This container's cgroup2 directory, which identifies its traffic to iptables."""
        root = net_root()
        return root / self.name if root else None

    def oom_kills(self) -> int:
        """The kernel's count of OOM kills in this cgroup."""
        path = self.memory_dir / ("memory.oom_control" if self.flavour == "v1" else "memory.events")
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except OSError:
            pass
        return 0

    def cpu_stat(self) -> CpuStat | None:
        """The CFS bandwidth counters of this cgroup (``cpu.stat``), or None when it has no CPU quota: cAdvisor
        exports the throttling series only for containers with a CPU limit, and so does the sandbox."""
        if self.flavour == "v1":
            quota = self.cpu_dir / "cpu.cfs_quota_us"
            stat = self.cpu_dir / "cpu.stat"
        else:
            quota, stat = self.memory_dir / "cpu.max", self.memory_dir / "cpu.stat"
        try:
            limited = not quota.read_text().strip().startswith(("-1", "max"))
            fields = dict(line.split() for line in stat.read_text().splitlines() if len(line.split()) == 2)
        except (OSError, ValueError):
            return None
        if not limited:
            return None
        throttled_s = int(fields["throttled_time"]) / 1e9 if "throttled_time" in fields \
            else int(fields.get("throttled_usec", 0)) / 1e6
        return CpuStat(int(fields.get("nr_periods", 0)), int(fields.get("nr_throttled", 0)), throttled_s)

    def memory_usage(self) -> int:
        path = self.memory_dir / ("memory.usage_in_bytes" if self.flavour == "v1" else "memory.current")
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            return 0

    def remove(self) -> None:
        for directory in {self.memory_dir, self.cpu_dir, self.net_dir or self.memory_dir}:
            try:
                directory.rmdir()
            except OSError:
                pass


def _roots(flavour: str) -> list[Path]:
    roots = [V1_MEMORY, V1_CPU] if flavour == "v1" else [V2_ROOT]
    if flavour == "v1" and net_root() == V2_HYBRID:
        roots.append(V2_HYBRID)
    return roots


def tree_pids(flavour: str, name: str) -> dict[int, str]:
    """Every process in a sandbox's cgroup subtree, with the cgroup (below the root) it is in.

    The cgroup is the truth about which processes belong to the embedded cluster: a pod's process and all
    its descendants stay in the pod's cgroup whatever happens to the controller that started them.
    """
    found: dict[int, str] = {}
    for root in _roots(flavour):
        for directory, _subdirs, _files in os.walk(root / name):
            try:
                text = (Path(directory) / "cgroup.procs").read_text()
            except OSError:  # removed while walking
                continue
            for pid in text.split():
                found.setdefault(int(pid), str(Path(directory).relative_to(root)))
    return found


def kill_tree(flavour: str, name: str, timeout_s: float = 10.0) -> tuple[int, dict[int, str]]:
    """SIGKILL every process in a sandbox's cgroup subtree until it stays empty (a process may fork between
    the read and the kill). Returns how many were killed and what is still there after ``timeout_s``."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while True:
        pids = tree_pids(flavour, name)
        if not pids or time.monotonic() > deadline:
            return len(killed), pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def remove_tree(flavour: str, name: str) -> None:
    """Remove a sandbox's whole cgroup subtree (leaves first); used by ``drillbook down`` and cleanup."""
    for root in _roots(flavour):
        top = root / name
        if not top.exists():
            continue
        for directory, _subdirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(directory)
            except OSError:
                pass
        _remove_empty_parents(top.parent, root)


def _remove_empty_parents(directory: Path, root: Path) -> None:
    """Remove ``drillbook/`` once its last sandbox is gone; rmdir fails (and stops) while another one runs."""
    while directory != root and root in directory.parents:
        try:
            os.rmdir(directory)
        except OSError:
            return
        directory = directory.parent


def join(files: list[Path]) -> None:
    """Called in the child between fork and exec: move this process into the container's cgroups."""
    pid = str(os.getpid())
    for path in files:
        with open(path, "w") as handle:
            handle.write(pid)


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _enable_v2_controllers(parent: Path) -> None:
    chain = []
    while parent != V2_ROOT and parent != parent.parent:
        chain.append(parent)
        parent = parent.parent
    for directory in reversed(chain):
        directory.mkdir(exist_ok=True)
    for directory in [V2_ROOT, *reversed(chain)]:
        try:
            _write(directory / "cgroup.subtree_control", "+memory +cpu")
        except OSError:
            pass
