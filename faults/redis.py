"""Redis refusing writes while it stays up: at ``maxmemory`` with ``noeviction``, or after a failed RDB save.

- ``redis-maxmemory``: ``maxmemory`` is set just above what Redis holds, policy ``noeviction``; the agents'
  own traffic (conversation history) fills the rest within seconds and every write then gets
  ``OOM command not allowed when used memory > 'maxmemory'`` (REFERENCE). Reads still work.
- ``redis-disk-full``: Redis' data volume (a PVC, a tmpfs of the claim's size in the sandbox) is filled to
  ENOSPC and a background save is requested; it fails, and with a save point configured and
  ``stop-writes-on-bgsave-error yes`` every write gets ``MISCONF``.

Both confirm the symptom from Redis itself (a probe write answered with the error) before the drill goes on.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults.common import wait_for

PROBE = ["redis-cli", "SET", "drillbook:probe", "1"]


class RedisParams(BaseModel):
    namespace: str
    pod: str = Field(description="the Redis pod, e.g. redis-0")


def _cli(target: Target, p: RedisParams, *args: str) -> str:
    result = target.exec(p.namespace, p.pod, ["redis-cli", *args])
    if result.exit_code != 0:
        raise FaultError(f"redis-cli {' '.join(args)} on {p.pod} failed ({result.exit_code}): {result.output}")
    return result.output.strip()


def _config(target: Target, p: RedisParams, key: str) -> str:
    lines = _cli(target, p, "CONFIG", "GET", key).splitlines()
    return lines[1] if len(lines) > 1 else ""


def _write_refused(target: Target, p: RedisParams, error: str) -> str | None:
    output = target.exec(p.namespace, p.pod, PROBE).output
    return output.strip() if error in output else None


class MaxmemoryParams(RedisParams):
    headroom_kb: int = Field(64, description="maxmemory = used memory + this; the load fills it")
    policy: str = "noeviction"


def maxmemory_undo(target: Target, p: MaxmemoryParams) -> Undo:
    return {"namespace": p.namespace, "pod": p.pod, "maxmemory": _config(target, p, "maxmemory"),
            "maxmemory-policy": _config(target, p, "maxmemory-policy")}


def maxmemory_inject(target: Target, p: MaxmemoryParams) -> None:
    info = _cli(target, p, "INFO", "memory")
    used = next(int(line.split(":")[1]) for line in info.splitlines() if line.startswith("used_memory:"))
    _cli(target, p, "CONFIG", "SET", "maxmemory-policy", p.policy)
    _cli(target, p, "CONFIG", "SET", "maxmemory", str(used + p.headroom_kb * 1024))


def maxmemory_confirm(target: Target, p: MaxmemoryParams, since: float, timeout_s: float) -> Evidence:
    reply = wait_for(lambda: _write_refused(target, p, "OOM command not allowed"), timeout_s,
                     "a write refused with 'OOM command not allowed'")
    return {"probe_write": reply, "maxmemory": _config(target, p, "maxmemory")}


def maxmemory_revert(target: Target, record: dict[str, Any]) -> None:
    p = RedisParams(namespace=record["namespace"], pod=record["pod"])
    _cli(target, p, "CONFIG", "SET", "maxmemory", record["maxmemory"] or "0")
    _cli(target, p, "CONFIG", "SET", "maxmemory-policy", record["maxmemory-policy"] or "noeviction")


class DiskFullParams(RedisParams):
    data_dir: str = "/data"
    filler: str = "drillbook-filler"


def disk_undo(target: Target, p: DiskFullParams) -> Undo:
    return {"namespace": p.namespace, "pod": p.pod, "save": _config(target, p, "save"),
            "filler": f"{p.data_dir}/{p.filler}"}


def disk_inject(target: Target, p: DiskFullParams) -> None:
    target.exec(p.namespace, p.pod, ["cp", "/dev/zero", f"{p.data_dir}/{p.filler}"], timeout_s=120)  # to ENOSPC
    if not _config(target, p, "save"):
        raise FaultError(f"{p.pod} has no save point configured: a failed save would not stop writes")
    _cli(target, p, "BGSAVE")


def disk_confirm(target: Target, p: DiskFullParams, since: float, timeout_s: float) -> Evidence:
    reply = wait_for(lambda: _write_refused(target, p, "MISCONF"), timeout_s, "a write refused with MISCONF")
    usage = target.exec(p.namespace, p.pod, ["df", "-h", p.data_dir]).output.strip()
    return {"probe_write": reply, "df": usage}


def disk_revert(target: Target, record: dict[str, Any]) -> None:
    p = RedisParams(namespace=record["namespace"], pod=record["pod"])
    target.exec(p.namespace, p.pod, ["rm", "-f", record["filler"]])
    if record.get("save"):
        _cli(target, p, "CONFIG", "SET", "save", record["save"])
    _cli(target, p, "BGSAVE")  # a successful save clears the error state


REDIS_MAXMEMORY = FaultPlugin(kind="redis-maxmemory", summary="cap Redis just above its data with noeviction; "
                              "traffic fills it", params=MaxmemoryParams, undo=maxmemory_undo,
                              inject=maxmemory_inject, confirm=maxmemory_confirm, revert=maxmemory_revert)
REDIS_DISK_FULL = FaultPlugin(kind="redis-disk-full", summary="fill Redis' data volume and make its RDB save fail",
                              params=DiskFullParams, undo=disk_undo, inject=disk_inject, confirm=disk_confirm,
                              revert=disk_revert, requires=frozenset({"tmpfs"}))
