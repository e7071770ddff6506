"""The sandbox ``kubectl``'s reading verbs: ``get``, ``describe``, ``logs`` and ``top``.

They print what kubectl prints for the objects :mod:`kubectl_views` builds from the object store and
``status.json``; ``logs`` reads the containers' log files (``-f`` follows them across restarts), ``top``
the pods' processes. Nothing here writes to the sandbox.
"""

from __future__ import annotations

import os
import sys
import time
from argparse import Namespace
from pathlib import Path

from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_describe import DESCRIBERS
from drills.targets.local.kubectl_format import TABLES, as_list, render_structured, render_table, table
from drills.targets.local.kubectl_jsonpath import sort_key
from drills.targets.local.kubectl_resources import (
    KubectlError,
    Obj,
    kind_of,
    not_found,
    parse_resources,
    ref,
    selected,
    selector_matches,
    unsupported,
)
from drills.targets.local.kubectl_time import POLL_S
from drills.targets.local.kubectl_views import list_kind
from drills.targets.local.store import CLUSTER_SCOPED

GETTABLE = set(TABLES)


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
        pool = list_kind(kind, objects, status, ctx.scope())
        names = [n for k, n in wanted if k == kind and n]
        if names:
            by_name = {o["metadata"]["name"]: o for o in pool}
            found[kind] = [by_name[n] for n in names if n in by_name]
            missing += [(kind, n) for n in names if n not in by_name]
        else:
            found[kind] = selected(pool, args.selector)
        if args.sort_by:
            found[kind].sort(key=sort_key(args.sort_by))
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
        sys.stdout.write(render_structured(output, items[0] if single else as_list(items)))
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
    blocks = [render_table(k, found[k], wide=output == "wide", all_ns=ctx.all_namespaces,
                           show_labels=args.show_labels, prefix_kind=len(kinds) > 1) for k in kinds if found[k]]
    sys.stdout.write("\n".join(blocks))


def describe(ctx: Ctx, args: Namespace) -> int:
    wanted = parse_resources(args.resources)
    if not wanted:
        raise KubectlError("error: You must specify the type of resource to describe.")
    for kind, _ in wanted:
        if kind not in DESCRIBERS:
            raise unsupported(f"describe {kind.lower()}")
    objects, status = ctx.objects(), ctx.status()
    blocks = []
    for kind, name in wanted:
        pool = list_kind(kind, objects, status, ctx.scope())
        chosen = [o for o in pool if o["metadata"]["name"] == name] if name else selected(pool, args.selector)
        if name and not chosen:
            raise not_found(kind, name)
        blocks += [DESCRIBERS[kind](o, objects, status) for o in chosen]
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
        sys.stdout.write(table([*(["NAMESPACE"] if ctx.all_namespaces else []), "NAME", "CPU(cores)",
                                    "MEMORY(bytes)"], rows))
        return 0
    if kind != "Node":
        raise unsupported(f"top {args.what}")
    all_pods = ctx.status_pods()
    all_usage = {(p["namespace"], p["name"]): pod_usage(p) for p in all_pods}
    cores, total = (os.cpu_count() or 1) * 1000, psutil.virtual_memory().total
    rows = []
    for node in list_kind("Node", ctx.objects(), {}, None):
        name = node["metadata"]["name"]
        used = [u for p in all_pods if p["nodeName"] == name and (u := all_usage[(p["namespace"], p["name"])])]
        c, m = sum(u[0] for u in used), sum(u[1] for u in used)
        rows.append([name, f"{c}m", f"{100 * c // cores}%", f"{m // mib}Mi", f"{100 * m // total}%"])
    sys.stdout.write(table(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], rows))
    return 0

