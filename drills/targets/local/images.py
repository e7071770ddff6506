"""The sandbox's image store: which image references exist, and what each one runs.

On a cluster an image is pulled from a registry; in the sandbox an image is a known argv built from Debian's
packages or this project's own programs. A reference that is not in the store fails exactly as a missing
tag does on a node (``ErrImagePull``, then ``ImagePullBackOff``). The store is a JSON file in the sandbox
directory so a drill can see, and a user can extend, what exists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from drills.targets.local.store import write_json_atomic


def default_images() -> dict[str, list[str]]:
    py = sys.executable
    return {
        "ghcr.io/drillbook/production-agent:1.0.0": [py, "-m", "refsystem.agent"],
        "ghcr.io/drillbook/production-agent:1.1.0": [py, "-m", "refsystem.agent"],
        "ghcr.io/drillbook/production-agent:1.2.0": [py, "-m", "refsystem.agent_v1_2"],  # has a bug
        "ghcr.io/drillbook/anthropic-stub:1.0.0": [py, "-m", "refsystem.llm_stub"],
        "ghcr.io/drillbook/loadgen:1.0.0": [py, "-m", "refsystem.loadgen"],
        "redis:7.0": ["/usr/bin/redis-server"],
        "prom/prometheus:v2.42.0": ["/usr/bin/prometheus"],
        "oliver006/redis_exporter:v1.45.0": ["/usr/bin/prometheus-redis-exporter"],
    }


class ImageStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write_defaults(self) -> None:
        write_json_atomic(self.path, default_images())

    def entrypoint(self, image: str) -> list[str] | None:
        """The image's entrypoint, or None when the sandbox has no such image (a failed pull)."""
        return self._all().get(image)

    def _all(self) -> dict[str, list[str]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return default_images()

    def remove(self, image: str) -> list[str] | None:
        """Delete a tag from the store (a registry retention policy did); returns its entrypoint for undo."""
        images = self._all()
        entry = images.pop(image, None)
        write_json_atomic(self.path, images)
        return entry

    def add(self, image: str, entrypoint: list[str]) -> None:
        images = self._all()
        images[image] = entrypoint
        write_json_atomic(self.path, images)
