"""One connection to a cluster's API server through the official ``kubernetes`` client.

Typed API classes serve what has a model worth having (logs, exec, eviction, watches); everything else goes
through :meth:`Api.request`, the client's own request path (its auth, TLS and retries) with JSON in and out,
so objects stay plain dicts exactly as ``kubectl get -o json`` shows them. Every failure the server reports
becomes :class:`ApiError`, keeping its ``Status`` reason, code and message.
"""

from __future__ import annotations

import atexit
import json
import threading
import weakref
from pathlib import Path
from typing import Any

import requests
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from drills.errors import TargetError

Obj = dict[str, Any]

# group/version and plural of every kind drillbook reads or writes through the API
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("v1", "namespaces", False), "Node": ("v1", "nodes", False),
    "Pod": ("v1", "pods", True), "Service": ("v1", "services", True), "Endpoints": ("v1", "endpoints", True),
    "ConfigMap": ("v1", "configmaps", True), "Secret": ("v1", "secrets", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True), "Event": ("v1", "events", True),
    "Deployment": ("apps/v1", "deployments", True), "StatefulSet": ("apps/v1", "statefulsets", True),
    "ReplicaSet": ("apps/v1", "replicasets", True), "DaemonSet": ("apps/v1", "daemonsets", True),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
}

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class ApiError(TargetError):
    """The API server refused a request (or could not be reached: code 0); keeps its ``Status``."""

    def __init__(self, code: int, reason: str, message: str, what: str = "") -> None:
        self.code = code
        self.reason = reason
        self.message = message
        self.what = what
        super().__init__(f"{what}: {code} {reason}: {message}" if what else f"{code} {reason}: {message}")

    @classmethod
    def from_exception(cls, exc: ApiException, what: str = "") -> ApiError:
        body: Any = exc.body
        if isinstance(body, bytes):
            body = body.decode(errors="replace")
        try:
            status = json.loads(body) if body else {}
        except ValueError:
            status = {}
        if not isinstance(status, dict):
            status = {}
        return cls(int(exc.status or 0), str(status.get("reason") or exc.reason or ""),
                   str(status.get("message") or body or exc.reason or ""), what)

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        """A write based on an outdated resourceVersion (someone, e.g. a controller, wrote in between)."""
        return self.code == 409


def path_of(kind: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    """The REST path of a kind (its collection when ``name`` is None; all namespaces when ``namespace`` is)."""
    try:
        group_version, plural, namespaced = KINDS[kind]
    except KeyError:
        raise TargetError(f"kind {kind!r} is not one drillbook manages; known: {', '.join(sorted(KINDS))}") from None
    root = f"/api/{group_version}" if group_version == "v1" else f"/apis/{group_version}"
    if namespaced and namespace is not None:
        root += f"/namespaces/{namespace}"
    path = f"{root}/{plural}"
    if name is not None:
        path += f"/{name}"
    if sub is not None:
        path += f"/{sub}"
    return path


class Api:
    """An ``ApiClient`` for one kubeconfig context, plus plain-JSON requests on it."""

    def __init__(self, kubeconfig: Path | None, context: str, timeout_s: float = 30) -> None:
        self.timeout_s = timeout_s
        self.client = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False)
        self.core = client.CoreV1Api(self.client)
        self.apps = client.AppsV1Api(self.client)
        self.policy = client.PolicyV1Api(self.client)
        self.background: list[threading.Thread] = []  # watches still ending their last round
        _OPEN.add(self)

    def close(self) -> None:
        """Let the watches end, then close every connection (unclosed sockets are a leak, and a warning)."""
        for thread in self.background:
            thread.join(timeout=15)
        self.background.clear()
        self.client.close()
        _OPEN.discard(self)

    @property
    def configuration(self) -> client.Configuration:
        conf: client.Configuration = self.client.configuration
        return conf

    @property
    def host(self) -> str:
        return str(self.configuration.host).rstrip("/")

    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout_s: float | None = None) -> Any:
        """One request; the decoded JSON answer (text when the server answers text)."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        serialized = self.client.param_serialize(method, path, query_params=params, header_params=headers,
                                                 body=body, auth_settings=["BearerToken"])
        what = f"{method} {path}"
        try:
            response = self.client.call_api(*serialized, _request_timeout=timeout_s or self.timeout_s)
            response.read()
        except ApiException as exc:
            raise ApiError.from_exception(exc, what) from exc
        except (HTTPError, OSError) as exc:
            raise ApiError(0, "Unreachable", f"{type(exc).__name__}: {exc}", what) from exc
        text = (response.data or b"").decode(errors="replace")
        if not 200 <= response.status <= 299:
            raise ApiError.from_exception(ApiException(http_resp=response, body=text), what)
        if "json" not in (response.getheader("content-type") or ""):
            return text
        return json.loads(text) if text else None

    def get(self, kind: str, namespace: str | None, name: str) -> Obj:
        obj: Obj = self.request("GET", path_of(kind, namespace, name))
        return obj

    def find(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        try:
            return self.get(kind, namespace, name)
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, kind: str, namespace: str | None = None, labels: dict[str, str] | None = None,
             fields: str | None = None) -> list[Obj]:
        selector = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or None
        answer = self.request("GET", path_of(kind, namespace),
                              query={"labelSelector": selector, "fieldSelector": fields})
        items: list[Obj] = answer.get("items", [])
        api_version, _, _ = KINDS[kind]
        for item in items:  # a list's items carry no kind; the object as ``get -o json`` shows it does
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
        return items

    def patch(self, kind: str, namespace: str | None, name: str, body: Any, how: str = STRATEGIC,
              sub: str | None = None) -> Obj:
        obj: Obj = self.request("PATCH", path_of(kind, namespace, name, sub), body=body, content_type=how)
        return obj

    def http(self) -> requests.Session:
        """A ``requests`` session that authenticates to the API server as this client does."""
        conf = self.configuration
        session = requests.Session()
        token = conf.get_api_key_with_prefix("BearerToken", alias="authorization")
        if token:
            session.headers["Authorization"] = token
        if conf.cert_file and conf.key_file:
            session.cert = (conf.cert_file, conf.key_file)
        session.verify = conf.ssl_ca_cert if conf.verify_ssl and conf.ssl_ca_cert else bool(conf.verify_ssl)
        # As the client does: its own proxy setting, not the environment's (requests would let
        # REQUESTS_CA_BUNDLE override session.verify, and the cluster's CA is in no system bundle).
        session.trust_env = False
        if conf.proxy:
            session.proxies = {"http": conf.proxy, "https": conf.proxy}
        return session


# Clients nobody closed are closed at exit, before the interpreter freezes daemon threads: a watch thread still
# ending its round while Python finalizes can die writing to stderr (a fatal error, SIGABRT: exit code -6).
_OPEN: weakref.WeakSet[Api] = weakref.WeakSet()


@atexit.register
def _close_open_clients() -> None:
    for api in list(_OPEN):
        api.close()
