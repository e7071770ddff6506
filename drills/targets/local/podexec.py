"""Run a command "in" an embedded-cluster pod, which is a set of host processes on its own address.

The command runs on the host in the pod's directory, rewritten so that it reaches what it would reach inside
the pod: a volume's ``mountPath`` becomes the host directory behind it; Service names their address (the
sandbox's cluster DNS, :mod:`drills.targets.local.dns`); ``localhost`` / ``127.0.0.1`` the pod's own address
(the pod's network namespace); and a port the pod serves elsewhere its real port, as the pod's
``drillbook.io/port-aliases`` annotation says (``"9090=19090"``: Prometheus listens on ``PROMETHEUS_PORT``).
``redis-cli`` without ``-h`` talks to the pod, ``promtool query`` without a server to the pod's Prometheus.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from drills.targets.local.dns import service_addresses
from drills.targets.local.infra import PROMETHEUS_PORT

__all__ = ["exec_argv", "port_aliases", "service_addresses"]

NET_TOOLS = {"nc", "ncat", "netcat", "curl", "wget", "telnet", "ping", "nslookup", "dig"}
PROMTOOL_QUERIES = {"instant", "range", "series", "labels"}
PORT_ALIASES = "drillbook.io/port-aliases"
LOOPBACK = ("localhost", "127.0.0.1")
# localhost / 127.0.0.1 as the host of a URL (``http://localhost/x``) or of a ``host:port``
_LOOPBACK_HOST = re.compile(r"(?<![\w.\-])(?:localhost|127\.0\.0\.1)(?=:\d)"
                            r"|(?<=://)(?:localhost|127\.0\.0\.1)(?![\w.\-])")


def parse_port_aliases(text: str | None) -> dict[str, str]:
    """``"9090=19090, 9100=19100"`` → ``{"9090": "19090", "9100": "19100"}`` (malformed entries are skipped)."""
    aliases = {}
    for item in (text or "").split(","):
        port, sep, real = (part.strip() for part in item.partition("="))
        if sep and port.isdigit() and real.isdigit():
            aliases[port] = real
    return aliases


def port_aliases(pods: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Pod address → its port aliases, for every pod that declares some."""
    out: dict[str, dict[str, str]] = {}
    for pod in pods:
        aliases = parse_port_aliases(pod.get("annotations", {}).get(PORT_ALIASES))
        if aliases and pod.get("podIP"):
            out.setdefault(pod["podIP"], {}).update(aliases)
    return out


def loopback_to_pod(arg: str, pod_ip: str) -> str:
    """Inside a pod, loopback is the pod: ``http://localhost:9090`` → ``http://<pod ip>:9090``."""
    return _LOOPBACK_HOST.sub(pod_ip, arg)


def alias_ports(arg: str, aliases: Mapping[str, Mapping[str, str]]) -> str:
    """``<pod ip>:<port>`` → ``<pod ip>:<real port>`` where the pod declares an alias for the port."""
    if not aliases:
        return arg
    hosts = "|".join(re.escape(ip) for ip in sorted(aliases, key=len, reverse=True))
    return re.sub(rf"(?<![\w.\-])({hosts}):(\d+)(?!\d)",
                  lambda m: f"{m[1]}:{aliases[m[1]].get(m[2], m[2])}", arg)


def resolve_host(arg: str, hosts: Mapping[str, str]) -> str:
    """``redis-service`` / ``redis-service:6379`` / ``http://prometheus.monitoring:9090/x`` → the address."""
    if arg in hosts:
        return hosts[arg]
    scheme, sep, rest = arg.partition("://")
    if not sep:
        scheme, rest = "", arg
    host, colon, tail = rest.partition(":") if "/" not in rest.split(":", 1)[0] else rest.partition("/")
    if host in hosts:
        return f"{scheme}{sep}{hosts[host]}{colon}{tail}"
    return arg


def host_path(arg: str, mounts: Mapping[str, str]) -> str:
    """A container path under a volume's ``mountPath`` → the host directory behind it."""
    for mount in sorted(mounts, key=len, reverse=True):
        if arg == mount or arg.startswith(mount.rstrip("/") + "/"):
            return mounts[mount] + arg[len(mount.rstrip("/")):]
    return arg


def exec_argv(command: list[str], pod_ip: str, services: Mapping[str, str], mounts: Mapping[str, str],
              aliases: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """The command a ``kubectl exec`` runs on the host so that it reaches what it would inside the pod
    (``aliases``: pod address → port → the port it really serves, see :func:`port_aliases`)."""
    program, args = command[0], list(command[1:])
    tool = os.path.basename(program)
    hosts = {**services, **dict.fromkeys(LOOPBACK, pod_ip)}
    args = [loopback_to_pod(host_path(a, mounts), pod_ip) for a in args]
    if tool in NET_TOOLS:
        args = [resolve_host(a, hosts) for a in args]
    if tool == "redis-cli":
        args = [resolve_host(a, hosts) if i and args[i - 1] == "-h" else a for i, a in enumerate(args)]
        if "-h" not in args and "-u" not in args:
            args = ["-h", pod_ip, *([] if "-p" in args else ["-p", "6379"]), *args]
    if tool == "promtool" and len(args) >= 2 and args[0] == "query" and args[1] in PROMTOOL_QUERIES \
            and not any(a.startswith(("http://", "https://")) for a in args[2:]):
        # Finding: the seed runbook's `promtool query instant '<expr>'` omits promtool's required <server>
        # argument (promtool query instant [<flags>] <server> <expr>); on a cluster it fails. The sandbox
        # supplies the pod's own Prometheus so the step can still be exercised, and the drill reports it.
        args = [args[0], args[1], f"http://{pod_ip}:{PROMETHEUS_PORT}", *args[2:]]
    return [program, *(alias_ports(a, aliases or {}) for a in args)]
