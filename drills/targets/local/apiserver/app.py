"""The HTTP side of the embedded cluster's API server (aiohttp): routing, auth, reads, watches and writes.

Paths follow the Kubernetes REST layout (``/api/v1/namespaces/NS/pods/NAME/log``,
``/apis/GROUP/VERSION/...``); what is served comes from :mod:`.resources`, the objects from :class:`.Cluster`,
writes go to the sandbox's object store (the controller acts on them) and are answered with the object as
served after the write. Every error is a ``Status`` (:mod:`.errors`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from drills.errors import TargetError
from drills.targets.local import operations
from drills.targets.local.apiserver import openapi, resources, streams, tables
from drills.targets.local.apiserver.cluster import Cluster, Event
from drills.targets.local.apiserver.errors import ApiError, already_exists, conflict, invalid, not_found
from drills.targets.local.apiserver.patches import PatchError, apply_patch
from drills.targets.local.apiserver.resources import Resource
from drills.targets.local.apiserver.selectors import field_selector, label_selector
from drills.targets.local.store import CLUSTER_SCOPED, Obj, key_of

MAX_BODY = 3 * 1024 * 1024  # the real API server's limit on a request body
VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.1-drillbook", "gitCommit": "", "gitTreeState": "clean",
           "buildDate": "2026-01-01T00:00:00Z", "goVersion": "", "compiler": "embedded", "platform": "linux/amd64",
           "emulationMajor": "1", "emulationMinor": "37", "minCompatibilityMajor": "1", "minCompatibilityMinor": "36"}
SERVER_STAMPED = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")
JSON_TYPES = ("application/json", "", "application/yaml", "*/*")
CLUSTER = web.AppKey("cluster", Cluster)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Extension = Callable[["Target", web.Request], Awaitable[web.StreamResponse] | None]


@dataclass(frozen=True)
class Target:
    """What one request path names."""

    resource: Resource
    namespace: str | None
    name: str | None
    sub: str | None

    @property
    def key(self) -> str:
        return key_of(self.resource.kind, self.namespace, self.name or "")


def parse_path(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and (group, version, rest[2]) in resources.BY_PATH:
        namespace, rest = rest[1], rest[2:]
    res = resources.BY_PATH.get((group, version, rest[0]))
    # a proxy subresource carries the backend's path after it (``services/NAME:PORT/proxy/api/v1/...``)
    if res is None or (len(rest) > 3 and rest[2] != "proxy"):
        raise ApiError(404, "the server could not find the requested resource")
    return Target(res, namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, content_type="application/json")


@web.middleware
async def status_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as a Status object; never a traceback."""
    try:
        return await handler(request)
    except ApiError as exc:
        return json_response(exc.status(), exc.code)
    except web.HTTPRequestEntityTooLarge:
        return json_response(ApiError(413, "the request body is too large (over 3 MiB)").status(), 413)
    except web.HTTPException:
        raise
    except streams.StatusError as exc:  # refused before a stream started (exec, log)
        return json_response(exc.status(), exc.code)
    except TargetError as exc:
        return json_response(ApiError(422, str(exc)).status(), 422)
    except Exception as exc:  # a bug in the server must still answer in the API's format
        return json_response(ApiError(500, f"internal error: {type(exc).__name__}: {exc}").status(), 500)


def auth(token: str) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {token}":
            raise ApiError(401, "Unauthorized")
        return await handler(request)
    return check


# -- discovery --------------------------------------------------------------------------------------------
async def discovery(request: web.Request) -> web.StreamResponse:
    parts = [p for p in request.path.split("/") if p]
    body: Any = None
    if parts == ["version"]:
        body = VERSION
    elif parts == ["api"]:
        body = resources.api_versions()
    elif parts == ["apis"]:
        body = resources.api_group_list()
    elif len(parts) == 2 and parts[0] == "api":
        body = resources.resource_list("", parts[1])
    elif len(parts) == 2 and parts[0] == "apis":
        body = resources.api_group(parts[1])
    elif len(parts) == 3 and parts[0] == "apis":
        body = resources.resource_list(parts[1], parts[2])
    elif parts == ["openapi", "v3"]:
        body = openapi.index(_group_version_paths())
    elif parts[:2] == ["openapi", "v3"]:
        document = openapi.document_json("/".join(parts[2:]))
        if document is not None:
            return web.Response(body=document, content_type="application/json")
    elif parts in (["healthz"], ["livez"], ["readyz"]):
        return web.Response(text="ok")
    if body is None:
        raise ApiError(404, "the server could not find the requested resource")
    return json_response(body)


def _group_version_paths() -> list[str]:
    return [f"{g}/{v}" if g else v for g, vs in resources.group_versions().items() for v in vs]


def _table(kind: str, objects: list[Obj], rv: str, query: Any, **more: Any) -> Obj:
    try:
        return tables.table(kind, objects, resource_version=rv, include_object=query.get("includeObject"),
                            now=time.time(), **more)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


# -- reads ------------------------------------------------------------------------------------------------
def selected(cluster: Cluster, res: Resource, namespace: str | None, query: Any) -> list[Obj]:
    labels = label_selector(query.get("labelSelector"))
    fields = field_selector(query.get("fieldSelector"))
    items = [o for o in cluster.list(res.kind, namespace)
             if labels(o["metadata"].get("labels", {})) and fields(o)]
    return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


def get_one(cluster: Cluster, target: Target) -> Obj:
    obj = cluster.objects.get(target.key)
    if obj is None:
        raise not_found(target.resource.plural, target.name or "", target.resource.group)
    return obj


async def read(request: web.Request, target: Target) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    cluster.refresh()
    res, query = target.resource, request.query
    as_table = tables.wants_table(request.headers.get("Accept", ""))
    if query.get("watch") in ("true", "1"):
        return await watch(request, target, as_table)
    if target.name is not None:
        obj = get_one(cluster, target)
        if as_table:
            return json_response(_table(res.kind, [obj], obj["metadata"]["resourceVersion"], query))
        return json_response(obj)
    items = selected(cluster, res, target.namespace, query)
    rv = str(cluster.resource_version)
    limit = int(query.get("limit") or 0)
    start = _continue_offset(query.get("continue"))
    page = items[start:start + limit] if limit else items[start:]
    more = bool(limit) and start + limit < len(items)
    token = base64.urlsafe_b64encode(json.dumps({"o": start + limit, "rv": rv}).encode()).decode() if more else None
    if as_table:
        return json_response(_table(res.kind, page, rv, query, continue_token=token,
                                    remaining=len(items) - start - limit if more else None))
    meta: Obj = {"resourceVersion": rv}
    if token:
        meta.update({"continue": token, "remainingItemCount": len(items) - start - limit})
    return json_response({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta,
                          "items": page})


def _continue_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "continue key is not valid: illegal base64 data") from exc


async def watch(request: web.Request, target: Target, as_table: bool) -> web.StreamResponse:
    """A watch stream: initial ADDED events (watch-list: then the initial-events-end bookmark), then live events."""
    cluster = request.app[CLUSTER]
    query, res = request.query, target.resource
    labels, fields = label_selector(query.get("labelSelector")), field_selector(query.get("fieldSelector"))
    if target.name is not None:
        fields = (lambda name, base: lambda o: o["metadata"]["name"] == name and base(o))(target.name, fields)
    since = query.get("resourceVersion", "")
    send_initial = query.get("sendInitialEvents") == "true"
    if since not in ("", "0") and not send_initial and int(since) < cluster.oldest() - 1:
        raise ApiError(410, f"too old resource version: {since} ({cluster.oldest()})", "Expired")

    def wanted(obj: Obj) -> bool:
        return (obj["kind"] == res.kind and (target.namespace is None or
                obj["metadata"].get("namespace") == target.namespace) and
                labels(obj["metadata"].get("labels", {})) and fields(obj))

    queue = cluster.subscribe()
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    await response.prepare(request)
    first = [True]

    async def send(kind: str, obj: Obj) -> None:
        body = obj
        if as_table and kind != "BOOKMARK":
            body = _table(res.kind, [obj], obj["metadata"]["resourceVersion"], query, with_definitions=first[0])
            first[0] = False
        await response.write(json.dumps({"type": kind, "object": body}).encode() + b"\n")

    timeout = float(query.get("timeoutSeconds") or 1800)
    try:
        if since in ("", "0") or send_initial:
            for obj in selected(cluster, res, target.namespace, query):
                if wanted(obj):
                    await send("ADDED", obj)
            last = cluster.resource_version
            if send_initial:
                await send("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": {
                    "resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}})
        else:
            last = int(since)
            for past in list(cluster.history):
                if past.rv > last and wanted(past.obj):
                    await send(past.type, past.obj)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event: Event = await asyncio.wait_for(queue.get(), timeout=min(5.0, deadline - time.monotonic()))
            except TimeoutError:
                continue
            if event.rv > last and wanted(event.obj):
                await send(event.type, event.obj)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        cluster.unsubscribe(queue)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


# -- writes -----------------------------------------------------------------------------------------------
async def body_of(request: web.Request) -> Any:
    ctype = request.content_type
    if "protobuf" in ctype:
        raise ApiError(415, f'the embedded cluster speaks JSON only, not "{ctype}": imperative `kubectl create '
                            'secret|configmap` sends protobuf; run it with `--dry-run=client -o yaml | kubectl '
                            'apply -f -` instead', "UnsupportedMediaType")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "the request body is too large (over 3 MiB)")
    if request.method == "PATCH":
        return raw
    try:
        return json.loads(raw or b"{}")
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the body of the request was in an unknown format - accepted media types include: "
                            f"application/json, application/yaml ({exc.msg} at line {exc.lineno} column "
                            f"{exc.colno})") from exc


def desired(obj: Obj, previous: Obj | None) -> Obj:
    """What the store keeps of a written object: no server-stamped fields; created time kept."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    for key in SERVER_STAMPED:
        meta.pop(key, None)
    if previous is not None and "creationTimestamp" in previous.get("metadata", {}):
        meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
    if out.get("kind") in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        out.pop("status", None)
    return out


def validate(obj: Obj, res: Resource) -> None:
    """The API server's own checks a runbook can trip (beyond the schema): names and required fields."""
    name = obj.get("metadata", {}).get("name", "")
    causes: list[tuple[str, str, str]] = []
    if not name:
        causes.append(("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"))
    spec = obj.get("spec", {})
    template = spec.get("template", {}).get("spec") if res.kind in ("Deployment", "StatefulSet", "DaemonSet",
                                                                      "ReplicaSet") else None
    if template is not None:
        for i, container in enumerate(template.get("containers", [])):
            where = f"spec.template.spec.containers[{i}]"
            if not container.get("name"):
                causes.append(("FieldValueRequired", f"{where}.name", "Required value"))
            if not container.get("image"):
                causes.append(("FieldValueRequired", f"{where}.image", "Required value"))
        if not template.get("containers"):
            causes.append(("FieldValueRequired", "spec.template.spec.containers", "Required value"))
        if int(spec.get("replicas", 1)) < 0:
            causes.append(("FieldValueInvalid", "spec.replicas",
                           f"Invalid value: {spec.get('replicas')}: must be greater than or equal to 0"))
    if causes:
        raise invalid(res.kind, name, causes, res.group)


async def write(request: web.Request, target: Target) -> web.StreamResponse:
    cluster, res = request.app[CLUSTER], target.resource
    store = cluster.store
    cluster.refresh()
    if res.group == "metrics.k8s.io" or res.kind in ("Pod", "Endpoints", "Event") and request.method != "DELETE":
        raise ApiError(405, f"the embedded cluster does not accept {request.method} on {res.plural}: its "
                            f"controllers own them", "MethodNotAllowed")
    if request.method == "DELETE":
        return await delete(request, target)
    body = await body_of(request)
    if request.method == "POST":
        obj = body if isinstance(body, dict) else {}
        obj.setdefault("metadata", {})
        if res.namespaced:
            obj["metadata"]["namespace"] = target.namespace or obj["metadata"].get("namespace") or "default"
        obj.setdefault("kind", res.kind)
        obj.setdefault("apiVersion", res.api_version)
        name = obj["metadata"].get("name") or (obj["metadata"].get("generateName", "") + _suffix())
        obj["metadata"]["name"] = name
        key = key_of(res.kind, obj["metadata"].get("namespace"), name)
        if key in cluster.objects:
            raise already_exists(res.plural, name, res.group)
        validate(obj, res)
        if request.query.get("dryRun") != "All":
            store.apply(desired(obj, None))
        return _after(cluster, key, obj, 201)
    current = get_one(cluster, target)
    if request.method == "PUT":
        obj = body
        sent_rv = obj.get("metadata", {}).get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise conflict(res.plural, target.name or "", res.group)
    else:
        try:
            obj = apply_patch(copy.deepcopy(current), body, request.content_type)
        except PatchError as exc:
            raise ApiError(exc.code, exc.message, exc.reason) from exc
    obj["kind"], obj["apiVersion"] = res.kind, res.api_version
    obj.setdefault("metadata", {}).update(name=target.name)
    if res.namespaced:
        obj["metadata"]["namespace"] = target.namespace
    validate(obj, res)
    if request.query.get("dryRun") != "All":
        store.apply(desired(obj, current))
    return _after(cluster, target.key, obj, 200)


def _after(cluster: Cluster, key: str, fallback: Obj, code: int) -> web.Response:
    cluster.refresh(force=True)
    return json_response(cluster.objects.get(key, fallback), code)


def _suffix() -> str:
    import secrets

    return secrets.token_hex(3)[:5]


async def delete(request: web.Request, target: Target) -> web.StreamResponse:
    cluster, res = request.app[CLUSTER], target.resource
    if target.name is None:
        raise ApiError(405, "deletecollection is not served by the embedded cluster", "MethodNotAllowed")
    current = get_one(cluster, target)
    if request.query.get("dryRun") == "All":
        return json_response(current)
    if res.kind == "Pod":
        options = await body_of(request)
        operations.request_pod_deletion(cluster.store, target.namespace or "default", target.name,
                                        grace_period(request.query, options))
        cluster.refresh(force=True)
        return json_response(cluster.objects.get(target.key, current))
    cluster.store.delete(res.kind, None if res.kind in CLUSTER_SCOPED else target.namespace, target.name)
    cluster.refresh(force=True)
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": {"name": target.name, "group": res.group, "kind": res.plural,
                                      "uid": current["metadata"]["uid"]}})


def grace_period(query: Mapping[str, str], options: Any) -> int | None:
    """DeleteOptions.gracePeriodSeconds from the query or the body (``--force --grace-period=0`` sends 0)."""
    value = query.get("gracePeriodSeconds")
    if value is None and isinstance(options, dict):
        value = options.get("gracePeriodSeconds")
    try:
        return None if value is None else max(0, int(value))
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"gracePeriodSeconds: invalid value {value!r}") from exc


# -- dispatch ---------------------------------------------------------------------------------------------
def make_app(cluster: Cluster, token: str, extensions: dict[str, Extension] | None = None) -> web.Application:
    """The application; ``extensions`` serve subresources by name (``log``, ``exec``, ``eviction``, ``scale``,
    ``proxy``)."""
    app = web.Application(middlewares=[status_errors, auth(token)], client_max_size=MAX_BODY + 1024)
    app[CLUSTER] = cluster
    handlers = extensions or {}

    async def dispatch(request: web.Request) -> web.StreamResponse:
        target = parse_path(request.path)
        if target is None:
            return await discovery(request)
        if target.resource.group == "metrics.k8s.io":
            from drills.targets.local.apiserver import metrics  # it builds on this module: imported late

            return await metrics.serve(request, target)
        if target.sub is not None:
            handler = handlers.get(target.sub)
            if handler is None and target.sub == "status" and request.method == "GET":
                return await read(request, Target(target.resource, target.namespace, target.name, None))
            if handler is None:
                raise ApiError(404, "the server could not find the requested resource")
            result = handler(target, request)
            if result is None:
                raise ApiError(405, f"{request.method} is not allowed on {target.resource.plural}/{target.sub}",
                               "MethodNotAllowed")
            return await result
        if target.namespace is None and target.resource.namespaced and request.method != "GET":
            raise ApiError(400, "the namespace of the object must be given in the path")
        if request.method == "GET":
            return await read(request, target)
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            return await write(request, target)
        raise ApiError(405, f"{request.method} is not allowed", "MethodNotAllowed")

    app.router.add_route("*", "/{tail:.*}", dispatch)

    async def follow(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(cluster.follow())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(follow)
    return app
