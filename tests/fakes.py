"""An in-memory target, a tiny Prometheus and a tiny web service, for the runner's paths without root.

Nothing real can run a Deployment here without root (the sandbox needs cgroups), so :class:`FakeTarget`
models one Deployment and its ConfigMap in memory, the way the ``config-error`` fault and a runbook see it:
a pod reads its environment when it starts, and crash-loops (logging ``crash_log``) when a required key is
missing. Runbook steps run for real (``bash``), with a ``kubectl`` on PATH that appends its arguments to a
file; the target applies the few verbs a runbook uses here (``patch configmap -p``, ``rollout restart``) when
it is next asked about its state. The alerts and the service are served over real local HTTP, so the
runner's Prometheus client, alert watcher, abort guard and health verifier run unchanged.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from drills.targets.base import ExecResult, PodState, WorkloadRef


@dataclass
class _Pod:
    name: str
    env: dict[str, str]
    started_at: float


@dataclass
class FakeTarget:
    """One Deployment (``workload``) of ``replicas`` pods in ``namespace``, configured by ``configmap``."""

    state_dir: Path
    app_url: str
    prometheus: str
    namespace: str = "shop"
    workload: str = "checkout"
    selector: dict[str, str] = field(default_factory=lambda: {"app": "checkout"})
    configmap: str = "checkout-config"
    config: dict[str, str] = field(default_factory=lambda: {"DATABASE_URL": "postgres://orders-db/orders"})
    required: tuple[str, ...] = ("DATABASE_URL",)
    crash_log: str = "FATAL: DATABASE_URL is not set"
    replicas: int = 3
    name: str = "fake"
    alert: str = "CheckoutDown"
    unknown: list[list[str]] = field(default_factory=list)  # kubectl calls this fake does not model
    recovered: threading.Event = field(default_factory=threading.Event)  # healthy again after being down
    down_since: float | None = None
    _pods: list[_Pod] = field(default_factory=list)
    _serial: int = 0
    _applied: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.bin = self.state_dir / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.kubectl_log = self.state_dir / "kubectl.log"
        self.kubectl_log.touch()
        script = self.bin / "kubectl"
        script.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import json, sys; "
                          "open(sys.argv[1], \"a\").write(json.dumps(sys.argv[2:]) + \"\\n\")' "
                          f"{self.kubectl_log} \"$@\"\n")
        script.chmod(0o755)
        self._recycle()

    # -- the model --------------------------------------------------------------------------------
    def _healthy(self, pod: _Pod) -> bool:
        """Every required key is a URL the app can connect to (a literal ``${DATABASE_URL}`` is not)."""
        return all(re.fullmatch(r"\w+://[^\s$]+", pod.env.get(k) or "") for k in self.required)

    def _recycle(self) -> None:
        was_down = self.down_since is not None
        self._pods = []
        for _ in range(self.replicas):
            self._serial += 1
            self._pods.append(_Pod(f"{self.workload}-{self._serial}", dict(self.config), time.time()))
        if not any(self._healthy(p) for p in self._pods):
            self.down_since = self.down_since or time.time()
        else:
            self.down_since = None
            if was_down:
                self.recovered.set()

    def _sync(self) -> None:
        """Apply the kubectl calls runbook steps made since the last look."""
        with self._lock:
            calls = [json.loads(line) for line in self.kubectl_log.read_text().splitlines()]
            for argv in calls[self._applied:]:
                if argv[:2] == ["patch", "configmap"] and argv[2] == self.configmap:
                    self.config.update(json.loads(argv[argv.index("-p") + 1])["data"])
                elif argv[:2] == ["rollout", "restart"] and argv[2] == f"deployment/{self.workload}":
                    self._recycle()
                elif argv[:2] != ["rollout", "status"]:
                    self.unknown.append(argv)
            self._applied = len(calls)

    def ready_pods(self) -> int:
        self._sync()
        with self._lock:
            return sum(self._healthy(p) for p in self._pods)

    # -- Target ----------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "profile": "fast"}

    def ensure_up(self) -> None:
        pass

    def liveness(self, since: float | None = None) -> str | None:
        return None

    def wait_steady(self, timeout_s: float) -> None:
        pass

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        self._sync()
        if namespace != self.namespace or not selector.items() <= self.selector.items():
            return []
        with self._lock:
            return [PodState(name=p.name, namespace=namespace, node="node-1", ip="127.0.0.1", phase="Running",
                             ready=self._healthy(p), restarts=0 if self._healthy(p) else 1,
                             waiting_reason=None if self._healthy(p) else "CrashLoopBackOff",
                             last_reason=None if self._healthy(p) else "Error",
                             last_exit_code=None if self._healthy(p) else 1,
                             last_finished_at=None if self._healthy(p) else p.started_at + 0.1,
                             labels=dict(self.selector)) for p in self._pods]

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        ready = self.ready_pods()
        n = len(self._pods)
        return {"replicas": n, "updatedReplicas": n, "updatedReadyReplicas": ready, "currentReplicas": n}

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        with self._lock:
            found = next((p for p in self._pods if p.name == pod), None)
        return self.crash_log if found is not None and not self._healthy(found) else ""

    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        assert (namespace, name) == (self.namespace, self.configmap)
        return dict(self.config)

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        assert (namespace, name) == (self.namespace, self.configmap)
        with self._lock:
            previous = {k: self.config[k] for k in data if k in self.config}
            for key, value in data.items():
                if value is None:
                    self.config.pop(key, None)
                else:
                    self.config[key] = value
            return previous

    def get_secret(self, namespace: str, name: str) -> dict[str, str]:
        raise NotImplementedError("the fake target has no Secret")

    def set_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        raise NotImplementedError("the fake target has no Secret")

    def secret_values(self) -> set[str]:
        return set()

    def set_resources(self, ref: WorkloadRef, container: str, limits: dict[str, str | None]) -> None:
        raise NotImplementedError

    def set_image(self, ref: WorkloadRef, container: str, image: str) -> None:
        raise NotImplementedError

    def scale(self, ref: WorkloadRef, replicas: int) -> None:
        raise NotImplementedError

    def restart(self, ref: WorkloadRef) -> None:
        with self._lock:
            self._recycle()

    def rollback(self, ref: WorkloadRef) -> None:
        raise NotImplementedError

    def apply(self, obj: dict[str, Any]) -> None:
        raise NotImplementedError

    def delete(self, kind: str, namespace: str, name: str) -> None:
        raise NotImplementedError

    def remove_image(self, image: str) -> None:
        raise NotImplementedError

    def restore_image(self, image: str) -> None:
        raise NotImplementedError

    def set_node_ready(self, node: str, ready: bool) -> None:
        raise NotImplementedError

    def delete_pod(self, namespace: str, name: str) -> None:
        """The controller replaces it at once, with the ConfigMap as it is now."""
        with self._lock:
            kept = [p for p in self._pods if p.name != name]
            if len(kept) == len(self._pods):
                return
            self._serial += 1
            self._pods = [*kept, _Pod(f"{self.workload}-{self._serial}", dict(self.config), time.time())]
            if not any(self._healthy(p) for p in self._pods):
                self.down_since = self.down_since or time.time()

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        raise NotImplementedError

    def cordon(self, node: str, unschedulable: bool = True) -> None:
        raise NotImplementedError

    def drain(self, node: str, timeout_s: float = 120) -> ExecResult:
        raise NotImplementedError

    def prometheus_url(self) -> str:
        return self.prometheus

    def api_client(self) -> Any:
        raise NotImplementedError("the fake target has no API server (the runner never asks for one)")

    def http(self) -> requests.Session:
        return requests.Session()

    def service_url(self, namespace: str, service: str, port: int | str) -> str:
        return self.app_url

    def pod_url(self, namespace: str, pod: str, port: int | str) -> str:
        return self.app_url

    def alert_for_seconds(self) -> dict[str, float]:
        return {self.alert: 0.0}

    def scrape_and_eval_seconds(self) -> tuple[float, float]:
        return 0.25, 0.25

    def step_environment(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.state_dir)}

    def snapshot(self) -> Any:
        return copy.deepcopy(self.config)

    def restore(self, snapshot: Any) -> None:
        with self._lock:
            self.config = copy.deepcopy(snapshot)

    def state_version(self) -> str:
        """The config and the pods (each recycle makes new ones), as resourceVersions would tell."""
        self._sync()
        with self._lock:
            return json.dumps([self.config, [p.name for p in self._pods]], sort_keys=True)

    def tools(self) -> dict[str, str]:
        return {"kubectl": "fake"}

    def capabilities(self) -> set[str]:
        return set()


# -- HTTP: the service and Prometheus --------------------------------------------------------------
Answer = tuple[int, dict[str, Any]]


@contextmanager
def http_server(route: Callable[[str, str, bytes], Answer]) -> Iterator[str]:
    """Serve ``route(method, path_and_query, body) -> (status, json)`` on a free local port; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, body = route(self.command, self.path, self.rfile.read(length) if length else b"")
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class names it)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def checkout_app(target: Callable[[], FakeTarget]) -> Callable[[str, str, bytes], Answer]:
    """The checkout service: /healthz and POST /api/orders answer while a replica is ready."""

    def route(method: str, path: str, body: bytes) -> Answer:
        up = target().ready_pods() > 0
        if path == "/healthz":
            return (200, {"ok": True}) if up else (503, {"ok": False})
        if method == "POST" and path == "/api/orders":
            order = json.loads(body or b"{}")
            return (201, {"order_id": f"o-{order.get('idempotency_key', '')}"}) if up else (503, {"error": "down"})
        return 404, {}

    return route


def prometheus(target: Callable[[], FakeTarget],
               query: Callable[[str], list[dict[str, Any]]] = lambda expr: []) -> Callable[[str, str, bytes], Answer]:
    """``/api/v1/alerts``: the target's alert firing (critical) while no replica is ready; ``/api/v1/query``:
    what ``query(expr)`` returns (the abort guard's PromQL); ``/api/v1/query_range``: no series."""

    def route(method: str, path: str, body: bytes) -> Answer:
        url = urlparse(path)
        if url.path == "/api/v1/alerts":
            t = target()
            alerts = []
            if t.ready_pods() == 0 and t.down_since is not None:
                active = datetime.fromtimestamp(t.down_since, tz=UTC).isoformat().replace("+00:00", "Z")
                alerts.append({"labels": {"alertname": t.alert, "severity": "critical"}, "state": "firing",
                               "activeAt": active})
            return 200, {"status": "success", "data": {"alerts": alerts}}
        params = parse_qs(url.query) | parse_qs(body.decode())
        if url.path == "/api/v1/query":
            return 200, {"status": "success", "data": {"resultType": "vector", "result": query(params["query"][0])}}
        if url.path == "/api/v1/query_range":
            return 200, {"status": "success", "data": {"resultType": "matrix", "result": []}}
        return 404, {"status": "error"}

    return route
