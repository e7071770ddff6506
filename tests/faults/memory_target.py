"""An in-memory target for fault unit tests: ConfigMaps, restarts, rollout status and pod logs as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.targets.base import PodState, WorkloadRef


@dataclass
class MemoryTarget:
    configs: dict[tuple[str, str], dict[str, str]] = field(default_factory=lambda: {
        ("production-agents", "agent-config"): {"DEFAULT_MODEL": "claude-3-5-sonnet-20241022"},
        ("drillbook-system", "loadgen-config"): {"RATE": "10", "USERS": "20"}})
    restarts: list[str] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=lambda: {"replicas": 2, "updatedReadyReplicas": 2,
                                                             "currentReplicas": 2})
    log_lines: dict[str, list[str]] = field(default_factory=dict)

    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        return dict(self.configs[(namespace, name)])

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        current = self.configs[(namespace, name)]
        previous = {k: current[k] for k in data if k in current}
        for k, v in data.items():
            if v is None:
                current.pop(k, None)
            else:
                current[k] = v
        return previous

    def restart(self, ref: WorkloadRef) -> None:
        self.restarts.append(f"{ref.namespace}/{ref.name}")

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        return dict(self.status)

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        return [PodState(name=name, namespace=namespace, node="n", ip="127.0.0.1", phase="Running", ready=True,
                         restarts=0, waiting_reason=None, last_reason=None, last_exit_code=None)
                for name in self.log_lines]

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        return "\n".join(self.log_lines[pod][-tail:])
