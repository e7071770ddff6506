"""The four patch types, including the exact bodies kubectl 1.37 sends for the runbooks' verbs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from drills.targets.local.apiserver.patches import (
    APPLY_PATCH,
    INVALID_MESSAGE,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    apply_patch,
)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "agent-deployment",
            "namespace": "default",
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "agent"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "image": "agent:v1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "resources": {"limits": {"memory": "2Gi", "cpu": "1"}},
                        },
                        {"name": "sidecar", "image": "sidecar:v1"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]  # type: ignore[no-any-return]


SEED_PATCH = (
    '{"spec":{"template":{"spec":{"containers":[{"name":"agent","resources":{"limits":{"memory":"4Gi"}}}]}}}}'
)


# --- strategic merge patch ---------------------------------------------------------------------------------


def test_seed_strategic_patch_merges_the_container_by_name_and_keeps_its_image() -> None:
    before = deployment()
    out = apply_patch(before, SEED_PATCH, STRATEGIC_MERGE_PATCH)
    agent = containers(out)[0]
    assert agent["image"] == "agent:v1"
    assert agent["resources"]["limits"] == {"memory": "4Gi", "cpu": "1"}
    assert [c["name"] for c in containers(out)] == ["agent", "sidecar"]
    assert before == deployment(), "the input object is not modified"


def test_seed_patch_as_merge_patch_replaces_the_container_list() -> None:
    out = apply_patch(deployment(), SEED_PATCH, MERGE_PATCH)
    assert containers(out) == [{"name": "agent", "resources": {"limits": {"memory": "4Gi"}}}]


def test_kubectl_set_image_body() -> None:
    # What `kubectl set image deployment/agent-deployment agent=agent:v2` sends (kubectl 1.37, -v=8).
    body = (
        '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"agent"},{"name":"sidecar"}],'
        '"containers":[{"image":"agent:v2","name":"agent"}]}}}}'
    )
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert [(c["name"], c["image"]) for c in containers(out)] == [
        ("agent", "agent:v2"),
        ("sidecar", "sidecar:v1"),
    ]
    assert containers(out)[0]["env"] == deployment()["spec"]["template"]["spec"]["containers"][0]["env"]
    assert "$setElementOrder/containers" not in out["spec"]["template"]["spec"]


def test_set_element_order_reorders_the_list() -> None:
    body = {
        "spec": {
            "template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "agent"}]}}
        }
    }
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert [c["name"] for c in containers(out)] == ["sidecar", "agent"]


def test_kubectl_rollout_restart_body() -> None:
    body = (
        '{"spec":{"template":{"metadata":{"annotations":'
        '{"kubectl.kubernetes.io/restartedAt":"2026-12-03T08:00:00Z"}}}}}'
    )
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    meta = out["spec"]["template"]["metadata"]
    assert meta == {
        "labels": {"app": "agent"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-03T08:00:00Z"},
    }
    assert containers(out) == containers(deployment())


def test_nested_merge_key_lists_and_new_elements_append() -> None:
    body = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "agent", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
                        {"name": "new", "image": "new:v1"},
                    ]
                }
            }
        }
    }
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert containers(out)[0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    # The real server's order (apimachinery mergeSortedSlice): a new element has no live position, so it
    # goes before the server-only ones that follow.
    assert [c["name"] for c in containers(out)] == ["agent", "new", "sidecar"]


def test_list_without_merge_strategy_is_replaced() -> None:
    # tolerations carry no patch strategy in the schema: a strategic patch replaces them.
    body = {"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_patch_delete_directive_in_a_list_and_null_deletes_a_key() -> None:
    body = {
        "spec": {
            "replicas": None,
            "template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}},
        }
    }
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert [c["name"] for c in containers(out)] == ["agent"]
    assert "replicas" not in out["spec"]


def test_patch_replace_directive_on_a_map_and_in_a_list() -> None:
    body = {
        "spec": {
            "selector": {"$patch": "replace", "matchLabels": {"app": "x"}},
            "template": {
                "spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "only:v1"}]}
            },
        }
    }
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["selector"] == {"matchLabels": {"app": "x"}}
    assert containers(out) == [{"name": "only", "image": "only:v1"}]


def test_patch_delete_directive_on_a_map_empties_it() -> None:
    out = apply_patch(deployment(), {"spec": {"strategy": {"$patch": "delete"}}}, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["strategy"] == {}


def test_retain_keys_clears_the_other_keys() -> None:
    # What `kubectl apply` sends when a Deployment's strategy changes to Recreate (strategy is retainKeys).
    body = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_must_list_the_patched_keys() -> None:
    body = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert (info.value.code, info.value.message) == (400, "invalid patch format of retainKeys")


def test_primitive_list_with_merge_strategy_unions_and_delete_from_primitive_list() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a", "b"]}}
    out = apply_patch(pod, {"metadata": {"finalizers": ["c", "a"]}}, STRATEGIC_MERGE_PATCH)
    assert out["metadata"]["finalizers"] == ["c", "a", "b"]  # the real server's order
    out = apply_patch(
        pod, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, STRATEGIC_MERGE_PATCH
    )
    assert out["metadata"]["finalizers"] == ["b"]


def test_merge_key_other_than_name() -> None:
    # ports merge by containerPort.
    body = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "agent",
                            "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090}],
                        }
                    ]
                }
            }
        }
    }
    out = apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert containers(out)[0]["ports"] == [
        {"containerPort": 8080, "protocol": "TCP", "name": "http"},
        {"containerPort": 9090},
    ]


def test_strategic_patch_element_without_its_merge_key_fails() -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), body, STRATEGIC_MERGE_PATCH)
    assert info.value.code == 500 and "does not contain declared merge key: name" in info.value.message


def test_strategic_patch_of_a_kind_without_schema_is_unsupported() -> None:
    with pytest.raises(PatchError) as info:
        apply_patch({"apiVersion": "example.com/v1", "kind": "Widget"}, "{}", STRATEGIC_MERGE_PATCH)
    assert info.value.code == 415 and STRATEGIC_MERGE_PATCH not in info.value.message


# --- merge patch -------------------------------------------------------------------------------------------


def test_merge_patch_rfc7386() -> None:
    out = apply_patch(
        deployment(), '{"spec":{"replicas":5,"strategy":null},"metadata":{"labels":{"a":"b"}}}', MERGE_PATCH
    )
    assert out["spec"]["replicas"] == 5 and "strategy" not in out["spec"]
    assert out["metadata"]["labels"] == {"a": "b"}


def test_merge_patch_must_be_an_object() -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), "[]", MERGE_PATCH)
    assert (info.value.code, info.value.reason) == (400, "BadRequest")


# --- json patch --------------------------------------------------------------------------------------------


def test_kubectl_rollout_undo_body() -> None:
    # `kubectl rollout undo` replaces the template with the old ReplicaSet's and the annotations.
    old_template = copy.deepcopy(deployment()["spec"]["template"])
    old_template["spec"]["containers"][0]["image"] = "agent:v0"
    body = json.dumps(
        [
            {"op": "replace", "path": "/spec/template", "value": old_template},
            {
                "op": "replace",
                "path": "/metadata/annotations",
                "value": {"deployment.kubernetes.io/revision": "1"},
            },
        ]
    )
    out = apply_patch(deployment(), body.encode(), "application/json-patch+json; charset=utf-8")
    assert containers(out)[0]["image"] == "agent:v0"
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/spec/replicas", "value": 3}],
        [{"op": "replace", "path": "/spec/nope", "value": 1}],
        [{"op": "remove", "path": "/metadata/labels/x"}],
        [{"op": "add", "path": "/spec/missing/child", "value": 1}],
    ],
)
def test_json_patch_failures_are_422_with_the_real_message(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), json.dumps(ops), JSON_PATCH)
    assert (info.value.code, info.value.reason, info.value.message) == (422, "Invalid", INVALID_MESSAGE)
    assert info.value.detail


def test_json_patch_test_success_and_bad_bodies() -> None:
    out = apply_patch(
        deployment(),
        [
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "add", "path": "/spec/paused", "value": True},
        ],
        JSON_PATCH,
    )
    assert out["spec"]["paused"] is True
    for body in ("not json", '[{"op": "bogus", "path": "/a"}]', '{"op": "add"}'):
        with pytest.raises(PatchError) as info:
            apply_patch(deployment(), body, JSON_PATCH)
        assert info.value.code == 400, body


# --- apply patch (server-side apply approximation) ---------------------------------------------------------


def test_apply_patch_merges_map_lists_by_their_keys() -> None:
    applied = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent-deployment}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: agent
        image: agent:v3
        ports: [{containerPort: 8080}, {containerPort: 9090}]
"""
    out = apply_patch(deployment(), applied, APPLY_PATCH)
    assert out["spec"]["replicas"] == 3
    agent = containers(out)[0]
    assert agent["image"] == "agent:v3" and agent["env"][0]["name"] == "A"
    # containerPort 8080 matched the live port although protocol (defaulted live) was not applied.
    assert agent["ports"] == [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090}]
    assert [c["name"] for c in containers(out)] == ["agent", "sidecar"]


def test_apply_patch_atomic_list_replaced_and_create_from_empty() -> None:
    applied = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"tolerations": [{"key": "z", "operator": "Exists"}]}}},
    }
    out = apply_patch(deployment(), applied, APPLY_PATCH)
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "z", "operator": "Exists"}]
    assert apply_patch({}, applied, APPLY_PATCH) == applied


def test_apply_patch_needs_apiversion_and_kind() -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), "metadata: {name: x}\n", APPLY_PATCH)
    assert info.value.code == 400


def test_unknown_content_type_is_415_listing_the_accepted_types() -> None:
    with pytest.raises(PatchError) as info:
        apply_patch(deployment(), "{}", "application/json")
    err = info.value
    assert (err.code, err.reason) == (415, "UnsupportedMediaType")
    assert err.message.startswith(
        "the body of the request was in an unknown format - accepted media types include:"
    )
    assert STRATEGIC_MERGE_PATCH in err.message
