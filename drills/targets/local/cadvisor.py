"""The kubelet's cAdvisor series for CPU limits, from the containers' real cgroups.

On a cluster the kubelet's embedded cAdvisor exports, per container with a CPU limit, the kernel's CFS
bandwidth counters from the container's ``cpu.stat``: ``container_cpu_cfs_periods_total``,
``container_cpu_cfs_throttled_periods_total`` and ``container_cpu_cfs_throttled_seconds_total``. Dashboards
and the kubernetes-mixin ``CPUThrottlingHigh`` alert are written against those names, so the sandbox serves
the same names and labels (``namespace``, ``pod``, ``container``) read from the same kernel files. Containers
without a CPU quota have no series, as with cAdvisor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from drills.targets.local.controller import Controller

LABELS = ["namespace", "pod", "container"]


class CfsCollector(Collector):
    """Reads every running container's ``cpu.stat`` at scrape time, as cAdvisor's housekeeping does."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller

    def collect(self) -> Iterator[Metric]:
        periods = CounterMetricFamily("container_cpu_cfs_periods_total",
                                      "Number of elapsed enforcement period intervals.", labels=LABELS)
        throttled = CounterMetricFamily("container_cpu_cfs_throttled_periods_total",
                                        "Number of throttled period intervals.", labels=LABELS)
        seconds = CounterMetricFamily("container_cpu_cfs_throttled_seconds_total",
                                      "Total time duration the container has been throttled.", labels=LABELS)
        for pod in list(self.controller.pods.values()):  # a copy: the controller's tick changes the dict
            group = pod.container.cgroup
            stat = group.cpu_stat() if group is not None and pod.container.running else None
            if stat is None:
                continue
            labels = [pod.namespace, pod.name, pod.container.name]
            periods.add_metric(labels, stat.periods)
            throttled.add_metric(labels, stat.throttled_periods)
            seconds.add_metric(labels, stat.throttled_seconds)
        yield from (periods, throttled, seconds)
