"""The sandbox kubectl: its reading verbs (get, describe, logs, top), what it refuses, and one live run.

Every test but the ``slow`` one runs against an object store and a synthetic status.json (:class:`Sandbox`,
the ``sbx`` fixture), which the other ``test_kubectl_*`` modules share; the ``slow`` one brings a real sandbox
up. Writes are in ``test_kubectl_write``, ``exec`` in ``test_kubectl_exec``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from drills.targets.local import sandbox
from drills.targets.local.config import SandboxConfig
from drills.targets.local.infra import nodes
from drills.targets.local.kubectl import main
from drills.targets.local.kubectl_jsonpath import JsonPathError, jsonpath
from drills.targets.local.store import ObjectStore, write_json_atomic
from drills.targets.local.workloads import template_hash

NS = "production-agents"
Obj = dict[str, Any]


def _pod(name: str, kind: str, owner: str, thash: str, node: str, ip: str, app: str, *, ready: bool = True,
         waiting: str | None = None, last: Obj | None = None, restarts: int = 0, mounts: dict[str, str] | None = None,
         container: str = "agent") -> Obj:
    state = {"waiting": {"reason": waiting, "message": "back-off"}} if waiting else \
        {"running": {"startedAt": "2025-01-01T00:00:00Z"}}
    return {"name": name, "namespace": NS, "labels": {"app": app}, "annotations": {}, "ownerKind": kind,
            "ownerName": owner, "templateHash": thash, "nodeName": node, "podIP": ip,
            "phase": "Pending" if waiting else "Running", "ready": ready, "creationTimestamp": time.time() - 600,
            "containerStatuses": [{"name": container, "image": "img", "ready": ready, "restartCount": restarts,
                                   "state": state, "lastState": {"terminated": last} if last else {},
                                   "mounts": mounts or {}, "pid": 0}]}


class Sandbox:
    """A sandbox directory with the reference manifests and a status.json written by hand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ObjectStore(root)
        for obj in [*nodes(SandboxConfig(name="kubectl-unit", octet=44)), *sandbox.app_manifests()]:
            self.store.apply(obj)
        self.deploy_hash = template_hash(self.deployment()["spec"]["template"])
        self.redis_hash = template_hash(self.store.require("StatefulSet", NS, "redis")["spec"]["template"])
        self.agent_ok = f"agent-deployment-{self.deploy_hash}-aaaaa"
        self.agent_oom = f"agent-deployment-{self.deploy_hash}-bbbbb"
        oom = {"reason": "OOMKilled", "exitCode": 137, "startedAt": "2025-01-01T00:00:00Z",
               "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30))}
        self.pods = [
            _pod(self.agent_ok, "Deployment", "agent-deployment", self.deploy_hash, "sandbox-worker", "127.44.2.10",
                 "production-agent"),
            _pod(self.agent_oom, "Deployment", "agent-deployment", self.deploy_hash, "sandbox-worker2",
                 "127.44.3.10", "production-agent", ready=False, waiting="CrashLoopBackOff", last=oom, restarts=3),
            _pod("redis-0", "StatefulSet", "redis", self.redis_hash, "sandbox-worker", "127.44.0.10", "redis",
                 mounts={"/data": str(root / "volumes" / "redis-data-redis-0")}, container="redis"),
        ]
        self.write_status()

    def deployment(self) -> Obj:
        return self.store.require("Deployment", NS, "agent-deployment")

    def write_status(self, **deploy: int) -> None:
        counts = {"replicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "readyReplicas": 1,
                  "availableReplicas": 1, "updatedReadyReplicas": 1, **deploy}
        workloads = {
            f"Deployment/{NS}/agent-deployment": {**counts, "observedGeneration": self.deployment()["metadata"][
                "generation"], "templateHash": template_hash(self.deployment()["spec"]["template"])},
            f"StatefulSet/{NS}/redis": {"replicas": 1, "currentReplicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                                        "availableReplicas": 1, "updatedReadyReplicas": 1, "observedGeneration": 1,
                                        "templateHash": self.redis_hash}}
        write_json_atomic(self.root / "status.json", {"time": time.time(), "pods": self.pods, "nodes": [],
                                                      "workloads": workloads})

    def deletions(self) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.store.list("PodDeletion"))


@pytest.fixture
def sbx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("DRILLBOOK_SANDBOX", str(tmp_path))
    return Sandbox(tmp_path)


def kubectl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- get / describe / events / jsonpath --------------------------------------------------------------
def test_get_pods_table_shows_crashloop_restarts_and_greps_like_kubectl(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "get", "pods", "-n", NS)
    lines = out.splitlines()
    assert code == 0
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    oom = next(line for line in lines if line.startswith(sbx.agent_oom)).split()
    assert oom[1:4] == ["0/1", "CrashLoopBackOff", "3"] and oom[4].startswith("(") and oom[5] == "ago)"
    assert [line for line in lines if "redis" in line][0].split()[:3] == ["redis-0", "1/1", "Running"]


def test_get_wide_all_namespaces_and_global_flag_before_verb(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "-n", NS, "get", "pods", "-o", "wide")
    assert code == 0 and "IP" in out.splitlines()[0] and "127.44.0.10" in out and "sandbox-worker" in out
    code, out, _ = kubectl(capsys, "get", "pods", "-A")
    assert out.splitlines()[0].startswith("NAMESPACE") and f"{NS}   redis-0" in out


def test_describe_pod_shows_oomkilled_last_state(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "describe", "pod", sbx.agent_oom, "-n", NS)
    assert code == 0
    assert "Last State:       Terminated" in out
    assert "Reason:         OOMKilled" in out and "Exit Code:      137" in out
    assert "Restart Count:    3" in out and "memory:  256Mi" in out
    assert "Status:           Running" in out  # a crash-looping pod stays in phase Running


def test_describe_node_and_deployment(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "describe", "node", "sandbox-worker")
    assert code == 0 and "Unschedulable:      false" in out and "redis-0" in out
    code, out, _ = kubectl(capsys, "describe", "deployment", "agent-deployment", "-n", NS)
    assert code == 0 and "2 desired" in out and "ghcr.io/drillbook/production-agent:1.0.0" in out


def test_get_events_reports_oom_and_backoff(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "get", "events", "-n", NS, "--sort-by=.lastTimestamp")
    assert code == 0 and out.split()[:5] == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT"]
    assert "OOMKilled" in out and "BackOff" in out and f"pod/{sbx.agent_oom}" in out


def test_jsonpath_first_pod_name_with_selector(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "get", "pods", "-n", NS, "-l", "app=production-agent", "-o",
                           "jsonpath={.items[0].metadata.name}")
    assert (code, out) == (0, sbx.agent_ok)


def test_jsonpath_evaluator_forms() -> None:
    data = {"items": [{"metadata": {"name": "a", "annotations": {"kubectl.kubernetes.io/restartedAt": "t"}},
                       "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                      {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}]}
    assert jsonpath('{range .items[*]}{.metadata.name}{"\\n"}{end}', data) == "a\nb\n"
    assert jsonpath("{.items[*].metadata.name}", data) == "a b"
    assert jsonpath(r"{.items[0].metadata.annotations.kubectl\.kubernetes\.io/restartedAt}", data) == "t"
    assert jsonpath('{.items[?(@.metadata.name=="b")].status.conditions[?(@.type=="Ready")].status}', data) == \
        "False"
    assert jsonpath("{.items[-1].metadata}", data) == '{"name":"b"}'
    assert jsonpath("{.missing.key}", data) == ""
    with pytest.raises(JsonPathError, match="array index out of bounds: index 5, length 2"):
        jsonpath("{.items[5].metadata.name}", data)


def test_get_yaml_json_and_not_found(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "get", "configmap", "agent-config", "-n", NS, "-o", "yaml")
    assert code == 0 and "kind: ConfigMap" in out and 'API_TIMEOUT: "30"' in out
    code, out, err = kubectl(capsys, "get", "deployments", "nope", "-n", NS)
    assert code == 1 and err.strip() == 'Error from server (NotFound): deployments.apps "nope" not found'
    code, out, err = kubectl(capsys, "get", "pods", "-n", "empty")
    assert (code, out, err.strip()) == (0, "", "No resources found in empty namespace.")


def test_get_every_kind_the_runbooks_name(sbx: Sandbox, capsys: Any) -> None:
    for kind in ("deployments", "statefulsets", "replicasets", "nodes", "secret", "service", "networkpolicy",
                 "pdb", "pvc", "namespaces"):
        code, _, err = kubectl(capsys, "get", kind, "-n", NS)
        assert code == 0, (kind, err)
    code, out, _ = kubectl(capsys, "get", "pvc", "-n", NS)
    assert "redis-data-redis-0" in out and "Bound" in out
    code, out, _ = kubectl(capsys, "get", "pdb", "agent-pdb", "-n", NS, "-o", "jsonpath={.status.disruptionsAllowed}")
    assert out == "0"  # one of the two agent pods is ready, minAvailable 1


def test_logs_tail_previous_and_selector(sbx: Sandbox, capsys: Any) -> None:
    log_dir = sbx.root / "logs" / NS / "redis-0"
    log_dir.mkdir(parents=True)
    (log_dir / "redis.log").write_text("".join(f"line {i}\n" for i in range(30)))
    code, out, _ = kubectl(capsys, "logs", "redis-0", "-n", NS, "--tail=2")
    assert (code, out) == (0, "line 28\nline 29\n")
    code, _, err = kubectl(capsys, "logs", "redis-0", "-n", NS, "--previous")
    assert code == 1 and 'previous terminated container "redis" in pod "redis-0" not found' in err
    code, out, _ = kubectl(capsys, "logs", "-l", "app=redis", "-n", NS, "--since=10m")
    assert code == 0 and len(out.splitlines()) == 10  # kubectl's default tail with a selector


def test_top_pods_reports_memory(sbx: Sandbox, capsys: Any) -> None:
    sbx.pods[2]["containerStatuses"][0].update(pid=os.getpid(), memoryUsageBytes=64 * 1024 * 1024)
    sbx.write_status()
    code, out, _ = kubectl(capsys, "top", "pods", "-n", NS)
    assert code == 0 and out.split()[:3] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert "redis-0" in out and "64Mi" in out


# -- what the sandbox does not do -----------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "what"), [
    (["port-forward", "-n", "monitoring", "svc/prometheus", "9090"], '"port-forward svc"'),
    (["edit", "pvc", "redis-data-redis-0", "-n", NS], '"edit pvc"'),
    (["get", "ingress", "-n", NS], '"get ingress"'),
    (["rollout", "undo", "statefulset/redis", "-n", NS], '"rollout undo statefulset"'),
])
def test_unsupported_verbs_fail_naming_the_verb(sbx: Sandbox, capsys: Any, argv: list[str], what: str) -> None:
    code, out, err = kubectl(capsys, *argv)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: drillbook sandbox kubectl does not support {what} (supported: get,")


def test_version_and_auth(sbx: Sandbox, capsys: Any) -> None:
    assert kubectl(capsys, "version", "--client")[1].startswith("Client Version: v1.32")
    assert kubectl(capsys, "auth", "can-i", "delete", "pods")[1] == "yes\n"


# -- a real sandbox ----------------------------------------------------------------------------------
@pytest.fixture
def live(tmp_path: Path) -> Any:
    root = tmp_path / "sandbox"
    try:
        sandbox.up(root, octet=44, name="kubectl-test")
        sandbox.wait_ready(root)
        yield root
    finally:
        sandbox.down(root)


@pytest.mark.slow
# sandbox.up drops its Popen and the controller.log handle while the daemon runs (ResourceWarning).
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_live_exec_redis_promtool_and_rollout_restart(live: Path) -> None:
    env = {**os.environ, "DRILLBOOK_SANDBOX": str(live)}

    def kubectl_live(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "drills.targets.local.kubectl", *args], capture_output=True,
                              text=True, env=env, timeout=120, check=False)

    ping = kubectl_live("exec", "redis-0", "-n", NS, "--", "redis-cli", "PING")
    assert (ping.returncode, ping.stdout.strip()) == (0, "PONG"), ping.stderr
    policy = kubectl_live("exec", "-it", "redis-0", "-n", NS, "--", "redis-cli", "-h", "localhost", "CONFIG", "SET",
                          "maxmemory-policy", "allkeys-lru")
    assert (policy.returncode, policy.stdout.strip()) == (0, "OK"), policy.stderr
    # The runbook's form: inside prometheus-0, localhost:9090 is the pod's Prometheus (served on PROMETHEUS_PORT).
    query = kubectl_live("exec", "-n", "monitoring", "prometheus-0", "--", "promtool", "query", "instant",
                         "http://localhost:9090", "vector(1)")
    assert query.returncode == 0 and "=> 1 @" in query.stdout, query.stdout + query.stderr
    restart = kubectl_live("rollout", "restart", "deployment/agent-deployment", "-n", NS)
    assert restart.returncode == 0 and "restarted" in restart.stdout
    status = kubectl_live("rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=60s")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.strip().endswith('deployment "agent-deployment" successfully rolled out')
