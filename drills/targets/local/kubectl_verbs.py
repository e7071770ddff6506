"""The sandbox ``kubectl``'s verbs, over the object store (desired state) and ``status.json`` (what runs).

Reads build Kubernetes-shaped objects from both (pods exist only in ``status.json``); writes go through
:class:`ObjectStore` exactly as ``drillbook up`` and the faults write, and the controller converges. Every
verb returns kubectl's exit code and prints what kubectl prints; errors are :class:`KubectlError` with
kubectl's own wording.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from argparse import Namespace
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from drills.errors import UnsupportedVerb
from drills.targets.local import kubectl_format as fmt
from drills.targets.local.kubectl_format import KubectlError, Obj, not_found, ref
from drills.targets.local.sandbox import is_up, read_status
from drills.targets.local.store import CLUSTER_SCOPED, ObjectStore, canonical_kind
from drills.targets.local.workloads import template_hash

POD_WORDS = {"pod", "pods", "po"}
EVENT_WORDS = {"event", "events", "ev"}
VIEW_ONLY = {"Pod", "Event", "PersistentVolumeClaim"}  # not objects in the store: built from status.json
GETTABLE = set(fmt.TABLES)
POLL_S = 0.25


def kind_of(word: str) -> str:
    low = word.split(".", 1)[0].lower()
    if low in POD_WORDS:
        return "Pod"
    if low in EVENT_WORDS:
        return "Event"
    return canonical_kind(word)


def parse_resources(words: list[str]) -> list[tuple[str, str | None]]:
    """``pods`` | ``pod a b`` | ``deployment/x`` | ``deploy,sts`` → [(Kind, name or None)]."""
    if not words:
        return []
    if "/" in words[0]:
        out: list[tuple[str, str | None]] = []
        for word in words:
            kind, _, name = word.partition("/")
            out.append((kind_of(kind), name))
        return out
    kinds = [kind_of(k) for k in words[0].split(",") if k]
    if len(words) == 1:
        return [(k, None) for k in kinds]
    return [(k, n) for k in kinds for n in words[1:]]


def one_resource(verb: str, words: list[str], kinds: set[str]) -> tuple[str, str]:
    """The single ``KIND NAME`` / ``KIND/NAME`` a verb such as ``scale`` or ``patch`` works on."""
    pairs = parse_resources(words)
    if len(pairs) != 1 or pairs[0][1] is None:
        raise KubectlError(f"error: {verb} needs exactly one resource as TYPE NAME or TYPE/NAME")
    kind, name = pairs[0]
    if kind not in kinds:
        raise unsupported(f"{verb} {kind.lower()}")
    return kind, str(name)


def unsupported(what: str) -> UnsupportedVerb:
    """``get ingress``, ``rollout undo statefulset``: refused by name (the CLI adds what is supported)."""
    return UnsupportedVerb(f'drillbook sandbox kubectl does not support "{what}"')


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality-based label selectors: ``a=b,c!=d,e,!f``."""
    for term in (t.strip() for t in (selector or "").split(",") if t.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


@dataclass
class Ctx:
    """Where the sandbox is and what the global flags said."""

    root: Path
    namespace: str = "default"
    explicit_namespace: bool = False
    all_namespaces: bool = False

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.root)

    def objects(self) -> dict[str, Obj]:
        return self.store.snapshot()

    def status(self) -> Obj:
        return read_status(self.root)

    def status_pods(self) -> list[Obj]:
        return list(self.status().get("pods", []))

    def scope(self) -> str | None:
        return None if self.all_namespaces else self.namespace

    def require(self, kind: str, name: str) -> Obj:
        obj = self.store.get(kind, self.namespace, name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def find_pod(self, name: str) -> Obj:
        """A pod by name, or the first pod of ``deployment/x`` / ``statefulset/x`` (as kubectl logs/exec do)."""
        pods = [p for p in self.status_pods() if p["namespace"] == self.namespace]
        if "/" in name:
            kind, _, owner = name.partition("/")
            if kind_of(kind) == "Pod":
                name = owner
            else:
                owned = [p for p in pods if p["ownerKind"] == kind_of(kind) and p["ownerName"] == owner]
                if not owned:
                    raise not_found(kind_of(kind), owner)
                return owned[0]
        for pod in pods:
            if pod["name"] == name and pod["phase"] != "Terminating":
                return pod
        for pod in pods:
            if pod["name"] == name:
                return pod
        raise not_found("Pod", name)


# -- get / describe ----------------------------------------------------------------------------------
def get(ctx: Ctx, args: Namespace) -> int:
    wanted = parse_resources(args.resources)
    if not wanted:
        raise KubectlError("error: you must specify the type of resource to get. Use \"kubectl api-resources\" "
                           "for a complete list of supported resources.")
    for kind, _ in wanted:
        if kind not in GETTABLE:
            raise unsupported(f"get {kind.lower()}")
    objects, status = ctx.objects(), ctx.status()
    kinds = list(dict.fromkeys(k for k, _ in wanted))
    found: dict[str, list[Obj]] = {}
    missing: list[tuple[str, str]] = []
    for kind in kinds:
        pool = fmt.list_kind(kind, objects, status, ctx.scope())
        names = [n for k, n in wanted if k == kind and n]
        if names:
            by_name = {o["metadata"]["name"]: o for o in pool}
            found[kind] = [by_name[n] for n in names if n in by_name]
            missing += [(kind, n) for n in names if n not in by_name]
        else:
            found[kind] = [o for o in pool if selector_matches(args.selector, o["metadata"].get("labels", {}))]
        if args.sort_by:
            found[kind].sort(key=fmt.sort_key(args.sort_by))
    single = len(wanted) == 1 and wanted[0][1] is not None
    _print_found(ctx, args, kinds, found, single)
    if args.ignore_not_found:
        return 0
    for kind, name in missing:
        print(not_found(kind, name), file=sys.stderr)
    return 1 if missing else 0


def _print_found(ctx: Ctx, args: Namespace, kinds: list[str], found: dict[str, list[Obj]], single: bool) -> None:
    items = [o for k in kinds for o in found[k]]
    output = args.output or ""
    if output.startswith(("yaml", "json", "jsonpath")):
        if single and not items:
            return
        sys.stdout.write(fmt.render_structured(output, items[0] if single else fmt.as_list(items)))
        return
    if output == "name":
        sys.stdout.write("".join(ref(o["kind"], o["metadata"]["name"]) + "\n" for o in items))
        return
    if output not in ("", "wide"):
        raise unsupported(f"get -o {output.split('=', 1)[0]}")
    if not items:
        if not single:
            scope = "" if ctx.all_namespaces or kinds[0] in CLUSTER_SCOPED else f" in {ctx.namespace} namespace"
            print(f"No resources found{scope}.", file=sys.stderr)
        return
    blocks = [fmt.render_table(k, found[k], wide=output == "wide", all_ns=ctx.all_namespaces,
                               show_labels=args.show_labels, prefix_kind=len(kinds) > 1) for k in kinds if found[k]]
    sys.stdout.write("\n".join(blocks))


def describe(ctx: Ctx, args: Namespace) -> int:
    wanted = parse_resources(args.resources)
    if not wanted:
        raise KubectlError("error: You must specify the type of resource to describe.")
    for kind, _ in wanted:
        if kind not in fmt.DESCRIBERS:
            raise unsupported(f"describe {kind.lower()}")
    objects, status = ctx.objects(), ctx.status()
    blocks = []
    for kind, name in wanted:
        pool = fmt.list_kind(kind, objects, status, ctx.scope())
        chosen = [o for o in pool if o["metadata"]["name"] == name] if name else \
            [o for o in pool if selector_matches(args.selector, o["metadata"].get("labels", {}))]
        if name and not chosen:
            raise not_found(kind, name)
        blocks += [fmt.DESCRIBERS[kind](o, objects, status) for o in chosen]
    if not blocks:
        print(f"No resources found in {ctx.namespace} namespace.", file=sys.stderr)
    sys.stdout.write("\n\n".join(blocks))
    return 0


# -- logs / top --------------------------------------------------------------------------------------
def logs(ctx: Ctx, args: Namespace) -> int:
    if args.selector:
        pods = [p for p in ctx.status_pods() if p["namespace"] == ctx.namespace and p["phase"] != "Terminating"
                and selector_matches(args.selector, p["labels"])]
        if not pods:
            print(f"No resources found in {ctx.namespace} namespace.", file=sys.stderr)
            return 0
    elif args.pod:
        pods = [ctx.find_pod(args.pod)]
    else:
        raise KubectlError("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\n"
                           "POD or TYPE/NAME is a required argument for the logs command")
    # kubectl's default: the whole log, but only the last 10 lines per pod with a selector. --since is
    # accepted and not applied: the sandbox's log files carry no per-line timestamps.
    tail = args.tail if args.tail is not None else (10 if args.selector else -1)
    paths = [(p, log_path(ctx, p, args.container, args.previous)) for p in pods]
    offsets = {}
    for pod, path in paths:
        try:
            data, inode = path.read_bytes(), path.stat().st_ino
        except FileNotFoundError:  # running, nothing written yet
            data, inode = b"", 0
        offsets[path] = (inode, len(data))
        lines = data.decode(errors="replace").splitlines(keepends=True)
        shown = lines if tail < 0 else lines[len(lines) - tail:] if tail else []
        prefix = f"[pod/{pod['name']}/{path.name.split('.')[0]}] " if args.prefix else ""
        sys.stdout.write("".join(prefix + line for line in shown))
    sys.stdout.flush()
    if args.follow:
        follow(offsets)
    return 0


def log_path(ctx: Ctx, pod: Obj, container: str | None, previous: bool) -> Path:
    cs = (pod.get("containerStatuses") or [{}])[0]
    name = container or cs.get("name", "")
    if name != cs.get("name"):
        raise KubectlError(f"error: container {name} is not valid for pod {pod['name']}")
    base = ctx.root / "logs" / pod["namespace"] / pod["name"]
    path = base / (f"{name}.previous.log" if previous else f"{name}.log")
    if previous and not path.exists():
        raise KubectlError(f'Error from server (BadRequest): previous terminated container "{name}" in pod '
                           f'"{pod["name"]}" not found')
    if not path.exists() and "running" not in cs.get("state", {}):
        reason = cs.get("state", {}).get("waiting", {}).get("reason") or "ContainerCreating"
        if reason in ("ErrImagePull", "ImagePullBackOff"):
            reason = "trying and failing to pull image"
        raise KubectlError(f'Error from server (BadRequest): container "{name}" in pod "{pod["name"]}" is '
                           f"waiting to start: {reason}")
    return path


def follow(offsets: dict[Path, tuple[int, int]]) -> None:
    """``logs -f``: print what is appended until killed; a restart's new log file (new inode) is followed too."""
    try:
        while True:
            for path, (inode, offset) in list(offsets.items()):
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                if st.st_ino != inode or st.st_size < offset:
                    inode, offset = st.st_ino, 0
                if st.st_size > offset:
                    with open(path, "rb") as log:
                        log.seek(offset)
                        chunk = log.read()
                    offset += len(chunk)
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                offsets[path] = (inode, offset)
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        return


def pod_usage(pod: Obj) -> tuple[int, int] | None:
    """(millicores, bytes) of a running pod. Memory is the cgroup's usage (the process tree's RSS without a
    cgroup). CPU is the process tree's average since it started (there is no metrics-server window); it is
    ``0m`` when the processes cannot be read."""
    import psutil  # noqa: PLC0415  (only ``top`` needs it)

    cs = (pod.get("containerStatuses") or [{}])[0]
    if pod["phase"] != "Running" or not cs.get("pid"):
        return None
    memory, cpu = cs.get("memoryUsageBytes"), 0
    try:
        proc = psutil.Process(int(cs["pid"]))
        tree = [proc, *proc.children(recursive=True)]
        busy = sum(t.user + t.system for t in (p.cpu_times() for p in tree))
        cpu = int(1000 * busy / max(1e-3, time.time() - proc.create_time()))
        if memory is None:
            memory = sum(p.memory_info().rss for p in tree)
    except psutil.Error:
        pass
    return cpu, int(memory or 0)


def top(ctx: Ctx, args: Namespace) -> int:
    import psutil  # noqa: PLC0415

    kind = kind_of(args.what)
    pods = [p for p in ctx.status_pods() if (ctx.scope() is None or p["namespace"] == ctx.scope())
            and selector_matches(args.selector, p["labels"])]
    usage = {(p["namespace"], p["name"]): u for p in pods if (u := pod_usage(p)) is not None}
    mib = 1024 * 1024
    if kind == "Pod":
        if not usage:
            raise KubectlError("error: metrics not available yet")
        rows = [[*([ns] if ctx.all_namespaces else []), name, f"{c}m", f"{m // mib}Mi"]
                for (ns, name), (c, m) in sorted(usage.items())]
        sys.stdout.write(fmt.table([*(["NAMESPACE"] if ctx.all_namespaces else []), "NAME", "CPU(cores)",
                                    "MEMORY(bytes)"], rows))
        return 0
    if kind != "Node":
        raise unsupported(f"top {args.what}")
    all_pods = ctx.status_pods()
    all_usage = {(p["namespace"], p["name"]): pod_usage(p) for p in all_pods}
    cores, total = (os.cpu_count() or 1) * 1000, psutil.virtual_memory().total
    rows = []
    for node in fmt.list_kind("Node", ctx.objects(), {}, None):
        name = node["metadata"]["name"]
        used = [u for p in all_pods if p["nodeName"] == name and (u := all_usage[(p["namespace"], p["name"])])]
        c, m = sum(u[0] for u in used), sum(u[1] for u in used)
        rows.append([name, f"{c}m", f"{100 * c // cores}%", f"{m // mib}Mi", f"{100 * m // total}%"])
    sys.stdout.write(fmt.table(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], rows))
    return 0


# -- patch / set / scale -----------------------------------------------------------------------------
STORE_KINDS = set(fmt.RESOURCES) - VIEW_ONLY
WORKLOADS = {"Deployment", "StatefulSet"}


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


def _comparable(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    for key in ("generation", "resourceVersion", "creationTimestamp"):
        out.get("metadata", {}).pop(key, None)
    return out


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
    changed = _comparable(before) != _comparable(after)
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


def _patch_containers(ctx: Ctx, kind: str, name: str, containers: list[Obj]) -> None:
    ctx.store.patch(kind, ctx.namespace, name, {"spec": {"template": {"spec": {"containers": containers}}}})


def set_image(ctx: Ctx, args: Namespace) -> int:
    words, pairs = _split_assignments(args.words)
    kind, name = one_resource("set image", words, WORKLOADS)
    obj = ctx.require(kind, name)
    changes = []
    for pair in pairs:
        container, sep, image = pair.partition("=")
        if not sep:
            raise KubectlError(f"error: invalid image update {pair!r}, expected CONTAINER=IMAGE")
        changes += [{"name": c, "image": image} for c in _template_containers(obj, container)]
    if not changes:
        raise KubectlError("error: at least one image update is required")
    _patch_containers(ctx, kind, name, changes)
    print(f"{ref(kind, name)} image updated")
    return 0


def _quantities(text: str | None) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item) if text else {}


def set_resources(ctx: Ctx, args: Namespace) -> int:
    kind, name = one_resource("set resources", args.words, WORKLOADS)
    obj = ctx.require(kind, name)
    resources = {k: v for k, v in (("limits", _quantities(args.limits)), ("requests", _quantities(args.requests)))
                 if v}
    if not resources:
        raise KubectlError("error: you must specify an update to requests or limits (in the form of --requests/"
                           "--limits)")
    _patch_containers(ctx, kind, name, [{"name": c, "resources": resources}
                                        for c in _template_containers(obj, args.container)])
    print(f"{ref(kind, name)} resource requirements updated")
    return 0


def set_env(ctx: Ctx, args: Namespace) -> int:
    words, pairs = _split_assignments(args.words)
    kind, name = one_resource("set env", words, WORKLOADS)
    obj = ctx.require(kind, name)
    env: list[Obj] = []
    for pair in pairs:
        if pair.endswith("-") and "=" not in pair:
            env.append({"name": pair[:-1], "$patch": "delete"})
        else:
            key, sep, value = pair.partition("=")
            if not sep:
                raise KubectlError(f"error: environment variables must be of the form key=value: {pair}")
            env.append({"name": key, "value": value})
    _patch_containers(ctx, kind, name, [{"name": c, "env": env} for c in _template_containers(obj, args.container)])
    print(f"{ref(kind, name)} env updated")
    return 0


def set_(ctx: Ctx, args: Namespace) -> int:
    return {"image": set_image, "resources": set_resources, "env": set_env}[args.what](ctx, args)


def scale(ctx: Ctx, args: Namespace) -> int:
    kind, name = one_resource("scale", args.resources, WORKLOADS)
    if args.replicas is None:
        raise KubectlError('error: required flag(s) "replicas" not set')
    ctx.require(kind, name)
    ctx.store.patch(kind, ctx.namespace, name, {"spec": {"replicas": args.replicas}}, how="merge")
    print(f"{ref(kind, name)} scaled")
    return 0


# -- rollout -----------------------------------------------------------------------------------------
REVISION = "deployment.kubernetes.io/revision"


def rollout(ctx: Ctx, args: Namespace) -> int:
    actions = {"restart": (rollout_restart, WORKLOADS), "status": (rollout_status, WORKLOADS),
               "undo": (rollout_undo, {"Deployment"}), "history": (rollout_history, {"Deployment"})}
    if args.action not in actions:
        raise unsupported(f"rollout {args.action}")
    verb, kinds = actions[args.action]
    kind, name = one_resource(f"rollout {args.action}", args.resources, kinds)
    return verb(ctx, args, kind, name)


def replicasets(ctx: Ctx, name: str) -> list[tuple[int, Obj]]:
    """The Deployment's ReplicaSets (recorded by the controller), oldest revision first."""
    sets = [rs for rs in ctx.store.list("ReplicaSet", ctx.namespace) if rs["metadata"].get("ownerName") == name]
    return sorted((int(rs["metadata"].get("annotations", {}).get(REVISION, 0)), rs) for rs in sets)


def rollout_restart(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    ctx.require(kind, name)
    now = datetime.now().astimezone().isoformat(timespec="seconds")
    ctx.store.patch(kind, ctx.namespace, name, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": now}}}}})
    print(f"{ref(kind, name)} restarted")
    return 0


def rollout_undo(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    """kubectl's rollback: the previous revision's (or ``--to-revision``'s) ReplicaSet template, patched back."""
    deploy = ctx.require(kind, name)
    history = replicasets(ctx, name)
    if args.to_revision:
        chosen = [(rev, rs) for rev, rs in history if rev == args.to_revision]
        if not chosen:
            raise KubectlError(f"error: unable to find specified revision {args.to_revision} in history")
        revision, rs = chosen[0]
    elif len(history) < 2:
        raise KubectlError(f'error: no rollout history found for deployment "{name}"')
    else:
        revision, rs = history[-2]
    if rs["spec"]["template"] == deploy["spec"]["template"]:
        print(f"{ref(kind, name)} skipped rollback (current template already matches revision {revision})")
        return 0
    deploy["spec"]["template"] = copy.deepcopy(rs["spec"]["template"])
    ctx.store.apply(deploy)
    print(f"{ref(kind, name)} rolled back")
    return 0


def rollout_history(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    ctx.require(kind, name)
    history = replicasets(ctx, name)
    if args.revision:
        chosen = [rs for rev, rs in history if rev == args.revision]
        if not chosen:
            raise KubectlError(f"error: unable to find the specified revision")
        print(f"{ref(kind, name)} with revision #{args.revision}\nPod Template:")
        sys.stdout.write(fmt.describe_template(chosen[0]["spec"]["template"], indent="  "))
        return 0
    if not history:
        print("No rollout history found.")
        return 0
    rows = [[str(rev), rs["metadata"].get("annotations", {}).get("kubernetes.io/change-cause") or "<none>"]
            for rev, rs in history]
    print(f"{ref(kind, name)} ")
    print(fmt.table(["REVISION", "CHANGE-CAUSE"], rows, padding=2))
    return 0


def rollout_progress(kind: str, obj: Obj, w: Obj | None) -> tuple[str, bool]:
    """kubectl's rollout status message for the workload's current state, and whether it is complete."""
    name, replicas = obj["metadata"]["name"], int(obj["spec"].get("replicas", 1))
    current = template_hash(obj["spec"]["template"])
    if w is None or w.get("templateHash") != current or \
            int(w.get("observedGeneration", 0)) < int(obj["metadata"].get("generation", 0)):
        return f"Waiting for {kind.lower()} spec update to be observed...", False
    updated, ready, total = w["updatedReplicas"], w["updatedReadyReplicas"], w["currentReplicas"]
    if kind == "StatefulSet":
        if w["readyReplicas"] < replicas:
            return f"Waiting for {replicas - w['readyReplicas']} pods to be ready...", False
        if updated < replicas:
            return (f"waiting for statefulset rolling update to complete {updated} pods at revision "
                    f"{name}-{current}...", False)
        return f"statefulset rolling update complete {replicas} pods at revision {name}-{current}...", True
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return f"{prefix}{updated} out of {replicas} new replicas have been updated...", False
    if total > updated:
        return f"{prefix}{total - updated} old replicas are pending termination...", False
    if ready < updated:
        return f"{prefix}{ready} of {updated} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


def rollout_status(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    timeout = fmt.parse_duration(args.timeout)
    deadline = time.monotonic() + timeout if timeout else None
    last = None
    while True:
        obj = ctx.require(kind, name)
        message, done = rollout_progress(kind, obj, ctx.status().get("workloads", {}).get(
            f"{kind}/{ctx.namespace}/{name}"))
        if message != last:
            print(message, flush=True)
            last = message
        if done or not args.watch:
            return 0
        if deadline is not None and time.monotonic() >= deadline:
            print("error: timed out waiting for the condition", file=sys.stderr)
            return 1
        time.sleep(POLL_S)


# -- create / apply / delete -------------------------------------------------------------------------
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
            sys.stdout.write(fmt.render_structured(args.output, obj))
        else:
            print(f"{ref(kind, name)} created (dry run)")
        return 0
    if ctx.store.get(kind, ctx.namespace, name) is not None:
        plural = fmt.RESOURCES[kind][0]
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
    if _comparable(old) == _comparable(obj):
        return "unchanged"
    ctx.store.apply(obj)
    return "configured"


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
    pool = fmt.list_kind(kind, ctx.objects(), ctx.status(), ctx.namespace)
    return [o["metadata"]["name"] for o in pool if selector_matches(args.selector, o["metadata"].get("labels", {}))]


def _delete_object(ctx: Ctx, kind: str, name: str, args: Namespace) -> int:
    if not ctx.store.delete(kind, ctx.namespace, name):
        if args.ignore_not_found:
            return 0
        print(not_found(kind, name), file=sys.stderr)
        return 1
    if kind == "Deployment":  # the garbage collector removes the ReplicaSets it owned
        for _, rs in replicasets(ctx, name):
            ctx.store.delete("ReplicaSet", ctx.namespace, rs["metadata"]["name"])
    print(f'{fmt.RESOURCES[kind][1]} "{name}" deleted')
    return 0


def request_pod_deletion(ctx: Ctx, namespace: str, name: str) -> None:
    ctx.store.apply({"apiVersion": "drillbook/v1", "kind": "PodDeletion",
                     "metadata": {"name": name, "namespace": namespace}})


def wait_pods_gone(ctx: Ctx, pods: list[Obj], deadline: float | None) -> list[Obj]:
    """Wait until these pod instances (name + creation time) are gone; returns the ones still there.
    Without a running controller nobody would ever remove them, so there is nothing to wait for."""
    if not is_up(ctx.root):
        return []
    ids = {(p["namespace"], p["name"], p.get("creationTimestamp")) for p in pods}
    while True:
        left = [p for p in ctx.status_pods() if (p["namespace"], p["name"], p.get("creationTimestamp")) in ids]
        if not left or (deadline is not None and time.monotonic() >= deadline):
            return left
        time.sleep(POLL_S)


def delete_pod(ctx: Ctx, name: str, args: Namespace) -> int:
    pods = [p for p in ctx.status_pods() if p["namespace"] == ctx.namespace and p["name"] == name]
    if not pods:
        if args.ignore_not_found:
            return 0
        print(not_found("Pod", name), file=sys.stderr)
        return 1
    request_pod_deletion(ctx, ctx.namespace, name)
    print(f'pod "{name}" deleted', flush=True)
    if args.wait:
        timeout = fmt.parse_duration(args.timeout)
        if wait_pods_gone(ctx, pods, time.monotonic() + timeout if timeout else None):
            print(f"error: timed out waiting for the condition on pods/{name}", file=sys.stderr)
            return 1
    return 0


# -- exec ------------------------------------------------------------------------------------------
NET_TOOLS = {"nc", "ncat", "netcat", "curl", "wget", "telnet", "ping", "nslookup", "dig"}
PROMTOOL_QUERIES = {"instant", "range", "series", "labels"}


def resolve_host(arg: str, services: dict[str, str]) -> str:
    """``redis-service`` / ``redis-service:6379`` / ``http://prometheus.monitoring:9090/x`` → the address."""
    if arg in services:
        return services[arg]
    scheme, sep, rest = arg.partition("://")
    if not sep:
        scheme, rest = "", arg
    host, colon, tail = rest.partition(":") if "/" not in rest.split(":", 1)[0] else rest.partition("/")
    if host in services:
        return f"{scheme}{sep}{services[host]}{colon}{tail}"
    return arg


def exec_argv(command: list[str], pod_ip: str, services: dict[str, str], mounts: dict[str, str],
              prometheus_port: int = 9090) -> list[str]:
    """The command a ``kubectl exec`` runs on the host so that it reaches the pod, as it would inside it:
    container paths under a volume's mountPath become the host directory behind it, Service names their
    address, ``redis-cli`` talks to the pod (``-h``/``-p``) and ``promtool query`` to the pod's Prometheus."""
    program, args = command[0], list(command[1:])
    tool = os.path.basename(program)

    def host_path(arg: str) -> str:
        for mount in sorted(mounts, key=len, reverse=True):
            if arg == mount or arg.startswith(mount.rstrip("/") + "/"):
                return mounts[mount] + arg[len(mount.rstrip("/")):]
        return arg

    args = [host_path(a) for a in args]
    if tool in NET_TOOLS:
        args = [resolve_host(a, services) for a in args]
    if tool == "redis-cli":
        args = [resolve_host(a, services) if i and args[i - 1] == "-h" else a for i, a in enumerate(args)]
        if "-h" not in args and "-u" not in args:
            args = ["-h", pod_ip, *([] if "-p" in args else ["-p", "6379"]), *args]
    if tool == "promtool" and len(args) >= 2 and args[0] == "query" and args[1] in PROMTOOL_QUERIES \
            and not any(a.startswith(("http://", "https://")) for a in args[2:]):
        # Finding: the seed runbook's `promtool query instant '<expr>'` omits promtool's required <server>
        # argument (promtool query instant [<flags>] <server> <expr>); on a cluster it fails. The sandbox
        # supplies the pod's own Prometheus so the step can still be exercised, and the drill reports it.
        args = [args[0], args[1], f"http://{pod_ip}:{prometheus_port}", *args[2:]]
    return [program, *args]


def exec_(ctx: Ctx, args: Namespace) -> int:
    command: list[str] = args.command
    if not args.words:
        raise KubectlError("error: pod, type/name or --filename must be specified")
    if len(args.words) > 1:
        raise KubectlError("error: exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] "
                           "instead")
    if not command:
        raise KubectlError("error: you must specify at least one command for the container")
    pod = ctx.find_pod(args.words[0])
    cs = (pod.get("containerStatuses") or [{}])[0]
    if args.container and args.container != cs.get("name"):
        raise KubectlError(f"Error from server (BadRequest): container {args.container} is not valid for pod "
                           f"{pod['name']}")
    if pod["phase"] != "Running" or "running" not in cs.get("state", {}):
        raise KubectlError(f'error: unable to upgrade connection: container not found ("{cs.get("name")}")')
    services = fmt.service_addresses(ctx.objects(), ctx.status_pods(), pod["namespace"])
    argv = exec_argv(command, pod["podIP"], services, dict(cs.get("mounts", {})))
    pod_dir = ctx.root / "pods" / pod["namespace"] / pod["name"]
    pod_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "POD_IP": pod["podIP"], "POD_NAME": pod["name"], "POD_NAMESPACE": pod["namespace"]}
    try:
        code = subprocess.call(argv, cwd=pod_dir, env=env)
    except (FileNotFoundError, PermissionError):
        print(f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{command[0]}": '
              "executable file not found in $PATH: unknown", file=sys.stderr)
        code = 126
    if code:
        print(f"command terminated with exit code {code if code > 0 else 128 - code}", file=sys.stderr)
    return code if code >= 0 else 128 - code


# -- nodes: cordon / uncordon / drain --------------------------------------------------------------
def cordon(ctx: Ctx, args: Namespace) -> int:
    return _set_unschedulable(ctx, args.node, True)


def uncordon(ctx: Ctx, args: Namespace) -> int:
    return _set_unschedulable(ctx, args.node, False)


def _set_unschedulable(ctx: Ctx, node: str, value: bool) -> int:
    current = bool(ctx.require("Node", node).get("spec", {}).get("unschedulable"))
    word = "cordoned" if value else "uncordoned"
    if current == value:
        print(f"node/{node} already {word}")
        return 0
    ctx.store.patch("Node", None, node, {"spec": {"unschedulable": True if value else None}})
    print(f"node/{node} {word}", flush=True)
    return 0


def eviction_allowed(pod: Obj, pods: list[Obj], objects: dict[str, Obj], gone: set[str]) -> bool:
    """The Eviction API's PodDisruptionBudget check. A pod that is not Ready may go while the budget is
    met (unhealthyPodEvictionPolicy IfHealthyBudget); a Ready one only while a disruption is allowed."""
    for pdb in (o for o in objects.values() if o["kind"] == "PodDisruptionBudget"
                and o["metadata"].get("namespace") == pod["namespace"]):
        selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not all(pod["labels"].get(k) == v for k, v in selector.items()):
            continue
        healthy, desired = fmt.pdb_budget(pdb, pods, objects, gone)
        if healthy - desired < (1 if pod["ready"] else 0):
            return False
    return True


def _drain_blockers(ctx: Ctx, pods: list[Obj], objects: dict[str, Obj], args: Namespace) -> list[str]:
    problems = []
    if not args.ignore_daemonsets:
        daemons = [f"{p['namespace']}/{p['name']}" for p in pods if p["ownerKind"] == "DaemonSet"]
        if daemons:
            problems.append(f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                            f"{', '.join(daemons)}")
    if not args.delete_emptydir_data:
        local = [f"{p['namespace']}/{p['name']}" for p in pods
                 if any("emptyDir" in v for v in fmt.template_spec(p, objects).get("volumes", []))]
        if local:
            problems.append("cannot delete Pods with local storage (use --delete-emptydir-data to override): "
                            + ", ".join(local))
    return problems


def drain(ctx: Ctx, args: Namespace) -> int:
    """Cordon, then evict every pod on the node through the PDB check, retrying refused evictions every
    second (kubectl says 5 s; the sandbox's clock is faster) until ``--timeout``; then wait for them to go."""
    _set_unschedulable(ctx, args.node, True)
    timeout = fmt.parse_duration(args.timeout)
    deadline = time.monotonic() + timeout if timeout else None
    objects = ctx.objects()
    pending = [p for p in ctx.status_pods() if p["nodeName"] == args.node and p["phase"] != "Terminating"
               and p["ownerKind"] != "DaemonSet"]
    problems = _drain_blockers(ctx, pending, objects, args)
    if problems:
        return _drain_failed(args.node, "; ".join(problems))
    for pod in pending:
        print(f"evicting pod {pod['namespace']}/{pod['name']}", flush=True)
    evicted = _evict(ctx, pending, args, deadline)
    left = wait_pods_gone(ctx, evicted, deadline)
    for pod in evicted:
        if pod not in left:
            print(f"pod/{pod['name']} evicted")
    if pending:
        reason = ", ".join(f'error when evicting pods/"{p["name"]}" -n "{p["namespace"]}": global timeout '
                           f"reached: {fmt.go_duration(timeout)}" for p in pending)
        return _drain_failed(args.node, f"[{reason}]")
    if left:
        names = ", ".join(f'pods/"{p["name"]}" -n "{p["namespace"]}"' for p in left)
        return _drain_failed(args.node, f"[error when waiting for pod deletion: {names}: global timeout reached: "
                                        f"{fmt.go_duration(timeout)}]")
    print(f"node/{args.node} drained")
    return 0


def _evict(ctx: Ctx, pending: list[Obj], args: Namespace, deadline: float | None) -> list[Obj]:
    """Evict ``pending`` (removing each evicted pod from it) until none is left or the deadline passes."""
    evicted: list[Obj] = []
    while pending:
        pods, objects = ctx.status_pods(), ctx.objects()
        for pod in list(pending):
            if args.disable_eviction or eviction_allowed(pod, pods, objects, {p["name"] for p in evicted}):
                request_pod_deletion(ctx, pod["namespace"], pod["name"])
                evicted.append(pod)
                pending.remove(pod)
            else:
                print(f'error when evicting pods/"{pod["name"]}" -n "{pod["namespace"]}" (will retry after 5s): '
                      "Cannot evict pod as it would violate the pod's disruption budget.", file=sys.stderr,
                      flush=True)
        if not pending or (deadline is not None and time.monotonic() >= deadline):
            break
        time.sleep(1)
    return evicted


def _drain_failed(node: str, reason: str) -> int:
    print(f'error: unable to drain node "{node}" due to error: {reason}, continuing command...\n'
          f"There are pending nodes to be drained:\n {node}\nerror: {reason}", file=sys.stderr)
    return 1


# -- the rest: version, cluster-info, api-resources, auth --------------------------------------------
def version(ctx: Ctx, args: Namespace) -> int:
    print("Client Version: v1.32.0-drillbook\nKustomize Version: v5.5.0")
    if not args.client:
        print("Server Version: v1.32.0-drillbook-sandbox")
    return 0


def cluster_info(ctx: Ctx, args: Namespace) -> int:
    if not is_up(ctx.root):
        raise KubectlError(f"The connection to the server was refused: the drillbook sandbox at {ctx.root} is "
                           "not running (drillbook up)")
    print(f"Kubernetes control plane is running at {ctx.root} (drillbook local sandbox)")
    print("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0


def api_resources(ctx: Ctx, args: Namespace) -> int:
    short = {"Pod": "po", "Deployment": "deploy", "StatefulSet": "sts", "ReplicaSet": "rs", "Node": "no",
             "Namespace": "ns", "ConfigMap": "cm", "Service": "svc", "NetworkPolicy": "netpol",
             "PodDisruptionBudget": "pdb", "PersistentVolumeClaim": "pvc", "Event": "ev"}
    rows = []
    for kind, (plural, _) in sorted(fmt.RESOURCES.items(), key=lambda kv: kv[1][0]):
        name, _, group = plural.partition(".")
        rows.append([name, short.get(kind, ""), f"{group}/v1" if group else "v1",
                     str(kind not in CLUSTER_SCOPED).lower(), kind])
    sys.stdout.write(fmt.table(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], rows))
    return 0


def auth(ctx: Ctx, args: Namespace) -> int:
    if args.action != "can-i":
        raise unsupported(f"auth {args.action}")
    print("yes")
    return 0
