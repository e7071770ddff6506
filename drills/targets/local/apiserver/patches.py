"""The four PATCH body types the embedded API server applies, driven by the v1.37 schema (``schema.py``).

- ``application/json-patch+json``: RFC 6902, by the ``jsonpatch`` library.
- ``application/merge-patch+json``: RFC 7386 (maps merge, ``null`` deletes, lists are replaced whole).
- ``application/strategic-merge-patch+json``: Kubernetes' strategic merge patch, as the API server applies it
  (apimachinery ``strategicpatch.StrategicMergeMapPatch``): lists whose field declares
  ``x-kubernetes-patch-strategy: merge`` merge by ``x-kubernetes-patch-merge-key`` (primitive lists are
  unioned), ``$patch: replace|delete|merge``, ``$setElementOrder/<field>``, ``$retainKeys``,
  ``$deleteFromPrimitiveList/<field>`` and ``null`` deletes. No maintained Python library implements it (the
  official client leaves the merge to the server), hence this module.
- ``application/apply-patch+yaml`` (server-side apply): APPROXIMATED as a merge of the applied configuration
  into the live object, structs and maps recursively, lists by ``x-kubernetes-list-type`` (``map`` lists
  merge by their ``x-kubernetes-list-map-keys``, ``set`` lists are unioned, others replaced). There is no
  ``managedFields`` bookkeeping: no conflict detection between managers, no ``force``, and a field dropped
  from a later applied configuration is NOT removed from the object (a real server would remove it when the
  applier was its only manager). A list-map key missing from an applied element (e.g. a port's defaulted
  ``protocol``) matches any value, since the server does not default the applied configuration first.

Errors are ``PatchError`` with the HTTP code, the Status reason and, where the real server's wording is
known (apiserver ``endpoints/handlers/patch.go``), the same message.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import jsonpatch
import jsonpointer
import yaml

from drills.targets.local.apiserver.schema import Field, kind_schema

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

# The real server's message for any JSON-patch application failure (a 422 whose detail it drops).
INVALID_MESSAGE = "the server rejected our request due to an error in our request"

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_ORDER_PREFIX = "$setElementOrder/"
_DELETE_PREFIX = "$deleteFromPrimitiveList/"

Obj = dict[str, Any]


class PatchError(Exception):
    """A patch the server refuses: ``code`` (HTTP), ``reason`` (Status reason), ``message``; ``detail``
    says what exactly failed where the real server's message does not."""

    def __init__(self, code: int, reason: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.detail = detail


def _bad_request(message: str) -> PatchError:
    return PatchError(400, "BadRequest", message)


def _internal(message: str) -> PatchError:
    # apimachinery returns these as plain errors, which the API server answers with a 500.
    return PatchError(500, "InternalError", message)


def unsupported(accepted: tuple[str, ...] = PATCH_TYPES) -> PatchError:
    return PatchError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


def apply_patch(obj: Obj, patch_body: bytes | str | object, content_type: str) -> Obj:
    """Return ``obj`` with the patch applied (``obj`` is not modified). For an apply patch that creates the
    object, pass ``{}`` as ``obj``. ``content_type`` may carry parameters (``; charset=utf-8``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    handler = _HANDLERS.get(media)
    if handler is None:
        raise unsupported()
    result = handler(copy.deepcopy(obj), _decode(patch_body, yaml_ok=media == APPLY_PATCH))
    if not isinstance(result, dict):
        raise PatchError(422, "Invalid", INVALID_MESSAGE, detail="the patched document is not an object")
    return result


def _decode(body: bytes | str | object, yaml_ok: bool) -> Any:
    if not isinstance(body, bytes | str):
        return copy.deepcopy(body)
    try:
        return yaml.safe_load(body) if yaml_ok else json.loads(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise _bad_request(f"error decoding patch: {exc}" if yaml_ok else "invalid JSON patch") from exc


def _json_patch(obj: Obj, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise _bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        return jsonpatch.JsonPatch(ops).apply(obj, in_place=True)
    except jsonpatch.InvalidJsonPatch as exc:
        raise _bad_request(str(exc)) from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, KeyError) as exc:
        raise PatchError(422, "Invalid", INVALID_MESSAGE, detail=str(exc)) from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386; the result shares the values the patch does not touch with ``target``. Written here
    because it is a dozen lines; the one PyPI package for it (json-merge-patch) mutates its input and is
    barely used."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_patch(obj: Obj, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise _bad_request("Invalid JSON Patch")
    return merge_patch(obj, patch)


def _schema_of(obj: Obj) -> Field | None:
    """The schema of the object's kind, found by its own ``apiVersion`` and ``kind``."""
    if obj.get("apiVersion") and obj.get("kind"):
        return kind_schema(str(obj["apiVersion"]), str(obj["kind"]))
    return None


# --- strategic merge patch ---------------------------------------------------------------------------------


def _strategic(obj: Obj, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise _bad_request(
            f"json: cannot unmarshal {type(patch).__name__} into Go value of type map[string]interface {{}}"
        )
    schema = _schema_of(obj)
    if schema is None:
        raise unsupported((JSON_PATCH, MERGE_PATCH, APPLY_PATCH))
    return _smp_map(obj, patch, schema)


def _meta(schema: Field | None, key: str) -> tuple[Field | None, str | None, frozenset[str]]:
    sub = schema.field(key) if schema else None
    if sub is None:
        return None, None, frozenset()
    return sub, sub.patch_merge_key, sub.patch_strategies - {"retainKeys"}


def _smp_map(original: Obj, patch: Obj, schema: Field | None) -> Obj:
    if _DIRECTIVE in patch:
        directive = patch.pop(_DIRECTIVE)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise _internal(f"unknown patch type: {directive} in map: {patch}")
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    for key, value in patch.items():
        delete_list = key.startswith(_DELETE_PREFIX)
        if delete_list:
            key = _directive_key(key, _DELETE_PREFIX, "invalid patch format of primitive list")
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        if key not in original or _kind(current) != _kind(value):
            if not delete_list:
                _put(original, key, _discard_nulls(value))
            continue
        sub, merge_key, strategies = _meta(schema, key)
        if isinstance(current, dict):
            original[key] = value if "replace" in strategies else _smp_map(current, value, sub)
        elif isinstance(current, list):
            if "merge" in strategies or delete_list:
                original[key] = _smp_list(
                    current, value, sub.items() if sub else None, merge_key, delete_list
                )
            else:
                original[key] = value
        else:
            _put(original, key, value)
    return original


def _put(target: Obj, key: str, value: Any) -> None:
    cleaned, keep = _remove_directives(value)
    if keep:
        target[key] = cleaned
    else:
        target.pop(key, None)


def _directive_key(key: str, prefix: str, error: str) -> str:
    field = key[len(prefix) :]
    if not field:
        raise _bad_request(error)
    return field


def _retain_keys(original: Obj, patch: Obj) -> None:
    if _RETAIN_KEYS not in patch:
        return
    keep = patch.pop(_RETAIN_KEYS)
    error = "invalid patch format of retainKeys"
    if not isinstance(keep, list):
        raise _bad_request(error)
    for key, value in patch.items():
        if value is not None and not key.startswith((_ORDER_PREFIX, _DELETE_PREFIX)) and key not in keep:
            raise _bad_request(error)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _set_element_orders(original: Obj, patch: Obj, schema: Field | None) -> None:
    """``$setElementOrder/<field>``: merge that list and order it as the directive says."""
    error = "invalid patch format of setElementOrder list"
    for key in [k for k in patch if k.startswith(_ORDER_PREFIX)]:
        order = patch.pop(key)
        field = _directive_key(key, _ORDER_PREFIX, error)
        if not isinstance(order, list):
            raise _bad_request(error)
        current, change = original.get(field), patch.pop(field, None)
        if (current is not None and not isinstance(current, list)) or (
            change is not None and not isinstance(change, list)
        ):
            raise _bad_request(error)
        sub, merge_key, strategies = _meta(schema, field)
        _check_order(change or [], order, merge_key)
        if current is None and change is None:
            continue
        if change is None:
            merged = current or []
        elif current is None:
            merged, _ = _remove_directives(change)
        elif "merge" in strategies:
            merged = _smp_list(current, change, sub.items() if sub else None, merge_key, False)
        else:
            merged = change
        in_order = [m for m in merged if _position(order, m, merge_key) >= 0]
        server_only = [m for m in merged if _position(order, m, merge_key) < 0]
        original[field] = _normalize(in_order, server_only, order, current or [], merge_key)


def _check_order(change: list[Any], order: list[Any], merge_key: str | None) -> None:
    """The patch list's items must appear in the directive, in the same relative order."""
    items = [c for c in change if not (isinstance(c, dict) and c.get(_DIRECTIVE) == "delete")]
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and _DIRECTIVE in items[i]:
            i += 1
            continue
        if _key_of(items[i], merge_key) == _key_of(order[j], merge_key):
            i += 1
        j += 1
    if i < len(items):
        raise _internal(
            f"The order in patch list:\n{change}\n doesn't match $setElementOrder list:\n{order}\n"
        )


def _smp_list(
    original: list[Any], patch: list[Any], items: Field | None, merge_key: str | None, delete_list: bool
) -> list[Any]:
    if not original and not patch:
        return original
    element = _element_kind(original + patch)
    if element != "map":
        if delete_list:
            return [v for v in original if v not in patch]
        merged = list(original) + [v for v in patch if v not in original]
        merged = [v for i, v in enumerate(merged) if v not in merged[:i]]
        merge_key = None
    else:
        if not merge_key:
            raise _internal(f"cannot merge lists without merge key for {_type_name(items)}")
        original, patch = _special_elements(original, patch, merge_key)
        merged = _merge_by_key(list(original), patch, merge_key, items)
    in_patch = [m for m in merged if _position(patch, m, merge_key) >= 0]
    server_only = [m for m in merged if _position(patch, m, merge_key) < 0]
    return _normalize(in_patch, server_only, patch, original, merge_key)


def _special_elements(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for item in patch:
        if _DIRECTIVE not in item:
            plain.append(item)
        elif item[_DIRECTIVE] == "delete":
            if key not in item:
                raise _internal(f"map: {item} does not contain declared merge key: {key}")
            original = [o for o in original if o.get(key) != item[key]]
        elif item[_DIRECTIVE] == "replace":
            replace = True
        elif item[_DIRECTIVE] == "merge":
            raise _internal("merging lists cannot yet be specified in the patch")
        else:
            raise _internal(f"unknown patch type: {item[_DIRECTIVE]} in map: {item}")
    return (plain, []) if replace else (original, plain)


def _merge_by_key(original: list[Any], patch: list[Any], key: str, items: Field | None) -> list[Any]:
    for item in patch:
        if key not in item:
            raise _internal(f"map: {item} does not contain declared merge key: {key}")
        found = _position(original, item, key)
        if found >= 0:
            original[found] = _smp_map(original[found], item, items)
        else:
            cleaned, keep = _remove_directives(_discard_nulls(item))
            if keep:
                original.append(cleaned)
    return original


def _normalize(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    key: str | None,
) -> list[Any]:
    """Patch items in the patch's order, server-only items in the live order, interleaved by live order
    (apimachinery ``normalizeElementOrder`` and ``mergeSortedSlice``)."""
    deleted = [p for p in patch_items if isinstance(p, dict) and p.get(_DIRECTIVE) == "delete"]
    patch_items = (
        sorted((p for p in patch_items if p not in deleted), key=lambda p: _rank(patch_order, p, key))
        + deleted
    )
    server_only = sorted(server_only, key=lambda s: _rank(server_order, s, key))
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patch_items):
        if j >= len(patch_items):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patch_items[j])
            j += 1
        else:
            left, right = (
                _position(server_order, server_only[i], key),
                _position(server_order, patch_items[j], key),
            )
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patch_items[j])
                j += 1
    return out


def _rank(order: list[Any], item: Any, key: str | None) -> int:
    found = _position(order, item, key)
    return found if found >= 0 else len(order)


def _key_of(item: Any, key: str | None) -> Any:
    return item.get(key) if key and isinstance(item, dict) else item


def _position(items: list[Any], item: Any, key: str | None) -> int:
    wanted = _key_of(item, key)
    for i, candidate in enumerate(items):
        if _key_of(candidate, key) == wanted:
            return i
    return -1


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _element_kind(values: list[Any]) -> str:
    kinds = {_kind(v) for v in values}
    if "list" in kinds:
        raise PatchError(422, "Invalid", INVALID_MESSAGE, detail="lists of lists are not supported")
    if len(kinds) > 1:
        raise _internal(f"list element types are not identical: {values}")
    return kinds.pop()


def _type_name(schema: Field | None) -> str:
    kind = schema.shape.get("type") if schema else None
    return "".join(kind) if isinstance(kind, list) else str(kind or "Struct")


def _discard_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _discard_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_discard_nulls(v) for v in value]
    return value


def _remove_directives(value: Any) -> tuple[Any, bool]:
    """Drop directive-bearing maps (``$patch``) from a value the original did not have."""
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        out = {}
        for k, v in value.items():
            cleaned, keep = _remove_directives(v)
            if keep:
                out[k] = cleaned
        return out, True
    if isinstance(value, list):
        kept = [_remove_directives(v) for v in value]
        return [v for v, keep in kept if keep], True
    return value, True


# --- server-side apply (approximation, see the module docstring) -------------------------------------------


def _apply(obj: Obj, applied: Any) -> Any:
    if not isinstance(applied, dict):
        raise _bad_request("error decoding patch: the applied configuration is not an object")
    if not applied.get("apiVersion") or not applied.get("kind"):
        raise _bad_request(
            "error decoding patch: apiVersion and kind must be set in the applied configuration"
        )
    return _apply_map(obj, applied, _schema_of(applied))


def _apply_map(live: Obj, applied: Obj, schema: Field | None) -> Obj:
    for key, value in applied.items():
        if value is None:
            live.pop(key, None)
            continue
        sub = schema.field(key) if schema else None
        current = live.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and not (sub and sub.map_type == "atomic"):
            live[key] = _apply_map(current, value, sub)
        elif isinstance(value, list) and isinstance(current, list) and sub is not None:
            live[key] = _apply_list(current, value, sub)
        else:
            live[key] = _discard_nulls(value)
    return live


def _apply_list(live: list[Any], applied: list[Any], schema: Field) -> list[Any]:
    if schema.list_type == "set":
        return live + [v for v in applied if v not in live]
    keys = schema.list_map_keys
    if schema.list_type != "map" or not keys:
        return _discard_nulls(applied)  # type: ignore[no-any-return]
    out = list(live)
    for item in applied:
        if not isinstance(item, dict):
            out.append(item)
            continue
        match = next(
            (
                i
                for i, cur in enumerate(out)
                if isinstance(cur, dict) and all(k not in item or cur.get(k) == item[k] for k in keys)
            ),
            -1,
        )
        if match >= 0:
            out[match] = _apply_map(out[match], item, schema.items())
        else:
            out.append(_discard_nulls(item))
    return out


_HANDLERS: dict[str, Callable[[Obj, Any], Any]] = {
    JSON_PATCH: _json_patch,
    MERGE_PATCH: _merge_patch,
    STRATEGIC_MERGE_PATCH: _strategic,
    APPLY_PATCH: _apply,
}
