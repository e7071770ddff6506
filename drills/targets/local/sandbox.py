"""Bring the local sandbox up and down, and wait until it is steady.

``up`` writes the desired state (nodes, the reference system's manifests, monitoring and drill helpers) into
the object store and starts the controller daemon; ``down`` stops the daemon, which stops every pod and
removes the sandbox's cgroups. Both are idempotent.
"""

from __future__ import annotations

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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def is_up(root: Path) -> bool:
    return controller_pid(root) is not None


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
    config = SandboxConfig(name=name, octet=octet, profile=PROFILES[profile])
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
    _start_daemon(root, "controller", "drills.targets.local.controller")
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


def _start_daemon(root: Path, name: str, module: str) -> None:
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
    """Stop the API server and the controller (it stops its pods); kill what is left if it does not stop."""
    api = _pid(root / "apiserver.pid")
    if api is not None:
        try:
            os.killpg(api, signal.SIGKILL)  # it holds no state of its own: the store is on disk
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _pid(root / "apiserver.pid") is not None:
            _reap(api)
            time.sleep(0.02)
    pid = controller_pid(root)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and controller_pid(root) is not None:
            _reap(pid)
            time.sleep(0.1)
        if controller_pid(root) is not None:
            os.killpg(pid, signal.SIGKILL)
    _kill_leftover_pods(root)
    unmount_all(root)
    try:
        config = SandboxConfig.load(root)
        flavour = cgroups.cgroup_support()
        if flavour:
            cgroups.remove_tree(flavour, config.cgroup_name)
        if netpol.available() is None:
            netpol.remove(netpol.chain_name(config.octet))
    except FileNotFoundError:
        pass
    for name in ("controller.pid", "apiserver.pid", "status.json", "objects.json"):
        (root / name).unlink(missing_ok=True)


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
