"""Bring the local sandbox up and down, and wait until it is steady.

``up`` writes the desired state (nodes, the reference system's manifests, monitoring and drill helpers) into
the object store and starts the control plane (the supervisor, which runs the controller) and the API server;
``down`` stops them, which stops every pod and removes the sandbox's cgroups. Both are idempotent. The
sandbox's cgroup tree is the truth about which processes belong to it: whatever the control plane's state,
``up`` and ``down`` stop every process left in the tree (:func:`stop_leftovers`), so a pod that outlived a
dead controller never holds an address a new pod needs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from drills.errors import TargetError
from drills.targets.local import cgroups, netpol
from drills.targets.local.apiserver import kubeconfig
from drills.targets.local.config import PROFILES, SandboxConfig
from drills.targets.local.images import ImageStore
from drills.targets.local.infra import infrastructure, nodes
from drills.targets.local.store import ObjectStore
from drills.targets.local.volumes import unmount_all

_DAEMONS: dict[int, subprocess.Popen[bytes]] = {}


def default_root() -> Path:
    if os.environ.get("DRILLBOOK_SANDBOX"):
        return Path(os.environ["DRILLBOOK_SANDBOX"])
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state / "drillbook" / "sandbox"


def app_manifests() -> list[dict[str, Any]]:
    text = resources.files("refsystem").joinpath("manifests/production-agents.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def controller_pid(root: Path) -> int | None:
    return _pid(root / "controller.pid")


def _pid(path: Path) -> int | None:
    """The pid a pid file names, if that process is alive."""
    try:
        pid = int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    _reap(pid)  # a daemon this process started and that died is a zombie until reaped here
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return state != "Z"  # a zombie (its parent has not reaped it yet) is dead


def supervisor_pid(root: Path) -> int | None:
    return _pid(root / "supervisor.pid")


def is_up(root: Path) -> bool:
    """The control plane runs (the supervisor, between two controllers, counts)."""
    return supervisor_pid(root) is not None or controller_pid(root) is not None


STALE_STATUS_S = 15.0  # the controller publishes every 0.25 s; this long without a word, it is hung


def liveness(root: Path, since: float | None = None) -> str | None:
    """Why the sandbox's control plane or API server is lost, or None (see ``Target.liveness``).

    A restart counts as a loss: the new controller replaced every pod, so what a drill saw before is gone.
    The API server is probed with a TCP connect (a killed server refuses at once; no token, no TLS needed).
    """
    pid = controller_pid(root)
    if pid is None:
        return "the control plane (controller) is not running"
    if since is not None:
        try:
            started = (root / "controller.pid").stat().st_mtime
        except FileNotFoundError:
            return "the control plane (controller) is not running"
        if started > since:
            return f"the control plane restarted {time.time() - started:.0f}s ago; every pod was replaced"
    try:
        config = SandboxConfig.load(root)
    except FileNotFoundError:
        return f"no sandbox at {root}"
    if not _address_in_use(config.controller_address, kubeconfig.PORT):
        return f"the API server does not answer on {config.controller_address}:{kubeconfig.PORT}"
    silent = time.time() - float(read_status(root).get("time", 0))
    if silent > STALE_STATUS_S:
        return f"the controller (pid {pid}) has not reported for {silent:.0f}s"
    return None


def stop_leftovers(root: Path) -> tuple[int, dict[int, str]]:
    """Stop every process in the sandbox's cgroup tree and remove the tree; only call it when no controller
    runs (the processes are then pods nobody manages). Returns how many were killed and what survived."""
    try:
        config = SandboxConfig.load(root)
    except FileNotFoundError:
        return 0, {}
    killed, remaining = 0, dict[int, str]()
    flavour = cgroups.cgroup_support()
    if flavour:
        killed, remaining = cgroups.kill_tree(flavour, config.cgroup_name)
    else:  # without cgroups (not root), the last status.json is all there is
        _kill_leftover_pods(root)
    unmount_all(root)
    if flavour:
        cgroups.remove_tree(flavour, config.cgroup_name)
    return killed, remaining


def up(root: Path, profile: str = "fast", octet: int = 42, name: str = "drillbook") -> SandboxConfig:
    """Start the sandbox (or keep the running one) and return its config."""
    root.mkdir(parents=True, exist_ok=True)
    if is_up(root):
        config = SandboxConfig.load(root)
        if _pid(root / "apiserver.pid") is None:  # it died (or an older drillbook started this sandbox)
            kubeconfig.write(root, config.controller_address)
            _start_daemon(root, "apiserver", "drills.targets.local.apiserver")
            _wait_listening(config.controller_address, kubeconfig.PORT, root / "apiserver.log")
        return config
    api = _pid(root / "apiserver.pid")
    if api is not None:  # outlived its control plane; a new one is started beside the new controller
        _kill_group(api)
    crashed = (root / "objects.json").exists()  # its control plane died (``down`` removes the file)
    _stop_leftovers_or_fail(root)
    config = SandboxConfig(name=name, octet=octet, profile=PROFILES[profile])
    if crashed:  # restart it as it was: a caller that only knows the directory must not move its addresses
        try:
            config = SandboxConfig.load(root)
        except FileNotFoundError:
            pass
    if _address_in_use(config.controller_address, 8081):
        raise TargetError(f"another sandbox already runs on 127.{octet}.0.0/16; stop it with `drillbook down "
                          f"--sandbox DIR` or pick another address range")
    config.save(root)
    ImageStore(root / "images.json").write_defaults()
    store = ObjectStore(root)
    for obj in [*nodes(config), *infrastructure(config, root)]:  # what the embedded cluster provides itself
        store.apply(obj)
    kubeconfig.write(root, config.controller_address)
    _start_daemon(root, "apiserver", "drills.targets.local.apiserver")
    _wait_listening(config.controller_address, kubeconfig.PORT, root / "apiserver.log")
    # Applied before the controller starts, so every pod starts with every Service of the system to resolve
    # (the sandbox's DNS is resolved when a container starts, not at each lookup).
    try:
        _apply_reference_system(root)
    except TargetError:
        down(root)  # no half-made sandbox: the API server would hold the address
        raise
    (root / "baseline.json").write_text(json.dumps(store.snapshot()))
    _start_daemon(root, "supervisor", "drills.targets.local.supervisor")  # it runs (and reruns) the controller
    return config


def kubectl_environment(root: Path) -> dict[str, str]:
    """The real kubectl (the pinned one installed beside drillbook) first on PATH, talking to this embedded
    cluster's API server through its kubeconfig, discovery cached per sandbox."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["KUBECONFIG"] = str(kubeconfig.kubeconfig_path(root))
    env["KUBECACHEDIR"] = str(root / "kube-cache")
    return env


def _apply_reference_system(root: Path) -> None:
    """Deploy the reference system as a user deploys to any cluster: ``kubectl apply -f`` of its manifests."""
    with resources.as_file(resources.files("refsystem").joinpath("manifests")) as manifests:
        done = subprocess.run(["kubectl", "apply", "-f", str(manifests)], capture_output=True, text=True,
                              env=kubectl_environment(root), timeout=120, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise TargetError(f"kubectl apply -f {manifests} failed (exit {done.returncode}): {done.stderr.strip()}")


def stop_if_dead(root: Path) -> str | None:
    """If this sandbox's control plane died (not ``down``): stop what it left running and say so, else None."""
    if is_up(root) or not (root / "objects.json").exists():  # running, or stopped cleanly (or never started)
        return None
    api = _pid(root / "apiserver.pid")
    if api is not None:
        _kill_group(api)
    killed, remaining = stop_leftovers(root)
    left = f"; still running after SIGKILL: {remaining}" if remaining else ""
    return (f"the control plane of the sandbox at {root} is dead; stopped {killed} process(es) it left "
            f"running and removed its cgroups{left}; `drillbook up` starts it again")


def _stop_leftovers_or_fail(root: Path) -> None:
    """Before a new control plane starts: no process of the previous one may still hold a pod's address."""
    _killed, remaining = stop_leftovers(root)
    if remaining:
        raise TargetError(f"processes of a previous sandbox at {root} survived SIGKILL: {remaining}")


def _forget_exited_daemons() -> None:
    """Reap every daemon this process started that has exited (a replaced API server, a killed control
    plane): poll() does not block, and a Popen left unreaped warns at exit that it is still running."""
    for pid, proc in list(_DAEMONS.items()):
        if proc.poll() is not None:
            del _DAEMONS[pid]


def _start_daemon(root: Path, name: str, module: str) -> None:
    _forget_exited_daemons()
    with open(root / f"{name}.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", module, str(root)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _DAEMONS[proc.pid] = proc  # outlives this call on purpose; down() reaps it if we started it
    (root / f"{name}.pid").write_text(str(proc.pid))


def _wait_listening(address: str, port: int, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _address_in_use(address, port):
            return
        time.sleep(0.05)
    raise TargetError(f"the embedded cluster's API server did not start listening on {address}:{port}; see {log}")


def down(root: Path, timeout_s: float = 20) -> None:
    """Stop the API server and the control plane (the controller stops its pods), then stop whatever is left
    in the sandbox's cgroup tree and remove it: nothing of the sandbox runs afterwards, crashed or not."""
    api = _pid(root / "apiserver.pid")
    daemons = (api, supervisor_pid(root))
    if api is not None:
        _kill_group(api)  # it holds no state of its own: the store is on disk
    for pid in (supervisor_pid(root), controller_pid(root)):  # the controller alone: an older sandbox
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.1)
        if _pid_alive(pid):
            _kill_group(pid)
    for pid in [p for p in daemons if p in _DAEMONS]:
        # Started by this process: wait for it, or its Popen warns at exit that it is "still running".
        with contextlib.suppress(subprocess.TimeoutExpired):
            _DAEMONS[pid].wait(5)
    _forget_exited_daemons()
    _killed, remaining = stop_leftovers(root)
    try:
        config = SandboxConfig.load(root)
        if netpol.available() is None:
            netpol.remove(netpol.chain_name(config.octet))
    except FileNotFoundError:
        pass
    for name in ("controller.pid", "supervisor.pid", "apiserver.pid", "status.json", "objects.json"):
        (root / name).unlink(missing_ok=True)
    if remaining:
        raise TargetError(f"processes of the sandbox at {root} survived SIGKILL: {remaining}")


def _pid_alive(pid: int) -> bool:
    return _alive(pid)


def _kill_group(pid: int, timeout_s: float = 5) -> None:
    """SIGKILL a daemon's process group and wait until it is gone (reaped, if we started it)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def read_status(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "status.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def wait_ready(root: Path, timeout_s: float = 90) -> dict[str, Any]:
    """Wait until every workload has all its replicas ready on the current template."""
    started = time.time()
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    store = ObjectStore(root)
    while time.monotonic() < deadline:
        if not is_up(root):
            raise TargetError(f"the sandbox controller is not running; see {root / 'controller.log'}")
        status = read_status(root)
        workloads = status.get("workloads", {})
        # Only a status written after this call, for the generation now in the store, can say "rolled out".
        generations = {f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["generation"]
                       for kind in ("Deployment", "StatefulSet") for o in store.list(kind)}
        current = status.get("time", 0) > started and all(
            workloads.get(k, {}).get("observedGeneration") == g for k, g in generations.items())
        if current and workloads and all(w["updatedReadyReplicas"] == w["replicas"] == w["currentReplicas"]
                                         for w in workloads.values()):
            return status
        time.sleep(0.25)
    waiting = {k: f"{w['updatedReadyReplicas']}/{w['replicas']}" for k, w in status.get("workloads", {}).items()
               if w["updatedReadyReplicas"] != w["replicas"]}
    raise TargetError(f"sandbox not ready after {timeout_s:.0f}s: {waiting}")


def _address_in_use(address: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((address, port)) == 0


def _reap(pid: int) -> None:
    if pid in _DAEMONS:
        if _DAEMONS[pid].poll() is not None:
            del _DAEMONS[pid]
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _kill_leftover_pods(root: Path) -> None:
    """After a controller crash its pods may still run: kill their process groups (pids from status.json)."""
    for pod in read_status(root).get("pods", []):
        for container in pod.get("containerStatuses", []):
            if container.get("pid"):
                try:
                    os.killpg(container["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
