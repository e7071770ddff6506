"""The ``proxy`` subresource of Services and Pods: how a client outside the cluster reaches what runs in it.

``/api/v1/namespaces/NS/services/NAME[:PORT]/proxy[/PATH]`` and ``.../pods/NAME[:PORT]/proxy[/PATH]``, as the
real API server serves them (``pkg/registry/core/service/storage`` and ``pkg/registry/core/pod`` ResourceLocation):
the name may carry the port (a Service port by number or name; a Pod's port by number) and an ``http:`` scheme;
a Service picks a ready address from its Endpoints (503 ``no endpoints available for service "x"`` when there is
none, 503 ``no service port N found for service "x"`` for a port it does not declare); a backend that cannot be
reached is 503 ``error trying to reach service: dial tcp ...`` (apimachinery ``util/proxy/transport.go``).
Method, query string and body go through, the response's status, headers and body come back; hop-by-hop
headers and the caller's credentials stay behind. A pod's ``drillbook.io/port-aliases`` annotation maps the
declared port onto the one its process really serves (Prometheus: 9090 → 19090).

Not served: ``https:`` backends (every sandbox backend speaks plain HTTP; refused with 400) and protocol
upgrades (WebSocket through the proxy); the response is relayed whole, not streamed.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable

import aiohttp
from aiohttp import web
from yarl import URL

from drills.targets.local.apiserver.app import CLUSTER, MAX_BODY, Extension, Target, get_one
from drills.targets.local.apiserver.errors import ApiError
from drills.targets.local.podexec import PORT_ALIASES, parse_port_aliases
from drills.targets.local.store import Obj, key_of

# RFC 7230 6.1 hop-by-hop headers, as Go's httputil.ReverseProxy drops them; plus what must not be relayed
HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "transfer-encoding", "upgrade"}
NOT_FORWARDED = HOP_BY_HOP | {"authorization", "host", "content-length"}
NOT_RELAYED = HOP_BY_HOP | {"content-length"}
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10)


def extensions() -> dict[str, Extension]:
    return {"proxy": _proxy}


def split_scheme_name_port(ident: str) -> tuple[str, str, str]:
    """``name`` / ``name:port`` / ``scheme:name:port`` → (scheme, name, port), as utilnet.SplitSchemeNamePort."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3 and parts[0] in ("http", "https"):
        scheme, name, port = parts
    else:
        scheme, name, port = "", "", ""
    if not name:
        raise ApiError(400, f'invalid request "{ident}"')
    return scheme, name, port


def _proxy(target: Target, request: web.Request) -> Awaitable[web.StreamResponse] | None:
    if target.resource.kind not in ("Service", "Pod") or target.name is None:
        return None
    return _serve(target, request)


async def _serve(target: Target, request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    cluster.refresh()
    scheme, name, port = split_scheme_name_port(target.name or "")
    if scheme == "https":
        raise ApiError(400, f'the embedded cluster proxies plain HTTP only; "{target.name}" asks for https')
    named = Target(target.resource, target.namespace, name, None)
    if target.resource.kind == "Service":
        host, real_port = _service_backend(cluster.objects, get_one(cluster, named), port)
    else:
        host, real_port = _pod_backend(get_one(cluster, named), port)
    return await forward(request, host, real_port, _tail(request.rel_url.raw_path))


def _tail(raw_path: str) -> str:
    """What follows ``.../NAME/proxy`` in the request path, still percent-encoded; ``/`` when nothing does."""
    segments = raw_path.split("/")
    at = next(i for i in range(2, len(segments)) if segments[i] == "proxy" and segments[i - 2] in
              ("services", "pods"))
    return "/" + "/".join(segments[at + 1:])


def _service_backend(objects: dict[str, Obj], service: Obj, port: str) -> tuple[str, int]:
    meta = service["metadata"]
    ns, name = meta["namespace"], meta["name"]
    wanted = port
    if port.isdigit():
        declared = [p for p in service.get("spec", {}).get("ports", []) if int(p.get("port", 0)) == int(port)]
        if not declared:
            raise ApiError(503, f'no service port {port} found for service "{name}"')
        wanted = declared[0].get("name", "")
    endpoints = objects.get(key_of("Endpoints", ns, name), {})
    subsets = [s for s in endpoints.get("subsets", []) if s.get("addresses")]
    for subset in subsets:
        for ep_port in subset.get("ports", []):
            if ep_port.get("name", "") != wanted:
                continue
            address = random.choice(subset["addresses"])
            pod = objects.get(key_of("Pod", ns, address.get("targetRef", {}).get("name", "")), {})
            return address["ip"], _real_port(pod, ep_port["port"])
    raise ApiError(503, f'no endpoints available for service "{name}"')


def _pod_backend(pod: Obj, port: str) -> tuple[str, int]:
    if not port:  # as the real server: the first port any container declares
        declared = [p["containerPort"] for c in pod["spec"].get("containers", []) for p in c.get("ports", [])]
        port = str(declared[0]) if declared else "80"
    ip = pod.get("status", {}).get("podIP")
    if not ip:
        raise ApiError(400, "address not allowed")
    if not port.isdigit():
        raise ApiError(503, f'error trying to reach service: dial tcp: address {ip}:{port}: invalid port')
    return ip, _real_port(pod, port)


def _real_port(pod: Obj, port: int | str) -> int:
    """The port the pod's process really listens on (the sandbox's port aliases; see :mod:`..podexec`)."""
    aliases = parse_port_aliases(pod.get("metadata", {}).get("annotations", {}).get(PORT_ALIASES))
    try:
        return int(aliases.get(str(port), port))
    except ValueError as exc:
        raise ApiError(503, f"error trying to reach service: named target port {port} is not served by the "
                            "embedded cluster's proxy") from exc


async def forward(request: web.Request, host: str, port: int, path: str) -> web.Response:
    """Send ``request`` to ``http://host:port/path`` and relay the answer."""
    url = URL.build(scheme="http", host=host, port=port, path=path, query_string=request.rel_url.raw_query_string,
                    encoded=True)
    body = await request.read()
    if len(body) > MAX_BODY:
        raise ApiError(413, "the request body is too large (over 3 MiB)")
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _dropped(request.headers)]
    forwarded = ", ".join(x for x in (request.headers.get("X-Forwarded-For"), request.remote) if x)
    headers.append(("X-Forwarded-For", forwarded))
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False, skip_auto_headers=(
                "User-Agent", "Accept-Encoding", "Accept", "Content-Type")) as session, \
                session.request(request.method, url, headers=headers, data=body or None,
                                allow_redirects=False) as reply:
            content = await reply.read()
            relayed = [(k, v) for k, v in reply.headers.items() if k.lower() not in _dropped(reply.headers)
                       and k.lower() not in NOT_RELAYED]
            response = web.Response(status=reply.status, reason=reply.reason, body=content)
            for key, value in relayed:
                response.headers.add(key, value)
            return response
    except aiohttp.ClientConnectorError as exc:
        errno = exc.os_error.errno if exc.os_error else None
        reason = os.strerror(errno) if errno else str(exc)
        raise ApiError(503, f"error trying to reach service: dial tcp {host}:{port}: connect: "
                            f"{reason.lower()}") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(503, f"error trying to reach service: {type(exc).__name__}: {exc}") from exc


def _dropped(headers: object) -> set[str]:
    """Hop-by-hop headers, those a ``Connection`` header names, and what the proxy sets itself."""
    named = getattr(headers, "get", lambda *_: "")("Connection", "") or ""
    return NOT_FORWARDED | {h.strip().lower() for h in named.split(",") if h.strip()}
