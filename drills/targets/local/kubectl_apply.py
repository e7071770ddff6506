"""The sandbox ``kubectl``'s verbs that create and remove objects: ``create secret|configmap|namespace``
(``--dry-run -o yaml`` too), ``apply -f`` (files, directories, ``-``) and ``delete`` (store objects, and pods,
which the controller stops on request). Writes go through the object store.
"""

from __future__ import annotations

import base64
import copy
import sys
from argparse import Namespace
from pathlib import Path

import yaml

from drills.targets.local.kubectl_ctx import Ctx, comparable
from drills.targets.local.kubectl_format import render_structured
from drills.targets.local.kubectl_resources import (
    RESOURCES,
    STORE_KINDS,
    VIEW_ONLY,
    KubectlError,
    Obj,
    kind_of,
    not_found,
    parse_resources,
    ref,
    selected,
    unsupported,
)
from drills.targets.local.kubectl_time import deadline, parse_duration
from drills.targets.local.kubectl_views import list_kind
from drills.targets.local.store import CLUSTER_SCOPED


# -- create ------------------------------------------------------------------------------------------
def _sources(args: Namespace) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for literal in args.from_literal or []:
        key, sep, value = literal.partition("=")
        if not sep or not key:
            raise KubectlError(f"error: invalid literal source {literal}, expected key=value")
        data[key] = value.encode()
    for source in args.from_file or []:
        key, sep, path = source.partition("=")
        path = path if sep else key
        data[key if sep else Path(path).name] = Path(path).read_bytes()
    for env_file in args.from_env_file or []:
        for line in Path(env_file).read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                data[key.strip()] = value.encode()
    return data


def create(ctx: Ctx, args: Namespace) -> int:
    kind = kind_of(args.what)
    if kind not in ("Secret", "ConfigMap", "Namespace"):
        raise unsupported(f"create {args.what}")
    subtype, name = (args.words[0], args.words[1:]) if kind == "Secret" else (None, args.words)
    if subtype not in (None, "generic"):
        raise unsupported(f"create secret {subtype}")
    if len(name) != 1:
        raise KubectlError(f"error: exactly one NAME is required, got {len(name)}")
    return _create(ctx, args, kind, name[0])


def _create(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    meta: Obj = {"name": name}
    if ctx.explicit_namespace and kind not in CLUSTER_SCOPED:
        meta["namespace"] = ctx.namespace
    meta["creationTimestamp"] = None
    obj: Obj = {"kind": kind, "apiVersion": "v1", "metadata": meta}
    if kind == "Secret":
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in _sources(args).items()}
        if args.secret_type:
            obj["type"] = args.secret_type
    elif kind == "ConfigMap":
        obj["data"] = {k: v.decode() for k, v in _sources(args).items()}
    if args.dry_run:
        if args.output:
            sys.stdout.write(render_structured(args.output, obj))
        else:
            print(f"{ref(kind, name)} created (dry run)")
        return 0
    if ctx.store.get(kind, ctx.namespace, name) is not None:
        plural = RESOURCES[kind][0]
        raise KubectlError(f'error: failed to create {kind.lower()} {plural} "{name}" already exists')
    ctx.store.apply(_for_store(ctx, obj))
    print(f"{ref(kind, name)} created")
    return 0


def _for_store(ctx: Ctx, obj: Obj) -> Obj:
    """What the API server keeps: no null metadata, a namespace, Secret ``stringData`` folded into ``data``."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    for key in [k for k, v in meta.items() if v is None]:
        del meta[key]
    if obj["kind"] in CLUSTER_SCOPED:
        meta.pop("namespace", None)
    else:
        meta.setdefault("namespace", ctx.namespace)
    if obj["kind"] == "Secret":
        obj.setdefault("type", "Opaque")
    if obj["kind"] == "Secret" and "stringData" in obj:
        data = obj.setdefault("data", {}) or {}
        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in obj.pop("stringData").items()})
        obj["data"] = data
    return obj


# -- apply -------------------------------------------------------------------------------------------
def _documents(filename: str) -> list[Obj]:
    if filename == "-":
        texts = [sys.stdin.read()]
    else:
        path = Path(filename)
        if not path.exists():
            raise KubectlError(f'error: the path "{filename}" does not exist')
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")) if path.is_dir() \
            else [path]
        texts = [p.read_text() for p in files]
    docs: list[Obj] = []
    for text in texts:
        try:
            loaded = [d for d in yaml.safe_load_all(text) if d]
        except yaml.YAMLError as exc:
            raise KubectlError(f"error: error parsing {filename}: {exc}") from exc
        for doc in loaded:
            docs += doc.get("items", []) if doc.get("kind") == "List" else [doc]
    return docs


def apply(ctx: Ctx, args: Namespace) -> int:
    if not args.filename:
        raise KubectlError("error: must specify one of -f and -k")
    for doc in _documents(args.filename):
        kind, ns = doc.get("kind", ""), doc.get("metadata", {}).get("namespace")
        if kind in VIEW_ONLY or not kind:
            raise unsupported(f"apply {kind.lower() or 'object without kind'}")
        if ns and ctx.explicit_namespace and ns != ctx.namespace and kind not in CLUSTER_SCOPED:
            raise KubectlError(f'error: the namespace from the provided object "{ns}" does not match the namespace '
                               f'"{ctx.namespace}". You must pass \'--namespace={ns}\' to perform this operation.')
        obj = _for_store(ctx, doc)
        result = "created (dry run)" if args.dry_run else _apply_one(ctx, obj)
        print(f"{ref(kind, obj['metadata']['name'])} {result}")
    return 0


def _apply_one(ctx: Ctx, obj: Obj) -> str:
    meta = obj["metadata"]
    old = ctx.store.get(obj["kind"], meta.get("namespace"), meta["name"])
    if old is None:
        ctx.store.apply(obj)
        return "created"
    # Keep what the control plane owns (a three-way merge would): revision annotation, owner, status.
    managed = {k: v for k, v in old["metadata"].get("annotations", {}).items() if k.startswith("deployment.kubernetes")}
    if managed:
        meta["annotations"] = {**managed, **meta.get("annotations", {})}
    for key in ("ownerName",):
        if key in old["metadata"]:
            meta.setdefault(key, old["metadata"][key])
    if "status" in old and "status" not in obj:
        obj["status"] = old["status"]
    if comparable(old) == comparable(obj):
        return "unchanged"
    ctx.store.apply(obj)
    return "configured"


# -- delete ------------------------------------------------------------------------------------------
def delete(ctx: Ctx, args: Namespace) -> int:
    pairs = parse_resources(args.resources)
    if not pairs:
        raise KubectlError("error: resource(s) were provided, but no name was specified")
    code = 0
    for kind, name in pairs:
        if kind not in STORE_KINDS and kind != "Pod":
            raise unsupported(f"delete {kind.lower()}")
        names = [name] if name else _selected_names(ctx, kind, args)
        for one in names:
            code |= delete_pod(ctx, one, args) if kind == "Pod" else _delete_object(ctx, kind, one, args)
    return code


def _selected_names(ctx: Ctx, kind: str, args: Namespace) -> list[str]:
    if not args.selector and not args.all:
        raise KubectlError("error: resource(s) were provided, but no name was specified")
    pool = list_kind(kind, ctx.objects(), ctx.status(), ctx.namespace)
    return [o["metadata"]["name"] for o in selected(pool, args.selector)]


def _delete_object(ctx: Ctx, kind: str, name: str, args: Namespace) -> int:
    if not ctx.store.delete(kind, ctx.namespace, name):
        return _missing(kind, name, args)
    if kind == "Deployment":  # the garbage collector removes the ReplicaSets it owned
        for _, rs in ctx.replicasets(name):
            ctx.store.delete("ReplicaSet", ctx.namespace, rs["metadata"]["name"])
    print(f'{RESOURCES[kind][1]} "{name}" deleted')
    return 0


def delete_pod(ctx: Ctx, name: str, args: Namespace) -> int:
    pods = [p for p in ctx.status_pods() if p["namespace"] == ctx.namespace and p["name"] == name]
    if not pods:
        return _missing("Pod", name, args)
    ctx.request_pod_deletion(ctx.namespace, name)
    print(f'pod "{name}" deleted', flush=True)
    if args.wait:
        if ctx.wait_pods_gone(pods, deadline(parse_duration(args.timeout))):
            print(f"error: timed out waiting for the condition on pods/{name}", file=sys.stderr)
            return 1
    return 0


def _missing(kind: str, name: str, args: Namespace) -> int:
    """Nothing to delete: fine with ``--ignore-not-found``, kubectl's NotFound otherwise."""
    if args.ignore_not_found:
        return 0
    print(not_found(kind, name), file=sys.stderr)
    return 1
