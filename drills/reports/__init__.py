"""Reports made from drill results: results.json, junit.xml, report.html, postmortems, Pushgateway metrics.

Every report is a pure function of the ``DrillResult`` list (secrets were scrubbed from the results by the
runner before any of them is written).
"""

from drills.reports.files import results_document, write_junit, write_results

__all__ = ["results_document", "write_junit", "write_results"]
