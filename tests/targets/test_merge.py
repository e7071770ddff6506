"""Strategic merge patch (kubectl patch's default) and RFC 7386 merge patch."""

from __future__ import annotations

import copy

from drills.targets.local.merge import merge_patch, strategic_merge


def deployment() -> dict:
    return {
        "metadata": {"name": "agent-deployment", "labels": {"app": "agent", "tier": "web"}},
        "spec": {
            "replicas": 2,
            "template": {"spec": {
                "containers": [
                    {"name": "agent", "image": "agent:1.0.0", "args": ["--port", "8080"],
                     "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu"}],
                     "resources": {"requests": {"memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                     "volumeMounts": [{"name": "cfg", "mountPath": "/etc/agent"}]},
                    {"name": "sidecar", "image": "sidecar:2"},
                ],
                "volumes": [{"name": "cfg", "configMap": {"name": "agent-config"}},
                            {"name": "tmp", "emptyDir": {}}],
            }},
        },
    }


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_container_patched_by_name_keeps_other_fields() -> None:
    original = deployment()
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "resources": {"limits": {"memory": "512Mi"}}}]}}}}
    out = strategic_merge(original, patch)
    agent, sidecar = containers(out)
    assert agent["resources"] == {"requests": {"memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    assert agent["image"] == "agent:1.0.0"
    assert agent["env"] == [{"name": "LOG_LEVEL", "value": "info"}, {"name": "REGION", "value": "eu"}]
    assert agent["args"] == ["--port", "8080"]
    assert sidecar == {"name": "sidecar", "image": "sidecar:2"}
    assert out["spec"]["replicas"] == 2
    assert original == deployment()  # inputs untouched


def test_patch_argument_not_modified() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "n:1"}]}}}}
    before = copy.deepcopy(patch)
    out = strategic_merge(deployment(), patch)
    containers(out)[-1]["image"] = "mutated"
    assert patch == before


def test_env_merges_by_name_and_new_entries_are_appended() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "env": [
        {"name": "LOG_LEVEL", "value": "debug"}, {"name": "NEW_VAR", "value": "1"}]}]}}}}
    env = containers(strategic_merge(deployment(), patch))[0]["env"]
    assert env == [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "REGION", "value": "eu"},
                   {"name": "NEW_VAR", "value": "1"}]


def test_new_container_appended() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "debug", "image": "busybox"}]}}}}
    names = [c["name"] for c in containers(strategic_merge(deployment(), patch))]
    assert names == ["agent", "sidecar", "debug"]


def test_null_deletes_a_key() -> None:
    patch = {"metadata": {"labels": {"tier": None}},
             "spec": {"template": {"spec": {"containers": [
                 {"name": "agent", "resources": {"limits": None}}]}}}}
    out = strategic_merge(deployment(), patch)
    assert out["metadata"]["labels"] == {"app": "agent"}
    assert containers(out)[0]["resources"] == {"requests": {"memory": "128Mi"}}


def test_null_for_missing_key_is_a_no_op() -> None:
    out = strategic_merge(deployment(), {"metadata": {"annotations": None}})
    assert "annotations" not in out["metadata"]


def test_patch_delete_directive_removes_named_items() -> None:
    patch = {"spec": {"template": {"spec": {
        "containers": [{"name": "sidecar", "$patch": "delete"},
                       {"name": "agent", "env": [{"name": "REGION", "$patch": "delete"}]}],
        "volumes": [{"name": "tmp", "$patch": "delete"}, {"name": "ghost", "$patch": "delete"}]}}}}
    out = strategic_merge(deployment(), patch)
    assert [c["name"] for c in containers(out)] == ["agent"]
    assert containers(out)[0]["env"] == [{"name": "LOG_LEVEL", "value": "info"}]
    volumes = out["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "cfg", "configMap": {"name": "agent-config"}}]


def test_volume_mounts_merge_by_mount_path() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "volumeMounts": [
        {"mountPath": "/etc/agent", "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}]}]}}}}
    mounts = containers(strategic_merge(deployment(), patch))[0]["volumeMounts"]
    assert mounts == [{"name": "cfg", "mountPath": "/etc/agent", "readOnly": True},
                      {"name": "tmp", "mountPath": "/tmp"}]


def test_non_named_lists_are_replaced() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "agent", "args": ["--port", "9090"]}]}}}}
    assert containers(strategic_merge(deployment(), patch))[0]["args"] == ["--port", "9090"]


def test_scalar_replaced_and_type_change() -> None:
    out = strategic_merge(deployment(), {"spec": {"replicas": 0, "paused": True}})
    assert out["spec"]["replicas"] == 0 and out["spec"]["paused"] is True


def test_merge_patch_replaces_lists_whole() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "agent", "resources": {"limits": {"memory": "512Mi"}}}]}}}}
    out = merge_patch(deployment(), patch)
    assert containers(out) == [{"name": "agent", "resources": {"limits": {"memory": "512Mi"}}}]
    assert out["spec"]["replicas"] == 2
    assert out["metadata"]["labels"] == {"app": "agent", "tier": "web"}


def test_merge_patch_null_deletes_and_nested_nulls_in_new_objects_dropped() -> None:
    out = merge_patch({"a": 1, "b": {"c": 2, "d": 3}},
                      {"a": None, "b": {"c": None}, "e": {"f": None, "g": 1}})
    assert out == {"b": {"d": 3}, "e": {"g": 1}}


def test_merge_patch_non_object_patch_replaces() -> None:
    assert merge_patch({"a": 1}, ["x"]) == ["x"]
    assert merge_patch({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}
