"""PersistentVolumeClaims as size-limited filesystems: a tmpfs mounted with ``size=`` the claim's request.

A claim of 1Gi then really fills at 1Gi and the program writing to it gets ENOSPC, as on a full disk (a plain
directory would fill the host's disk instead, and the claim's size would mean nothing). Mounting needs root;
without it a claim is a plain directory and faults that need a full volume are skipped (capability ``tmpfs``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from drills.targets.local.quantity import memory_bytes


def mounted(path: Path) -> bool:
    target = str(path.resolve())
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def can_mount() -> bool:
    return os.geteuid() == 0


def ensure_claim(path: Path, size: str | None) -> None:
    """Create the claim's directory and, as root, mount a tmpfs of the requested size on it (once)."""
    path.mkdir(parents=True, exist_ok=True)
    if size and can_mount() and not mounted(path):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={memory_bytes(size)},mode=0777", "tmpfs", str(path)],
                       check=True, capture_output=True)


def unmount_all(root: Path) -> None:
    """Unmount every tmpfs below ``root`` (``drillbook down``, controller shutdown)."""
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)
