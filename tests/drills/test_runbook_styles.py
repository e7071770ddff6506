"""Runbooks in house styles other than ours parse to the structure a person would read in them.

Each fixture under tests/fixtures/runbooks/ is written for these tests (no public collection copied) and
pins one shape: alert-per-file with front matter and console output, causes as a table, numbered lists
with fences, several runbooks with SEV priorities and ``~~~`` fences, console transcripts with ``oc``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from drills.cli import app
from drills.runbook import ParseOptions, RunbookDocument, parse_runbook_file
from tests.conftest import FIXTURES

STYLES = FIXTURES / "runbooks"
RULES = STYLES / "rules.yml"


def parse(name: str, rules: bool = True) -> RunbookDocument:
    return parse_runbook_file(STYLES / name, ParseOptions().with_rules([RULES] if rules else []))


def steps(
    blocks: list,
) -> list[tuple[int, str, list[str]]]:  # type: ignore[type-arg]
    return [(c.line, c.cls.value, c.placeholders) for b in blocks for c in b.commands]


def test_alert_per_file_with_front_matter_and_console_output() -> None:
    doc = parse("KubePodCrashLooping.md")
    [rb] = doc.runbooks
    assert (rb.title, rb.line, rb.number, rb.expected_alerts) == (
        "KubePodCrashLooping",
        6,
        None,
        ["KubePodCrashLooping"],
    )
    assert (rb.severity, rb.priority, rb.severity_source) == (
        "warning",
        "P2",
        "alert rule KubePodCrashLooping severity label",
    )
    assert [(s.title, s.kind, s.line, s.selectable) for s in rb.sections] == [
        ("Meaning", "other", 8, False),
        ("Impact", "impact", 12, False),
        ("Diagnosis", "investigation", 16, False),
        ("Mitigation", "resolution", 36, True),
    ]
    # console block: prompts stripped, output (with its unterminated quote) not taken as commands
    assert steps(rb.investigation) == [
        (21, "read-only", ["<namespace>"]),
        (24, "read-only", ["<POD_NAME>", "<namespace>"]),
        (33, "read-only", ["<POD_NAME>", "<namespace>"]),
    ]
    assert rb.investigation[0].commands[0].text.startswith("kubectl get pods -n <namespace>")
    # fences inside numbered list items are steps; the fence inside the HTML comment is not
    assert rb.remediation_title == "Mitigation" and rb.causes == []
    assert steps(rb.resolution) == [
        (41, "mutating", ["<DEPLOYMENT>", "<namespace>"]),
        (47, "mutating", ["<DEPLOYMENT>", "<namespace>"]),
        (48, "read-only", ["<DEPLOYMENT>", "<namespace>"]),
    ]
    assert not any("delete namespace" in c.text for c in rb.steps)
    assert doc.section("KubePodCrashLooping", "mitigation") == (rb, None)


def test_without_rule_files_the_severity_is_a_notice_not_a_guess() -> None:
    doc = parse("KubePodCrashLooping.md", rules=False)
    assert (doc.runbooks[0].severity, doc.runbooks[0].priority) == (None, None)
    assert [(n.line, "states no severity" in n.message) for n in doc.notices] == [(6, True)]


def test_causes_as_table_rows_with_severity_and_alert_in_a_table() -> None:
    doc = parse("payments-causes-table.md")
    [rb] = doc.runbooks
    assert (rb.title, rb.severity, rb.priority, rb.expected_alerts) == (
        "Payments API: elevated 5xx",
        "SEV-2",
        "P1",
        ["PaymentsHigh5xx"],
    )
    assert rb.symptoms == [
        "Error budget burn alert in #payments-alerts",
        'Dashboard "Payments / Overview" shows 5xx above 2%',
    ]
    assert steps(rb.investigation) == [(17, "read-only", []), (18, "read-only", [])]
    assert [(c.title, c.line) for c in rb.causes] == [
        ("Bad release", 25),
        ("Database pool exhausted", 26),
        ("Card processor outage", 27),
    ]
    assert [[(s.text, s.cls.value) for s in c.steps] for c in rb.causes] == [
        [("helm rollback payments -n payments", "mutating")],
        [("kubectl -n payments scale deploy/payments-api --replicas=6", "mutating")],
        [
            (
                """curl -X POST http://payments-api.payments.svc:8080/admin/failover -d '{"to":"backup"}'""",
                "mutating",
            )
        ],
    ]
    assert steps(rb.causes[0].investigation) == [(25, "read-only", [])]
    assert steps(rb.causes[2].investigation) == [(27, "external", [])]
    assert doc.notices == []


def test_numbered_list_causes_with_fences_labels_and_a_p_level_title() -> None:
    doc = parse("search-numbered.md", rules=False)
    [rb] = doc.runbooks
    assert (rb.title, rb.severity, rb.priority) == ("Search indexing stalled", "P1", "P1")
    assert rb.expected_alerts == ["SearchIndexLag", "SearchIndexerDown"]
    assert [(c.number, c.title, c.line) for c in rb.causes] == [
        (1, "Indexer out of disk", 7),
        (2, "Stuck consumer group", 14),
        (3, "Upstream feed paused", 28),
    ]
    assert steps(rb.causes[0].resolution) == [(10, "read-only", []), (11, "mutating", [])]
    assert steps(rb.causes[1].investigation) == [(19, "mutating", [])]  # "Diagnosis:" part, unknown tool
    assert steps(rb.causes[1].resolution) == [(25, "mutating", [])]
    assert rb.causes[2].resolution == []
    assert [(n.line, n.message.split(" (")[0]) for n in doc.notices] == [
        (28, "cause 'Upstream feed paused' has no remediation steps")
    ]
    assert steps(rb.investigation) == [(33, "read-only", [])]  # "Verification" section


def test_several_runbooks_with_sev_priorities_tilde_fences_and_unnumbered_causes() -> None:
    doc = parse("edge-collection.md", rules=False)
    tls, proxy = doc.runbooks
    assert (tls.title, tls.line, tls.severity, tls.priority, tls.expected_alerts) == (
        "TLS certificate expiring",
        5,
        "SEV-1",
        "P0",
        ["EdgeCertExpiringSoon"],
    )
    assert steps(tls.investigation) == [(16, "read-only", [])]  # base64 -d | openssl x509
    assert [(c.number, c.title, c.line) for c in tls.causes] == [
        (None, "cert-manager cannot renew", 19),
        (None, "Issuer credentials expired", 26),
    ]
    assert steps(tls.causes[1].resolution) == [(29, "mutating", ["YOUR_API_TOKEN"])]
    assert (proxy.title, proxy.severity, proxy.priority, proxy.expected_alerts) == (
        "Proxy pods OOM",
        "warning",
        "P2",
        ["EdgeProxyOOMKilled"],
    )
    assert proxy.remediation_title == "Fix" and steps(proxy.resolution) == [
        (47, "mutating", []),
        (48, "mutating", []),
    ]
    assert [(n.line, "indented code block" in n.message) for n in doc.notices] == [(44, True)]


def test_indented_code_is_read_as_steps_only_when_turned_on() -> None:
    doc = parse_runbook_file(STYLES / "edge-collection.md", ParseOptions(indented_code=True))
    proxy = doc.runbook("Proxy pods OOM")
    assert steps(proxy.resolution)[0] == (44, "mutating", [])
    assert doc.notices == []


def test_console_transcripts_oc_helm_and_a_continued_curl() -> None:
    doc = parse("queue-console.md", rules=False)
    [rb] = doc.runbooks
    assert (rb.title, rb.severity, rb.priority) == ("Queue backlog growing", "critical", "P0")
    assert [(c.line, c.text, c.cls.value) for b in rb.investigation for c in b.commands] == [
        (8, "oc -n queue get pods", "read-only"),
        (11, "oc -n queue exec worker-0 -- rabbitmqctl list_queues name messages", "mutating"),
        (15, "helm -n queue status workers", "read-only"),
    ]
    got = [(c.line, c.end_line, c.cls.value) for c in rb.steps]
    assert got == [(23, 23, "mutating"), (25, 26, "mutating"), (33, 33, "manual")]
    assert rb.steps[1].text.endswith("""-d '{"pattern":"^orders$","definition":{"message-ttl":600000}}'""")


@pytest.mark.parametrize("name", sorted(p.name for p in STYLES.glob("*.md")))
def test_drillbook_parse_reads_every_fixture_style(name: str) -> None:
    result = CliRunner().invoke(app, ["parse", str(STYLES / name), "--rules", str(RULES)])
    assert result.exit_code == 0, result.output
    assert "runbook: " in result.stdout


def test_parse_prints_user_text_as_written_not_as_console_markup(tmp_path: Path) -> None:
    path = tmp_path / "markup.md"
    path.write_text(
        "# Fix [/red] the [bold]thing[/bold] :fire:\n\nSeverity: P1\n\n## Mitigation\n\n"
        "```bash\nls /var/log | grep '[a-z]' > /dev/null\n```\n"
    )
    result = CliRunner().invoke(app, ["parse", str(path)])
    assert result.exit_code == 0, result.output
    assert "runbook: Fix [/red] the [bold]thing[/bold] :fire:" in result.stdout
    assert "grep '[a-z]' > /dev/null" in result.stdout


def test_parse_shows_the_section_path_a_spec_names() -> None:
    result = CliRunner().invoke(app, ["parse", str(STYLES / "KubePodCrashLooping.md"), "--rules", str(RULES)])
    assert "runbook: KubePodCrashLooping" in result.stdout and "cause: Mitigation" in result.stdout


def test_style_file_extends_the_vocabulary(tmp_path: Path) -> None:
    (tmp_path / "drillbook-style.yaml").write_text("remediation: [make it right]\n")
    runbook = tmp_path / "r.md"
    runbook.write_text(
        "# Thing broken\n\nSeverity: low\n\n## Make it right\n\n```bash\nkubectl delete pod x\n```\n"
    )
    result = CliRunner().invoke(app, ["parse", str(runbook)])
    assert result.exit_code == 0 and "cause: Make it right" in result.stdout
    (tmp_path / "drillbook-style.yaml").write_text("remediaton: [typo]\n")
    result = CliRunner().invoke(app, ["parse", str(runbook)])
    assert result.exit_code == 2 and "unknown style key 'remediaton'" in result.output


def test_parse_loads_no_engine_module() -> None:
    """`drillbook parse` starts fast: the engine, reports, YAML, bashlex and rich load only when needed."""
    import subprocess
    import sys

    code = ("import sys; from drills.cli import app\n"
            "try:\n    app(['parse', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
            "heavy = {'drills.journal', 'drills.runner', 'drills.reports', 'drills.specs', 'kubernetes', 'yaml',"
            " 'bashlex', 'jinja2', 'requests', 'rich.console'}\n"
            "print(sorted(heavy & set(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "seed-incident-runbooks.md")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_causes_with_their_own_sub_headings_and_a_key_value_table_header() -> None:
    doc = parse("redis-cause-subheadings.md", rules=False)
    [rb] = doc.runbooks
    assert (rb.title, rb.severity, rb.priority) == ("Redis down", "P0", "P0")
    disk, evicted = rb.causes
    assert (disk.title, disk.line, disk.symptoms) == ("Disk full", 8,
                                                      ["MISCONF Redis is configured to save RDB snapshots"])
    assert steps(disk.investigation) == [(19, "read-only", [])]  # "#### Check"
    assert steps(disk.resolution) == [(25, "mutating", [])]  # "#### Fix"
    assert (evicted.title, steps(evicted.resolution)) == ("Evicted pod", [(33, "mutating", [])])
    assert [b.line for b in rb.other] == [38]  # "## Prevention": kept and shown, never run
    assert doc.notices == []


def test_a_plain_steps_runbook_with_a_severity_word_in_prose() -> None:
    doc = parse("billing-steps.md", rules=False)
    [rb] = doc.runbooks
    assert (rb.title, rb.severity, rb.priority, rb.remediation_title) == (
        "Restart the billing API", "high", "P1", "Steps")
    assert steps(rb.resolution) == [(10, "read-only", []), (16, "mutating", [])]
    assert steps(rb.investigation) == [(22, "read-only", [])]  # "Investigation steps" is not remediation
