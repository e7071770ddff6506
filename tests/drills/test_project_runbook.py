"""The project's own runbook (runbooks/production-agent.md) keeps the seed's structure and fits the refsystem.

The file is what drills replay against the reference system and what every alert's ``runbook_url`` points
at, so it must parse like the seed (same runbooks, priorities and causes), give every cause something to
run, and agree with ``refsystem/prometheus/alerts.yml`` in both directions.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from drills.runbook import CommandClass, RunbookDocument, parse_runbook_file
from tests.conftest import SEED

ROOT = Path(__file__).parents[2]
RUNBOOK = ROOT / "runbooks" / "production-agent.md"
ALERTS = ROOT / "refsystem" / "prometheus" / "alerts.yml"
OOM_PATCH = ("kubectl patch deployment agent-deployment -n production-agents --patch "
             """'{"spec":{"template":{"spec":{"containers":[{"name":"agent","resources":{"limits":"""
             """{"memory":"4Gi"}}}]}}}}'""")
# what a drill spec (or the person on call) binds; anything else would be an unbound step
PLACEHOLDERS = {"NEW_API_KEY", "WORKING_TAG", "USER_ID", "NODE_NAME", "AGENT_POD", "SPARE_API_KEY", "SLOW_CLIENT",
                "sg-xxxxx"}


@pytest.fixture(scope="module")
def doc() -> RunbookDocument:
    return parse_runbook_file(RUNBOOK)


@pytest.fixture(scope="module")
def seed() -> RunbookDocument:
    return parse_runbook_file(SEED)


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped (not spaces/hyphens), spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_same_runbooks_priorities_and_causes_as_the_seed(doc: RunbookDocument, seed: RunbookDocument) -> None:
    def shape(d: RunbookDocument) -> list[tuple[int, str, str | None, list[tuple[int | None, str]]]]:
        return [(rb.number, rb.title, rb.priority, [(c.number, c.title) for c in rb.causes]) for rb in d.runbooks]

    assert shape(doc) == shape(seed)
    assert [rb.severity for rb in doc.runbooks] == [rb.severity for rb in seed.runbooks]
    assert [(lv.priority, lv.response_time_s) for lv in doc.escalation] == \
        [(lv.priority, lv.response_time_s) for lv in seed.escalation]
    assert [(p.number, p.start_s, p.end_s) for p in doc.checklist] == \
        [(p.number, p.start_s, p.end_s) for p in seed.checklist]


def test_every_cause_has_a_mutating_step(doc: RunbookDocument) -> None:
    missing = [f"{rb.title} / {c.heading}" for rb in doc.runbooks for c in rb.causes
               if not any(step.cls == CommandClass.MUTATING for step in c.steps)]
    assert missing == []
    node = doc.runbook("Kubernetes Node Failure")
    assert node.causes == [] and any(step.cls == CommandClass.MUTATING for step in node.steps)


def test_alerts_in_rules_and_runbooks_agree(doc: RunbookDocument, alert_rules: list[dict[str, object]]) -> None:
    expected = {alert for rb in doc.runbooks for alert in rb.expected_alerts}
    defined = {str(rule["alert"]) for rule in alert_rules}
    assert defined == expected


def test_runbook_urls_point_at_runbook_headings(doc: RunbookDocument,
                                                alert_rules: list[dict[str, object]]) -> None:
    anchors = {slug(rb.heading): rb for rb in doc.runbooks}
    headings = {line[3:] for line in RUNBOOK.read_text(encoding="utf-8").splitlines() if line.startswith("## ")}
    assert {rb.heading for rb in doc.runbooks} <= headings
    for rule in alert_rules:
        url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
        path, _, anchor = url.partition("#")
        assert path == "runbooks/production-agent.md", rule["alert"]
        assert anchor in anchors, f"{rule['alert']}: #{anchor} is not one of {sorted(anchors)}"
        assert rule["alert"] in anchors[anchor].expected_alerts


def test_oom_cause_keeps_the_seed_patch_as_a_mutating_step(doc: RunbookDocument) -> None:
    oom = doc.cause("Agent Down", "Out of Memory (OOM)")
    patch = [step for step in oom.steps if step.text == OOM_PATCH]
    assert len(patch) == 1 and patch[0].cls == CommandClass.MUTATING
    assert patch[0].end_line == patch[0].line + 1  # still line-continued as in the seed


def test_configmap_patches_are_followed_by_a_restart(doc: RunbookDocument) -> None:
    """The agent reads agent-config as environment variables: a patch without a restart changes nothing."""
    for rb in doc.runbooks:
        for cause in rb.causes:
            texts = [step.text for step in cause.steps]
            patched = [i for i, t in enumerate(texts) if "patch configmap agent-config" in t]
            if patched:
                assert any("rollout restart deployment/agent-deployment -n production-agents" in t
                           for t in texts[patched[-1] + 1:]), cause.heading


def test_commands_fit_a_non_interactive_drill(doc: RunbookDocument) -> None:
    commands = [cmd for rb in doc.runbooks
                for cmd in [*(c for b in rb.investigation for c in b.commands), *rb.steps,
                            *(s for cause in rb.causes for s in cause.steps)]]
    for cmd in commands:
        assert set(cmd.placeholders) <= PLACEHOLDERS, (cmd.line, cmd.placeholders)
        assert not re.search(r"kubectl logs\b.*\s(-f|--follow)\b", cmd.text), cmd.line
        if "promtool query instant" in cmd.text:
            assert re.search(r"promtool query instant https?://", cmd.text), cmd.line
        if "kubectl logs" in cmd.text and " -l " in cmd.text:
            assert "--tail=" in cmd.text, cmd.line  # a selector alone shows only 10 lines per pod
    assert not any("your-org" in cmd.text or "NEW_KEY" in cmd.text.replace("NEW_API_KEY", "")
                   for cmd in commands)
