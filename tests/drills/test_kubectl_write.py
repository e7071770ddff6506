"""The sandbox kubectl's writing verbs: patch / set / scale, rollout, create / apply / delete, cordon / drain.

They run against the synthetic sandbox of :mod:`tests.drills.test_kubectl_shim`; no processes run here.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from typing import Any

import pytest

from drills.targets.local.workloads import template_hash
from tests.drills.test_kubectl_shim import NS, Obj, Sandbox, kubectl, sbx  # noqa: F401  (sbx: the fixture)


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
