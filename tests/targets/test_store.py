"""The sandbox's API server: apply/patch/get/list/delete, generation, snapshot/restore, the file lock."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from drills.errors import TargetError
from drills.targets.local.store import ObjectStore, canonical_kind, key_of

NS = "production-agents"


def agent_deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "agent-deployment", "namespace": NS, "labels": {"app": "production-agent"}},
            "spec": {"replicas": 2, "template": {
                "metadata": {"labels": {"app": "production-agent"}}, "spec": {
                "containers": [{"name": "agent", "image": "ghcr.io/drillbook/production-agent:1.0.0",
                                "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                "resources": {"limits": {"memory": "256Mi"}}}]}}}}


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "sandbox")


def test_apply_get_and_generation_one(store: ObjectStore) -> None:
    out = store.apply(agent_deployment())
    assert out["metadata"]["generation"] == 1
    got = store.get("Deployment", NS, "agent-deployment")
    assert got is not None
    assert got["spec"] == agent_deployment()["spec"]
    assert got["metadata"]["generation"] == 1 and got["metadata"]["resourceVersion"]
    assert got["metadata"]["creationTimestamp"].endswith("Z")
    assert (store.root / "objects.json").exists()


def test_apply_defaults_namespace_but_not_for_cluster_scoped(store: ObjectStore) -> None:
    store.apply({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}})
    store.apply({"kind": "Node", "metadata": {"name": "sandbox-worker"}, "spec": {}})
    assert store.get("ConfigMap", "default", "c")["metadata"]["namespace"] == "default"
    assert store.get("ConfigMap", None, "c") is not None
    node = store.get("Node", "whatever", "sandbox-worker")
    assert node is not None and "namespace" not in node["metadata"]


def test_reapply_same_spec_keeps_generation_changed_spec_bumps(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    assert store.apply(agent_deployment())["metadata"]["generation"] == 1
    changed = agent_deployment()
    changed["spec"]["replicas"] = 3
    assert store.apply(changed)["metadata"]["generation"] == 2


def test_patch_resources_bumps_generation_and_keeps_other_fields(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    created = store.get("Deployment", NS, "agent-deployment")["metadata"]["creationTimestamp"]
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "resources": {"limits": {"memory": "512Mi"}}}]}}}}
    out = store.patch("Deployment", NS, "agent-deployment", patch)
    assert out["metadata"]["generation"] == 2
    stored = store.get("Deployment", NS, "agent-deployment")
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "512Mi"
    assert container["image"] == "ghcr.io/drillbook/production-agent:1.0.0"
    assert container["env"] == [{"name": "LOG_LEVEL", "value": "info"}]
    assert stored["metadata"]["generation"] == 2
    assert stored["metadata"]["creationTimestamp"] == created


def test_metadata_only_patch_keeps_generation(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    before = store.get("Deployment", NS, "agent-deployment")["metadata"]["resourceVersion"]
    out = store.patch("Deployment", NS, "agent-deployment",
                      {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "2"}}})
    assert out["metadata"]["generation"] == 1
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "2"}
    assert out["metadata"]["resourceVersion"] != before


def test_merge_patch_replaces_container_list(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    out = store.patch("Deployment", NS, "agent-deployment",
                      {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "x:2"}]}}}},
                      how="merge")
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "agent", "image": "x:2"}]
    assert out["metadata"]["generation"] == 2


def test_patch_missing_object_raises(store: ObjectStore) -> None:
    with pytest.raises(TargetError, match='deployments "ghost" not found in namespace "production-agents"'):
        store.patch("Deployment", NS, "ghost", {"spec": {"replicas": 1}})


def test_require_missing_raises_kubectl_like_message(store: ObjectStore) -> None:
    with pytest.raises(TargetError) as err:
        store.require("Deployment", NS, "agent-deployment")
    assert str(err.value) == 'deployments "agent-deployment" not found in namespace "production-agents"'
    with pytest.raises(TargetError) as err:
        store.require("ConfigMap", None, "x")
    assert str(err.value) == 'configmaps "x" not found in namespace "default"'
    with pytest.raises(TargetError) as err:
        store.require("Node", None, "sandbox-worker9")
    assert str(err.value) == 'nodes "sandbox-worker9" not found'


def test_require_plural_of_network_policy(store: ObjectStore) -> None:
    with pytest.raises(TargetError, match='networkpolicies "deny-all" not found'):
        store.require("NetworkPolicy", NS, "deny-all")


def test_list_filters_kind_and_namespace_and_returns_copies(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    store.apply({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": NS}, "data": {"k": "v"}})
    store.apply({"kind": "ConfigMap", "metadata": {"name": "b", "namespace": "monitoring"}, "data": {}})
    assert sorted(o["metadata"]["name"] for o in store.list("ConfigMap")) == ["a", "b"]
    assert [o["metadata"]["name"] for o in store.list("ConfigMap", NS)] == ["a"]
    assert store.list("Secret") == []
    store.list("ConfigMap", NS)[0]["data"]["k"] = "changed"
    store.get("ConfigMap", NS, "a")["data"]["k"] = "changed"
    assert store.get("ConfigMap", NS, "a")["data"] == {"k": "v"}


def test_delete(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    assert store.delete("Deployment", NS, "agent-deployment") is True
    assert store.delete("Deployment", NS, "agent-deployment") is False
    assert store.get("Deployment", NS, "agent-deployment") is None


def test_snapshot_restore_round_trip(store: ObjectStore) -> None:
    store.apply(agent_deployment())
    store.apply({"kind": "ConfigMap", "metadata": {"name": "agent-config", "namespace": NS},
                 "data": {"LOG_LEVEL": "info"}})
    snap = store.snapshot()
    assert set(snap) == {f"Deployment/{NS}/agent-deployment", f"ConfigMap/{NS}/agent-config"}

    store.patch("Deployment", NS, "agent-deployment", {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "resources": {"limits": {"memory": "64Mi"}}}]}}}})
    store.patch("ConfigMap", NS, "agent-config", {"data": {"LOG_LEVEL": "debug"}})
    store.apply({"kind": "ConfigMap", "metadata": {"name": "extra", "namespace": NS}, "data": {}})
    snap["Deployment/production-agents/agent-deployment"]["spec"]["replicas"] = 2  # snapshot is a copy

    store.restore(snap)
    now = store.snapshot()
    assert set(now) == set(snap)
    for key in snap:
        assert now[key]["spec" if "spec" in snap[key] else "data"] == snap[key]["spec" if "spec" in snap[key]
                                                                                 else "data"]
    assert now[f"Deployment/{NS}/agent-deployment"]["spec"]["template"]["spec"]["containers"][0][
        "resources"]["limits"]["memory"] == "256Mi"
    assert store.get("ConfigMap", NS, "agent-config")["data"] == {"LOG_LEVEL": "info"}
    assert store.get("ConfigMap", NS, "extra") is None
    assert now[f"ConfigMap/{NS}/agent-config"]["metadata"]["resourceVersion"] != \
        snap[f"ConfigMap/{NS}/agent-config"]["metadata"]["resourceVersion"]


def test_transaction_exception_does_not_write(store: ObjectStore) -> None:
    store.apply({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}, "data": {"n": "0"}})
    with pytest.raises(RuntimeError):
        with store.transaction() as objects:
            objects[key_of("ConfigMap", NS, "c")]["data"]["n"] = "99"
            raise RuntimeError("abort")
    assert store.get("ConfigMap", NS, "c")["data"] == {"n": "0"}


def test_canonical_kind_and_key_of() -> None:
    assert canonical_kind("deploy") == "Deployment"
    assert canonical_kind("deployments.apps") == "Deployment"
    assert canonical_kind("STS") == "StatefulSet"
    assert canonical_kind("cm") == "ConfigMap"
    assert canonical_kind("pvc") == "PersistentVolumeClaim"
    assert canonical_kind("netpol") == "NetworkPolicy"
    assert canonical_kind("Widget") == "Widget"
    assert key_of("Node", "x", "n1") == "Node//n1"
    assert key_of("Pod", None, "p") == "Pod/default/p"


def _increment(root: str, times: int) -> None:
    store = ObjectStore(Path(root))
    for _ in range(times):
        with store.transaction() as objects:
            cm = objects[key_of("ConfigMap", NS, "counter")]
            cm["data"]["n"] = str(int(cm["data"]["n"]) + 1)


def test_transaction_lock_serialises_processes(store: ObjectStore) -> None:
    store.apply({"kind": "ConfigMap", "metadata": {"name": "counter", "namespace": NS}, "data": {"n": "0"}})
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_increment, args=(str(store.root), 50)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    assert store.get("ConfigMap", NS, "counter")["data"]["n"] == "100"
