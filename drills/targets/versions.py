"""What an installed tool says its version is: reports record which kubectl, Prometheus and Redis ran."""

from __future__ import annotations

import re
import subprocess


def tool_version(argv: list[str], pattern: str, env: dict[str, str] | None = None) -> str:
    """The first group of ``pattern`` in the tool's output; ``unavailable (...)`` or ``unknown`` otherwise."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=10, check=False,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({type(exc).__name__})"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"
