"""The ``/openapi/v3`` documents kubectl downloads, rebuilt from the v1.37 definitions in ``schema.py``.

kubectl 1.37 reads them for three things, and each shaped what is served here:

- ``apply`` (client side) computes its strategic merge patch from the schema whose
  ``x-kubernetes-group-version-kind`` (a list) names the object's kind, after checking that some PATCH
  operation of that kind (``x-kubernetes-group-version-kind``, a single object) accepts
  ``application/strategic-merge-patch+json``; without both it falls back to ``/openapi/v2``.
- ``apply``/``create``/``patch`` validation looks for a ``fieldValidation`` query parameter on the kind's
  PATCH operation to decide that the server validates fields itself (then sends ``fieldValidation=Strict``).
- ``explain`` finds the kind's schema by the same extension and walks ``allOf``/``$ref`` into its fields.

So each document carries, per served kind, the real definition names (``io.k8s.api.apps.v1.Deployment``)
with references as ``#/components/schemas/...`` (a reference with siblings wrapped in ``allOf``, as the real
server writes them), nullable JSON Schema types narrowed to OpenAPI 3.0 types, plus every definition they
reference, and the resource paths with their operations and parameters (no watch paths). Documents are
built once and cached with their JSON bytes and hash: ``/openapi/v3`` is requested often.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drills.targets.local.apiserver.schema import (
    GVK_EXTENSION,
    RawSchema,
    definition_name,
    definitions,
    ref_name,
)

COMPONENTS_REF = "#/components/schemas/"


@dataclass(frozen=True)
class Resource:
    """A served resource: its kind, plural, scope and subresources (``status``, ``scale``, ``eviction``)."""

    kind: str
    plural: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()


# What the embedded API server serves, by group-version.
SERVED: Mapping[str, tuple[Resource, ...]] = {
    "v1": (
        Resource("Namespace", "namespaces", namespaced=False, subresources=("status",)),
        Resource("Pod", "pods", subresources=("status", "eviction")),
        Resource("Service", "services", subresources=("status",)),
        Resource("Endpoints", "endpoints"),
        Resource("ConfigMap", "configmaps"),
        Resource("Secret", "secrets"),
        Resource("Node", "nodes", namespaced=False, subresources=("status",)),
        Resource("Event", "events"),
        Resource("PersistentVolumeClaim", "persistentvolumeclaims", subresources=("status",)),
    ),
    "apps/v1": (
        Resource("Deployment", "deployments", subresources=("status", "scale")),
        Resource("ReplicaSet", "replicasets", subresources=("status", "scale")),
        Resource("StatefulSet", "statefulsets", subresources=("status", "scale")),
        Resource("ControllerRevision", "controllerrevisions"),
        Resource("DaemonSet", "daemonsets", subresources=("status",)),
    ),
    "policy/v1": (Resource("PodDisruptionBudget", "poddisruptionbudgets", subresources=("status",)),),
    "networking.k8s.io/v1": (Resource("NetworkPolicy", "networkpolicies"),),
    "coordination.k8s.io/v1": (Resource("Lease", "leases"),),
    # Scale is only a subresource (deployments/scale ...); its group-version still has a document.
    "autoscaling/v1": (),
}
_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_EVICTION = "io.k8s.api.policy.v1.Eviction"
EXTRA_DEFINITIONS: Mapping[str, tuple[str, ...]] = {
    "v1": (_EVICTION,),
    "apps/v1": (_SCALE,),
    "autoscaling/v1": (_SCALE,),
}
_SUBRESOURCE_KIND: Mapping[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "eviction": ("policy", "v1", "Eviction"),
}

# Definitions every group-version document carries besides its kinds (request and response bodies).
_COMMON = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
)
# Definitions the JSON Schema conversion lost the OpenAPI shape of (it made them ``oneOf``).
_STRING_LIKE = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def openapi_path(group_version: str) -> str:
    """``v1`` -> ``api/v1``, ``apps/v1`` -> ``apis/apps/v1`` (the key in the ``/openapi/v3`` index)."""
    return f"apis/{group_version}" if "/" in group_version else f"api/{group_version}"


def _group_version(name: str) -> str:
    """Accept an apiVersion (``apps/v1``) or an index path (``apis/apps/v1``, ``/openapi/v3/api/v1``)."""
    name = name.strip("/").removeprefix("openapi/v3/")
    if name.startswith("apis/"):
        return name.removeprefix("apis/")
    return name.removeprefix("api/")


def index(group_versions: Iterable[str]) -> dict[str, Any]:
    """The ``GET /openapi/v3`` answer for the given served group-versions (ones without a document are
    left out); each URL carries the document's hash, so kubectl may cache it for good."""
    out: dict[str, Any] = {}
    for gv in group_versions:
        digest = document_hash(gv)
        if digest is not None:
            path = openapi_path(_group_version(gv))
            out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": out}


def document(group_version: str) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version (``v1``, ``apps/v1``, or ``api/v1``); ``None`` if not
    served. The returned dict is shared and cached: do not modify it."""
    return _document(_group_version(group_version))


def document_json(group_version: str) -> bytes | None:
    """The same document serialized, ready to send (cached)."""
    return _document_json(_group_version(group_version))


def document_hash(group_version: str) -> str | None:
    """The document's SHA-512 (upper-case hex), as in the index's ``?hash=``."""
    return _document_hash(_group_version(group_version))


@functools.cache
def _document(gv: str) -> dict[str, Any] | None:
    resources = SERVED.get(gv)
    if resources is None:
        return None
    roots = [*_COMMON, *EXTRA_DEFINITIONS.get(gv, ())]
    for res in resources:
        for kind in (res.kind, res.kind + "List"):
            found = definition_name(gv, kind)
            if found:
                roots.append(found)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": _paths(gv),
        "components": {"schemas": {name: _convert_definition(name) for name in sorted(_closure(roots))}},
    }


@functools.cache
def _document_json(gv: str) -> bytes | None:
    doc = _document(gv)
    return None if doc is None else json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


@functools.cache
def _document_hash(gv: str) -> str | None:
    body = _document_json(gv)
    return None if body is None else hashlib.sha512(body).hexdigest().upper()


def _ref(definition: str) -> dict[str, str]:
    return {"$ref": COMPONENTS_REF + definition}


def _closure(roots: Iterable[str]) -> set[str]:
    """The roots and every definition they reference, transitively."""
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(r for r in _refs(definitions()[name]) if r not in seen)
    return seen


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield ref_name(value)
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _convert_definition(name: str) -> dict[str, Any]:
    raw = definitions()[name]
    if name in _STRING_LIKE:
        out = dict(_STRING_LIKE[name])
        if "description" in raw:
            out["description"] = raw["description"]
        return out
    converted = _convert(raw)
    if GVK_EXTENSION in raw:
        # The JSON Schema conversion pinned apiVersion and kind with an enum; the API's own schema does not.
        for field in ("apiVersion", "kind"):
            prop = converted.get("properties", {}).get(field)
            if isinstance(prop, dict):
                prop.pop("enum", None)
    return converted


def _convert(node: RawSchema) -> dict[str, Any]:
    """A JSON Schema node as OpenAPI 3.0 (structure-aware: property names are never taken for keywords)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "type":
            out[key] = _narrow_type(value)
        elif key == "properties":
            out[key] = {prop: _convert(sub) for prop, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _convert(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_convert(sub) for sub in value]
        else:
            out[key] = value
    if "$ref" in node:
        ref = _ref(ref_name(node["$ref"]))
        return {"allOf": [ref], **out} if out else ref
    return out


def _narrow_type(value: Any) -> Any:
    """``["string", "null"]`` -> ``"string"``: OpenAPI 3.0 has one type per schema."""
    if isinstance(value, list):
        kept = [t for t in value if t != "null"]
        return kept[0] if len(kept) == 1 else kept
    return value


# --- paths -------------------------------------------------------------------------------------------------

_STRING = {"type": "string", "uniqueItems": True}
_QUERY: Mapping[str, tuple[dict[str, Any], str]] = {
    "allowWatchBookmarks": ({"type": "boolean", "uniqueItems": True}, "ask for BOOKMARK watch events"),
    "continue": (_STRING, "token of the next page of a chunked list"),
    "dryRun": (_STRING, "All: process the request without persisting it"),
    "fieldManager": (_STRING, "name of the actor making the change (required for apply patches)"),
    "fieldSelector": (_STRING, "restrict the list by field values"),
    "fieldValidation": (_STRING, "Ignore, Warn or Strict: how to treat unknown and duplicate fields"),
    "force": ({"type": "boolean", "uniqueItems": True}, "apply patches: take over conflicting fields"),
    "gracePeriodSeconds": ({"type": "integer", "uniqueItems": True}, "seconds before the object goes"),
    "labelSelector": (_STRING, "restrict the list by labels"),
    "limit": ({"type": "integer", "uniqueItems": True}, "page size of a chunked list"),
    "propagationPolicy": (_STRING, "Orphan, Background or Foreground garbage collection of dependents"),
    "resourceVersion": (_STRING, "which version of the data may be served"),
    "resourceVersionMatch": (_STRING, "how resourceVersion is applied"),
    "sendInitialEvents": (
        {"type": "boolean", "uniqueItems": True},
        "watch: start with synthetic ADDED events",
    ),
    "timeoutSeconds": ({"type": "integer", "uniqueItems": True}, "list/watch timeout"),
    "watch": ({"type": "boolean", "uniqueItems": True}, "watch for changes instead of listing"),
}
_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _query(names: Iterable[str]) -> list[dict[str, Any]]:
    return [{"description": _QUERY[n][1], "in": "query", "name": n, "schema": _QUERY[n][0]} for n in names]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "in": "path", "name": name, "required": True, "schema": _STRING}


def _body(definition: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(definition)}}, "description": "OK"}


def _operation(
    action: str,
    op_id: str,
    gvk: tuple[str, str, str],
    response: str,
    params: Iterable[str],
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    group, version, kind = gvk
    op: dict[str, Any] = {
        "operationId": op_id,
        "parameters": _query(params),
        "responses": {"200": _body(response), "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "kind": kind, "version": version},
    }
    if body is not None:
        op["requestBody"] = {"content": body, "required": True}
    if action == "post":
        op["responses"]["201"] = {**_body(response), "description": "Created"}
    return op


def _id_prefix(gv: str) -> str:
    """``apps/v1`` -> ``AppsV1``, ``networking.k8s.io/v1`` -> ``NetworkingV1``, ``v1`` -> ``CoreV1``."""
    group, _, version = gv.rpartition("/")
    group = group.split(".")[0] or "core"
    return group[0].upper() + group[1:] + version[0].upper() + version[1:]


def _paths(gv: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = "/" + openapi_path(gv)
    group, _, version = gv.rpartition("/")
    for res in SERVED[gv]:
        gvk = (group, version, res.kind)
        name = definition_name(gv, res.kind) or ""
        ns = "Namespaced" if res.namespaced else ""
        base = (
            f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{prefix}/{res.plural}"
        )
        scope = [_path_param("namespace", "the object's namespace")] if res.namespaced else []
        idp = _id_prefix(gv)
        out[base] = {
            "parameters": scope,
            "get": _operation("list", f"list{idp}{ns}{res.kind}", gvk, name + "List", _LIST_PARAMS),
            "post": _operation(
                "post",
                f"create{idp}{ns}{res.kind}",
                gvk,
                name,
                _WRITE_PARAMS,
                {"*/*": {"schema": _ref(name)}},
            ),
        }
        if res.namespaced:
            out[f"{prefix}/{res.plural}"] = {
                "get": _operation(
                    "list", f"list{idp}{res.kind}ForAllNamespaces", gvk, name + "List", _LIST_PARAMS
                ),
            }
        item = [_path_param("name", f"name of the {res.kind}"), *scope]
        out[f"{base}/{{name}}"] = {"parameters": item, **_item_operations(f"{idp}{ns}{res.kind}", gvk, name)}
        for sub in res.subresources:
            sub_gvk = _SUBRESOURCE_KIND.get(sub, gvk)
            sub_def = definition_name("/".join(filter(None, sub_gvk[:2])), sub_gvk[2]) or ""
            suffix = sub[0].upper() + sub[1:]
            if sub == "eviction":
                out[f"{base}/{{name}}/{sub}"] = {
                    "parameters": item,
                    "post": _operation(
                        "post",
                        f"create{idp}{ns}{res.kind}{suffix}",
                        sub_gvk,
                        sub_def,
                        _WRITE_PARAMS,
                        {"*/*": {"schema": _ref(sub_def)}},
                    ),
                }
            else:
                ops = _item_operations(f"{idp}{ns}{res.kind}{suffix}", sub_gvk, sub_def, delete=False)
                out[f"{base}/{{name}}/{sub}"] = {"parameters": item, **ops}
    return out


def _item_operations(
    op_suffix: str, gvk: tuple[str, str, str], definition: str, delete: bool = True
) -> dict[str, Any]:
    patch_body = {t: {"schema": _ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")} for t in _PATCH_TYPES}
    ops = {
        "get": _operation("get", f"read{op_suffix}", gvk, definition, ()),
        "put": _operation(
            "put",
            f"replace{op_suffix}",
            gvk,
            definition,
            _WRITE_PARAMS,
            {"*/*": {"schema": _ref(definition)}},
        ),
        "patch": _operation(
            "patch", f"patch{op_suffix}", gvk, definition, (*_WRITE_PARAMS, "force"), patch_body
        ),
    }
    if delete:
        ops["delete"] = _operation(
            "delete",
            f"delete{op_suffix}",
            gvk,
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
            {"*/*": {"schema": _ref("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")}},
        )
    return ops
