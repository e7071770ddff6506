"""Network partition: a NetworkPolicy that no longer admits the agents' traffic to Redis.

Story reproduced: ``redis-network-policy`` is updated with a selector that matches no client (a label typo),
so every pod loses its connection to ``redis-0`` while Redis itself is healthy. The sandbox enforces
NetworkPolicies with iptables (see drills/targets/local/netpol.py), dropping packets, so clients time out.
The fault proves the denial took effect: the agents fail their Redis health check while ``redis-0`` stays
ready (REFERENCE: kind's CNI is fail-open, so a drill must prove a denied connection is really denied).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults.common import all_pods, describe, wait_for


class NetworkPolicyParams(BaseModel):
    namespace: str
    name: str = Field(description="the NetworkPolicy to (re)write")
    protect: dict[str, str] = Field(min_length=1, description="pods the policy selects (the datastore)")
    admit: dict[str, str] = Field(min_length=1, description="the (wrong) clients it admits")
    clients: dict[str, str] = Field(min_length=1, description="the real clients, cut off by it")


def policy(p: NetworkPolicyParams) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": p.name, "namespace": p.namespace},
            "spec": {"podSelector": {"matchLabels": p.protect}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": p.admit}}]}]}}


def undo(target: Target, p: NetworkPolicyParams) -> Undo:
    return {"namespace": p.namespace, "name": p.name}


def inject(target: Target, p: NetworkPolicyParams) -> None:
    target.apply(policy(p))


def confirm(target: Target, p: NetworkPolicyParams, since: float, timeout_s: float) -> Evidence:
    clients = wait_for(lambda: all_pods(target, p.namespace, p.clients, since, lambda pod: not pod.ready),
                       timeout_s, "every client pod failing its health check behind the policy")
    protected = target.pods(p.namespace, p.protect)
    if not all(pod.ready for pod in protected):
        raise FaultError(f"{p.protect} pods are not ready themselves: not a network symptom")
    return {"clients": describe(clients), "protected": describe(protected), "policy": p.name}


def revert(target: Target, record: dict[str, Any]) -> None:
    target.delete("NetworkPolicy", record["namespace"], record["name"])


FAULT = FaultPlugin(kind="network-policy",
                    summary="a NetworkPolicy that denies the clients' traffic to the pods it protects",
                    params=NetworkPolicyParams, undo=undo, inject=inject, confirm=confirm, revert=revert,
                    requires=frozenset({"network-policy"}))
