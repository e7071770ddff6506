"""Benchmark a drill: run it N times on the local sandbox and report wall time, detection and recovery.

Prints one row per run and the min / median / max of each figure, next to the detection floor (scrape +
evaluation interval + the alert's ``for:``). Usage::

    sudo .venv/bin/python ci/bench_drill.py agent-down/oom --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.journal import Journal  # noqa: E402
from drills.runner import RunContext, run_drill  # noqa: E402
from drills.specs import load_catalog, resolve, select  # noqa: E402
from drills.targets.local import LocalTarget  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("drill")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    (spec,) = select(load_catalog(), [args.drill], [])
    drill = resolve(spec)
    target = LocalTarget()
    started = time.monotonic()
    target.ensure_up()
    target.wait_steady(180)
    print(f"sandbox up and steady in {time.monotonic() - started:.1f}s (not counted below)")
    rows = []
    print("run  verdict  wall_s  confirm_s  ttd_s  ttr_s  floor_s")
    for i in range(args.runs):
        r = run_drill(drill, RunContext(target=target, journal=Journal()))
        confirm = (r.fault.confirmed_at - r.fault.injected_at) if r.fault and r.fault.confirmed_at \
            and r.fault.injected_at else float("nan")
        rows.append((r.wall_s or 0.0, confirm, r.ttd_s or float("nan"), r.ttr_s or float("nan")))
        print(f"{i + 1:3d}  {r.verdict.value:7s}  {r.wall_s:6.1f}  {confirm:9.1f}  {r.ttd_s or float('nan'):5.1f}  "
              f"{r.ttr_s or float('nan'):5.1f}  {r.detection_floor_s:7.1f}")
    for name, column in zip(("wall_s", "confirm_s", "ttd_s", "ttr_s"), zip(*rows, strict=True), strict=True):
        values = sorted(column)
        print(f"{name:9s} min {values[0]:6.1f}  median {statistics.median(values):6.1f}  max {values[-1]:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
