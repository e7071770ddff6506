"""Containers as processes: start one in its cgroup, see how it ended, restart it with back-off.

Why not supervisord or circus: the sandbox needs Kubernetes' container semantics, which neither has —
CrashLoopBackOff (10 s doubling to 5 min, reset after a clean run), ``lastState.terminated`` with the kernel's
verdict (``OOMKilled`` from the cgroup's ``oom_kill`` counter vs. ``Error``), waiting reasons for images that
do not exist and for config that cannot be built, a per-pod cgroup with the pod spec's limits, and a pod
identity (name, IP) that survives restarts. Both supervisors give up after N fast restarts (FATAL) and report
only exit codes. The process handling itself is the standard library's ``subprocess``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.targets.local import cgroups
from drills.targets.local.podspec import ContainerConfig, Probe


@dataclass
class Backoff:
    base_s: float = 10.0
    cap_s: float = 300.0
    reset_after_s: float = 600.0

    def delay(self, failures: int) -> float:
        return float(min(self.cap_s, self.base_s * (2 ** max(0, failures - 1))))


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


@dataclass
class Container:
    """One container's runtime record; its ``status()`` has the shape of a ContainerStatus."""

    name: str
    image: str
    log_path: Path
    cgroup: cgroups.ContainerCgroup | None
    restart_count: int = 0
    failures: int = 0
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready: bool = False
    waiting: tuple[str, str] | None = ("ContainerCreating", "")
    last_terminated: dict[str, Any] | None = None
    backoff_until: float = 0.0
    mounts: dict[str, str] = field(default_factory=dict)  # mountPath -> host directory (for kubectl exec)
    _oom_before: int = 0
    _probe_stop: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, config: ContainerConfig, workdir: Path) -> None:
        if self.cgroup is not None:
            self.cgroup.create(config.memory_limit, config.cpu_millicores)
            self._oom_before = self.cgroup.oom_kills()
        files = self.cgroup.procs_files() if self.cgroup else []
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # The kubelet keeps one log per container instance: a restart moves the current log to ``previous``;
        # a new pod with an old name (a StatefulSet's redis-0) starts with neither its predecessor's log nor
        # its predecessor's ``--previous``.
        previous = self.log_path.with_suffix(".previous.log")
        if self.restart_count and self.log_path.exists():
            os.replace(self.log_path, previous)
        elif not self.restart_count:
            previous.unlink(missing_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                config.argv, env=config.env, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=(lambda: cgroups.join(files)) if files else None,
            )
        self.started_at = time.time()
        self.mounts = {path: str(host) for path, host in config.mounts.items()}
        self.waiting = None
        self.ready = config.readiness is None
        self._probe_stop = threading.Event()
        if config.readiness is not None:
            threading.Thread(target=self._probe_loop, args=(config.readiness, config.env.get("POD_IP", "")),
                             daemon=True).start()

    def reap(self, backoff: Backoff) -> bool:
        """If the process ended, record how (as the kubelet would) and schedule the restart."""
        if self.process is None or self.process.poll() is None:
            return False
        code = self.process.returncode
        finished = time.time()
        oom = self.cgroup is not None and self.cgroup.oom_kills() > self._oom_before
        if oom and code == -signal.SIGKILL:
            reason, exit_code = "OOMKilled", 137
        elif code < 0:
            reason, exit_code = "Error", 128 - code
        else:
            reason, exit_code = ("Completed" if code == 0 else "Error"), code
        self.last_terminated = {"reason": reason, "exitCode": exit_code, "startedAt": utc(self.started_at),
                                "finishedAt": utc(finished), "finishedAtUnix": finished}
        self._probe_stop.set()
        self.ready = False
        self.process = None
        self.restart_count += 1
        self.failures = 1 if finished - self.started_at > backoff.reset_after_s else self.failures + 1
        self.wait(backoff, "CrashLoopBackOff", f"back-off restarting failed container {self.name}")
        return True

    def wait(self, backoff: Backoff, reason: str, message: str) -> None:
        delay = backoff.delay(self.failures)
        self.backoff_until = time.time() + delay
        self.waiting = (reason, message)

    def stop(self, grace_s: float = 2.0) -> None:
        """SIGTERM the container's process group, SIGKILL after the grace period."""
        self._probe_stop.set()
        process = self.process
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(5)
        self.ready = False
        if self.cgroup is not None:
            self.cgroup.remove()

    def status(self) -> dict[str, Any]:
        state: dict[str, Any]
        if self.running:
            state = {"running": {"startedAt": utc(self.started_at)}}
        elif self.waiting:
            state = {"waiting": {"reason": self.waiting[0], "message": self.waiting[1]}}
        else:
            state = {"waiting": {"reason": "ContainerCreating", "message": ""}}
        out: dict[str, Any] = {"name": self.name, "image": self.image, "ready": self.ready,
                               "restartCount": self.restart_count, "state": state, "lastState": {}}
        if self.last_terminated:
            out["lastState"] = {"terminated": dict(self.last_terminated)}
        if self.process is not None:
            out["pid"] = self.process.pid
        out["mounts"] = dict(self.mounts)
        if self.cgroup is not None:
            out["memoryUsageBytes"] = self.cgroup.memory_usage()
        return out

    def _probe_loop(self, probe: Probe, ip: str) -> None:
        while not self._probe_stop.wait(probe.period_s):
            self.ready = self.running and run_probe(probe, ip)


def run_probe(probe: Probe, ip: str) -> bool:
    try:
        if probe.kind == "http":
            url = f"http://{ip}:{probe.port}{probe.path}"
            with urllib.request.urlopen(url, timeout=probe.timeout_s) as reply:
                return bool(200 <= reply.status < 400)
        if probe.kind == "tcp":
            with socket.create_connection((ip, probe.port), timeout=probe.timeout_s):
                return True
        done = subprocess.run(probe.command, capture_output=True, timeout=probe.timeout_s)
        return done.returncode == 0
    except Exception:  # any failure of the probe is "not ready", as in the kubelet
        return False


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
