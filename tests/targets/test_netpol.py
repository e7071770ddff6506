"""NetworkPolicy → iptables rules: who is dropped on the way to whom."""

from __future__ import annotations

from drills.targets.local.netpol import desired_rules

PODS = [
    {"namespace": "production-agents", "name": "redis-0", "labels": {"app": "redis"}, "podIP": "127.42.0.12"},
    {"namespace": "production-agents", "name": "agent-a", "labels": {"app": "production-agent"}, "podIP": "127.42.2.10"},
    {"namespace": "monitoring", "name": "exporter", "labels": {"app": "redis-exporter"}, "podIP": "127.42.1.11"},
]
CGROUPS = {f"{p['namespace']}/{p['name']}": f"drillbook/t/{p['name']}" for p in PODS}


def policy(ingress: object) -> dict[str, object]:
    return {"kind": "NetworkPolicy", "metadata": {"name": "redis-network-policy", "namespace": "production-agents"},
            "spec": {"podSelector": {"matchLabels": {"app": "redis"}}, "policyTypes": ["Ingress"],
                     "ingress": ingress}}


def test_policy_admitting_nobody_real_drops_every_client_of_the_selected_pod() -> None:
    rules = desired_rules([policy([{"from": [{"podSelector": {"matchLabels": {"app": "typo"}}}]}])], PODS, CGROUPS)
    assert rules == [f"-o lo -m cgroup --path drillbook/t/{name} -d 127.42.0.12/32 -j DROP"
                     for name in ("agent-a", "exporter")]


def test_admitted_pods_pass_and_namespace_selector_admits_other_namespaces() -> None:
    agents_only = policy([{"from": [{"podSelector": {"matchLabels": {"app": "production-agent"}}}]}])
    assert desired_rules([agents_only], PODS, CGROUPS) == \
        ["-o lo -m cgroup --path drillbook/t/exporter -d 127.42.0.12/32 -j DROP"]
    everyone = policy([{"from": [{"namespaceSelector": {}}]}])
    assert desired_rules([everyone], PODS, CGROUPS) == []


def test_no_policy_or_egress_only_policy_drops_nothing() -> None:
    assert desired_rules([], PODS, CGROUPS) == []
    egress = policy([])
    egress["spec"]["policyTypes"] = ["Egress"]  # type: ignore[index]
    assert desired_rules([egress], PODS, CGROUPS) == []


def test_ingress_without_rules_denies_all() -> None:
    deny_all = policy(None)
    del deny_all["spec"]["ingress"]  # type: ignore[attr-defined]
    assert len(desired_rules([deny_all], PODS, CGROUPS)) == 2
