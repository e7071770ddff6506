"""Running a command "in" an embedded-cluster pod (:mod:`drills.targets.local.podexec`): the command reaches
what it would reach inside the pod (volumes, Service names, the pod's own loopback, its port aliases). Also the
sandbox's cluster DNS rule (:func:`drills.targets.local.dns.service_addresses`) that exec and the controller
share. The exec endpoint itself is tested with the real kubectl in tests/apiserver.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from drills.targets.local.controller import Controller
from drills.targets.local.dns import service_addresses
from drills.targets.local.infra import PROMETHEUS_PORT
from drills.targets.local.podexec import (
    alias_ports,
    exec_argv,
    loopback_to_pod,
    parse_port_aliases,
    port_aliases,
)

NS = "production-agents"
Obj = dict[str, Any]
PROM_IP = "127.44.0.11"
ALIASES = {PROM_IP: {"9090": str(PROMETHEUS_PORT)}}


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
        ["promtool", "query", "instant", f"http://127.44.0.11:{PROMETHEUS_PORT}", "up"]
    explicit = ["promtool", "query", "instant", "http://x:9090", "up"]
    assert exec_argv(explicit, "127.44.0.11", services, {}) == explicit


def test_loopback_is_the_pod_in_urls_host_port_forms_and_redis_cli_hosts() -> None:
    ip = "127.44.0.10"
    assert loopback_to_pod("http://localhost:9090/api/v1/query", ip) == f"http://{ip}:9090/api/v1/query"
    assert loopback_to_pod("https://127.0.0.1/-/ready", ip) == f"https://{ip}/-/ready"
    assert loopback_to_pod("redis://user@localhost:6379/0", ip) == f"redis://user@{ip}:6379/0"
    assert loopback_to_pod("--server=localhost:9090", ip) == f"--server={ip}:9090"
    assert loopback_to_pod("wget -qO- localhost:9090/metrics | head", ip) == f"wget -qO- {ip}:9090/metrics | head"
    for untouched in ("localhost", "127.0.0.10:6379", "my-localhost:80", "localhost.localdomain:80", "Host: localhost",
                      "http://localhost.example/x", "SET localhost 1"):
        assert loopback_to_pod(untouched, ip) == untouched
    for host in ("localhost", "127.0.0.1"):
        assert exec_argv(["redis-cli", "-h", host, "INFO", "memory"], ip, {}, {}) == \
            ["redis-cli", "-h", ip, "INFO", "memory"]
        assert exec_argv(["nc", "-zv", host, "6379"], ip, {}, {}) == ["nc", "-zv", ip, "6379"]
    assert exec_argv(["redis-cli", "-u", "redis://localhost:6379", "PING"], ip, {}, {}) == \
        ["redis-cli", "-u", f"redis://{ip}:6379", "PING"]
    assert exec_argv(["redis-cli", "SET", "localhost", "1"], ip, {}, {}) == \
        ["redis-cli", "-h", ip, "-p", "6379", "SET", "localhost", "1"]


def test_port_aliases_map_the_pods_standard_port_to_the_one_it_serves() -> None:
    assert parse_port_aliases(f"9090={PROMETHEUS_PORT}, 9100=19100,bad,x=1") == \
        {"9090": str(PROMETHEUS_PORT), "9100": "19100"}
    assert parse_port_aliases(None) == {}
    pods = [{"podIP": PROM_IP, "annotations": {"drillbook.io/port-aliases": f"9090={PROMETHEUS_PORT}"}},
            {"podIP": "127.44.0.10", "annotations": {}}]
    assert port_aliases(pods) == ALIASES
    assert alias_ports(f"http://{PROM_IP}:9090/-/ready", ALIASES) == f"http://{PROM_IP}:{PROMETHEUS_PORT}/-/ready"
    for untouched in (f"http://{PROM_IP}:90901", f"http://{PROM_IP}:9091", "http://127.44.0.10:9090",
                      f"http://{PROM_IP}1:9090", "9090"):
        assert alias_ports(untouched, ALIASES) == untouched


def test_the_runbooks_promtool_query_reaches_the_pods_prometheus() -> None:
    """``promtool query instant http://localhost:9090 <expr>`` in prometheus-0: its own address, its real port."""
    server = f"http://{PROM_IP}:{PROMETHEUS_PORT}"
    assert exec_argv(["promtool", "query", "instant", "http://localhost:9090", "up"], PROM_IP, {}, {}, ALIASES) == \
        ["promtool", "query", "instant", server, "up"]
    assert exec_argv(["promtool", "query", "range", "up"], PROM_IP, {}, {}, ALIASES) == \
        ["promtool", "query", "range", server, "up"]
    services = {"prometheus.monitoring": PROM_IP}  # from another pod, through the Service name
    assert exec_argv(["curl", "-s", "http://prometheus.monitoring:9090/-/ready"], "127.44.2.10", services, {},
                     ALIASES) == ["curl", "-s", f"{server}/-/ready"]
    assert exec_argv(["sh", "-c", "wget -qO- http://127.0.0.1:9090/-/ready"], PROM_IP, {}, {}, ALIASES) == \
        ["sh", "-c", f"wget -qO- {server}/-/ready"]


def _svc(name: str, namespace: str, app: str) -> Obj:
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": {"selector": {"app": app}}}


def _status_pod(name: str, namespace: str, kind: str, app: str, ip: str, phase: str = "Running") -> Obj:
    return {"name": name, "namespace": namespace, "ownerKind": kind, "labels": {"app": app}, "podIP": ip,
            "phase": phase}


def test_service_addresses_resolve_to_the_first_statefulset_pod() -> None:
    services = [_svc("redis-service", NS, "redis"), _svc("agents", NS, "agent"), _svc("prometheus", "monitoring", "prom")]
    pods = [_status_pod("redis-1", NS, "StatefulSet", "redis", "127.44.0.12"),
            _status_pod("redis-0", NS, "StatefulSet", "redis", "127.44.0.10"),
            _status_pod("agent-x", NS, "Deployment", "agent", "127.44.2.10"),
            _status_pod("prometheus-0", "monitoring", "StatefulSet", "prom", PROM_IP)]
    names = service_addresses(services, pods, NS)
    assert names == {"redis-service": "127.44.0.10", **{f"redis-service.{NS}{s}": "127.44.0.10"
                                                        for s in ("", ".svc", ".svc.cluster.local")},
                     **{f"prometheus.monitoring{s}": PROM_IP for s in ("", ".svc", ".svc.cluster.local")}}
    assert "prometheus" in service_addresses(services, pods, "monitoring") and "redis-service" not in \
        service_addresses(services, pods, "monitoring")
    stopping = [{**p, "phase": "Terminating"} if p["name"] == "redis-0" else p for p in pods]
    assert service_addresses(services, stopping, NS)["redis-service"] == "127.44.0.12"


def test_the_controller_resolves_services_by_the_same_rule() -> None:
    pod = SimpleNamespace(name="redis-0", namespace=NS, owner=("StatefulSet", "redis"), labels={"app": "redis"},
                          ip="127.44.0.10")
    objects = {"Service/production-agents/redis-service": _svc("redis-service", NS, "redis")}
    names = Controller._dns(SimpleNamespace(pods={"redis-0": pod}), objects, NS)  # type: ignore[arg-type]
    assert names == service_addresses(list(objects.values()),
                                      [_status_pod("redis-0", NS, "StatefulSet", "redis", "127.44.0.10")], NS)
    assert names["redis-service.production-agents.svc.cluster.local"] == "127.44.0.10"
