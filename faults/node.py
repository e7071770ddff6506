"""Node failure: a worker that runs an agent replica goes NotReady and its pods die with it.

The node chosen hosts a replica of the target workload and none of the ``spare`` pods (Redis), so the story
is the runbook's: reduced capacity, pods lost on a NotReady node until someone cordons and drains it. The
chosen node is bound to the runbook's ``${NODE_NAME}`` for the remediation steps. Nothing evicts the lost pods
by themselves before the unreachable toleration runs out (300 s in Kubernetes, the profile's value in the
sandbox), so within a drill's recovery budget it is the runbook's drain that restores capacity.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults.common import describe, wait_for


class NodeFailureParams(BaseModel):
    namespace: str
    selector: dict[str, str] = Field(min_length=1, description="the workload one of whose replicas is lost")
    spare: dict[str, str] = Field(default_factory=dict, description="never fail a node running these pods")


def pick_node(target: Target, p: NodeFailureParams) -> str:
    """A node with a replica and no spared pod, holding as few replicas as possible (capacity drops, not to 0)."""
    spared = {pod.node for pod in target.pods(p.namespace, p.spare)}
    replicas = [pod.node for pod in target.pods(p.namespace, p.selector)]
    nodes = sorted(set(replicas) - spared, key=lambda n: (replicas.count(n), n))
    if not nodes:
        raise FaultError(f"no node runs a {p.selector} pod without a {p.spare} pod")
    return nodes[0]


def undo(target: Target, p: NodeFailureParams) -> Undo:
    return {"node": pick_node(target, p)}


def inject(target: Target, p: NodeFailureParams) -> None:
    target.set_node_ready(pick_node(target, p), False)


def confirm(target: Target, p: NodeFailureParams, since: float, timeout_s: float) -> Evidence:
    node = pick_node(target, p)  # the same choice as at injection: the pods have not moved

    def lost() -> list[Any] | None:
        # What Kubernetes shows: the pod keeps phase Running, its Ready condition goes False (out of endpoints)
        pods = [pod for pod in target.pods(p.namespace, p.selector) if pod.node == node and not pod.ready
                and pod.phase == "Running"]
        return pods or None

    pods = wait_for(lost, timeout_s, f"a pod on {node} still Running but no longer Ready")
    serving = [pod for pod in target.pods(p.namespace, p.selector) if pod.ready]
    if not serving:
        raise FaultError(f"every {p.selector} replica was on {node}: the service is down, not degraded "
                         "(the replicas were not spread over nodes)")
    return {"node": node, "lost_pods": describe(pods), "bindings": {"NODE_NAME": node}}


def revert(target: Target, record: dict[str, Any]) -> None:
    target.set_node_ready(record["node"], True)
    target.cordon(record["node"], False)


FAULT = FaultPlugin(kind="node-failure", summary="a worker running an agent replica goes NotReady",
                    params=NodeFailureParams, undo=undo, inject=inject, confirm=confirm, revert=revert,
                    binds=frozenset({"NODE_NAME"}))
