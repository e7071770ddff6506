"""The kubelet's container-config step: env sources, $(VAR), cluster DNS, volume paths, probes, limits."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from drills.targets.local.podspec import (
    ContainerConfigError,
    PodContext,
    Probe,
    build_container,
    pod_memory_limit,
    prepare_volumes,
)

NS = "production-agents"
REDIS_IP = "127.42.3.4"
STUB_IP = "127.42.9.9"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def make_ctx(tmp_path: Path, **overrides: object) -> PodContext:
    values: dict = dict(
        name="agent-deployment-abc-xyz12", namespace=NS, node="sandbox-worker", ip="127.42.1.7",
        pod_dir=tmp_path / "pods" / NS / "agent",
        configmaps={"agent-config": {"kind": "ConfigMap", "metadata": {"name": "agent-config"},
                                     "data": {"LOG_LEVEL": "info",
                                              "REDIS_URL": "redis://redis-service:6379/0",
                                              "ANTHROPIC_BASE_URL":
                                                  "http://anthropic-stub.drillbook-system:8090"}}},
        secrets={"agent-secrets": {"kind": "Secret", "metadata": {"name": "agent-secrets"},
                                   "data": {"anthropic-api-key": b64("sk-ant-test-123")}}},
        services={"redis-service": REDIS_IP, f"redis-service.{NS}": REDIS_IP,
                  f"redis-service.{NS}.svc": REDIS_IP, f"redis-service.{NS}.svc.cluster.local": REDIS_IP,
                  "anthropic-stub.drillbook-system": STUB_IP, "anthropic-stub.drillbook-system.svc": STUB_IP},
        base_env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
    )
    values.update(overrides)
    return PodContext(**values)


AGENT_SPEC = {
    "name": "agent",
    "image": "ghcr.io/drillbook/production-agent:1.0.0",
    "envFrom": [{"configMapRef": {"name": "agent-config"}}],
    "env": [
        {"name": "ANTHROPIC_API_KEY", "valueFrom": {"secretKeyRef": {"name": "agent-secrets",
                                                                     "key": "anthropic-api-key"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ],
    "resources": {"requests": {"memory": "128Mi", "cpu": "100m"},
                  "limits": {"memory": "256Mi", "cpu": "500m"}},
    "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 2, "timeoutSeconds": 3},
}


def test_agent_container_env_from_configmap_secret_and_field_refs(tmp_path: Path) -> None:
    config = build_container(AGENT_SPEC, make_ctx(tmp_path), ["/usr/bin/python3", "-m", "refsystem.agent"])
    assert config.name == "agent" and config.image == "ghcr.io/drillbook/production-agent:1.0.0"
    assert config.argv == ["/usr/bin/python3", "-m", "refsystem.agent"]
    assert config.env["LOG_LEVEL"] == "info"
    assert config.env["ANTHROPIC_API_KEY"] == "sk-ant-test-123"  # base64 decoded
    assert config.env["POD_IP"] == "127.42.1.7"
    assert config.env["POD_NAME"] == "agent-deployment-abc-xyz12"
    assert config.env["POD_NAMESPACE"] == NS
    assert config.env["NODE_NAME"] == "sandbox-worker"
    assert config.env["PATH"] == "/usr/bin:/bin"


def test_service_names_in_env_values_become_addresses(tmp_path: Path) -> None:
    env = build_container(AGENT_SPEC, make_ctx(tmp_path), ["agent"]).env
    assert env["REDIS_URL"] == f"redis://{REDIS_IP}:6379/0"
    assert env["ANTHROPIC_BASE_URL"] == f"http://{STUB_IP}:8090"


@pytest.mark.parametrize(("value", "expected"), [
    ("redis-service", REDIS_IP),
    (f"redis://redis-service.{NS}.svc.cluster.local:6379", f"redis://{REDIS_IP}:6379"),
    ("http://anthropic-stub.drillbook-system/v1", f"http://{STUB_IP}/v1"),
    ("http://anthropic-stub.drillbook-system", f"http://{STUB_IP}"),
    ("redis://redis-service-replica:6379", "redis://redis-service-replica:6379"),  # another name
    ("redis://myredis-service:6379", "redis://myredis-service:6379"),
    ("the redis-service is down", "the redis-service is down"),  # not a host position
])
def test_service_name_resolution_only_in_host_positions(tmp_path: Path, value: str, expected: str) -> None:
    spec = {"name": "c", "env": [{"name": "X", "value": value}]}
    assert build_container(spec, make_ctx(tmp_path), ["x"]).env["X"] == expected


def test_env_overrides_env_from_and_prefix(tmp_path: Path) -> None:
    spec = {"name": "c",
            "envFrom": [{"configMapRef": {"name": "agent-config"}},
                        {"secretRef": {"name": "agent-secrets"}, "prefix": "S_"}],
            "env": [{"name": "LOG_LEVEL", "value": "debug"}]}
    env = build_container(spec, make_ctx(tmp_path), ["x"]).env
    assert env["LOG_LEVEL"] == "debug"
    assert env["S_anthropic-api-key"] == "sk-ant-test-123"


def test_string_data_secret_and_config_map_key_ref(tmp_path: Path) -> None:
    secrets = {"s": {"stringData": {"token": "plain"}}}
    spec = {"name": "c", "env": [
        {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
        {"name": "L", "valueFrom": {"configMapKeyRef": {"name": "agent-config", "key": "LOG_LEVEL"}}}]}
    env = build_container(spec, make_ctx(tmp_path, secrets=secrets), ["x"]).env
    assert (env["T"], env["L"]) == ("plain", "info")


def test_missing_configmap_is_a_container_config_error(tmp_path: Path) -> None:
    spec = {"name": "c", "envFrom": [{"configMapRef": {"name": "agent-config-v2"}}]}
    with pytest.raises(ContainerConfigError, match='configmap "agent-config-v2" not found'):
        build_container(spec, make_ctx(tmp_path), ["x"])


def test_missing_secret_is_a_container_config_error(tmp_path: Path) -> None:
    spec = {"name": "c", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}
    with pytest.raises(ContainerConfigError, match='secret "nope" not found'):
        build_container(spec, make_ctx(tmp_path), ["x"])


def test_missing_secret_key_is_a_container_config_error(tmp_path: Path) -> None:
    spec = {"name": "c", "env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "agent-secrets",
                                                                              "key": "openai-api-key"}}}]}
    with pytest.raises(ContainerConfigError) as err:
        build_container(spec, make_ctx(tmp_path), ["x"])
    assert str(err.value) == f"couldn't find key openai-api-key in Secret {NS}/agent-secrets"


def test_missing_configmap_key_message(tmp_path: Path) -> None:
    spec = {"name": "c", "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "agent-config",
                                                                                 "key": "MISSING"}}}]}
    message = f"couldn't find key MISSING in Configmap {NS}/agent-config"
    with pytest.raises(ContainerConfigError, match=message):
        build_container(spec, make_ctx(tmp_path), ["x"])


def test_optional_references_are_tolerated(tmp_path: Path) -> None:
    spec = {"name": "c",
            "envFrom": [{"configMapRef": {"name": "absent", "optional": True}},
                        {"secretRef": {"name": "absent-secret", "optional": True}}],
            "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "agent-secrets", "key": "nope",
                                                                 "optional": True}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k",
                                                                    "optional": True}}},
                    {"name": "C", "value": "c"}]}
    env = build_container(spec, make_ctx(tmp_path), ["x"]).env
    assert "A" not in env and "B" not in env and env["C"] == "c"


def test_var_expansion_in_args_and_env(tmp_path: Path) -> None:
    spec = {"name": "redis", "args": ["--bind", "$(POD_IP)", "--tag=$(POD_NAME)-$(UNDEFINED)"],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "LISTEN", "value": "$(POD_IP):6379"},
                    {"name": "EARLY", "value": "$(LATER)"},
                    {"name": "LATER", "value": "x"}]}
    config = build_container(spec, make_ctx(tmp_path, name="redis-0"), ["/usr/bin/redis-server"])
    assert config.argv == ["/usr/bin/redis-server", "--bind", "127.42.1.7", "--tag=redis-0-$(UNDEFINED)"]
    assert config.env["LISTEN"] == "127.42.1.7:6379"
    assert config.env["EARLY"] == "$(LATER)"  # only earlier variables are visible, as in Kubernetes


def test_command_replaces_entrypoint(tmp_path: Path) -> None:
    spec = {"name": "c", "command": ["/bin/sh", "-c"], "args": ["echo hi"]}
    assert build_container(spec, make_ctx(tmp_path), ["/entry"]).argv == ["/bin/sh", "-c", "echo hi"]


def test_double_dollar_escapes_expansion(tmp_path: Path) -> None:
    spec = {"name": "c", "args": ["$$(POD_IP)"],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]}
    assert build_container(spec, make_ctx(tmp_path), ["x"]).argv[-1] == "$(POD_IP)"


def test_mount_path_in_args_rewritten_to_host_dir(tmp_path: Path) -> None:
    host = tmp_path / "volumes" / "redis-data-redis-0"
    spec = {"name": "redis",
            "args": ["--dir", "/data", "--dbfilename", "/database/dump.rdb", "--log=/data/redis.log",
                     "/data2", "/var/data", "/data/"],
            "env": [{"name": "DATA_DIR", "value": "/data/sub"}],
            "volumeMounts": [{"name": "redis-data", "mountPath": "/data"},
                             {"name": "unprepared", "mountPath": "/other"}]}
    ctx = make_ctx(tmp_path, volume_dirs={"redis-data": host})
    config = build_container(spec, ctx, ["/usr/bin/redis-server"])
    assert config.argv == ["/usr/bin/redis-server", "--dir", str(host), "--dbfilename", "/database/dump.rdb",
                           f"--log={host}/redis.log", "/data2", "/var/data", f"{host}/"]
    assert config.env["DATA_DIR"] == f"{host}/sub"
    assert config.mounts == {"/data": host}


def test_mount_path_rewrite_is_single_pass(tmp_path: Path) -> None:
    data_host = Path("/tmp/sandbox/volumes/data")
    tmp_host = Path("/tmp/sandbox/volumes/scratch")
    spec = {"name": "c", "args": ["--dir", "/data/x"],
            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                             {"name": "scratch", "mountPath": "/tmp"}]}
    ctx = make_ctx(tmp_path, volume_dirs={"data": data_host, "scratch": tmp_host})
    assert build_container(spec, ctx, ["x"]).argv[-1] == f"{data_host}/x"


def test_readiness_probes_parsed(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert build_container(AGENT_SPEC, ctx, ["x"]).readiness == Probe("http", port=8080, path="/health",
                                                                      period_s=2.0, timeout_s=3.0)
    tcp_spec = {"name": "r", "readinessProbe": {"tcpSocket": {"port": 6379}}}
    tcp = build_container(tcp_spec, ctx, ["x"]).readiness
    assert tcp == Probe("tcp", port=6379, period_s=1.0, timeout_s=1.0)
    exe_spec = {"name": "e", "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 5}}
    exe = build_container(exe_spec, ctx, ["x"]).readiness
    assert exe == Probe("exec", command=["true"], period_s=5.0, timeout_s=1.0)
    assert build_container({"name": "n"}, ctx, ["x"]).readiness is None


def test_limits_in_bytes_and_millicores(tmp_path: Path) -> None:
    config = build_container(AGENT_SPEC, make_ctx(tmp_path), ["x"])
    assert config.memory_limit == 256 * 1024 * 1024 == 268435456
    assert config.cpu_millicores == 500
    bare = build_container({"name": "c", "resources": {"limits": {"memory": "1Gi", "cpu": "2"}}},
                           make_ctx(tmp_path), ["x"])
    assert (bare.memory_limit, bare.cpu_millicores) == (1073741824, 2000)
    none = build_container({"name": "c"}, make_ctx(tmp_path), ["x"])
    assert (none.memory_limit, none.cpu_millicores) == (None, None)


def test_pod_memory_limit() -> None:
    assert pod_memory_limit({"containers": [AGENT_SPEC]}) == "256Mi"
    assert pod_memory_limit({"containers": [{"name": "c"}]}) is None


def test_prepare_volumes_writes_configmap_and_secret_files(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    pod_spec = {"volumes": [
        {"name": "cfg", "configMap": {"name": "agent-config"}},
        {"name": "sec", "secret": {"secretName": "agent-secrets"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "redis-data-redis-0"}},
        {"name": "scratch", "emptyDir": {}},
    ]}
    claims = tmp_path / "claims"
    dirs = prepare_volumes(pod_spec, ctx, claims)
    assert dirs["cfg"] == ctx.pod_dir / "volumes" / "cfg"
    assert (dirs["cfg"] / "LOG_LEVEL").read_text() == "info"
    assert (dirs["sec"] / "anthropic-api-key").read_bytes() == b"sk-ant-test-123"
    assert dirs["data"] == claims / "redis-data-redis-0" and dirs["data"].is_dir()
    assert dirs["scratch"] == ctx.pod_dir / "volumes" / "scratch" and dirs["scratch"].is_dir()


def test_prepare_volumes_missing_configmap(tmp_path: Path) -> None:
    with pytest.raises(ContainerConfigError, match='configmap "prometheus-config" not found'):
        prepare_volumes({"volumes": [{"name": "c", "configMap": {"name": "prometheus-config"}}]},
                        make_ctx(tmp_path), tmp_path / "claims")
