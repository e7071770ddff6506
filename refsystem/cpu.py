"""The agent's in-process CPU work per chat request: real CPU time, on purpose.

Why it exists: Runbook 3 ("High Latency"), cause 2, is CPU throttling, remediated by raising the
container's CPU limit or adding replicas. Those levers only change anything if serving a request costs
the agent real CPU (in a production agent: tokenising the prompt, safety filters, tool execution,
parsing the reply). Each request spends ``REQUEST_CPU_MS`` of its thread's CPU time here, measured
with :func:`time.thread_time`, so the cost is the same on any machine; under a CFS quota (a cgroup
``cpu.max``) the same CPU time takes longer on the wall clock, requests queue behind each other and
latency climbs, and a higher limit - or more replicas sharing the traffic - is what brings it down.
The loop holds the GIL like real Python work does, so one pod never uses more than about one core.
"""

from __future__ import annotations

import time


def spend_cpu(cpu_ms: float) -> int:
    """Busy-work until this thread has used ``cpu_ms`` more CPU time; returns the iterations done."""
    if cpu_ms <= 0:
        return 0
    deadline = time.thread_time() + cpu_ms / 1000.0
    acc = n = 0
    while time.thread_time() < deadline:
        for i in range(500):  # pure-Python arithmetic: CPU-bound and GIL-holding, like tokenisation
            acc = (acc * 31 + i) & 0xFFFFFFFF
        n += 1
    return n + (acc & 0)
