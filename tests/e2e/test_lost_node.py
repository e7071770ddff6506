"""A lost node as Kubernetes shows it, seen through the real kubectl (REFERENCE, "Real Kubernetes behaviour").

Its pods keep phase Running with Ready=False; after the unreachable toleration (300 s in Kubernetes, the
profile's ``pod_eviction_s`` here) they are deleted, and a deleted pod stays ``Terminating`` — no kubelet is
there to confirm — while its Deployment replaces it. It goes when the node returns, or at once when
force-deleted (``--grace-period=0 --force``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drills.targets.local import LocalTarget
from drills.targets.local.config import SandboxConfig

NS = "production-agents"


def kubectl(sandbox: LocalTarget, *args: str) -> str:
    done = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=sandbox.step_environment(),
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def agent_pods(sandbox: LocalTarget) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl(sandbox, "get", "pods", "-n", NS, "-l", "app=production-agent",
                                                     "-o", "json"))["items"]
    return items


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f}s: {what}"
        time.sleep(0.5)


@pytest.fixture()
def lost_node(sandbox: LocalTarget) -> Iterator[tuple[str, str]]:
    """A worker holding one agent replica and no Redis goes NotReady; (node, the replica on it)."""
    sandbox.wait_steady(180)
    spared = {p.node for p in sandbox.pods(NS, {"app": "redis"})}
    agents = sandbox.pods(NS, {"app": "production-agent"})
    if all(p.node in spared for p in agents):  # the scheduler put every replica beside Redis: move one away
        for node in spared:
            sandbox.cordon(node)
        try:
            sandbox.delete_pod(NS, agents[0].name)
            until(lambda: agents[0].name not in {p.name for p in sandbox.pods(NS, {"app": "production-agent"})},
                  60, "the moved replica's old pod gone")
            sandbox.wait_steady(180)
        finally:
            for node in spared:
                sandbox.cordon(node, unschedulable=False)
    pod = next(p for p in sandbox.pods(NS, {"app": "production-agent"}) if p.node not in spared)
    sandbox.set_node_ready(pod.node, False)
    try:
        yield pod.node, pod.name
    finally:
        sandbox.set_node_ready(pod.node, True)
        sandbox.wait_steady(180)


def on(pods: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((p for p in pods if p["metadata"]["name"] == name), None)


@pytest.mark.slow
def test_a_deleted_pod_on_a_lost_node_stays_terminating_until_force_deleted(
        sandbox: LocalTarget, lost_node: tuple[str, str]) -> None:
    node, name = lost_node
    until(lambda: (p := on(agent_pods(sandbox), name)) and p["status"]["phase"] == "Running" and not ready(p),
          60, f"{name} Running with Ready=False on the lost {node}")
    kubectl(sandbox, "delete", "pod", name, "-n", NS, "--wait=false")
    # Its Deployment replaces it on a live node while it is still there, Terminating.
    until(lambda: sum(ready(p) for p in agent_pods(sandbox)) == 2, 90, "a replacement replica ready")
    time.sleep(3)
    stuck = on(agent_pods(sandbox), name)
    assert stuck is not None and "deletionTimestamp" in stuck["metadata"], "the pod left without a kubelet"
    assert "Terminating" in kubectl(sandbox, "get", "pod", name, "-n", NS)
    kubectl(sandbox, "delete", "pod", name, "-n", NS, "--grace-period=0", "--force")
    until(lambda: on(agent_pods(sandbox), name) is None, 10, f"{name} gone once force-deleted")


@pytest.mark.slow
def test_pods_on_a_lost_node_are_evicted_after_the_toleration_and_go_when_it_returns(
        sandbox: LocalTarget, lost_node: tuple[str, str]) -> None:
    node, name = lost_node
    toleration = SandboxConfig.load(sandbox.root).profile.pod_eviction_s
    lost_at = time.monotonic()
    time.sleep(max(0.0, toleration - 5))
    pod = on(agent_pods(sandbox), name)
    assert pod is not None and "deletionTimestamp" not in pod["metadata"], "evicted before the toleration"
    until(lambda: "deletionTimestamp" in (on(agent_pods(sandbox), name) or {}).get("metadata", {}), 30,
          f"{name} marked for deletion {toleration:.0f}s after {node} was lost")
    assert time.monotonic() - lost_at >= toleration - 1
    events = kubectl(sandbox, "get", "events", "-n", NS, "--field-selector", f"involvedObject.name={name}")
    assert "TaintManagerEviction" in events
    until(lambda: sum(ready(p) for p in agent_pods(sandbox)) == 2, 90, "a replacement replica ready")
    assert on(agent_pods(sandbox), name) is not None, "the evicted pod left while its node was still lost"
    sandbox.set_node_ready(node, True)
    until(lambda: on(agent_pods(sandbox), name) is None, 30, f"{name} gone once {node} is back")
