"""``kubectl cordon``, ``uncordon`` and ``drain`` for the sandbox's nodes.

``drain`` cordons the node, then evicts its pods through the Eviction API's PodDisruptionBudget check, retrying
refused evictions until ``--timeout``, and waits for the evicted pods to be gone, with kubectl's messages.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace

from drills.targets.local import operations
from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_resources import Obj, labels_match
from drills.targets.local.kubectl_time import deadline, expired, go_duration, parse_duration
from drills.targets.local.kubectl_views import pdb_budget, template_spec


def cordon(ctx: Ctx, args: Namespace) -> int:
    return _set_unschedulable(ctx, args.node, True)


def uncordon(ctx: Ctx, args: Namespace) -> int:
    return _set_unschedulable(ctx, args.node, False)


def _set_unschedulable(ctx: Ctx, node: str, value: bool) -> int:
    ctx.require("Node", node)
    word = "cordoned" if value else "uncordoned"
    changed = operations.set_unschedulable(ctx.store, node, value)
    print(f"node/{node} {word}" if changed else f"node/{node} already {word}", flush=True)
    return 0


def eviction_allowed(pod: Obj, pods: list[Obj], objects: dict[str, Obj], gone: set[str]) -> bool:
    """The Eviction API's PodDisruptionBudget check. A pod that is not Ready may go while the budget is
    met (unhealthyPodEvictionPolicy IfHealthyBudget); a Ready one only while a disruption is allowed."""
    for pdb in (o for o in objects.values() if o["kind"] == "PodDisruptionBudget"
                and o["metadata"].get("namespace") == pod["namespace"]):
        selector = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
        if not labels_match(selector, pod["labels"]):
            continue
        healthy, desired = pdb_budget(pdb, pods, objects, gone)
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
                 if any("emptyDir" in v for v in template_spec(p, objects).get("volumes", []))]
        if local:
            problems.append("cannot delete Pods with local storage (use --delete-emptydir-data to override): "
                            + ", ".join(local))
    return problems


def drain(ctx: Ctx, args: Namespace) -> int:
    """Cordon, then evict every pod on the node through the PDB check, retrying refused evictions every
    second (kubectl says 5 s; the sandbox's clock is faster) until ``--timeout``; then wait for them to go."""
    _set_unschedulable(ctx, args.node, True)
    timeout = parse_duration(args.timeout)
    until = deadline(timeout)
    objects = ctx.objects()
    pending = [p for p in ctx.status_pods() if p["nodeName"] == args.node and p["phase"] != "Terminating"
               and p["ownerKind"] != "DaemonSet"]
    problems = _drain_blockers(ctx, pending, objects, args)
    if problems:
        return _drain_failed(args.node, "; ".join(problems))
    for pod in pending:
        print(f"evicting pod {pod['namespace']}/{pod['name']}", flush=True)
    evicted = _evict(ctx, pending, args, until)
    left = ctx.wait_pods_gone(evicted, until)
    for pod in evicted:
        if pod not in left:
            print(f"pod/{pod['name']} evicted")
    if pending:
        reason = ", ".join(f'error when evicting pods/"{p["name"]}" -n "{p["namespace"]}": global timeout '
                           f"reached: {go_duration(timeout)}" for p in pending)
        return _drain_failed(args.node, f"[{reason}]")
    if left:
        names = ", ".join(f'pods/"{p["name"]}" -n "{p["namespace"]}"' for p in left)
        return _drain_failed(args.node, f"[error when waiting for pod deletion: {names}: global timeout reached: "
                                        f"{go_duration(timeout)}]")
    print(f"node/{args.node} drained")
    return 0


def _evict(ctx: Ctx, pending: list[Obj], args: Namespace, until: float | None) -> list[Obj]:
    """Evict ``pending`` (removing each evicted pod from it) until none is left or the deadline passes."""
    evicted: list[Obj] = []
    while pending:
        pods, objects = ctx.status_pods(), ctx.objects()
        for pod in list(pending):
            if args.disable_eviction or eviction_allowed(pod, pods, objects, {p["name"] for p in evicted}):
                ctx.request_pod_deletion(pod["namespace"], pod["name"])
                evicted.append(pod)
                pending.remove(pod)
            else:
                print(f'error when evicting pods/"{pod["name"]}" -n "{pod["namespace"]}" (will retry after 5s): '
                      "Cannot evict pod as it would violate the pod's disruption budget.", file=sys.stderr,
                      flush=True)
        if not pending or expired(until):
            break
        time.sleep(1)
    return evicted


def _drain_failed(node: str, reason: str) -> int:
    print(f'error: unable to drain node "{node}" due to error: {reason}, continuing command...\n'
          f"There are pending nodes to be drained:\n {node}\nerror: {reason}", file=sys.stderr)
    return 1
