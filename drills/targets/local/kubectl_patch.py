"""The sandbox ``kubectl``'s verbs that change an object in place: ``patch`` (strategic, merge and JSON
patches), ``set image|resources|env`` and ``scale``. They write through the object store, as ``drillbook up``
and the faults do, and the controller converges on the new desired state.
"""

from __future__ import annotations

import copy
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import yaml

from drills.targets.local import operations
from drills.targets.local.kubectl_ctx import Ctx, comparable
from drills.targets.local.kubectl_resources import (
    STORE_KINDS,
    WORKLOADS,
    KubectlError,
    Obj,
    one_resource,
    ref,
    unsupported,
)


def _load_patch(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise KubectlError(f'error: unable to parse "{text}": {exc}') from exc


def json_patch(doc: Obj, ops: list[Obj]) -> Obj:
    """RFC 6902 ``add``/``replace``/``remove`` on simple paths (``--type json``)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        if op.get("op") not in ("add", "replace", "remove"):
            raise unsupported(f"patch --type json op {op.get('op')}")
        path = [p.replace("~1", "/").replace("~0", "~") for p in str(op["path"]).split("/")[1:]]
        try:
            parent: Any = doc
            for part in path[:-1]:
                parent = parent[int(part)] if isinstance(parent, list) else parent[part]
            last = path[-1]
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if op["op"] == "remove":
                    del parent[index]
                elif op["op"] == "add":
                    parent.insert(index, copy.deepcopy(op["value"]))
                else:
                    parent[index] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del parent[last]
            elif op["op"] == "replace" and last not in parent:
                raise KeyError(last)
            else:
                parent[last] = copy.deepcopy(op["value"])
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise KubectlError("The request is invalid: the server rejected our request due to an error in our "
                               f"request ({op['op']} {op['path']})") from exc
    return doc


def patch(ctx: Ctx, args: Namespace) -> int:
    kind, name = one_resource("patch", args.resources, STORE_KINDS)
    if args.patch is None and args.patch_file is None:
        raise KubectlError("error: must specify -p to patch")
    body = _load_patch(Path(args.patch_file).read_text() if args.patch_file else args.patch)
    before = ctx.require(kind, name)
    if args.type == "json":
        after = json_patch(before, body)
        if after != before:
            ctx.store.apply(after)
    elif args.type in ("strategic", "merge"):
        after = ctx.store.patch(kind, ctx.namespace, name, body, how=args.type)
    else:
        raise KubectlError(f'error: --type must be one of [json merge strategic], not "{args.type}"')
    changed = comparable(before) != comparable(after)
    print(f"{ref(kind, name)} patched" + ("" if changed else " (no change)"))
    return 0


def _split_assignments(words: list[str]) -> tuple[list[str], list[str]]:
    """``deployment/x a=b`` / ``deployment x a=b KEY-`` → (resource words, assignments)."""
    count = 1 if words and "/" in words[0] else 2
    return words[:count], words[count:]


def _template_containers(obj: Obj, container: str | None) -> list[str]:
    names = [c["name"] for c in obj["spec"]["template"]["spec"].get("containers", [])]
    if container and container != "*":
        if container not in names:
            raise KubectlError(f'error: unable to find container named "{container}"')
        return [container]
    return names


def _workload(ctx: Ctx, verb: str, words: list[str]) -> tuple[str, str, Obj]:
    kind, name = one_resource(verb, words, WORKLOADS)
    return kind, name, ctx.require(kind, name)


def _update_containers(ctx: Ctx, kind: str, name: str, containers: list[Obj], what: str) -> int:
    """Strategic-merge the containers' changes into the template; kubectl's ``... <what> updated``."""
    operations.set_containers(ctx.store, kind, ctx.namespace, name, containers)
    print(f"{ref(kind, name)} {what} updated")
    return 0


def set_image(ctx: Ctx, args: Namespace) -> int:
    words, pairs = _split_assignments(args.words)
    kind, name, obj = _workload(ctx, "set image", words)
    changes = []
    for pair in pairs:
        container, sep, image = pair.partition("=")
        if not sep:
            raise KubectlError(f"error: invalid image update {pair!r}, expected CONTAINER=IMAGE")
        changes += [{"name": c, "image": image} for c in _template_containers(obj, container)]
    if not changes:
        raise KubectlError("error: at least one image update is required")
    return _update_containers(ctx, kind, name, changes, "image")


def _quantities(text: str | None) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item) if text else {}


def set_resources(ctx: Ctx, args: Namespace) -> int:
    kind, name, obj = _workload(ctx, "set resources", args.words)
    resources = {k: v for k, v in (("limits", _quantities(args.limits)), ("requests", _quantities(args.requests)))
                 if v}
    if not resources:
        raise KubectlError("error: you must specify an update to requests or limits (in the form of --requests/"
                           "--limits)")
    return _update_containers(ctx, kind, name, [{"name": c, "resources": resources} for c in
                                                _template_containers(obj, args.container)], "resource requirements")


def set_env(ctx: Ctx, args: Namespace) -> int:
    words, pairs = _split_assignments(args.words)
    kind, name, obj = _workload(ctx, "set env", words)
    env: list[Obj] = []
    for pair in pairs:
        if pair.endswith("-") and "=" not in pair:
            env.append({"name": pair[:-1], "$patch": "delete"})
        else:
            key, sep, value = pair.partition("=")
            if not sep:
                raise KubectlError(f"error: environment variables must be of the form key=value: {pair}")
            env.append({"name": key, "value": value})
    return _update_containers(ctx, kind, name, [{"name": c, "env": env}
                                                for c in _template_containers(obj, args.container)], "env")


def set_(ctx: Ctx, args: Namespace) -> int:
    return {"image": set_image, "resources": set_resources, "env": set_env}[args.what](ctx, args)


def scale(ctx: Ctx, args: Namespace) -> int:
    kind, name = one_resource("scale", args.resources, WORKLOADS)
    if args.replicas is None:
        raise KubectlError('error: required flag(s) "replicas" not set')
    ctx.require(kind, name)
    operations.scale(ctx.store, kind, ctx.namespace, name, args.replicas)
    print(f"{ref(kind, name)} scaled")
    return 0

