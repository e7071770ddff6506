"""The sandbox serves cAdvisor's CFS throttling series, by cAdvisor's names and labels, only for limited containers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from drills.targets.local.cadvisor import CfsCollector
from drills.targets.local.cgroups import CpuStat


def pod(name: str, stat: CpuStat | None, running: bool = True) -> Any:
    group = SimpleNamespace(cpu_stat=lambda: stat)
    return SimpleNamespace(namespace="production-agents", name=name,
                           container=SimpleNamespace(name="agent", cgroup=group, running=running))


def scrape(pods: dict[str, Any]) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(CfsCollector(SimpleNamespace(pods=pods)))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    return {(s.name, s.labels["pod"]): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name.endswith("_total")}


def test_limited_containers_export_their_cfs_counters_with_cadvisor_names() -> None:
    samples = scrape({"a": pod("agent-1", CpuStat(periods=120, throttled_periods=90, throttled_seconds=4.5)),
                      "b": pod("redis-0", None)})
    assert samples == {("container_cpu_cfs_periods_total", "agent-1"): 120,
                       ("container_cpu_cfs_throttled_periods_total", "agent-1"): 90,
                       ("container_cpu_cfs_throttled_seconds_total", "agent-1"): 4.5}


def test_a_stopped_container_exports_nothing() -> None:
    assert scrape({"a": pod("agent-1", CpuStat(10, 5, 0.1), running=False)}) == {}


def test_labels_are_namespace_pod_container() -> None:
    registry = CollectorRegistry()
    registry.register(CfsCollector(SimpleNamespace(pods={"a": pod("agent-1", CpuStat(1, 1, 0.1))})))  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'container_cpu_cfs_throttled_periods_total{container="agent",namespace="production-agents",' \
           'pod="agent-1"} 1.0' in text
