"""CI gate: which drills does a change touch?

A pull request that edits a runbook cause (its symptoms or resolution lines), a drill spec, the alert rules or
the escalation table must re-prove the drills behind it. This prints their ids, one per line, for
``drillbook run $(python ci/changed_drills.py --base origin/main)``. Lines come from ``git diff -U0`` hunks and
the parser's line numbers, so only the causes whose text changed are selected.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drills.specs import ResolvedDrill, load_catalog, resolve, runbook_path  # noqa: E402

ALWAYS = ("refsystem/prometheus/alerts.yml",)  # a rule change can break every drill's detection
HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", re.M)


def changed_lines(base: str, path: Path) -> set[int]:
    """Lines of ``path`` (new side) added or changed since ``base``; a deletion marks the line after it."""
    diff = subprocess.run(["git", "diff", "-U0", base, "--", str(path)], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    lines: set[int] = set()
    for start, count in HUNK.findall(diff):
        n = int(count) if count else 1
        lines.update(range(int(start), int(start) + max(n, 1)))
    return lines


def changed_files(base: str) -> set[str]:
    out = subprocess.run(["git", "diff", "--name-only", base], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def select_drills(drills: list[ResolvedDrill], files: set[str],
                  lines_of: Callable[[Path], set[int]]) -> list[str]:
    """The drills a change touches, given the changed files and, per runbook file, its changed lines."""
    if any(f in files for f in ALWAYS):
        return [d.spec.id for d in drills]
    chosen = []
    for d in drills:
        spec_file = str(Path(d.spec.source).resolve().relative_to(ROOT))
        shared_file = str(Path(d.spec.shared).resolve().relative_to(ROOT)) if d.spec.shared else None
        runbook_file = str(runbook_path(d.spec).relative_to(ROOT))
        if spec_file in files or shared_file in files:  # its own spec, or the _service.yaml it inherits
            chosen.append(d.spec.id)
            continue
        if runbook_file not in files:
            continue
        lines = lines_of(runbook_path(d.spec))
        cause_lines = set(range(d.cause_line, d.cause_end_line + 1))
        table = {e.line for e in d.document.escalation}
        symptoms = set(range(d.runbook.line, d.runbook.causes[0].line if d.runbook.causes else d.runbook.line))
        if lines & (cause_lines | table | symptoms):
            chosen.append(d.spec.id)
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="origin/main", help="git revision to compare against")
    args = parser.parse_args()
    drills = [resolve(spec) for spec in load_catalog()]
    for drill_id in select_drills(drills, changed_files(args.base), lambda p: changed_lines(args.base, p)):
        print(drill_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
