"""The local sandbox target: real processes, real Redis and Prometheus, Kubernetes semantics, no cluster."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from drills.targets import allowlist
from drills.targets.apiaccess import ApiAccess
from drills.targets.base import ExecResult, PodState, WorkloadRef
from drills.targets.local import operations, sandbox
from drills.targets.local.apiserver import kubeconfig
from drills.targets.local.apiserver.kubeconfig import CONTEXT, kubeconfig_path
from drills.targets.local.config import SandboxConfig
from drills.targets.local.infra import PROMETHEUS_PORT
from drills.targets.local.labels import matches as labels_match
from drills.targets.local.monitoring import alert_for_seconds, profiled_rules
from drills.targets.local.provider import EmbeddedProvider
from drills.targets.local.store import ObjectStore
from drills.targets.provider import ProviderActions

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["LocalTarget"]


class LocalTarget(ProviderActions):
    """Implements :class:`drills.targets.base.Target` on the sandbox's object store and status."""

    name = "local"

    def __init__(self, root: Path | None = None, profile: str = "fast", octet: int = 42,
                 sandbox_name: str = "drillbook") -> None:
        self.root = Path(root) if root else sandbox.default_root()
        self.profile = profile
        self.octet = allowlist.sandbox_octet(octet)
        self.sandbox_name = sandbox_name
        self.store = ObjectStore(self.root)
        self.provider = EmbeddedProvider(self.root, profile, self.octet, sandbox_name)
        self._api: tuple[int, ApiAccess] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "root": str(self.root), "profile": self.profile, "octet": self.octet,
                "sandbox_name": self.sandbox_name}

    def ensure_up(self) -> None:
        sandbox.up(self.root, profile=self.profile, octet=self.octet, name=self.sandbox_name)

    def down(self) -> None:
        sandbox.down(self.root)

    def liveness(self, since: float | None = None) -> str | None:
        return sandbox.liveness(self.root, since)

    def wait_steady(self, timeout_s: float = 90) -> None:
        sandbox.wait_ready(self.root, timeout_s)

    @property
    def kubeconfig(self) -> Path:
        """The embedded cluster's kubeconfig (context ``drillbook-local``)."""
        return kubeconfig_path(self.root)

    def api_client(self) -> ApiClient:
        """The official Kubernetes client for the embedded cluster, through its API server like any client."""
        from kubernetes import config

        api: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]  # the client is untyped
            config_file=str(self.kubeconfig), context=kubeconfig.CONTEXT)
        return api

    @property
    def config(self) -> SandboxConfig:
        return SandboxConfig.load(self.root)

    # -- reads -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return sandbox.read_status(self.root)

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        out = []
        for pod in self.status().get("pods", []):
            if pod["namespace"] != namespace or pod["phase"] == "Terminating":
                continue
            if not labels_match(selector, pod["labels"]):
                continue
            c = pod["containerStatuses"][0]
            term = c.get("lastState", {}).get("terminated") or {}
            out.append(PodState(
                name=pod["name"], namespace=namespace, node=pod["nodeName"], ip=pod["podIP"],
                phase=pod["phase"], ready=pod["ready"], restarts=c["restartCount"],
                waiting_reason=(c["state"].get("waiting") or {}).get("reason"),
                last_reason=term.get("reason"), last_exit_code=term.get("exitCode"), labels=pod["labels"],
                last_finished_at=term.get("finishedAtUnix")))
        return out

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        w = self.status().get("workloads", {}).get(f"{ref.kind}/{ref.namespace}/{ref.name}", {})
        keys = ("replicas", "updatedReplicas", "updatedReadyReplicas", "currentReplicas")
        return {k: int(w.get(k, 0)) for k in keys}

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        folder = self.root / "logs" / namespace / pod
        pattern = "*.previous.log" if previous else "*.log"
        files = [f for f in sorted(folder.glob(pattern)) if previous or not f.name.endswith(".previous.log")]
        if not files:
            return ""
        return "\n".join(files[0].read_text(errors="replace").splitlines()[-tail:])

    def prometheus_url(self) -> str:
        return self.service_url("monitoring", "prometheus", PROMETHEUS_PORT)

    # -- reaching Services and pods: through the embedded API server's proxy, never by pod IP ----------------
    def _access(self) -> ApiAccess:
        """The kubeconfig's server and credentials, read again only when ``drillbook up`` rewrote it."""
        stamp = self.kubeconfig.stat().st_mtime_ns
        if self._api is None or self._api[0] != stamp:
            self._api = (stamp, ApiAccess.from_kubeconfig(self.kubeconfig, CONTEXT))
        return self._api[1]

    def http(self) -> requests.Session:
        return self._access().session()

    def service_url(self, namespace: str, service: str, port: int | str) -> str:
        return self._access().service_url(namespace, service, port)

    def pod_url(self, namespace: str, pod: str, port: int | str) -> str:
        return self._access().pod_url(namespace, pod, port)

    def alert_for_seconds(self) -> dict[str, float]:
        return alert_for_seconds(profiled_rules(self.config))

    def scrape_and_eval_seconds(self) -> tuple[float, float]:
        profile = self.config.profile
        return profile.scrape_interval_s, profile.evaluation_interval_s

    def tools(self) -> dict[str, str]:
        """What each tool reports of itself: the kubectl first on the steps' PATH (recorded, since a machine
        may have several), Prometheus and redis-server as installed."""
        env = self.step_environment()
        return {name: _version(argv, pattern, env) for name, (argv, pattern) in _TOOLS.items()}

    # -- writes ----------------------------------------------------------------------------------
    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.store.require("ConfigMap", namespace, name).get("data", {}))

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        current = self.store.require("ConfigMap", namespace, name).get("data", {})
        previous = {k: current[k] for k in data if k in current}
        self.store.patch("ConfigMap", namespace, name, {"data": data})
        return previous

    def get_secret(self, namespace: str, name: str) -> dict[str, str]:
        return _decoded(self.store.require("Secret", namespace, name))

    def secret_values(self) -> set[str]:
        return {value for secret in self.store.list("Secret") for value in _decoded(secret).values()}

    def set_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        current = self.get_secret(namespace, name)
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.store.patch("Secret", namespace, name, {"data": encoded})
        return {k: current[k] for k in data if k in current}

    def set_resources(self, ref: WorkloadRef, container: str, limits: dict[str, str]) -> None:
        operations.set_containers(self.store, ref.kind, ref.namespace, ref.name,
                                  [{"name": container, "resources": {"limits": limits}}])

    def set_image(self, ref: WorkloadRef, container: str, image: str) -> None:
        operations.set_containers(self.store, ref.kind, ref.namespace, ref.name, [{"name": container, "image": image}])

    def scale(self, ref: WorkloadRef, replicas: int) -> None:
        operations.scale(self.store, ref.kind, ref.namespace, ref.name, replicas)

    def restart(self, ref: WorkloadRef) -> None:
        operations.restart(self.store, ref.kind, ref.namespace, ref.name)

    def rollback(self, ref: WorkloadRef) -> None:
        operations.rollback(self.store, ref.namespace, ref.name)

    def apply(self, obj: dict[str, Any]) -> None:
        self.store.apply(obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.store.delete(kind, namespace, name)

    def delete_pod(self, namespace: str, name: str) -> None:
        operations.request_pod_deletion(self.store, namespace, name)

    def cordon(self, node: str, unschedulable: bool = True) -> None:
        operations.set_unschedulable(self.store, node, unschedulable)

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        return self._kubectl(["exec", pod, "-n", namespace, "--", *argv], timeout_s)

    def drain(self, node: str, timeout_s: float = 120) -> ExecResult:
        return self._kubectl(["drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                              f"--timeout={int(timeout_s)}s"], timeout_s + 10)

    def _kubectl(self, args: list[str], timeout_s: float) -> ExecResult:
        """Compound operations (exec, drain with eviction retries) go through the real kubectl and the API."""
        done = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.step_environment(),
                              timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
        return ExecResult(done.returncode, done.stdout + done.stderr)

    def snapshot(self) -> dict[str, Any]:
        objects = self.store.snapshot()
        return {k: v for k, v in objects.items() if v["kind"] not in NOT_DESIRED_STATE}

    def restore(self, snapshot: dict[str, Any]) -> None:
        with self.store.transaction() as objects:
            for key in [k for k, v in objects.items() if v["kind"] not in NOT_DESIRED_STATE]:
                if key not in snapshot:
                    del objects[key]
            for key, obj in snapshot.items():
                if key not in objects or _content(objects[key]) != _content(obj):
                    objects[key] = obj

    # -- runbook steps ---------------------------------------------------------------------------
    def step_environment(self) -> dict[str, str]:
        return sandbox.kubectl_environment(self.root)


# What controllers record (ReplicaSets), requests the controller consumes (PodDeletion) and coordination (the
# drill lock's Lease, held by the run that restores): never part of a drill's snapshot, never restored.
NOT_DESIRED_STATE = ("ReplicaSet", "PodDeletion", "Lease")

_TOOLS = {"kubectl": (["kubectl", "version", "--client"], r"Client Version: (\S+)"),
          "prometheus": (["prometheus", "--version"], r"prometheus, version (\S+)"),
          "redis": (["redis-server", "--version"], r"v=(\S+)")}


def _version(argv: list[str], pattern: str, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({type(exc).__name__})"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def _content(obj: dict[str, Any]) -> Any:
    """An object without what the API server and controllers stamp on it (versions, revision)."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "generation")}
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if k != "deployment.kubernetes.io/revision"}
    return {**obj, "metadata": {**meta, "annotations": annotations}}


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's values as the pod sees them: ``data`` base64-decoded, ``stringData`` as written."""
    values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    return {**values, **secret.get("stringData", {})}
