"""kube-state-metrics for the sandbox: the same metric names, computed from the controller's state.

Alert rules written for a cluster (``kube_deployment_status_replicas_available == 0``, waiting reasons,
OOMKilled terminations, node conditions) then evaluate unchanged against the sandbox. The same endpoint serves
the kubelets' cAdvisor CPU-throttling series (:mod:`drills.targets.local.cadvisor`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drills.targets.local.cadvisor import CfsCollector

if TYPE_CHECKING:
    from drills.targets.local.controller import Controller


class StateCollector(Collector):
    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Iterator[Metric]:
        status = self.controller.status
        available = GaugeMetricFamily("kube_deployment_status_replicas_available", "Available replicas",
                                      labels=["namespace", "deployment"])
        spec = GaugeMetricFamily("kube_deployment_spec_replicas", "Desired replicas",
                                 labels=["namespace", "deployment"])
        sts_ready = GaugeMetricFamily("kube_statefulset_status_replicas_ready", "Ready replicas",
                                      labels=["namespace", "statefulset"])
        for key, w in status.get("workloads", {}).items():
            kind, ns, name = key.split("/")
            if kind == "Deployment":
                available.add_metric([ns, name], w["availableReplicas"])
                spec.add_metric([ns, name], w["replicas"])
            else:
                sts_ready.add_metric([ns, name], w["readyReplicas"])
        ready = GaugeMetricFamily("kube_pod_status_ready", "Pod ready", labels=["namespace", "pod", "condition"])
        restarts = GaugeMetricFamily("kube_pod_container_status_restarts_total", "Restarts",
                                     labels=["namespace", "pod", "container"])
        last = GaugeMetricFamily("kube_pod_container_status_last_terminated_reason", "Last termination",
                                 labels=["namespace", "pod", "container", "reason"])
        waiting = GaugeMetricFamily("kube_pod_container_status_waiting_reason", "Waiting reason",
                                    labels=["namespace", "pod", "container", "reason"])
        for pod in status.get("pods", []):
            ns, name = pod["namespace"], pod["name"]
            ready.add_metric([ns, name, "true"], 1.0 if pod["ready"] else 0.0)
            for c in pod["containerStatuses"]:
                restarts.add_metric([ns, name, c["name"]], c["restartCount"])
                term = c.get("lastState", {}).get("terminated")
                if term:
                    last.add_metric([ns, name, c["name"], term["reason"]], 1)
                wait = c["state"].get("waiting")
                if wait:
                    waiting.add_metric([ns, name, c["name"], wait["reason"]], 1)
        node_ready = GaugeMetricFamily("kube_node_status_condition", "Node condition",
                                       labels=["node", "condition", "status"])
        unschedulable = GaugeMetricFamily("kube_node_spec_unschedulable", "Cordoned", labels=["node"])
        for node in status.get("nodes", []):
            node_ready.add_metric([node["name"], "Ready", "true"], 1.0 if node["ready"] else 0.0)
            unschedulable.add_metric([node["name"]], 1.0 if node["unschedulable"] else 0.0)
        yield from (available, spec, sts_ready, ready, restarts, last, waiting, node_ready, unschedulable)


def serve_metrics(controller: Controller, address: str, port: int) -> None:
    """kube-state-metrics and the kubelets' cAdvisor CPU-limit series on one endpoint (one scrape job)."""
    registry = CollectorRegistry()
    registry.register(StateCollector(controller))
    registry.register(CfsCollector(controller))
    start_http_server(port, addr=address, registry=registry)
