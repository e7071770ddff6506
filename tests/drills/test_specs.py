"""Drill specs: the catalog loads, and every malformed spec is reported at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.errors import SpecError
from drills.specs import load_catalog, load_spec, resolve, select

GOOD = """\
id: agent-down/oom
runbook_file: runbooks/production-agent.md
runbook: Agent Down
cause: Out of Memory (OOM)
fault:
  kind: oom
  params: {}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_catalog_loads_and_resolves_to_runbook_causes() -> None:
    specs = load_catalog()
    assert "agent-down/oom" in [s.id for s in specs]
    drill = resolve(next(s for s in specs if s.id == "agent-down/oom"))
    assert drill.cause.title == "Out of Memory (OOM)" and drill.runbook.priority == "P0"
    assert any("4Gi" in c.text for c in drill.commands)


def test_select_by_id_prefix_and_runbook() -> None:
    specs = load_catalog()
    assert [s.id for s in select(specs, ["agent-down/"], [])] == [s.id for s in specs if s.id.startswith("agent-down/")]
    assert select(specs, [], ["agent down"])
    with pytest.raises(SpecError, match="no drill with id nope/x"):
        select(specs, ["nope/x"], [])


@pytest.mark.parametrize(("text", "line", "message"), [
    (GOOD.replace("id: agent-down/oom", "id: Not An Id"), 1, "id: String should match pattern"),
    (GOOD.replace("  params: {}", "  params: {}\n  colour: red"), 8, "fault.colour: Extra inputs are not permitted"),
    (GOOD.replace("cause: Out of Memory (OOM)", "cause: Cosmic Rays"), 4, "Cosmic Rays"),
    (GOOD.replace("runbook: Agent Down", "runbook: Nope"), 3, "Nope"),
    (GOOD + "budgets:\n  stable_s: soon\n", 9, "budgets.stable_s"),
    (GOOD.replace("fault:\n", "fault: [\n"), 7, "invalid YAML"),
    ("- just\n- a list\n", 1, "must be a YAML mapping"),
])
def test_malformed_spec_errors_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_missing_fault_field_points_at_the_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  kind: oom\n", ""))
    with pytest.raises(SpecError, match=rf"{path}:6: fault.kind: Field required"):
        load_spec(path)


@pytest.mark.parametrize(("text", "line", "message"), [
    (GOOD + "unknown_key: 1\n", 8, "unknown_key: Extra inputs are not permitted"),
    (GOOD.replace("  params: {}", "  params:\n    namespce: x"), 8,
     "fault.params.namespce: not a parameter of fault 'oom'"),
    (GOOD.replace("  params: {}", "  params:\n    all_replicas: [1]"), 8, "fault.params.all_replicas"),
    (GOOD.replace("kind: oom", "kind: cosmic-rays"), 6, "fault.kind: unknown fault kind 'cosmic-rays'"),
    (GOOD + "budgets:\n  detect_s: -5\n", 9, "budgets.detect_s: a budget cannot be negative"),
    (GOOD + "profiles:\n  fast:\n    budgets: {recover_s: -1}\n", 10, "a budget cannot be negative"),
    (GOOD + "steps:\n  - line: 99999\n", 9, "steps[0].line 99999: no step of 'Out of Memory (OOM)' starts there"),
    (GOOD + "steps:\n  - contains: kubectl\n  - contains: no such text\n", 10, "steps[1].contains"),
    (GOOD.replace("cause: Out of Memory (OOM)\n", ""), 3, "has causes; name one with cause:"),
])
def test_spec_checks_against_what_it_names(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert message in str(caught.value)


def test_missing_catalog_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="catalog directory not found"):
        load_catalog(tmp_path / "nope")


def test_spec_selects_an_alert_runbooks_remediation_section_by_title(tmp_path: Path) -> None:
    runbook = Path(__file__).parents[1] / "fixtures" / "runbooks" / "KubePodCrashLooping.md"
    path = write(tmp_path, f"""\
id: pods/crashloop
runbook_file: {runbook}
runbook: KubePodCrashLooping
cause: Mitigation
fault:
  kind: oom
bind: {{"<DEPLOYMENT>": agent-deployment, namespace: production-agents}}
""")
    drill = resolve(load_spec(path))
    assert drill.cause is None and drill.cause_title == "Mitigation"
    assert [c.line for c in drill.commands] == [41, 47, 48]


def test_list_reports_an_unknown_fault_kind_and_a_missing_catalog(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from drills.cli import app

    path = write(tmp_path, GOOD.replace("kind: oom", "kind: cosmic-rays"))
    result = CliRunner().invoke(app, ["list", "--catalog", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{path}:6: fault.kind: unknown fault kind 'cosmic-rays'" in result.output.replace("\n", "")
    result = CliRunner().invoke(app, ["list", "--catalog", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "catalog directory not found" in result.output.replace("\n", "")
