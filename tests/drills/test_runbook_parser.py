"""The seed runbook file parses unchanged into the expected structure; bad files fail with file:line.

Line numbers are checked against the seed file itself (``grep -n``), because drills and reports
point people at those lines.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import drills.runbook as runbook_pkg
from drills.errors import RunbookError
from drills.runbook import RunbookDocument, parse_runbook_file, parse_runbook_text
from tests.conftest import SEED

CAUSES = {  # runbook number -> [(cause number, title, heading line)]
    1: [(1, "Out of Memory (OOM)", 65), (2, "Image Pull Failure", 82), (3, "Configuration Error", 104),
        (4, "API Key Invalid", 124)],
    2: [(1, "Anthropic API Rate Limiting", 207), (2, "Redis Connection Failure", 226), (3, "Bad Deployment", 248),
        (4, "Downstream Service Failure", 265)],
    3: [(1, "Anthropic API Slow", 330), (2, "CPU Throttling", 348), (3, "Redis Slow", 364),
        (4, "Large Context Windows", 385)],
    4: [(1, "Bot/Abuse", 445), (2, "Inefficient Prompts", 464), (3, "Model Misconfiguration", 483),
        (4, "Feature Launch", 498)],
    5: [(1, "Out of Memory", 558), (2, "Disk Full", 581), (3, "Network Partition", 603)],
    6: [],
}


@pytest.fixture(scope="module")
def doc() -> RunbookDocument:
    return parse_runbook_file(SEED)


def test_public_surface_is_sorted_and_importable() -> None:
    assert runbook_pkg.__all__ == sorted(runbook_pkg.__all__)
    assert all(hasattr(runbook_pkg, name) for name in runbook_pkg.__all__)


def test_runbooks_titles_lines_severity_priority(doc: RunbookDocument) -> None:
    got = [(rb.number, rb.title, rb.line, rb.severity, rb.priority) for rb in doc.runbooks]
    assert got == [
        (1, "Agent Down", 25, "CRITICAL", "P0"),
        (2, "High Error Rate", 164, "CRITICAL", "P0"),
        (3, "High Latency", 289, "HIGH", "P1"),
        (4, "Cost Spike", 402, "HIGH", "P1"),
        (5, "Redis Failure", 522, "CRITICAL", "P0"),
        (6, "Kubernetes Node Failure", 630, "HIGH", "P1"),
    ]
    assert doc.runbooks[0].heading == "Runbook 1: Agent Down"
    assert {rb.file for rb in doc.runbooks} == {str(SEED)}


def test_expected_alerts_and_symptoms(doc: RunbookDocument) -> None:
    assert [rb.expected_alerts for rb in doc.runbooks] == [
        ["AgentDown"], ["HighErrorRate"], ["HighLatency"], ["DailyBudgetExceeded", "CostSpike"], ["RedisDown"], [],
    ]
    assert doc.runbooks[0].symptoms == [
        "Alert: `AgentDown` firing",
        "Health check endpoint returning 503/404",
        "No requests being processed",
        'Users reporting "service unavailable"',
    ]
    assert doc.runbooks[5].symptoms == ["Pods evicted or pending", "Node NotReady status", "Alerts for pod crashes"]


def test_causes_titles_numbers_and_lines(doc: RunbookDocument) -> None:
    for rb in doc.runbooks:
        assert [(c.number, c.title, c.line) for c in rb.causes] == CAUSES[rb.number], rb.title
    assert sum(len(rb.causes) for rb in doc.runbooks) == 19
    assert doc.runbooks[0].causes[0].heading == "Cause 1: Out of Memory (OOM)"


def test_cause_lines_point_at_the_headings_in_the_file(doc: RunbookDocument) -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    for rb in doc.runbooks:
        assert lines[rb.line - 1] == f"## {rb.heading}"
        for cause in rb.causes:
            assert lines[cause.line - 1] == f"#### {cause.heading}"
            for block in cause.resolution:
                assert lines[block.line - 1] == "```bash" and lines[block.end_line - 1] == "```"


def test_cause_symptoms_from_fence_or_bullets(doc: RunbookDocument) -> None:
    assert doc.cause("Agent Down", "Out of Memory (OOM)").symptoms == ["OOMKilled", "exit code: 137"]
    assert doc.cause("High Error Rate", 4).symptoms == ["Circuit breaker open", "Timeout errors",
                                                        "External API errors"]
    assert doc.cause("Cost Spike", "Bot/Abuse").symptoms == [
        "Single user/IP making thousands of requests", "Automated patterns"]


def test_blocks_sections_and_languages(doc: RunbookDocument) -> None:
    rb1 = doc.runbook("Agent Down")
    [inv] = rb1.investigation
    assert (inv.line, inv.end_line, inv.lang, inv.section, inv.file) == (41, 61, "bash", "investigation", str(SEED))
    assert inv.text.startswith("# 1. Check pod status\nkubectl get pods")
    [res] = rb1.causes[0].resolution
    assert (res.line, res.end_line, res.section) == (74, 80, "resolution")
    assert rb1.resolution == []
    assert [len(rb.investigation) for rb in doc.runbooks] == [1, 1, 1, 1, 1, 0]


def test_runbook_6_has_no_causes_but_exposes_its_steps(doc: RunbookDocument) -> None:
    rb6 = doc.runbook("Runbook 6: Kubernetes Node Failure")
    assert rb6.causes == [] and rb6.investigation == []
    [block] = rb6.resolution
    assert (block.section, block.line, block.end_line) == ("investigation-resolution", 645, 670)
    mutating = [c.text for c in rb6.steps if c.cls == "mutating"]
    assert mutating == ["kubectl cordon ${NODE_NAME}",
                        "kubectl drain ${NODE_NAME} --ignore-daemonsets --delete-emptydir-data --timeout=5m"]


def test_cause_steps_in_order(doc: RunbookDocument) -> None:
    steps = doc.cause(2, "Cause 4: Downstream Service Failure").steps
    assert [(s.line, s.cls.value) for s in steps] == [(275, "read-only"), (280, "mutating"), (284, "external")]


def test_escalation_table(doc: RunbookDocument) -> None:
    got = [(e.priority, e.name, e.description, e.response_time_s, e.escalation, e.line) for e in doc.escalation]
    assert got == [
        ("P0", "Critical", "Complete outage", 300, "Immediate page", 717),
        ("P1", "High", "Major degradation", 900, "Page if not resolved", 718),
        ("P2", "Medium", "Minor degradation", 3600, "Ticket", 719),
        ("P3", "Low", "No user impact", 86400, "Ticket", 720),
    ]
    assert doc.target_seconds("P1") == 900
    assert doc.target_seconds("CRITICAL") == 300
    assert doc.target_seconds("P3 - Low") == 86400
    with pytest.raises(RunbookError, match="no escalation row for 'P9'"):
        doc.target_seconds("P9")


def test_checklist_phases(doc: RunbookDocument) -> None:
    got = [(p.number, p.name, p.start_s, p.end_s, p.line) for p in doc.checklist]
    assert got == [
        (1, "Detection & Acknowledgment", 0, 300, 676),
        (2, "Investigation", 300, 900, 683),
        (3, "Mitigation", 900, 1800, 690),
        (4, "Resolution", 1800, 3600, 696),
        (5, "Postmortem", 86400, 172800, 702),
    ]


def test_lookups_are_case_insensitive_by_title_heading_or_number(doc: RunbookDocument) -> None:
    assert doc.runbook("redis failure").number == 5
    assert doc.runbook("RUNBOOK 5: REDIS FAILURE").number == 5
    assert doc.runbook(3).title == "High Latency"
    assert doc.cause("redis failure", "cause 2: disk full").title == "Disk Full"
    assert doc.cause(doc.runbooks[0], "image pull failure").number == 2


def test_lookup_errors_name_the_file_and_what_exists(doc: RunbookDocument) -> None:
    with pytest.raises(RunbookError) as err:
        doc.runbook("Database Down")
    assert str(err.value).startswith(f"{SEED}: no runbook 'Database Down'")
    assert "'Runbook 6: Kubernetes Node Failure'" in str(err.value)
    with pytest.raises(RunbookError) as err:
        doc.cause("Redis Failure", "Cosmic Rays")
    assert str(err.value).startswith(f"{SEED}:522: runbook 'Runbook 5: Redis Failure' has no cause 'Cosmic Rays'")
    assert "'Cause 3: Network Partition'" in str(err.value)
    with pytest.raises(RunbookError, match="none"):
        doc.cause(6, "anything")


def test_models_are_frozen(doc: RunbookDocument) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.runbooks[0].title = "x"  # type: ignore[misc]


GOOD = """# Runbooks

## Runbook 1: Thing Down

### Symptoms
- [ ] Alert: `ThingDown` firing

### Impact
**Severity: P2**

### Common Causes & Resolutions

#### Cause 1: Broken

**Symptoms:**
- it is broken

**Resolution:**
```bash
kubectl rollout restart deployment/thing
```
"""


def test_minimal_document_and_p_style_severity() -> None:
    doc = parse_runbook_text(GOOD, "mini.md")
    rb = doc.runbook("Thing Down")
    assert (rb.severity, rb.priority, rb.expected_alerts) == ("P2", "P2", ["ThingDown"])
    assert [s.text for s in doc.cause(rb, 1).steps] == ["kubectl rollout restart deployment/thing"]
    assert doc.escalation == [] and doc.checklist == [] and doc.path == "mini.md"


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        ("# Notes\n\nJust notes.\n", "f.md:1:", "not a runbook document"),
        (GOOD.replace("kubectl rollout restart deployment/thing\n```\n", "kubectl get pods\n"), "f.md:19:",
         "unterminated code fence"),
        (GOOD + "\n## Runbook 2: thing down\n", "f.md:23:", "duplicate runbook"),
        (GOOD + "\n#### Cause 2: Broken\n", "f.md:23:", "duplicate cause 'Cause 2: Broken'"),
    ],
    ids=["not-runbooks", "open-fence", "duplicate", "duplicate-cause"],
)
def test_structure_errors_carry_file_and_line(text: str, location: str, message: str) -> None:
    with pytest.raises(RunbookError) as err:
        parse_runbook_text(text, "f.md")
    assert str(err.value).startswith(location), str(err.value)
    assert message in str(err.value)
    assert (err.value.file, f"f.md:{err.value.line}:") == ("f.md", location)


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        (GOOD.replace("**Severity: P2**", "Bad things happen."), "f.md:3:", "states no severity"),
        (GOOD.replace("### Impact\n**Severity: P2**\n", ""), "f.md:3:", "states no severity"),
        (GOOD.replace("**Resolution:**\n", "**Prevention:**\n"), "f.md:13:", "has no remediation steps"),
        (GOOD + "\n#### Cause 2: Other\n", "f.md:23:", "has no remediation steps"),
    ],
    ids=["no-severity", "no-impact", "no-resolution", "second-cause-without-fence"],
)
def test_what_cannot_be_used_is_a_notice_with_file_and_line(text: str, location: str, message: str) -> None:
    """Unusual but readable structure is kept and reported, not refused: nothing is dropped silently."""
    doc = parse_runbook_text(text, "f.md")
    assert any(str(n).startswith(location) and message in str(n) for n in doc.notices), doc.notices
    assert doc.runbook("Thing Down").causes


def test_prevention_fence_is_kept_as_other_not_dropped() -> None:
    doc = parse_runbook_text(GOOD.replace("**Resolution:**\n", "**Prevention:**\n"), "f.md")
    rb = doc.runbook("Thing Down")
    assert rb.causes[0].resolution == [] and [b.line for b in rb.other] == [19]


def test_runbook_heading_without_a_number_is_accepted() -> None:
    doc = parse_runbook_text(GOOD.replace("## Runbook 1: Thing Down", "## Runbook: Thing Down"), "f.md")
    assert [(rb.number, rb.title, rb.line) for rb in doc.runbooks] == [(None, "Thing Down", 3)]


def test_missing_file_is_a_runbook_error(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="cannot read runbook file"):
        parse_runbook_file(tmp_path / "absent.md")
