"""The local target's primitives act on the real sandbox the way their kubectl counterparts do."""

from __future__ import annotations

import pytest

from drills.targets.base import WorkloadRef
from drills.targets.local import LocalTarget

pytestmark = pytest.mark.slow
AGENT = WorkloadRef("Deployment", "production-agents", "agent-deployment")


def test_primitives_change_desired_state_and_the_sandbox_converges(sandbox: LocalTarget) -> None:
    snapshot = sandbox.snapshot()
    try:
        sandbox.set_resources(AGENT, "agent", {"memory": "300Mi"})
        sandbox.wait_steady(90)
        container = sandbox.store.require("Deployment", "production-agents", "agent-deployment")
        spec = container["spec"]["template"]["spec"]["containers"][0]
        assert spec["resources"]["limits"]["memory"] == "300Mi" and spec["image"].endswith(":1.0.0")

        sandbox.set_image(AGENT, "agent", "ghcr.io/drillbook/production-agent:1.1.0")
        sandbox.wait_steady(90)
        sandbox.rollback(AGENT)
        sandbox.wait_steady(90)
        image = sandbox.store.require("Deployment", "production-agents", "agent-deployment")[
            "spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(":1.0.0")

        sandbox.scale(AGENT, 3)
        sandbox.wait_steady(90)
        assert len([p for p in sandbox.pods("production-agents", {"app": "production-agent"}) if p.ready]) == 3

        result = sandbox.exec("production-agents", "redis-0", ["redis-cli", "PING"])
        assert result.exit_code == 0 and "PONG" in result.output

        previous = sandbox.set_secret("production-agents", "agent-secrets", {"anthropic-api-key": "sk-x"})
        assert previous == {"anthropic-api-key": "sk-ant-drill-0000-valid"}

        sandbox.cordon("sandbox-worker")
        assert sandbox.store.require("Node", None, "sandbox-worker")["spec"]["unschedulable"] is True
    finally:
        sandbox.restore(snapshot)
        sandbox.wait_steady(120)
    assert sandbox.store.require("Node", None, "sandbox-worker").get("spec", {}).get("unschedulable") is None
