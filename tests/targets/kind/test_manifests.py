"""Offline checks of everything the kind target builds from and applies (no cluster here).

Every object goes through ``kubernetes-validate`` (the API's own JSON Schemas, strict: an unknown field is
an error) for the Kubernetes version kind-action v1.14 brings (kubectl/nodes 1.35; the bundled 1.37 schemas
are used when that version is missing). The kind cluster config and the Dockerfile are checked for what
drillbook relies on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from drills.targets.kind import layout

DOCS = layout.documents()


def _version() -> str:
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    return "1.35.0" if (schemas / "v1.35.0-local-strict").is_dir() else str(kubernetes_validate.latest_version())


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_every_object_validates_against_the_api_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, _version(), strict=True)


def test_validation_rejects_a_broken_object() -> None:
    agent = next(d for d in DOCS if d["metadata"]["name"] == "agent-deployment")
    broken = yaml.safe_load(yaml.safe_dump(agent))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, _version(), strict=True)


def test_every_image_has_a_fixed_tag() -> None:
    images = [c["image"] for d in DOCS if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
              for c in d["spec"]["template"]["spec"]["containers"]]
    for image in images:
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest", image


def test_the_images_the_manifests_run_from_refsystem_are_the_ones_built() -> None:
    ours = {c["image"] for d in DOCS if d["kind"] in ("Deployment", "StatefulSet")
            for c in d["spec"]["template"]["spec"]["containers"] if c["image"].startswith("ghcr.io/drillbook/")}
    assert ours and ours <= set(layout.built_images())


def test_dockerfile_has_a_stage_per_built_image_on_python_311_slim() -> None:
    text = layout.DOCKERFILE.read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", text, re.M))
    assert set(layout.built_images().values()) <= stages
    assert re.findall(r"^FROM (\S+)", text, re.M)[0] == "python:3.11-slim"
    for stage in layout.built_images().values():
        body = text.split(f" AS {stage}\n", 1)[1].split("\nFROM ", 1)[0]
        assert f'ENTRYPOINT ["python", "-m", "refsystem.{stage}"]' in body
    assert all("==" in pkg for line in re.findall(r"pip install --no-cache-dir (.*)", text) for pkg in line.split())


def test_kind_cluster_config_has_one_control_plane_and_three_workers() -> None:
    config = yaml.safe_load(layout.CLUSTER_CONFIG.read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker", "worker"]


def test_observers_run_on_the_control_plane_so_a_worker_failure_leaves_them_up() -> None:
    for doc in DOCS:
        ns = doc["metadata"].get("namespace")
        if doc["kind"] in ("Deployment", "StatefulSet") and ns in ("monitoring", "drillbook-system", "kube-system"):
            spec = doc["spec"]["template"]["spec"]
            assert spec["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}, doc["metadata"]["name"]


def test_prometheus_mounts_the_generated_rules_and_reads_them() -> None:
    config = next(d for d in DOCS if d["metadata"]["name"] == "prometheus-config")
    prom = yaml.safe_load(config["data"]["prometheus.yml"])
    assert prom["rule_files"] == ["/etc/prometheus/rules/alerts.yml"]
    deploy = next(d for d in DOCS if d["kind"] == "Deployment" and d["metadata"]["name"] == "prometheus")
    volumes = {v["name"]: v for v in deploy["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in deploy["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert volumes[mounts["/etc/prometheus/rules"]]["configMap"]["name"] == "prometheus-rules"
    assert yaml.safe_load(layout.rules_configmap()["data"]["alerts.yml"])["groups"]


def test_metrics_server_skips_kubelet_tls_verification_on_kind() -> None:
    deploy = next(d for d in DOCS if d["kind"] == "Deployment" and d["metadata"]["name"] == "metrics-server")
    assert "--kubelet-insecure-tls" in deploy["spec"]["template"]["spec"]["containers"][0]["args"]


def test_redis_data_is_a_size_enforcing_memory_volume_on_kind() -> None:
    reference = next(d for d in layout.load_documents(layout.MANIFESTS / "production-agents.yaml")
                     if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis")
    assert reference["spec"]["volumeClaimTemplates"]  # the reference keeps its PVC; only kind swaps it
    redis = next(d for d in DOCS if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis")
    assert "volumeClaimTemplates" not in redis["spec"]
    volume, = [v for v in redis["spec"]["template"]["spec"]["volumes"] if v["name"] == "redis-data"]
    assert volume["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Mi"}
    limit = redis["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert limit == "512Mi"  # tmpfs files count against it: it must stay well above the 64Mi volume
    others = [d for d in DOCS if d is not redis]
    assert all(layout.redis_data_in_memory(d) is d for d in others)
