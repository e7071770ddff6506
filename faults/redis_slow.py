"""Redis slow: a client runs an O(N) command on a big key over and over, and Redis, single-threaded, makes every
other client wait behind it (Runbook 3, Cause 3).

Story reproduced: a reporting job is deployed next to the agents. It keeps a big list in Redis and sorts it
again and again (``SORT key LIMIT 0 10`` sorts all N elements every time, O(N log N)), on one connection named
after its workload (``CLIENT SETNAME``, as well-behaved clients do). Each sort takes tens to hundreds of
milliseconds inside redis-server, so every agent command queued behind it waits, and the slow log - which
records commands slower than ``slowlog-log-slower-than`` (10 ms by default) with the client's address and
name - fills with the job's sorts: exactly what the runbook's ``SLOWLOG GET`` shows. The job is a Deployment
(``redis:7.0`` with its ``redis-cli``), reaching Redis through its Service like any client.

``confirm`` proves it from Redis itself: new slow-log entries of that command from that client, at least
``min_entries`` of them, each over ``min_duration_ms``. The client's name is bound as ``${SLOW_CLIENT}``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from drills.errors import FaultError
from drills.registry import Evidence, FaultPlugin, Undo
from drills.targets.base import Target
from faults import promql
from faults.common import wait_for

# Fill a list with 1..N in batches (one EVAL: the data a long-running job would have accumulated).
SEED = ("for i = 1, tonumber(ARGV[1]), 1000 do local t = {} "
        "for j = i, math.min(i + 999, tonumber(ARGV[1])) do t[#t + 1] = j end "
        "redis.call('RPUSH', KEYS[1], unpack(t)) end return redis.call('LLEN', KEYS[1])")
# The job: one connection, named, sorting the list back to back (redis-cli reads commands from stdin).
JOB = ('{ echo "CLIENT SETNAME $CLIENT_NAME"; while :; do echo "SORT $KEY LIMIT 0 10"; done; } '
       '| redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" > /dev/null')
ENTRY = re.compile(r"^\s*\d+\) 1\) \(integer\) (\d+)$", re.M)
EXEC_EVERY_S = 2.0  # read the slow log at most this often (each read is a kubectl exec)


class RedisSlowParams(BaseModel):
    namespace: str
    pod: str = Field(description="the Redis pod, e.g. redis-0")
    service: str = Field(description="the Service clients reach Redis by, e.g. redis-service")
    port: int = 6379
    job: str = Field(description="name of the job's Deployment, also its Redis client name")
    image: str = Field(description="an image with sh and redis-cli, e.g. redis:7.0")
    key: str = Field(description="the big list the job sorts")
    size: int = Field(gt=0, description="elements in it; SORT's cost grows as N log N")
    min_entries: int = Field(5, gt=0, description="new slow-log entries from the job that prove it")
    min_duration_ms: float = Field(20, gt=0, description="each at least this slow inside redis-server")


@dataclass(frozen=True)
class SlowEntry:
    """One ``SLOWLOG GET`` entry: id, unix time, microseconds, the command, the client's address and name."""

    id: int
    at: int
    micros: int
    command: list[str]
    addr: str
    name: str


def parse_slowlog(text: str) -> list[SlowEntry]:
    """``redis-cli --no-raw SLOWLOG GET n`` → entries (the formatted output keeps each entry's structure; its
    indentation grows with the width of the entry numbers, so fields are told apart by their depth)."""
    out = []
    starts = list(ENTRY.finditer(text))
    for i, m in enumerate(starts):
        body = text[m.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        lines = [line for line in body.splitlines() if line.strip()]
        ints = [re.match(r"^(\s*)[23]\) \(integer\) (\d+)$", line) for line in lines]
        found = [x for x in ints if x]
        if len(found) != 2:
            continue
        depth = len(found[0][1])
        command, tail = [], []
        for line in lines:
            quoted = re.match(r'^(\s*)(?:4\) )?\d+\) "(.*)"$', line)
            if not quoted:
                continue
            if len(quoted[1]) == depth and not line.lstrip().startswith("4) "):
                tail.append(quoted[2])
            else:
                command.append(quoted[2])
        if len(tail) == 2:
            out.append(SlowEntry(int(m[1]), int(found[0][2]), int(found[1][2]), command, tail[0], tail[1]))
    return out


def _cli(target: Target, p: RedisSlowParams, *args: str) -> str:
    result = target.exec(p.namespace, p.pod, ["redis-cli", *args], timeout_s=60)
    if result.exit_code != 0 or result.output.startswith("(error)") or result.output.startswith("ERR"):
        raise FaultError(f"redis-cli {args[0]} on {p.pod} failed ({result.exit_code}): {result.output.strip()}")
    return result.output


def _slowlog(target: Target, p: RedisSlowParams) -> list[SlowEntry]:
    return parse_slowlog(_cli(target, p, "--no-raw", "SLOWLOG", "GET", "128"))


def job_deployment(p: RedisSlowParams) -> dict[str, Any]:
    labels = {"app": p.job}
    env = {"REDIS_HOST": p.service, "REDIS_PORT": str(p.port), "CLIENT_NAME": p.job, "KEY": p.key}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": p.job, "namespace": p.namespace, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": p.job, "image": p.image, "command": ["sh", "-c", JOB],
                         "env": [{"name": k, "value": v} for k, v in env.items()]}]}}}}


def undo(target: Target, p: RedisSlowParams) -> Undo:
    entries = _slowlog(target, p)
    return {"namespace": p.namespace, "pod": p.pod, "job": p.job, "key": p.key,
            "slowlog_last_id": max((e.id for e in entries), default=-1)}


def inject(target: Target, p: RedisSlowParams) -> None:
    _cli(target, p, "EVAL", SEED, "1", p.key, str(p.size))
    target.apply(job_deployment(p))


def confirm(target: Target, p: RedisSlowParams, since: float, timeout_s: float) -> Evidence:
    last_read = [0.0]

    def slow() -> Evidence | None:
        # Prometheus (redis_exporter's redis_slowlog_last_id) says when new entries came; then read them
        logged = promql.values(target, f"sum(increase(redis_slowlog_last_id[{promql.window(target)}]))", "")
        if logged.get("", 0.0) < p.min_entries or time.monotonic() - last_read[0] < EXEC_EVERY_S:
            return None
        last_read[0] = time.monotonic()
        mine = [e for e in _slowlog(target, p) if e.name == p.job and e.at >= int(since)
                and e.command[:2] == ["SORT", p.key] and e.micros >= p.min_duration_ms * 1000]
        if len(mine) < p.min_entries:
            return None
        return {"slow_commands": len(mine), "command": " ".join(mine[0].command),
                "slowest_ms": round(max(e.micros for e in mine) / 1000, 1), "client": f"{mine[0].addr} {p.job}",
                "bindings": {"SLOW_CLIENT": p.job}}

    return wait_for(slow, timeout_s, f"{p.min_entries} SORT {p.key} commands over {p.min_duration_ms:g}ms from "
                                     f"client {p.job!r} in the slow log")


def revert(target: Target, record: Undo) -> None:
    """Remove the job and its key (UNLINK frees it off the main thread); the slow log keeps its history."""
    target.delete("Deployment", record["namespace"], record["job"])
    result = target.exec(record["namespace"], record["pod"], ["redis-cli", "UNLINK", record["key"]])
    if result.exit_code != 0:
        raise FaultError(f"redis-cli UNLINK on {record['pod']} failed: {result.output.strip()}")


FAULT = FaultPlugin(kind="redis-slow-commands", summary="a job sorts a big Redis list back to back; every other "
                    "client waits behind it", params=RedisSlowParams, undo=undo, inject=inject, confirm=confirm,
                    revert=revert, binds=frozenset({"SLOW_CLIENT"}))
