"""Prometheus configuration for the sandbox: scrape targets from the controller, the project's alert rules.

The rules file is the one a cluster runs (``refsystem/prometheus/alerts.yml``); the sandbox's timing profile
only rewrites the ``[5m]`` rate windows, the other range selectors it lists (``Profile.windows``) and the
``for:`` durations, so the expressions Prometheus evaluates are the real ones.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from drills.targets.local.config import SandboxConfig


def rules_text() -> str:
    return resources.files("refsystem").joinpath("prometheus/alerts.yml").read_text()


def profiled_rules(config: SandboxConfig) -> dict[str, Any]:
    profile = config.profile
    text = rules_text().replace("[5m]", f"[{profile.rate_window}]")
    for written, scaled in profile.windows.items():
        text = text.replace(written, scaled)
    rules: dict[str, Any] = yaml.safe_load(text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            override = profile.alert_for.get(rule.get("alert", ""), profile.alert_for.get("*"))
            if override and "alert" in rule:
                rule["for"] = override
    return rules


def alert_for_seconds(rules: dict[str, Any]) -> dict[str, float]:
    """Each alert's ``for:`` in seconds (the verifiers use it to compute the detection floor)."""
    out: dict[str, float] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                out[rule["alert"]] = parse_duration(str(rule.get("for", "0s")))
    return out


def parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text):
        total += float(number) * units[unit]
    return total


def prometheus_config(config: SandboxConfig, root: Path) -> dict[str, Any]:
    profile = config.profile
    interval = f"{profile.scrape_interval_s:g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": f"{profile.evaluation_interval_s:g}s",
                   "scrape_timeout": interval},
        "rule_files": ["alerts.yml"],  # relative to the config file, i.e. the same ConfigMap volume
        "scrape_configs": [
            {"job_name": "pods", "file_sd_configs": [{"files": [str(root / "scrape-targets.json")],
                                                       "refresh_interval": interval}]},
            {"job_name": "kube-state-metrics",
             "static_configs": [{"targets": [f"{config.controller_address}:8081"]}]},
        ],
    }


def prometheus_configmap(config: SandboxConfig, root: Path) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "prometheus-config", "namespace": "monitoring"},
        "data": {"prometheus.yml": yaml.safe_dump(prometheus_config(config, root)),
                 "alerts.yml": yaml.safe_dump(profiled_rules(config), sort_keys=False)},
    }
