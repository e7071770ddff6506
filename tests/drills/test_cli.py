"""The CLI's offline commands: parse --json, list, plan, and file:line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from drills.cli import app
from tests.conftest import SEED

runner = CliRunner()


def test_parse_json_on_the_seed_file() -> None:
    result = runner.invoke(app, ["parse", str(SEED), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [rb["title"] for rb in doc["runbooks"]][:2] == ["Agent Down", "High Error Rate"]
    first = doc["runbooks"][0]["causes"][0]["resolution"][0]["commands"][0]
    assert first["cls"] == "mutating" and first["line"] == 76 and "4Gi" in first["text"]
    assert doc["escalation"][0]["response_time_s"] == 300


def test_parse_bad_runbook_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# Runbooks\n\n## Runbook 1: Broken\n\n### Symptoms\n- [ ] Alert: \xff `X` firing\n")
    result = runner.invoke(app, ["parse", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:6: column 14: byte 0xff is not UTF-8" in result.output.replace("\n", "")


def test_parse_notes_what_it_could_not_use_with_file_and_line(tmp_path: Path) -> None:
    odd = tmp_path / "odd.md"
    odd.write_text("# Runbooks\n\n## Runbook 1: Broken\n\n### Symptoms\n- [ ] Alert: `X` firing\n")
    result = runner.invoke(app, ["parse", str(odd)])
    assert result.exit_code == 0, result.output
    assert f"note: {odd}:3: runbook 'Runbook 1: Broken' states no severity" in result.output.replace("\n", "")


def test_list_shows_the_catalog_and_uncovered_causes() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    assert "agent-down/oom" in result.stdout
    assert "Cost Spike / Feature Launch" in result.stdout


def test_plan_touches_nothing_and_shows_steps() -> None:
    result = runner.invoke(app, ["plan", "agent-down/oom"])
    assert result.exit_code == 0, result.output
    assert "run   104 mutating" in result.stdout and "skip  108 read-only" in result.stdout


def test_run_with_an_unknown_drill_is_a_usage_error() -> None:
    result = runner.invoke(app, ["run", "no-such/drill"])
    assert result.exit_code == 2 and "no drill with id no-such/drill" in result.output
