"""NetworkPolicy enforcement for the sandbox: iptables rules keyed on each pod's cgroup.

All pods share the loopback interface, and the kernel gives every loopback connection the source address
127.0.0.1, so source addresses cannot tell pods apart. Each container is therefore also placed in its own
cgroup2 directory, and iptables' ``-m cgroup --path`` match identifies the sending pod: for every pod a policy
selects, traffic from every pod the policy does not admit is dropped (DROP, so clients see timeouts, as with
a real CNI). Ingress rules are matched on their ``from`` pod/namespace selectors; their ``ports`` are not
enforced (a documented simplification). The rules live in one chain per sandbox, rebuilt atomically with
``iptables-restore --noflush`` whenever the desired set changes, and removed by ``drillbook down``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from drills.targets.local.labels import matches as labels_match

Obj = dict[str, Any]


def chain_name(octet: int) -> str:
    return f"DRILLBOOK-{octet}"


def available() -> str | None:
    """None when enforcement is possible here, else what is missing."""
    from drills.targets.local.cgroups import net_root

    if shutil.which("iptables") is None:
        return "the iptables command"
    if net_root() is None:
        return "a writable cgroup2 hierarchy (for iptables -m cgroup)"
    probe = subprocess.run(["iptables", "-S", "OUTPUT"], capture_output=True)
    return None if probe.returncode == 0 else "CAP_NET_ADMIN (run as root)"


def _matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return labels_match(selector.get("matchLabels"), labels)


def _admits(policy: Obj, source: Mapping[str, Any]) -> bool:
    rules = policy.get("spec", {}).get("ingress")
    if rules is None:
        return False  # Ingress policy type with no rules: deny all
    for rule in rules:
        peers = rule.get("from")
        if not peers:
            return True  # a rule without `from` admits everyone
        for peer in peers:
            same_ns = source["namespace"] == policy["metadata"]["namespace"]
            pod_ok = "podSelector" not in peer or _matches(peer["podSelector"], source["labels"])
            ns_ok = same_ns if "namespaceSelector" not in peer else True
            if pod_ok and ns_ok:
                return True
    return False


def desired_rules(policies: Iterable[Obj], pods: Sequence[Mapping[str, Any]],
                  cgroup_of: Mapping[str, str]) -> list[str]:
    """iptables rule specs (without ``-A CHAIN``) for the policies over the current pods."""
    rules: list[str] = []
    for policy in policies:
        types = policy.get("spec", {}).get("policyTypes", ["Ingress"])
        if "Ingress" not in types:
            continue
        namespace = policy["metadata"]["namespace"]
        selector = policy.get("spec", {}).get("podSelector", {}) or {}
        targets = [p for p in pods if p["namespace"] == namespace and _matches(selector, p["labels"])]
        for target in targets:
            for source in pods:
                key = f"{source['namespace']}/{source['name']}"
                if source is target or key not in cgroup_of or _admits(policy, source):
                    continue
                rules.append(f"-o lo -m cgroup --path {cgroup_of[key]} -d {target['podIP']}/32 -j DROP")
    return sorted(set(rules))


def apply(chain: str, rules: list[str]) -> None:
    """Replace the chain's contents atomically and make sure OUTPUT jumps to it."""
    body = "\n".join(["*filter", f":{chain} - [0:0]", *(f"-A {chain} {r}" for r in rules), "COMMIT", ""])
    subprocess.run(["iptables-restore", "--noflush"], input=body.encode(), check=True, capture_output=True)
    if subprocess.run(["iptables", "-C", "OUTPUT", "-j", chain], capture_output=True).returncode != 0:
        subprocess.run(["iptables", "-I", "OUTPUT", "-j", chain], check=True, capture_output=True)


def remove(chain: str) -> None:
    while subprocess.run(["iptables", "-D", "OUTPUT", "-j", chain], capture_output=True).returncode == 0:
        pass
    subprocess.run(["iptables", "-F", chain], capture_output=True)
    subprocess.run(["iptables", "-X", chain], capture_output=True)
