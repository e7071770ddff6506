"""The Redis-slow fault: a named client's SORTs fill the slow log; confirm reads them back and binds the client."""

from __future__ import annotations

from typing import Any

import pytest

from drills.errors import FaultError
from drills.targets.base import ExecResult
from faults import promql, redis_slow

PARAMS = redis_slow.RedisSlowParams(namespace="production-agents", pod="redis-0", service="redis-service",
                                    job="report-export", image="redis:7.0", key="report:events", size=300000,
                                    min_entries=2, min_duration_ms=20)
# `redis-cli --no-raw SLOWLOG GET` as redis-cli 7.0 prints it (captured from a real server)
SLOWLOG = """1) 1) (integer) 7
   2) (integer) 1796311800
   3) (integer) 125378
   4) 1) "SORT"
      2) "report:events"
      3) "LIMIT"
      4) "0"
      5) "10"
   5) "127.48.2.11:35308"
   6) "report-export"
2) 1) (integer) 6
   2) (integer) 1796311799
   3) (integer) 65305
   4) 1) "SORT"
      2) "report:events"
      3) "LIMIT"
      4) "0"
      5) "10"
   5) "127.48.2.11:35308"
   6) "report-export"
3) 1) (integer) 5
   2) (integer) 1796311795
   3) (integer) 182737
   4) 1) "EVAL"
      2) "for i = 1, tonumber(ARGV[1]) ... (54 more bytes)"
      3) "1"
   5) "127.48.0.12:35304"
   6) ""
"""


class Redis:
    def __init__(self, slowlog: str = SLOWLOG) -> None:
        self.slowlog, self.execs, self.applied, self.deleted = slowlog, [], [], []

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        self.execs.append(argv)
        return ExecResult(0, self.slowlog if "SLOWLOG" in argv else "300000\n")

    def apply(self, obj: dict[str, Any]) -> None:
        self.applied.append(obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.deleted.append((kind, namespace, name))


WIDE = """  9) 1) (integer) 40
     2) (integer) 1796312656
     3) (integer) 182448
     4) 1) "SORT"
        2) "report:events"
        3) "LIMIT"
        4) "0"
        5) "10"
     5) "127.0.0.1:55010"
     6) "report-export"
127) 1) (integer) 160
     2) (integer) 1796312589
     3) (integer) 130249
     4) 1) "SORT"
        2) "report:events"
     5) "127.0.0.1:55010"
     6) "report-export"
"""


def test_entries_numbered_past_nine_are_right_aligned_and_still_parsed() -> None:
    entries = redis_slow.parse_slowlog(WIDE)
    assert [(e.id, e.micros, e.command, e.name) for e in entries] == [
        (40, 182448, ["SORT", "report:events", "LIMIT", "0", "10"], "report-export"),
        (160, 130249, ["SORT", "report:events"], "report-export")]


def test_the_slow_log_is_parsed_entry_by_entry() -> None:
    entries = redis_slow.parse_slowlog(SLOWLOG)
    assert [(e.id, e.at, e.micros, e.command[:2], e.addr, e.name) for e in entries] == [
        (7, 1796311800, 125378, ["SORT", "report:events"], "127.48.2.11:35308", "report-export"),
        (6, 1796311799, 65305, ["SORT", "report:events"], "127.48.2.11:35308", "report-export"),
        (5, 1796311795, 182737, ["EVAL", "for i = 1, tonumber(ARGV[1]) ... (54 more bytes)"], "127.48.0.12:35304",
         "")]
    assert redis_slow.parse_slowlog("(empty array)\n") == []


def test_inject_seeds_the_list_then_deploys_the_named_job() -> None:
    redis = Redis()
    redis_slow.inject(redis, PARAMS)  # type: ignore[arg-type]
    assert redis.execs[0][:2] == ["redis-cli", "EVAL"] and redis.execs[0][-3:] == ["1", "report:events", "300000"]
    (job,) = redis.applied
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert job["metadata"]["name"] == "report-export" and container["image"] == "redis:7.0"
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "REDIS_HOST": "redis-service", "REDIS_PORT": "6379", "CLIENT_NAME": "report-export", "KEY": "report:events"}
    assert "CLIENT SETNAME" in container["command"][2] and "SORT $KEY" in container["command"][2]


@pytest.fixture(autouse=True)
def prometheus_saw_slow_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promql, "values", lambda target, expr, by: {"": 40.0})
    monkeypatch.setattr(promql, "window", lambda target: "15s")


def test_confirm_counts_the_jobs_slow_sorts_after_the_fault_and_binds_the_client() -> None:
    evidence = redis_slow.confirm(Redis(), PARAMS, 1796311790.0, 1.0)  # type: ignore[arg-type]
    assert evidence["slow_commands"] == 2 and evidence["slowest_ms"] == 125.4
    assert evidence["bindings"] == {"SLOW_CLIENT": "report-export"}


@pytest.mark.parametrize(("since", "min_ms"), [(1796311800.0, 20), (1796311790.0, 100)])
def test_confirm_fails_on_too_few_entries_after_the_fault_or_too_fast(since: float, min_ms: float) -> None:
    p = PARAMS.model_copy(update={"min_duration_ms": min_ms})
    with pytest.raises(FaultError, match="SORT report:events"):
        redis_slow.confirm(Redis(), p, since, 0.3)  # type: ignore[arg-type]


def test_revert_deletes_the_job_and_unlinks_the_key() -> None:
    redis = Redis()
    undo = redis_slow.undo(redis, PARAMS)  # type: ignore[arg-type]
    assert undo["slowlog_last_id"] == 7
    redis_slow.revert(redis, undo)  # type: ignore[arg-type]
    assert redis.deleted == [("Deployment", "production-agents", "report-export")]
    assert redis.execs[-1] == ["redis-cli", "UNLINK", "report:events"]
