"""Strategic merge patch, the part of it the runbooks need.

``kubectl patch`` defaults to a strategic merge patch: maps merge recursively, ``null`` deletes a key, and
lists of named things (containers, env, volumes, ports) merge by their ``name`` key instead of being
replaced. No maintained Python library implements Kubernetes' strategic merge (the official client sends
the patch to the API server, which does the merge), so the sandbox carries this small version: merge keys
by list name as in the Kubernetes API's ``patchMergeKey`` markers, every other list replaced.
"""

from __future__ import annotations

import copy
from typing import Any

# patchMergeKey of the list fields the sandbox's objects use (k8s.io/api core/v1 and apps/v1 types).
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "tolerations": "key",
}


def strategic_merge(target: Any, patch: Any, field: str | None = None) -> Any:
    """Return ``target`` with ``patch`` applied; neither argument is modified."""
    if isinstance(patch, dict) and isinstance(target, dict):
        out = copy.deepcopy(target)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(patch, list) and isinstance(target, list) and field in MERGE_KEYS:
        return _merge_named_list(target, patch, MERGE_KEYS[field])
    return copy.deepcopy(patch)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``kubectl patch --type merge``): lists are replaced whole."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_named_list(target: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = copy.deepcopy(target)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            return copy.deepcopy(patch)
        for i, existing in enumerate(out):
            if isinstance(existing, dict) and existing.get(key) == item[key]:
                if item.get("$patch") == "delete":
                    del out[i]
                else:
                    out[i] = strategic_merge(existing, item)
                break
        else:
            if item.get("$patch") != "delete":
                out.append(copy.deepcopy(item))
    return out
