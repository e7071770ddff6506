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


# What the specs above leave out, inherited from the _service.yaml beside them (any spec key but id may be there).
SHARED = """\
recovery: {namespace: shop, workload: deployment/web, service: web, selector: {app: web}, port: 8080}
fault:
  params: {namespace: shop, selector: {app: web}, load_namespace: load, load_configmap: load-config,
           load_workload: deployment/load, load: {SIZE_KB: "8192"}}
"""


def write(tmp_path: Path, text: str, shared: str = SHARED) -> Path:
    (tmp_path / "_service.yaml").write_text(shared)
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


@pytest.mark.parametrize(("shared", "where", "message"), [
    (SHARED.replace(" port: 8080", ""), "_service.yaml:1", "recovery.port: Field required (say it in the spec or in a "
                                                          "_service.yaml beside it)"),
    (SHARED.replace("port: 8080", "port: http"), "_service.yaml:1", "recovery.port: Input should be a valid integer"),
    (SHARED.replace("deployment/web", "web"), "_service.yaml:1", "recovery.workload: Value error, expected "
                                                                  "deployment/NAME or statefulset/NAME"),
    (SHARED.replace("load_workload: deployment/load, ", ""), "drill.yaml:7", "fault.params.load_workload: Field "
                                                                              "required"),
    ("id: x/y\n", "_service.yaml:1", "id: belongs in each drill spec"),
    (SHARED.replace("port: 8080", "port: 8080, request: {path: /, expect_body: '(('}"), "_service.yaml:1",
     "recovery.request.expect_body: Value error, not a regular expression"),
])
def test_what_the_service_must_say_is_required_and_reported_where_it_is(
        tmp_path: Path, shared: str, where: str, message: str) -> None:
    path = write(tmp_path, GOOD, shared)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{tmp_path}/{where}: "), str(caught.value)
    assert message in str(caught.value)


def test_a_spec_inherits_the_nearest_service_file_and_wins_over_it(tmp_path: Path) -> None:
    (tmp_path / "_service.yaml").write_text(SHARED + "series: [{name: up, expr: up}]\n")
    (tmp_path / "agent-down").mkdir()
    path = tmp_path / "agent-down" / "oom.yaml"
    path.write_text(GOOD + "recovery: {replicas: 3, health_path: /healthz}\n")
    (spec,) = load_catalog(tmp_path)  # _service.yaml itself is not a drill
    assert spec.shared == str(tmp_path / "_service.yaml")
    assert (spec.recovery.service, spec.recovery.replicas, spec.recovery.health_path) == ("web", 3, "/healthz")
    assert [q.expr for q in spec.series] == ["up"] and spec.fault.params["load"] == {"SIZE_KB": "8192"}


def test_a_spec_without_a_service_file_must_say_everything(tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(GOOD)
    with pytest.raises(SpecError, match=rf"{path}:1: recovery: Field required"):
        load_spec(path)


def test_the_catalog_keeps_no_reference_app_default() -> None:
    """Every reference value is in the catalog's own files: a spec for another service inherits none of it."""
    from drills.model import DrillSpec, ServiceCheck

    for name, field in ServiceCheck.model_fields.items():
        assert "production" not in repr(field.default) and "agent" not in repr(field.default), name
    assert DrillSpec.model_fields["series"].default_factory is not None
    assert DrillSpec.model_fields["series"].default_factory() == []  # type: ignore[call-arg]
