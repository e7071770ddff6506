"""Benchmark drills: run them N rounds in a row on the local sandbox; report wall time, detection, recovery.

Each round runs every selected drill once, in catalog order, so the figures also show that no drill disturbs
the next (each starts from a verified steady state). Per drill: the verdict of every round and the min /
median / max of wall time, time for the fault to take effect, time to detect (fault → expected alerts firing)
and time to recover (fault → recovered and stable), next to the detection floor (scrape + evaluation interval
+ the alert's ``for:``). Usage::

    sudo .venv/bin/python ci/bench_drill.py agent-down/oom --runs 5
    sudo .venv/bin/python ci/bench_drill.py --runbook "Agent Down" --runbook "Redis Failure" --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.journal import Journal  # noqa: E402
from drills.model import DrillResult  # noqa: E402
from drills.runner import RunContext, run_drill  # noqa: E402
from drills.specs import load_catalog, resolve, select  # noqa: E402
from drills.targets.local import LocalTarget  # noqa: E402


def figures(r: DrillResult) -> dict[str, float]:
    nan = float("nan")
    confirm = nan
    if r.fault and r.fault.confirmed_at and r.fault.injected_at:
        confirm = r.fault.confirmed_at - r.fault.injected_at
    before = after = nan
    if r.fault and r.fault.injected_at:
        before = r.fault.injected_at - (r.started_at or r.fault.injected_at)  # the steady-state check
        if r.ttr_s is not None and r.finished_at:
            after = r.finished_at - (r.fault.injected_at + r.ttr_s)  # stability window, revert, settle
    return {"wall_s": r.wall_s or nan, "confirm_s": confirm, "ttd_s": r.ttd_s or nan, "ttr_s": r.ttr_s or nan,
            "before_s": before, "after_s": after}


def carried(r: DrillResult) -> bool:
    """The drill started from the previous drill's verified steady state (drills/carry.py)."""
    return any(c.name == "steady-state" and c.detail.startswith("carried over") for c in r.checks)


def spread(values: list[float]) -> str:
    ok = sorted(v for v in values if v == v)
    if not ok:
        return "n/a"
    return f"{ok[0]:.1f} / {statistics.median(ok):.1f} / {ok[-1]:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drills", nargs="*")
    parser.add_argument("--runbook", action="append", default=[])
    parser.add_argument("--runs", type=int, default=3, help="rounds")
    args = parser.parse_args()
    drills = [resolve(s) for s in select(load_catalog(), args.drills, args.runbook)]
    target = LocalTarget()
    started = time.monotonic()
    target.ensure_up()
    target.wait_steady(180)
    print(f"sandbox up and steady in {time.monotonic() - started:.1f}s (not counted below)")
    results: dict[str, list[DrillResult]] = {d.spec.id: [] for d in drills}
    for round_no in range(args.runs):
        round_started = time.monotonic()
        for drill in drills:
            r = run_drill(drill, RunContext(target=target, journal=Journal()))
            results[drill.spec.id].append(r)
            f = figures(r)
            print(f"round {round_no + 1} {r.id:34s} {r.verdict.value:7s} wall {f['wall_s']:6.1f}  "
                  f"confirm {f['confirm_s']:5.1f}  ttd {f['ttd_s']:5.1f}  ttr {f['ttr_s']:5.1f}  "
                  f"floor {r.detection_floor_s}  before fault {f['before_s']:5.1f}  after recovery "
                  f"{f['after_s']:5.1f}{'  steady carried over' if carried(r) else ''}", flush=True)
            if r.verdict.value != "passed":
                print(f"    {r.reason}; failed: {', '.join(r.failed_checks)}", flush=True)
        this = [runs[round_no] for runs in results.values()]
        ttr = sum(r.ttr_s or 0.0 for r in this)
        wall = time.monotonic() - round_started
        print(f"round {round_no + 1}: {wall:.1f}s wall for {ttr:.1f}s of ttr ({wall / ttr if ttr else 0:.2f}x; "
              f"sum of drill walls {sum(r.wall_s or 0.0 for r in this):.1f}s); steady state carried over "
              f"{sum(carried(r) for r in this)} of {len(this)} times", flush=True)
    print("\n| drill | verdicts | wall s | fault effective s | ttd s | ttr s | floor s |")
    print("|---|---|---|---|---|---|---|")
    for drill_id, runs in results.items():
        cols = {k: spread([figures(r)[k] for r in runs]) for k in ("wall_s", "confirm_s", "ttd_s", "ttr_s")}
        verdicts = ", ".join(r.verdict.value for r in runs)
        print(f"| {drill_id} | {verdicts} | {cols['wall_s']} | {cols['confirm_s']} | {cols['ttd_s']} | "
              f"{cols['ttr_s']} | {runs[0].detection_floor_s} |")
    print("\n(min / median / max over the rounds)")
    return 0 if all(r.verdict.value == "passed" for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
