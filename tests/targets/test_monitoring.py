"""Prometheus config and the profiled alert rules (fast vs realistic timing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drills.targets.local.config import PROFILES, SandboxConfig
from drills.targets.local.monitoring import (
    alert_for_seconds,
    parse_duration,
    profiled_rules,
    prometheus_config,
    prometheus_configmap,
    rules_text,
)

ALERTS = ["AgentDown", "HighErrorRate", "HighLatency", "CostSpike", "DailyBudgetExceeded", "RedisDown",
          "RedisOutOfMemory", "RedisPersistenceFailing", "RedisSlowCommands", "CPUThrottlingHigh", "KubeNodeNotReady",
          "AgentReplicasUnavailable"]


def fast() -> SandboxConfig:
    return SandboxConfig(profile=PROFILES["fast"])


def realistic() -> SandboxConfig:
    return SandboxConfig(profile=PROFILES["realistic"])


def rules_by_alert(rules: dict) -> dict[str, dict]:
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}


@pytest.mark.parametrize(("text", "seconds"), [
    ("3s", 3), ("1m", 60), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1m30s", 90), ("500ms", 0.5),
    ("1.5m", 90), ("0s", 0), ("", 0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_realistic_profile_keeps_source_rules() -> None:
    rules = profiled_rules(realistic())
    assert rules == yaml.safe_load(rules_text())
    assert alert_for_seconds(rules) == {"AgentDown": 60, "HighErrorRate": 120, "HighLatency": 300,
                                        "CostSpike": 300, "DailyBudgetExceeded": 60, "RedisDown": 60,
                                        "RedisOutOfMemory": 60, "RedisPersistenceFailing": 60,
                                        "RedisSlowCommands": 120, "CPUThrottlingHigh": 900,
                                        "KubeNodeNotReady": 60, "AgentReplicasUnavailable": 120}
    assert "[5m]" in rules_by_alert(rules)["HighErrorRate"]["expr"]


def test_fast_profile_rewrites_windows_and_for() -> None:
    rules = profiled_rules(fast())
    assert alert_for_seconds(rules) == {name: 3.0 for name in ALERTS}
    by_alert = rules_by_alert(rules)
    assert all(r["for"] == "3s" for r in by_alert.values())
    assert by_alert["HighErrorRate"]["expr"] == \
        'sum(rate(agent_errors_total{type!="blocked"}[15s])) / sum(rate(agent_requests_total[15s])) > 0.05'
    for rule in by_alert.values():
        assert "[5m]" not in rule["expr"]
    # the hourly baseline and the day are shrunk 20x like the rate windows
    assert "[3m:3s]" in by_alert["CostSpike"]["expr"] and "[15s]" in by_alert["CostSpike"]["expr"]
    assert "[1h:1m]" not in by_alert["CostSpike"]["expr"]
    assert by_alert["DailyBudgetExceeded"]["expr"] == "sum(increase(agent_cost_dollars_total[72m])) > 500"
    # labels / annotations untouched
    assert by_alert["AgentDown"]["labels"] == {"severity": "critical"}
    assert by_alert["AgentDown"]["expr"] == yaml.safe_load(rules_text())["groups"][0]["rules"][0]["expr"]


def test_per_alert_override_with_wildcard_fallback() -> None:
    profile = PROFILES["fast"].model_copy(update={"alert_for": {"AgentDown": "10s", "*": "2s"}})
    seconds = alert_for_seconds(profiled_rules(SandboxConfig(profile=profile)))
    assert seconds["AgentDown"] == 10 and seconds["RedisDown"] == 2 and seconds["HighLatency"] == 2


def test_prometheus_config_fast(tmp_path: Path) -> None:
    root = tmp_path / "sandbox"
    cfg = prometheus_config(fast(), root)
    assert cfg["rule_files"] == ["alerts.yml"]
    assert cfg["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"}
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["pods"]["file_sd_configs"] == [{"files": [str(root / "scrape-targets.json")],
                                                "refresh_interval": "1s"}]
    assert jobs["kube-state-metrics"]["static_configs"] == [{"targets": ["127.42.0.1:8081"]}]


def test_prometheus_config_realistic_intervals_and_octet(tmp_path: Path) -> None:
    cfg = prometheus_config(SandboxConfig(octet=7, profile=PROFILES["realistic"]), tmp_path)
    assert cfg["global"]["scrape_interval"] == "15s" and cfg["global"]["evaluation_interval"] == "15s"
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert jobs["kube-state-metrics"]["static_configs"][0]["targets"] == ["127.7.0.1:8081"]


def test_configmap_carries_both_files(tmp_path: Path) -> None:
    cm = prometheus_configmap(fast(), tmp_path)
    assert cm["metadata"] == {"name": "prometheus-config", "namespace": "monitoring"}
    assert yaml.safe_load(cm["data"]["prometheus.yml"])["rule_files"] == ["alerts.yml"]
    alerts = yaml.safe_load(cm["data"]["alerts.yml"])
    assert alert_for_seconds(alerts)["AgentDown"] == 3
