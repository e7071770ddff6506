"""The Services' and Pods' ``proxy`` subresource over a fabricated sandbox state: a tiny HTTP backend listens on
the fabricated pods' addresses, requests go through the embedded API server with requests, the real kubectl and
the official Python client."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from kubernetes import client, config

from drills.model import EndToEndRequest, ServiceCheck
from drills.targets.local import LocalTarget
from drills.targets.local.apiserver.errors import ApiError
from drills.targets.local.apiserver.proxy import split_scheme_name_port
from tests.apiserver.conftest import Api
from verifiers.health import end_to_end, replicas_healthy

NS = "production-agents"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received; ``/code/N`` answers N; a hop-by-hop header comes back."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        code = int(self.path[len("/code/"):].split("?")[0]) if self.path.startswith("/code/") else 200
        payload = json.dumps({"method": self.command, "path": self.path, "body": body, "reply": "echo",
                              "served_by": self.server.server_address[0],  # type: ignore[index]
                              "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", "echo")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _pod_ips(api: Api, app: str) -> dict[str, str]:
    status = json.loads((api.root / "status.json").read_text())
    return {p["name"]: p["podIP"] for p in status["pods"] if p["labels"].get("app") == app}


def _free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture()
def backend(api: Api) -> Iterator[tuple[int, dict[str, str]]]:
    """The echo server on every production-agent pod's address at one free port, and a Service ``echo`` on it."""
    ips = _pod_ips(api, "production-agent")
    port = _free_port(next(iter(ips.values())))
    servers = [ThreadingHTTPServer((ip, port), Echo) for ip in ips.values()]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    api.store.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": NS},
                     "spec": {"selector": {"app": "production-agent"},
                              "ports": [{"name": "web", "port": 80, "targetPort": port}]}})
    try:
        yield port, ips
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def _get(api: Api, path: str, **kw: Any) -> requests.Response:
    return requests.request(kw.pop("method", "GET"), api.url + path, verify=str(api.root / "pki" / "ca.crt"),
                            headers={"Authorization": f"Bearer {api.token}", **kw.pop("headers", {})},
                            timeout=10, **kw)


def test_service_proxy_forwards_method_path_query_body_and_relays_the_answer(
        api: Api, backend: tuple[int, dict[str, str]]) -> None:
    port, ips = backend
    reply = _get(api, f"/api/v1/namespaces/{NS}/services/echo:80/proxy/v1/chat?x=1&y=a%2Fb", method="POST",
                 json={"message": "hi"}, headers={"X-Custom": "yes", "Connection": "close, X-Drop", "X-Drop": "1"})
    assert reply.status_code == 200, reply.text
    seen = reply.json()
    assert seen["method"] == "POST" and seen["path"] == "/v1/chat?x=1&y=a%2Fb"
    assert json.loads(seen["body"]) == {"message": "hi"}
    assert seen["served_by"] in ips.values()
    assert seen["headers"]["x-custom"] == "yes" and seen["headers"]["content-type"] == "application/json"
    # the caller's credentials and hop-by-hop headers (and those Connection names) stay behind
    assert "authorization" not in seen["headers"] and "x-drop" not in seen["headers"]
    assert "x-forwarded-for" in seen["headers"]
    assert reply.headers["X-Backend"] == "echo" and "Keep-Alive" not in reply.headers
    assert reply.headers["Content-Type"] == "application/json"


def test_service_port_by_name_by_number_and_error_status_relayed(api: Api, backend: tuple[int, dict[str, str]]) -> None:
    assert _get(api, f"/api/v1/namespaces/{NS}/services/echo:web/proxy/").json()["path"] == "/"
    assert _get(api, f"/api/v1/namespaces/{NS}/services/http:echo:80/proxy").json()["path"] == "/"
    teapot = _get(api, f"/api/v1/namespaces/{NS}/services/echo:80/proxy/code/418")
    assert teapot.status_code == 418 and teapot.json()["path"] == "/code/418"
    missing = _get(api, f"/api/v1/namespaces/{NS}/services/echo:81/proxy/")
    assert (missing.status_code, missing.json()["reason"]) == (503, "ServiceUnavailable")
    assert missing.json()["message"] == 'no service port 81 found for service "echo"'
    https = _get(api, f"/api/v1/namespaces/{NS}/services/https:echo:80/proxy/")
    assert https.status_code == 400 and "plain HTTP only" in https.json()["message"]
    absent = _get(api, f"/api/v1/namespaces/{NS}/services/nope:80/proxy/")
    assert (absent.status_code, absent.json()["message"]) == (404, 'services "nope" not found')


def test_service_proxy_only_reaches_ready_pods(api: Api, backend: tuple[int, dict[str, str]]) -> None:
    port, ips = backend
    status = json.loads((api.root / "status.json").read_text())
    names = sorted(ips)
    for pod in status["pods"]:
        if pod["name"] in names[1:]:
            pod["ready"] = False
    (api.root / "status.json").write_text(json.dumps(status))
    served = {_get(api, f"/api/v1/namespaces/{NS}/services/echo:80/proxy/").json()["served_by"] for _ in range(12)}
    assert served == {ips[names[0]]}
    for pod in status["pods"]:
        if pod["labels"].get("app") == "production-agent":
            pod["ready"] = False
    (api.root / "status.json").write_text(json.dumps(status))
    none = _get(api, f"/api/v1/namespaces/{NS}/services/echo:80/proxy/")
    assert none.status_code == 503 and none.json()["message"] == 'no endpoints available for service "echo"'


def test_pod_proxy_follows_port_aliases_and_reports_a_dead_backend(api: Api, backend: tuple[int, dict[str, str]]) -> None:
    port, ips = backend
    pod = sorted(ips)[0]
    direct = _get(api, f"/api/v1/namespaces/{NS}/pods/{pod}:{port}/proxy/health")
    assert direct.status_code == 200 and direct.json()["served_by"] == ips[pod]
    status = json.loads((api.root / "status.json").read_text())
    for p in status["pods"]:
        if p["name"] == pod:
            p["annotations"] = {"drillbook.io/port-aliases": f"9090={port}"}
    (api.root / "status.json").write_text(json.dumps(status))
    assert _get(api, f"/api/v1/namespaces/{NS}/pods/{pod}:9090/proxy/x").json()["path"] == "/x"
    dead_port = _free_port(ips[pod])
    dead = _get(api, f"/api/v1/namespaces/{NS}/pods/{pod}:{dead_port}/proxy/")
    assert dead.status_code == 503
    assert dead.json()["message"] == (f"error trying to reach service: dial tcp {ips[pod]}:{dead_port}: connect: "
                                      "connection refused")


def test_unauthenticated_proxy_is_refused(api: Api, backend: tuple[int, dict[str, str]]) -> None:
    reply = requests.get(f"{api.url}/api/v1/namespaces/{NS}/services/echo:80/proxy/", timeout=10,
                         verify=str(api.root / "pki" / "ca.crt"))
    assert reply.status_code == 401


def test_kubectl_get_raw_and_python_client_through_the_proxy(api: Api, backend: tuple[int, dict[str, str]]) -> None:
    done = api.kubectl("get", "--raw", f"/api/v1/namespaces/{NS}/services/echo:80/proxy/api/v1/status/buildinfo")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["path"] == "/api/v1/status/buildinfo"
    with config.new_client_from_config(config_file=str(api.kubeconfig)) as api_client:  # type: ignore[no-untyped-call]
        core = client.CoreV1Api(api_client)
        reply: Any = core.connect_get_namespaced_service_proxy_with_path("echo:web", NS, "q", path2="q",
                                                                         _preload_content=False)
        assert json.loads(reply.data)["path"] == "/q?path=q"


def test_names_split_as_the_real_server_splits_them() -> None:
    assert split_scheme_name_port("prometheus") == ("", "prometheus", "")
    assert split_scheme_name_port("prometheus:19090") == ("", "prometheus", "19090")
    assert split_scheme_name_port("https:prometheus:web") == ("https", "prometheus", "web")
    with pytest.raises(ApiError):
        split_scheme_name_port("ftp:prometheus:1")
    with pytest.raises(ApiError):
        split_scheme_name_port(":80")


def test_local_target_reaches_services_and_pods_through_its_kubeconfig(
        api: Api, backend: tuple[int, dict[str, str]]) -> None:
    port, ips = backend
    target = LocalTarget(api.root)
    assert target.prometheus_url() == f"{api.url}/api/v1/namespaces/monitoring/services/prometheus:19090/proxy"
    with target.http() as http:
        via_service = http.get(target.service_url(NS, "echo", 80) + "/v1/chat?q=1", timeout=10)
        pod = sorted(ips)[1]
        via_pod = http.get(target.pod_url(NS, pod, port) + "/health", timeout=10)
    assert via_service.status_code == 200 and via_service.json()["path"] == "/v1/chat?q=1"
    assert via_pod.json()["served_by"] == ips[pod]
    assert "authorization" not in via_service.json()["headers"]  # the token stops at the API server


def test_health_checks_go_through_the_proxy_and_name_the_api_servers_answer(
        api: Api, backend: tuple[int, dict[str, str]]) -> None:
    port, ips = backend
    target = LocalTarget(api.root)
    spec = ServiceCheck(namespace=NS, workload="deployment/agent-deployment", service="echo",
                        selector={"app": "production-agent"}, port=port, replicas=len(ips), health_path="/health",
                        request=EndToEndRequest(method="POST", path="/v1/chat", json={"message": "probe {uuid}"},
                                                expect_json_key="reply"))
    healthy = replicas_healthy(target, spec)
    assert healthy.ok, healthy.detail
    # the Service's port is spec.port: a Service "echo" on the backend's port, as production-agent is on 8080
    api.store.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": NS},
                     "spec": {"selector": {"app": "production-agent"}, "ports": [{"port": port, "targetPort": port}]}})
    served = end_to_end(target, spec)
    assert served.ok and f"services/echo:{port}/proxy/v1/chat -> 200" in served.detail, served.detail
    status = json.loads((api.root / "status.json").read_text())
    for pod in status["pods"]:
        if pod["labels"].get("app") == "production-agent":
            pod["ready"] = False
    (api.root / "status.json").write_text(json.dumps(status))
    down = end_to_end(target, spec)
    assert not down.ok and 'no endpoints available for service \\"echo\\"' in down.detail, down.detail
