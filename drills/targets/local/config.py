"""The sandbox's own settings (``sandbox.json``): where it lives, its address range and timing profile."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from drills.targets.local.store import write_json_atomic


class Profile(BaseModel):
    """Timing. ``fast`` keeps drills short on a laptop; ``realistic`` uses a cluster's usual values."""

    name: str = "fast"
    scrape_interval_s: float = 1.0
    evaluation_interval_s: float = 1.0
    rate_window: str = "15s"  # replaces the rules' [5m] windows
    # Other range selectors of the rules, rewritten as written here. The fast profile shrinks time 20x, as
    # [5m] -> [15s]: CostSpike's hourly baseline [1h:1m] becomes [3m:3s], so a sandbox a minute old already
    # has a baseline (with [1h:1m] it has none until a minute boundary passes, then one sample of it), and
    # DailyBudgetExceeded's day [1d] becomes [72m]: its $500 is then spent in a compressed day, not in the
    # sandbox's whole life (its steady traffic spends about $1,600 a real day and would fire it after ~7 h).
    windows: dict[str, str] = Field(default_factory=lambda: {"[1h:1m]": "[3m:3s]", "[1d]": "[72m]"})
    alert_for: dict[str, str] = Field(default_factory=lambda: {"*": "3s"})
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 20.0
    backoff_reset_s: float = 60.0
    pod_eviction_s: float = 60.0  # how long pods stay bound to an unreachable node (Kubernetes: 300 s)


PROFILES: dict[str, Profile] = {
    "fast": Profile(),
    "realistic": Profile(name="realistic", scrape_interval_s=15, evaluation_interval_s=15, rate_window="5m",
                         alert_for={}, windows={}, backoff_base_s=10, backoff_cap_s=300, backoff_reset_s=600,
                         pod_eviction_s=300),
}


class SandboxConfig(BaseModel):
    name: str = "drillbook"
    octet: int = Field(42, ge=2, le=254, description="pods live in 127.<octet>.0.0/16")
    profile: Profile = Field(default_factory=Profile)
    nodes: list[str] = Field(default_factory=lambda: ["sandbox-control-plane", "sandbox-worker",
                                                      "sandbox-worker2", "sandbox-worker3"])

    @property
    def controller_address(self) -> str:
        return f"127.{self.octet}.0.1"

    @property
    def cgroup_name(self) -> str:
        return f"drillbook/{self.name}"

    def save(self, root: Path) -> None:
        write_json_atomic(root / "sandbox.json", json.loads(self.model_dump_json()))

    @classmethod
    def load(cls, root: Path) -> SandboxConfig:
        return cls.model_validate_json((root / "sandbox.json").read_text())
