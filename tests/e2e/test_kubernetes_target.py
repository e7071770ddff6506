"""KubernetesTarget on the embedded cluster: every primitive through the real API server (official client),
checked against what the sandbox holds beneath the API (its object store and the controller's status)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.targets.base import WorkloadRef
from drills.targets.kubernetes import ApiError, KubernetesTarget
from drills.targets.local import LocalTarget
from drills.targets.local.monitoring import alert_for_seconds, profiled_rules
from drills.targets.local.provider import EmbeddedProvider
from tests.e2e.conftest import desired, store

# Known leak, not yet found: two TLS connections (a wait_steady's watch pair, by their timing) are garbage-collected
# unclosed now and then. Tolerated here, and only that, until it is fixed; every assertion still holds.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <ssl.SSLSocket:pytest.PytestUnraisableExceptionWarning")]
NS = "production-agents"
AGENT = WorkloadRef("Deployment", NS, "agent-deployment")
REDIS = WorkloadRef("StatefulSet", NS, "redis")
WORKER = "sandbox-worker"


@pytest.fixture(scope="module")
def k8s(sandbox: LocalTarget) -> Iterator[KubernetesTarget]:
    """The same sandbox the session's local target runs, reached through its API server."""
    target = KubernetesTarget(EmbeddedProvider(sandbox.root, sandbox.profile, sandbox.octet, sandbox.sandbox_name))
    target.wait_steady(120)
    yield target
    target.close()


def _pods(target: KubernetesTarget, selector: dict[str, str]) -> set[tuple[object, ...]]:
    return {(p.name, p.node, p.ip, p.ready) for p in target.pods(NS, selector)}


def _status_pods(sandbox: LocalTarget, selector: dict[str, str]) -> set[tuple[object, ...]]:
    """The same, from the controller's status file."""
    return {(p["name"], p["nodeName"], p["podIP"], p["ready"]) for p in sandbox.status()["pods"]
            if p["namespace"] == NS and p["phase"] != "Terminating"
            and all(p["labels"].get(k) == v for k, v in selector.items())}


def test_reads_agree_with_the_sandbox_beneath_the_api(k8s: KubernetesTarget, sandbox: LocalTarget) -> None:
    assert k8s.liveness() is None and k8s.liveness(since=time.time()) is None
    assert "restarted" in (k8s.liveness(since=time.time() - 3600) or "")  # the sandbox started since
    for selector in ({"app": "production-agent"}, {"app": "redis"}):
        assert _pods(k8s, selector) == _status_pods(sandbox, selector)
    for ref in (AGENT, REDIS):
        status = sandbox.status()["workloads"][f"{ref.kind}/{ref.namespace}/{ref.name}"]
        assert k8s.rollout_status(ref) == {k: status[k] for k in k8s.rollout_status(ref)}
    with k8s.http() as http:
        assert http.get(k8s.service_url(NS, "production-agent", 8080) + "/health", timeout=10).ok
    assert k8s.get_config(NS, "agent-config") == store(sandbox).require("ConfigMap", NS, "agent-config")["data"]
    assert k8s.get_secret(NS, "agent-secrets")["anthropic-api-key"] == "sk-ant-drill-0000-valid"
    assert "sk-ant-drill-0000-valid" in k8s.secret_values()
    log_file = next((sandbox.root / "logs" / NS / "redis-0").glob("*.log")).read_text()
    api_log = k8s.logs(NS, "redis-0", tail=5).splitlines()
    assert api_log and all(line in log_file for line in api_log)
    assert k8s.tools()["kubectl"] == "v1.37.1"
    assert {"node-failure", "image-removal"} <= k8s.capabilities()


def test_api_errors_keep_the_status(k8s: KubernetesTarget) -> None:
    with pytest.raises(ApiError) as raised:
        k8s.get_config(NS, "no-such-config")
    assert raised.value.code == 404 and raised.value.reason == "NotFound"
    k8s.delete("ConfigMap", NS, "no-such-config")  # --ignore-not-found


def test_writes_converge_and_restore_puts_back_what_changed(k8s: KubernetesTarget, sandbox: LocalTarget) -> None:
    before = k8s.snapshot()
    try:
        assert k8s.set_config(NS, "agent-config", {"drill-key": "1"}) == {}
        assert k8s.get_config(NS, "agent-config")["drill-key"] == "1"
        assert k8s.set_config(NS, "agent-config", {"drill-key": None}) == {"drill-key": "1"}
        assert "drill-key" not in k8s.get_config(NS, "agent-config")
        previous = k8s.set_secret(NS, "agent-secrets", {"anthropic-api-key": "sk-x"})
        assert previous == {"anthropic-api-key": "sk-ant-drill-0000-valid"}
        assert k8s.get_secret(NS, "agent-secrets")["anthropic-api-key"] == "sk-x"
        k8s.set_secret(NS, "agent-secrets", previous)

        k8s.set_resources(AGENT, "agent", {"memory": "300Mi"})
        k8s.wait_steady(120)
        container = store(sandbox).require("Deployment", NS, "agent-deployment")["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["memory"] == "300Mi" and container["image"].endswith(":1.0.0")

        k8s.set_image(AGENT, "agent", "ghcr.io/drillbook/production-agent:1.1.0")
        k8s.wait_steady(120)
        k8s.rollback(AGENT)
        k8s.wait_steady(120)
        image = store(sandbox).require("Deployment", NS, "agent-deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(":1.0.0")

        k8s.restart(AGENT)
        annotations = store(sandbox).require("Deployment", NS, "agent-deployment")["spec"]["template"]["metadata"]["annotations"]
        assert "kubectl.kubernetes.io/restartedAt" in annotations
        k8s.scale(AGENT, 3)
        k8s.wait_steady(120)
        assert len([p for p in k8s.pods(NS, {"app": "production-agent"}) if p.ready]) == 3
        assert k8s.rollout_status(AGENT)["updatedReadyReplicas"] == 3

        ok = k8s.exec(NS, "redis-0", ["redis-cli", "PING"])
        assert ok.exit_code == 0 and "PONG" in ok.output, ok
        failed = k8s.exec(NS, "redis-0", ["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert failed.exit_code == 3 and "out" in failed.output and "err" in failed.output, failed

        k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "drill-extra", "namespace": NS},
                   "data": {"a": "1"}})
        k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "drill-extra", "namespace": NS},
                   "data": {"a": "2"}})
        assert k8s.get_config(NS, "drill-extra") == {"a": "2"}

        victim = k8s.pods(NS, {"app": "production-agent"})[0].name
        k8s.delete_pod(NS, victim)  # a request, as kubectl delete --wait=false: the controller acts on it
        deadline = time.monotonic() + 60
        while victim in {p.name for p in k8s.pods(NS, {"app": "production-agent"})} and time.monotonic() < deadline:
            time.sleep(0.25)
        assert victim not in {p.name for p in k8s.pods(NS, {"app": "production-agent"})}
        k8s.wait_steady(120)

        k8s.cordon(WORKER)
        assert store(sandbox).require("Node", None, WORKER)["spec"]["unschedulable"] is True
    finally:
        k8s.restore(before)
        k8s.wait_steady(180)
    assert store(sandbox).get("ConfigMap", NS, "drill-extra") is None
    assert not store(sandbox).require("Node", None, WORKER).get("spec", {}).get("unschedulable")
    assert k8s.snapshot() == before  # as the API serves it (the store may now hold the defaults it adds)
    assert desired(sandbox.snapshot()) == desired(before)
    k8s.restore(before)  # nothing changed since: nothing to do, and no error


def test_drain_evicts_through_the_eviction_api(k8s: KubernetesTarget, sandbox: LocalTarget) -> None:
    before = k8s.snapshot()
    on_worker = [p for p in k8s.pods(NS, {"app": "production-agent"}) if p.node == WORKER]
    try:
        result = k8s.drain(WORKER, timeout_s=120)
        assert result.exit_code == 0, result.output
        assert f"node/{WORKER} cordoned" in result.output
        left = [p for p in k8s.pods(NS, {"app": "production-agent"}) if p.node == WORKER]
        assert {p.name for p in on_worker}.isdisjoint(p.name for p in left)
    finally:
        k8s.restore(before)
        k8s.wait_steady(180)


def test_node_failure_goes_through_the_provider(k8s: KubernetesTarget) -> None:
    def ready() -> str:
        node = k8s.api.get("Node", None, WORKER)
        return str(next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"))

    try:
        k8s.set_node_ready(WORKER, False)
        deadline = time.monotonic() + 30
        while ready() == "True" and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ready() != "True"
    finally:
        k8s.set_node_ready(WORKER, True)
        k8s.wait_steady(180)
    assert ready() == "True"


def test_prometheus_through_the_service_proxy(k8s: KubernetesTarget, sandbox: LocalTarget) -> None:
    with k8s.http() as session:
        answer = session.get(f"{k8s.prometheus_url()}/api/v1/status/buildinfo", timeout=10)
    assert answer.ok, answer.text
    assert k8s.prometheus_url() == sandbox.prometheus_url()
    assert k8s.alert_for_seconds() == alert_for_seconds(profiled_rules(sandbox.config))  # as the rule files say
    profile = sandbox.config.profile
    assert k8s.scrape_and_eval_seconds() == (profile.scrape_interval_s, profile.evaluation_interval_s)


def test_a_drill_runs_through_the_kubernetes_target_from_the_cli(sandbox: LocalTarget, tmp_path: Path) -> None:
    """``drillbook run ... --target kubernetes --context drillbook-local``: the embedded cluster reached only
    through its API server (official client, service proxy), as any cluster would be."""
    env = {**os.environ, "DRILLBOOK_JOURNAL": str(tmp_path / "journal.json")}
    run = subprocess.run([sys.executable, "-m", "drills.cli", "run", "agent-down/config-error", "--target",
                          "kubernetes", "--context", "drillbook-local", "--sandbox", str(sandbox.root),
                          "--report-dir", str(tmp_path / "reports")],
                         env=env, capture_output=True, text=True, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    result = json.loads((tmp_path / "reports" / "results.json").read_text())["drills"][0]
    assert result["verdict"] == "passed", out
    assert result["target"] == "kubernetes" and result["tools"]["kubectl"] == "v1.37.1", result["target"]
