"""Reports made from drill results: results.json, junit.xml, report.html, postmortems, Pushgateway metrics.

Every report is a pure function of the ``DrillResult`` list (secrets were scrubbed from the results by the
runner before any of them is written).
"""

from __future__ import annotations

from pathlib import Path

from drills.model import DrillResult
from drills.reports.files import results_document, write_junit, write_results

__all__ = ["results_document", "write_junit", "write_reports", "write_results"]


def write_reports(results: list[DrillResult], directory: Path) -> list[Path]:
    """Every report file of a run: results.json, junit.xml, report.html and a postmortem per failed drill."""
    from drills.reports.html import write_html
    from drills.reports.postmortem import write_postmortems

    return [write_results(results, directory), write_junit(results, directory), write_html(results, directory),
            *write_postmortems(results, directory)]
