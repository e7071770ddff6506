"""``kubectl exec``: run a command "in" a sandbox pod, which is a set of host processes on its own address.

The command runs on the host in the pod's directory, rewritten so that it reaches what it would reach inside
the pod: a volume's ``mountPath`` becomes the host directory behind it; Service names their address (the
sandbox's cluster DNS, :mod:`drills.targets.local.dns`); ``localhost`` / ``127.0.0.1`` the pod's own address
(the pod's network namespace); and a port the pod serves elsewhere its real port, as the pod's
``drillbook.io/port-aliases`` annotation says (``"9090=19090"``: Prometheus listens on ``PROMETHEUS_PORT``).
``redis-cli`` without ``-h`` talks to the pod, ``promtool query`` without a server to the pod's Prometheus.
"""

from __future__ import annotations

import os
import subprocess
import sys
from argparse import Namespace

from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_resources import KubectlError
from drills.targets.local.kubectl_views import service_objects
from drills.targets.local.podexec import exec_argv, port_aliases, service_addresses

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
    pods = ctx.status_pods()
    names = service_addresses(service_objects(ctx.objects()), pods, pod["namespace"])
    argv = exec_argv(command, pod["podIP"], names, dict(cs.get("mounts", {})), port_aliases(pods))
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
