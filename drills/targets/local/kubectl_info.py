"""The sandbox ``kubectl``'s informational verbs: ``version``, ``cluster-info``, ``api-resources`` and
``auth can-i`` (the sandbox has no RBAC: the answer is always yes)."""

from __future__ import annotations

import sys
from argparse import Namespace

from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_format import table
from drills.targets.local.kubectl_resources import RESOURCES, KubectlError, unsupported
from drills.targets.local.sandbox import is_up
from drills.targets.local.store import CLUSTER_SCOPED


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
    for kind, (plural, _) in sorted(RESOURCES.items(), key=lambda kv: kv[1][0]):
        name, _, group = plural.partition(".")
        rows.append([name, short.get(kind, ""), f"{group}/v1" if group else "v1",
                     str(kind not in CLUSTER_SCOPED).lower(), kind])
    sys.stdout.write(table(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], rows))
    return 0


def auth(ctx: Ctx, args: Namespace) -> int:
    if args.action != "can-i":
        raise unsupported(f"auth {args.action}")
    print("yes")
    return 0
