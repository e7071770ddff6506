"""The Kubernetes target: drills reach any cluster through its API with the official ``kubernetes`` client.

What the API has no verb for (a node failing, an image tag disappearing, bringing the cluster up or down) is
the :class:`~drills.targets.provider.ClusterProvider`'s job: the embedded sandbox, kind, or an existing
cluster. Everything else here is one API request, or the few requests kubectl itself sends for a verb.
"""

from __future__ import annotations

import base64
import os
import re
import sys
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import requests
import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException
from kubernetes.stream import stream

from drills.errors import TargetError
from drills.targets.base import ExecResult, PodState, WorkloadRef
from drills.targets.kubernetes import drain as drain_module
from drills.targets.kubernetes import snapshot as snapshots
from drills.targets.kubernetes import steady, workloads
from drills.targets.kubernetes.client import KINDS, MERGE, Api, ApiError, Obj, path_of
from drills.targets.provider import ClusterProvider, ProviderActions
from drills.targets.providers import make_provider
from drills.targets.versions import tool_version

__all__ = ["ApiError", "KubernetesTarget"]

LIVENESS_TIMEOUT_S = 1.0


class KubernetesTarget(ProviderActions):
    """Implements :class:`drills.targets.base.Target` on a cluster's API server."""

    name = "kubernetes"

    def __init__(self, provider: ClusterProvider | dict[str, Any], prometheus_namespace: str = "monitoring",
                 prometheus_service: str = "prometheus", prometheus_port: int = 19090,
                 namespaces: list[str] | None = None) -> None:
        self.provider = make_provider(provider) if isinstance(provider, dict) else provider
        self.prometheus = (prometheus_namespace, prometheus_service, prometheus_port)
        self.namespaces = frozenset(namespaces) if namespaces is not None else None

    @cached_property
    def api(self) -> Api:
        return Api(self.provider.kubeconfig(), self.provider.context)

    def api_client(self) -> ApiClient:
        """The official client for this cluster (the drill lock's Lease goes through it)."""
        client: ApiClient = self.api.client
        return client

    # -- lifecycle -------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        namespace, service, port = self.prometheus
        return {"name": self.name, "provider": self.provider.describe(), "prometheus_namespace": namespace,
                "prometheus_service": service, "prometheus_port": port,
                "namespaces": sorted(self.namespaces) if self.namespaces is not None else None}

    def ensure_up(self) -> None:
        """Bring the cluster up only when it does not answer: a drill takes a running cluster as it is (kind's
        ``up`` builds and loads images and applies manifests, minutes of work: that is :meth:`up`'s job)."""
        self.close()  # a cluster brought up again since may have a new token and CA
        try:
            lost = self.liveness()
        except ConfigException as exc:  # no kubeconfig or context yet: never brought up
            lost = str(exc)
        if lost is not None:
            self.up()

    def up(self) -> None:
        """Create the cluster or refresh it (``drillbook up``), and wait until it is steady."""
        self.provider.up()
        self.close()

    def close(self) -> None:
        """Close the API connections (a later call opens new ones)."""
        api = self.__dict__.pop("api", None)
        if api is not None:
            api.close()

    def down(self) -> None:
        self.provider.down()

    def liveness(self, since: float | None = None) -> str | None:
        lost = self.provider.liveness(since)
        if lost:
            return lost
        try:
            self.api.request("GET", "/version", timeout_s=LIVENESS_TIMEOUT_S)
        except ApiError as exc:
            return f"the API server does not answer within {LIVENESS_TIMEOUT_S:.0f}s: {exc}"
        return None

    def wait_steady(self, timeout_s: float = 90) -> None:
        steady.wait_steady(self.api, timeout_s)

    # -- reads -----------------------------------------------------------------------------------
    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        return [workloads.pod_state(p) for p in self.api.list("Pod", namespace, selector)
                if not p["metadata"].get("deletionTimestamp")]

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        return workloads.rollout_status(self.api, ref)

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        try:
            text = self.api.core.read_namespaced_pod_log(pod, namespace, previous=previous, tail_lines=tail)
        except ApiException as exc:
            error = ApiError.from_exception(exc, f"logs {namespace}/{pod}")
            if previous and error.code == 400:  # no terminated container yet: nothing to show, as locally
                return ""
            raise error from exc
        return str(text).rstrip("\n")

    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.api.get("ConfigMap", namespace, name).get("data") or {})

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        current = self.get_config(namespace, name)
        self.api.patch("ConfigMap", namespace, name, {"data": data}, how=MERGE)
        return {k: current[k] for k in data if k in current}

    def get_secret(self, namespace: str, name: str) -> dict[str, str]:
        return _decoded(self.api.get("Secret", namespace, name))

    def set_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        current = self.get_secret(namespace, name)
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.api.patch("Secret", namespace, name, {"data": encoded}, how=MERGE)
        return {k: current[k] for k in data if k in current}

    def secret_values(self) -> set[str]:
        return {value for secret in self.api.list("Secret") for value in _decoded(secret).values()}

    # -- Prometheus and services, through the API server's proxy ---------------------------------
    def http(self) -> requests.Session:
        return self.api.http()

    def service_url(self, namespace: str, service: str, port: int | str) -> str:
        return f"{self.api.host}/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy"

    def pod_url(self, namespace: str, pod: str, port: int | str) -> str:
        return f"{self.api.host}/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy"

    def prometheus_url(self) -> str:
        return self.service_url(*self.prometheus)

    def _prometheus(self, path: str) -> Any:
        with self.http() as session:
            answer = session.get(f"{self.prometheus_url()}{path}", timeout=10)
        if not answer.ok:
            raise TargetError(f"Prometheus {path} through the API server: {answer.status_code} {answer.text[:200]}")
        return answer.json()["data"]

    def alert_for_seconds(self) -> dict[str, float]:
        """Each alert rule's ``for:`` as the running Prometheus loaded it (``/api/v1/rules``)."""
        groups = self._prometheus("/api/v1/rules?type=alert")["groups"]
        return {r["name"]: float(r.get("duration", 0)) for g in groups for r in g["rules"] if r["type"] == "alerting"}

    def scrape_and_eval_seconds(self) -> tuple[float, float]:
        """The global intervals from the running Prometheus's configuration (``/api/v1/status/config``)."""
        loaded = yaml.safe_load(self._prometheus("/api/v1/status/config")["yaml"])["global"]
        return _duration_s(loaded.get("scrape_interval", "1m")), _duration_s(loaded.get("evaluation_interval", "1m"))

    def tools(self) -> dict[str, str]:
        kubectl = tool_version(["kubectl", "version", "--client"], r"Client Version: (\S+)", self.step_environment())
        return {"kubectl": kubectl, **self.provider.tools()}

    # -- writes ----------------------------------------------------------------------------------
    def set_resources(self, ref: WorkloadRef, container: str, limits: dict[str, str | None]) -> None:
        patch = workloads.container_patch(container, {"resources": {"limits": limits}})
        self.api.patch(ref.kind, ref.namespace, ref.name, patch)

    def set_image(self, ref: WorkloadRef, container: str, image: str) -> None:
        self.api.patch(ref.kind, ref.namespace, ref.name, workloads.container_patch(container, {"image": image}))

    def scale(self, ref: WorkloadRef, replicas: int) -> None:
        workloads.scale(self.api, ref, replicas)

    def restart(self, ref: WorkloadRef) -> None:
        self.api.patch(ref.kind, ref.namespace, ref.name, workloads.restart_patch(time.time()))

    def rollback(self, ref: WorkloadRef) -> None:
        workloads.rollback(self.api, ref)

    def apply(self, obj: Obj) -> None:
        """Create the object, or replace the existing one with it (keeping what the server stamps)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "default") if KINDS[obj["kind"]][2] else None
        current = self.api.find(obj["kind"], namespace, meta["name"])
        body = {**obj, "metadata": {**meta, "namespace": namespace}} if namespace else obj
        if current is None:
            self.api.request("POST", path_of(obj["kind"], namespace), body=body)
        else:
            snapshots.replace(self.api, body, current)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            self.api.request("DELETE", path_of(kind, namespace, name), body={"propagationPolicy": "Background"})
        except ApiError as exc:
            if not exc.not_found:
                raise

    def delete_pod(self, namespace: str, name: str) -> None:
        self.api.request("DELETE", path_of("Pod", namespace, name))

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        """``kubectl exec`` over the client's WebSocket stream; exit code from the Status channel."""
        try:
            ws = stream(self.api.core.connect_get_namespaced_pod_exec, pod, namespace, command=argv,
                        stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False)
        except ApiException as exc:
            raise ApiError.from_exception(exc, f"exec {namespace}/{pod}") from exc
        try:
            ws.run_forever(timeout=timeout_s)
            code = None if ws.is_open() else ws.returncode  # before read_all(), which clears every channel
            output = ws.read_all()
        finally:
            ws.close()
            # websocket-client's close() returns early once the server has closed the stream (the command
            # ended), leaving the TLS socket open until garbage collection: close it now.
            sock = getattr(ws, "sock", None)
            if sock is not None:
                sock.shutdown()
        if code is None:
            return ExecResult(124, f"{output}\n(timed out after {timeout_s:.0f}s)")
        return ExecResult(int(code), output)

    def cordon(self, node: str, unschedulable: bool = True) -> None:
        self.api.patch("Node", None, node, {"spec": {"unschedulable": True if unschedulable else None}})

    def drain(self, node: str, timeout_s: float = 120) -> ExecResult:
        return drain_module.drain(self.api, node, timeout_s)

    def snapshot(self) -> dict[str, Any]:
        return snapshots.take(self.api, self.namespaces)

    def restore(self, snapshot: dict[str, Any]) -> None:
        snapshots.restore(self.api, snapshot, self.namespaces)

    def state_version(self) -> str:
        return snapshots.version(self.api, self.namespaces)

    # -- runbook steps ---------------------------------------------------------------------------
    def step_environment(self) -> dict[str, str]:
        """The pinned kubectl (installed beside drillbook) first on PATH; KUBECONFIG lists a one-line file
        naming the context first (the first file that sets ``current-context`` wins when kubectl merges
        them), then the provider's kubeconfig, or the user's when it has none."""
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        config = self.provider.kubeconfig()
        default = env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        files = [str(config)] if config else default.split(os.pathsep)
        env["KUBECONFIG"] = os.pathsep.join([str(_context_file(self.provider.context)), *files])
        if config:
            env["KUBECACHEDIR"] = str(config.parent / "kube-cache")
        return env


def _context_file(context: str) -> Path:
    """A kubeconfig that only selects ``context`` (kubectl has no environment variable for it)."""
    folder = Path(tempfile.gettempdir()) / f"drillbook-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"context-{re.sub(r'[^A-Za-z0-9_.-]', '_', context)}.yaml"
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": context})
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def _decoded(secret: Obj) -> dict[str, str]:
    """A Secret's values as the pod sees them: ``data`` base64-decoded, ``stringData`` as written."""
    values = {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.get("data") or {}).items()}
    return {**values, **(secret.get("stringData") or {})}


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _duration_s(text: str) -> float:
    """A Prometheus duration (``1m30s``, ``500ms``) in seconds."""
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise TargetError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)

