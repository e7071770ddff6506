"""``kubectl rollout restart|status|undo|history`` for the sandbox's Deployments and StatefulSets.

``undo`` and ``history`` read the ReplicaSets the controller records per Deployment template (one per
revision); ``status`` polls ``status.json`` until the workload reports its rollout complete, printing
kubectl's messages as they change.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace

from drills.errors import TargetError
from drills.targets.local import operations
from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_describe import describe_template
from drills.targets.local.kubectl_format import table
from drills.targets.local.kubectl_resources import (
    WORKLOADS,
    KubectlError,
    Obj,
    one_resource,
    ref,
    unsupported,
)
from drills.targets.local.kubectl_time import POLL_S, deadline, expired, parse_duration
from drills.targets.local.workloads import template_hash


def rollout(ctx: Ctx, args: Namespace) -> int:
    actions = {"restart": (rollout_restart, WORKLOADS), "status": (rollout_status, WORKLOADS),
               "undo": (rollout_undo, {"Deployment"}), "history": (rollout_history, {"Deployment"})}
    if args.action not in actions:
        raise unsupported(f"rollout {args.action}")
    verb, kinds = actions[args.action]
    kind, name = one_resource(f"rollout {args.action}", args.resources, kinds)
    return verb(ctx, args, kind, name)


def rollout_restart(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    ctx.require(kind, name)
    operations.restart(ctx.store, kind, ctx.namespace, name)
    print(f"{ref(kind, name)} restarted")
    return 0


def rollout_undo(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    """kubectl's rollback: the previous revision's (or ``--to-revision``'s) ReplicaSet template, patched back."""
    ctx.require(kind, name)
    try:
        revision, changed = operations.rollback(ctx.store, ctx.namespace, name, args.to_revision)
    except TargetError as exc:
        raise KubectlError(str(exc)) from exc
    if not changed:
        print(f"{ref(kind, name)} skipped rollback (current template already matches revision {revision})")
    else:
        print(f"{ref(kind, name)} rolled back")
    return 0


def rollout_history(ctx: Ctx, args: Namespace, kind: str, name: str) -> int:
    ctx.require(kind, name)
    history = ctx.replicasets(name)
    if args.revision:
        chosen = [rs for rev, rs in history if rev == args.revision]
        if not chosen:
            raise KubectlError("error: unable to find the specified revision")
        print(f"{ref(kind, name)} with revision #{args.revision}\nPod Template:")
        sys.stdout.write(describe_template(chosen[0]["spec"]["template"], indent="  "))
        return 0
    if not history:
        print("No rollout history found.")
        return 0
    rows = [[str(rev), rs["metadata"].get("annotations", {}).get("kubernetes.io/change-cause") or "<none>"]
            for rev, rs in history]
    print(f"{ref(kind, name)} ")
    print(table(["REVISION", "CHANGE-CAUSE"], rows, padding=2))
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
    until = deadline(parse_duration(args.timeout))
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
        if expired(until):
            print("error: timed out waiting for the condition", file=sys.stderr)
            return 1
        time.sleep(POLL_S)
