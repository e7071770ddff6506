"""The sandbox kubectl: every verb the runbooks use, against an object store and a synthetic status.json.

No processes run here except the one ``slow`` test, which brings a real sandbox up.
"""

from __future__ import annotations

import base64
import io
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
from drills.targets.local.kubectl_format import jsonpath, JsonPathError
from drills.targets.local.kubectl_verbs import exec_argv
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


# -- patch / set / scale -----------------------------------------------------------------------------
def test_patch_deployment_memory_keeps_the_containers_other_fields(sbx: Sandbox, capsys: Any) -> None:
    before = sbx.deployment()
    code, out, _ = kubectl(capsys, "patch", "deployment", "agent-deployment", "-n", NS, "--patch",
                           '{"spec":{"template":{"spec":{"containers":[{"name":"agent","resources":'
                           '{"limits":{"memory":"4Gi"}}}]}}}}')
    after = sbx.deployment()
    container = after["spec"]["template"]["spec"]["containers"][0]
    assert (code, out) == (0, "deployment.apps/agent-deployment patched\n")
    assert container["resources"] == {"limits": {"memory": "4Gi"}, "requests": {"memory": "128Mi", "cpu": "100m"}}
    old = before["spec"]["template"]["spec"]["containers"][0]
    assert {k: v for k, v in container.items() if k != "resources"} == {k: v for k, v in old.items()
                                                                        if k != "resources"}
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1


def test_patch_configmap_merge_json_and_no_change(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "patch", "configmap", "agent-config", "-n", NS, "--patch",
                           '{"data":{"ENABLE_RATE_LIMITING":"true","RATE_LIMIT_PER_MINUTE":"100"}}')
    data = sbx.store.require("ConfigMap", NS, "agent-config")["data"]
    assert out == "configmap/agent-config patched\n" and data["RATE_LIMIT_PER_MINUTE"] == "100"
    assert data["DEFAULT_MODEL"] == "claude-3-5-sonnet-20241022"
    code, out, _ = kubectl(capsys, "patch", "deployment/agent-deployment", "-n", NS, "--type", "json", "-p",
                           '[{"op":"replace","path":"/spec/replicas","value":3},'
                           '{"op":"add","path":"/metadata/labels/tier","value":"web"}]')
    assert code == 0 and sbx.deployment()["spec"]["replicas"] == 3
    assert sbx.deployment()["metadata"]["labels"]["tier"] == "web"
    code, out, _ = kubectl(capsys, "patch", "deployment/agent-deployment", "-n", NS, "--type=merge", "-p",
                           '{"spec":{"replicas":3}}')
    assert out == "deployment.apps/agent-deployment patched (no change)\n"


def test_set_image_resources_env(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "set", "image", "deployment/agent-deployment",
                           "agent=ghcr.io/your-org/agent:working-tag", "-n", NS)
    assert (code, out) == (0, "deployment.apps/agent-deployment image updated\n")
    code, _, err = kubectl(capsys, "set", "image", "deployment/agent-deployment", "nope=x", "-n", NS)
    assert code == 1 and 'unable to find container named "nope"' in err
    kubectl(capsys, "set", "resources", "deployment/agent-deployment", "-c", "agent", "--limits=memory=1Gi,cpu=2",
            "-n", NS)
    kubectl(capsys, "set", "env", "deployment/agent-deployment", "ENABLE_FAST_FAIL=true", "-n", NS)
    container = sbx.deployment()["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/your-org/agent:working-tag"
    assert container["resources"]["limits"] == {"memory": "1Gi", "cpu": "2"}
    assert {"name": "ENABLE_FAST_FAIL", "value": "true"} in container["env"]
    assert any(e["name"] == "ANTHROPIC_API_KEY" for e in container["env"])


def test_scale_deployment_and_statefulset(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "scale", "deployment", "agent-deployment", "--replicas=10", "-n", NS)
    assert (code, out) == (0, "deployment.apps/agent-deployment scaled\n")
    assert sbx.deployment()["spec"]["replicas"] == 10
    kubectl(capsys, "scale", "statefulset/redis", "--replicas", "2", "-n", NS)
    assert sbx.store.require("StatefulSet", NS, "redis")["spec"]["replicas"] == 2


# -- rollout -----------------------------------------------------------------------------------------
def _replicaset(sbx: Sandbox, revision: int, image: str) -> Obj:
    template = sbx.deployment()["spec"]["template"]
    template["spec"]["containers"][0]["image"] = image
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": f"agent-deployment-{template_hash(template)}", "namespace": NS,
                       "ownerName": "agent-deployment",
                       "annotations": {"deployment.kubernetes.io/revision": str(revision),
                                       "kubernetes.io/change-cause": f"image {image}" if revision == 2 else ""}},
          "spec": {"template": template}}
    sbx.store.apply(rs)
    return rs


def test_rollout_restart_sets_the_template_annotation(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "rollout", "restart", "deployment/agent-deployment", "-n", NS)
    annotations = sbx.deployment()["spec"]["template"]["metadata"]["annotations"]
    assert (code, out) == (0, "deployment.apps/agent-deployment restarted\n")
    assert annotations["kubectl.kubernetes.io/restartedAt"].startswith(time.strftime("%Y-"))
    assert annotations["prometheus.io/scrape"] == "true"


def test_rollout_undo_restores_the_previous_replicaset_template(sbx: Sandbox, capsys: Any) -> None:
    code, _, err = kubectl(capsys, "rollout", "undo", "deployment/agent-deployment", "-n", NS)
    assert code == 1 and err.strip() == 'error: no rollout history found for deployment "agent-deployment"'
    good = _replicaset(sbx, 1, "ghcr.io/drillbook/production-agent:1.0.0")
    _replicaset(sbx, 2, "ghcr.io/your-org/agent:missing")
    kubectl(capsys, "set", "image", "deployment/agent-deployment", "agent=ghcr.io/your-org/agent:missing", "-n", NS)
    code, out, _ = kubectl(capsys, "rollout", "undo", "deployment/agent-deployment", "-n", NS)
    assert (code, out) == (0, "deployment.apps/agent-deployment rolled back\n")
    assert sbx.deployment()["spec"]["template"] == good["spec"]["template"]
    code, out, _ = kubectl(capsys, "rollout", "undo", "deployment/agent-deployment", "--to-revision=1", "-n", NS)
    assert "skipped rollback (current template already matches revision 1)" in out
    code, _, err = kubectl(capsys, "rollout", "undo", "deployment/agent-deployment", "--to-revision=7", "-n", NS)
    assert code == 1 and "unable to find specified revision 7" in err


def test_rollout_history_table(sbx: Sandbox, capsys: Any) -> None:
    _replicaset(sbx, 1, "ghcr.io/drillbook/production-agent:1.0.0")
    _replicaset(sbx, 2, "ghcr.io/drillbook/production-agent:1.1.0")
    code, out, _ = kubectl(capsys, "rollout", "history", "deployment/agent-deployment", "-n", NS)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "deployment.apps/agent-deployment "
    assert lines[1].split() == ["REVISION", "CHANGE-CAUSE"]
    assert lines[2].split() == ["1", "<none>"] and lines[3].split() == ["2", "image", "ghcr.io/drillbook/production-"
                                                                        "agent:1.1.0"]


def test_rollout_status_succeeds_when_ready_and_times_out_when_not(sbx: Sandbox, capsys: Any) -> None:
    code, out, err = kubectl(capsys, "rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=1s")
    assert code == 1 and "1 of 2 updated replicas are available" in out
    assert err.strip() == "error: timed out waiting for the condition"
    sbx.write_status(readyReplicas=2, availableReplicas=2, updatedReadyReplicas=2)
    code, out, _ = kubectl(capsys, "rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=5s")
    assert (code, out) == (0, 'deployment "agent-deployment" successfully rolled out\n')
    kubectl(capsys, "rollout", "restart", "deployment/agent-deployment", "-n", NS)  # status.json not caught up
    code, out, _ = kubectl(capsys, "rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=1s")
    assert code == 1 and "Waiting for deployment spec update to be observed..." in out


# -- create / apply / delete -------------------------------------------------------------------------
def test_create_secret_dry_run_piped_into_apply(sbx: Sandbox, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, manifest, _ = kubectl(capsys, "create", "secret", "generic", "agent-secrets", "-n", NS,
                                "--from-literal=anthropic-api-key=NEW_KEY", "--dry-run=client", "-o", "yaml")
    assert code == 0 and "anthropic-api-key: TkVXX0tFWQ==" in manifest and "creationTimestamp: null" in manifest
    monkeypatch.setattr(sys, "stdin", io.StringIO(manifest))
    code, out, _ = kubectl(capsys, "apply", "-f", "-", "-n", NS)
    secret = sbx.store.require("Secret", NS, "agent-secrets")
    assert (code, out) == (0, "secret/agent-secrets configured\n")
    assert base64.b64decode(secret["data"]["anthropic-api-key"]) == b"NEW_KEY"
    assert secret["metadata"]["creationTimestamp"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(manifest))
    assert kubectl(capsys, "apply", "-f", "-")[1] == "secret/agent-secrets unchanged\n"


def test_the_runbooks_secret_pipeline_lands_in_default_namespace(sbx: Sandbox) -> None:
    """Runbook 1, cause 4 omits -n on both sides of the pipe: on a cluster (and here) the new key goes to a
    Secret in "default", and the agents keep reading the old one."""
    kubectl_cmd = f"{sys.executable} -m drills.targets.local.kubectl"
    done = subprocess.run(f"{kubectl_cmd} create secret generic agent-secrets --from-literal=anthropic-api-key=NEW "
                          f"--dry-run=client -o yaml | {kubectl_cmd} apply -f -", shell=True, capture_output=True,
                          text=True, env={**os.environ, "DRILLBOOK_SANDBOX": str(sbx.root)}, check=False)
    assert (done.returncode, done.stdout) == (0, "secret/agent-secrets created\n"), done.stderr
    assert sbx.store.get("Secret", "default", "agent-secrets") is not None
    assert base64.b64decode(sbx.store.require("Secret", NS, "agent-secrets")["data"]["anthropic-api-key"]) == \
        b"sk-ant-drill-0000-valid"


def test_create_configmap_and_namespace(sbx: Sandbox, capsys: Any) -> None:
    assert kubectl(capsys, "create", "configmap", "extra", "--from-literal=a=b", "-n", NS)[1] == \
        "configmap/extra created\n"
    assert sbx.store.require("ConfigMap", NS, "extra")["data"] == {"a": "b"}
    code, _, err = kubectl(capsys, "create", "configmap", "extra", "--from-literal=a=b", "-n", NS)
    assert code == 1 and "already exists" in err
    assert kubectl(capsys, "create", "namespace", "scratch")[1] == "namespace/scratch created\n"


def test_delete_pod_writes_a_pod_deletion(sbx: Sandbox, capsys: Any) -> None:
    code, out, _ = kubectl(capsys, "delete", "pod", "redis-0", "-n", NS)
    assert (code, out) == (0, 'pod "redis-0" deleted\n')
    assert sbx.deletions() == ["redis-0"]
    code, _, err = kubectl(capsys, "delete", "pod", "redis-9", "-n", NS)
    assert code == 1 and err.strip() == 'Error from server (NotFound): pods "redis-9" not found'
    assert kubectl(capsys, "delete", "pod", "redis-9", "-n", NS, "--ignore-not-found")[0] == 0


def test_delete_networkpolicy(sbx: Sandbox, capsys: Any) -> None:
    policy = sbx.root / "policy.yaml"
    policy.write_text(f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: "
                      f"redis-network-policy\n  namespace: {NS}\nspec:\n  podSelector:\n    matchLabels:\n"
                      "      app: redis\n  policyTypes: [Ingress]\n")
    assert kubectl(capsys, "apply", "-f", str(policy))[1] == \
        "networkpolicy.networking.k8s.io/redis-network-policy created\n"
    assert "redis-network-policy   app=redis" in kubectl(capsys, "get", "networkpolicy", "-n", NS)[1]
    code, out, _ = kubectl(capsys, "delete", "networkpolicy", "redis-network-policy", "-n", NS)
    assert (code, out) == (0, 'networkpolicy.networking.k8s.io "redis-network-policy" deleted\n')
    assert sbx.store.get("NetworkPolicy", NS, "redis-network-policy") is None
    code, _, err = kubectl(capsys, "delete", "networkpolicy", "redis-network-policy", "-n", NS)
    assert code == 1 and "networkpolicies.networking.k8s.io" in err


# -- nodes -------------------------------------------------------------------------------------------
def test_cordon_and_uncordon(sbx: Sandbox, capsys: Any) -> None:
    assert kubectl(capsys, "cordon", "sandbox-worker")[1] == "node/sandbox-worker cordoned\n"
    assert sbx.store.require("Node", None, "sandbox-worker")["spec"]["unschedulable"] is True
    assert "Ready,SchedulingDisabled" in kubectl(capsys, "get", "nodes")[1]
    assert kubectl(capsys, "cordon", "sandbox-worker")[1] == "node/sandbox-worker already cordoned\n"
    assert kubectl(capsys, "uncordon", "sandbox-worker")[1] == "node/sandbox-worker uncordoned\n"
    assert "unschedulable" not in sbx.store.require("Node", None, "sandbox-worker")["spec"]


def test_drain_refused_by_the_pdb_times_out(sbx: Sandbox, capsys: Any) -> None:
    """sandbox-worker holds the only Ready agent pod; agent-pdb (minAvailable 1) refuses its eviction."""
    code, out, err = kubectl(capsys, "drain", "sandbox-worker", "--ignore-daemonsets", "--delete-emptydir-data",
                             "--timeout=2s")
    assert code == 1
    assert f'error when evicting pods/"{sbx.agent_ok}" -n "{NS}" (will retry after 5s): Cannot evict pod as it ' \
           "would violate the pod's disruption budget." in err
    assert "global timeout reached: 2s" in err and 'unable to drain node "sandbox-worker"' in err
    assert "node/sandbox-worker cordoned" in out and "pod/redis-0 evicted" in out
    assert sbx.deletions() == ["redis-0"]


def test_drain_allowed_by_the_pdb_evicts(sbx: Sandbox, capsys: Any) -> None:
    sbx.pods[1].update(ready=True, phase="Running")
    sbx.pods[1]["containerStatuses"][0].update(ready=True, state={"running": {"startedAt": "2025-01-01T00:00:00Z"}})
    sbx.write_status()
    code, out, err = kubectl(capsys, "drain", "sandbox-worker", "--ignore-daemonsets", "--delete-emptydir-data",
                             "--timeout=5m")
    assert (code, err) == (0, "")
    assert f"evicting pod {NS}/{sbx.agent_ok}" in out and f"pod/{sbx.agent_ok} evicted" in out
    assert out.endswith("node/sandbox-worker drained\n")
    assert sbx.deletions() == sorted([sbx.agent_ok, "redis-0"])


# -- exec --------------------------------------------------------------------------------------------
def test_exec_argv_rewrites_reach_the_pod() -> None:
    services = {"redis-service": "127.44.0.10", "prometheus.monitoring": "127.44.0.11"}
    mounts = {"/data": "/sbx/volumes/redis-data-redis-0"}
    assert exec_argv(["redis-cli", "PING"], "127.44.0.10", services, mounts) == \
        ["redis-cli", "-h", "127.44.0.10", "-p", "6379", "PING"]
    assert exec_argv(["redis-cli", "-p", "6380", "INFO", "memory"], "127.44.0.10", services, mounts) == \
        ["redis-cli", "-h", "127.44.0.10", "-p", "6380", "INFO", "memory"]
    assert exec_argv(["redis-cli", "-h", "redis-service", "PING"], "127.44.2.10", services, mounts) == \
        ["redis-cli", "-h", "127.44.0.10", "PING"]
    assert exec_argv(["ls", "-lh", "/data/"], "ip", services, mounts) == ["ls", "-lh", "/sbx/volumes/redis-data-redis-0/"]
    assert exec_argv(["nc", "-zv", "redis-service", "6379"], "ip", services, {}) == ["nc", "-zv", "127.44.0.10", "6379"]
    assert exec_argv(["curl", "http://prometheus.monitoring:9090/-/ready"], "ip", services, {}) == \
        ["curl", "http://127.44.0.11:9090/-/ready"]
    assert exec_argv(["promtool", "query", "instant", "up"], "127.44.0.11", services, {}) == \
        ["promtool", "query", "instant", "http://127.44.0.11:9090", "up"]
    explicit = ["promtool", "query", "instant", "http://x:9090", "up"]
    assert exec_argv(explicit, "127.44.0.11", services, {}) == explicit


def test_exec_runs_in_the_pod_dir_and_refuses_a_container_that_is_not_running(sbx: Sandbox, capsys: Any) -> None:
    code, _, err = kubectl(capsys, "exec", "redis-0", "-n", NS, "--", sys.executable, "-c",
                           "import os; print(os.getcwd(), os.environ['POD_IP']); raise SystemExit(3)")
    assert code == 3 and err == "command terminated with exit code 3\n"
    code, _, err = kubectl(capsys, "exec", "-it", sbx.agent_oom, "-n", NS, "--", "nc", "-zv", "redis-service", "6379")
    assert code == 1 and err.strip() == 'error: unable to upgrade connection: container not found ("agent")'


def test_exec_output_and_exit_code_through_the_module(sbx: Sandbox) -> None:
    done = subprocess.run([sys.executable, "-m", "drills.targets.local.kubectl", "exec", "redis-0", "-n", NS, "--",
                           "sh", "-c", 'echo "$POD_NAME $PWD"; exit 4'], capture_output=True, text=True,
                          env={**os.environ, "DRILLBOOK_SANDBOX": str(sbx.root)}, check=False)
    assert done.returncode == 4
    assert done.stdout == f"redis-0 {sbx.root / 'pods' / NS / 'redis-0'}\n"
    assert "command terminated with exit code 4" in done.stderr


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
def test_live_exec_redis_ping_and_rollout_restart(live: Path) -> None:
    env = {**os.environ, "DRILLBOOK_SANDBOX": str(live)}

    def kubectl_live(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "drills.targets.local.kubectl", *args], capture_output=True,
                              text=True, env=env, timeout=120, check=False)

    ping = kubectl_live("exec", "redis-0", "-n", NS, "--", "redis-cli", "PING")
    assert (ping.returncode, ping.stdout.strip()) == (0, "PONG"), ping.stderr
    restart = kubectl_live("rollout", "restart", "deployment/agent-deployment", "-n", NS)
    assert restart.returncode == 0 and "restarted" in restart.stdout
    status = kubectl_live("rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=60s")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.strip().endswith('deployment "agent-deployment" successfully rolled out')
