"""The sandbox's own infrastructure as objects: nodes, monitoring and the drill's helpers.

These are what a cluster would already have (Prometheus, redis_exporter) or what drillbook brings along (the
local Anthropic API stub, the load generator). They run as pods like the system under test, pinned to the
control-plane node so a node failure drill on the workers does not take the observer down with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drills.targets.local.config import SandboxConfig
from drills.targets.local.monitoring import prometheus_configmap

Obj = dict[str, Any]
CONTROL_PLANE = {"node-role.kubernetes.io/control-plane": ""}
TOLERATE_CP = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]
STUB_KEY = "sk-ant-drill-0000-valid"  # accepted by the local stub; not a real credential
# A second accepted key, as of another workspace with its own quota (Runbook 2, cause 1 moves to it)
SPARE_KEY = "sk-ant-drill-0001-spare"
# Not the usual 9090/9121/9100: Debian's prometheus, prometheus-redis-exporter and node-exporter services
# bind those ports on every address once installed, and a wildcard bind would refuse the pod's own address.
PROMETHEUS_PORT = 19090
EXPORTER_PORT = 19121
LOADGEN_METRICS_PORT = 19100


def nodes(config: SandboxConfig) -> list[Obj]:
    out = []
    for i, name in enumerate(config.nodes):
        control = i == 0
        out.append({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(CONTROL_PLANE if control else {})}},
            "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
                     if control else []},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        })
    return out


def _pod_env(**values: str) -> list[Obj]:
    env: list[Obj] = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                      {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    return env + [{"name": k, "value": v} for k, v in values.items()]


def _workload(kind: str, name: str, namespace: str, container: Obj, *, annotations: dict[str, str] | None = None,
              volumes: list[Obj] | None = None) -> Obj:
    spec: Obj = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
            "spec": {"nodeSelector": CONTROL_PLANE, "tolerations": TOLERATE_CP, "containers": [container],
                     "volumes": volumes or []},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def _service(name: str, namespace: str, port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": port}]}}


def _configmap(name: str, namespace: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": data}


def infrastructure(config: SandboxConfig, root: Path) -> list[Obj]:
    scrape = {"prometheus.io/scrape": "true"}
    stub = _workload("StatefulSet", "anthropic-stub", "drillbook-system", {
        "name": "stub", "image": "ghcr.io/drillbook/anthropic-stub:1.0.0",
        "env": _pod_env(STUB_HOST="$(POD_IP)", STUB_PORT="8090", STUB_VALID_KEYS=f"{STUB_KEY},{SPARE_KEY}",
                        STUB_BEHAVIOUR_FILE=str(root / "stub-behaviour.json")),
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8090}, "periodSeconds": 1},
    })
    loadgen = _workload("Deployment", "loadgen", "drillbook-system", {
        "name": "loadgen", "image": "ghcr.io/drillbook/loadgen:1.0.0",
        "envFrom": [{"configMapRef": {"name": "loadgen-config"}}],
        "env": _pod_env(TARGETS_FILE=str(root / "endpoints" / "production-agents.production-agent.json"),
                        METRICS_PORT=str(LOADGEN_METRICS_PORT)),
    }, annotations={**scrape, "prometheus.io/port": str(LOADGEN_METRICS_PORT)})
    prometheus = _workload("StatefulSet", "prometheus", "monitoring", {
        "name": "prometheus", "image": "prom/prometheus:v2.42.0",
        "args": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                 f"--web.listen-address=$(POD_IP):{PROMETHEUS_PORT}", "--storage.tsdb.retention.time=1d",
                 "--web.enable-lifecycle", "--log.level=warn"],
        "env": _pod_env(),
        "volumeMounts": [{"name": "config", "mountPath": "/etc/prometheus"},
                         {"name": "data", "mountPath": "/prometheus"}],
        "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PROMETHEUS_PORT}, "periodSeconds": 1},
    }, annotations={"drillbook.io/port-aliases": f"9090={PROMETHEUS_PORT}"},
        volumes=[{"name": "config", "configMap": {"name": "prometheus-config"}},
                 {"name": "data", "emptyDir": {}}])
    exporter = _workload("Deployment", "redis-exporter", "monitoring", {
        "name": "redis-exporter", "image": "oliver006/redis_exporter:v1.45.0",
        "env": _pod_env(REDIS_ADDR="redis://redis-service.production-agents:6379",
                        REDIS_EXPORTER_WEB_LISTEN_ADDRESS=f"$(POD_IP):{EXPORTER_PORT}",
                        # below the scrape timeout: an unreachable Redis must read as redis_up 0, not as a
                        # failed scrape (the exporter's 15 s default outlasts any scrape_timeout)
                        REDIS_EXPORTER_CONNECTION_TIMEOUT="500ms"),
        "readinessProbe": {"httpGet": {"path": "/", "port": EXPORTER_PORT}, "periodSeconds": 1},
    }, annotations={**scrape, "prometheus.io/port": str(EXPORTER_PORT)})
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "drillbook-system"}},
        prometheus_configmap(config, root),
        _configmap("loadgen-config", "drillbook-system",
                   {"RATE": "10", "CONCURRENCY": "4", "USERS": "20", "CONTEXT_KB": "16", "TIMEOUT_S": "5"}),
        stub, _service("anthropic-stub", "drillbook-system", 8090),
        loadgen,
        prometheus, _service("prometheus", "monitoring", PROMETHEUS_PORT),
        exporter,
    ]
