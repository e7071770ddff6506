"""The drill catalog: one YAML spec per runbook cause, validated with file:line errors.

PyYAML's composer keeps each node's position, so a pydantic validation error (a path like
``fault.params``) is reported at the line of the offending key, and a spec naming a runbook or cause that
does not exist is reported at its ``runbook:``/``cause:`` line with the names that do exist. A spec is
checked against what it names: its fault kind must be registered and its parameters must be that fault's
(a misspelt one would silently fall back to a default), its step selectors must match steps of the
section, and budgets cannot be negative.

What a whole service shares (its ``recovery`` block, the series to chart, abort guards) can live once in a
``_service.yaml`` next to the specs or one directory up (the nearest wins): each spec inherits it, mappings
merged key by key and the spec's own values winning. An error in an inherited value is reported at the
line of ``_service.yaml`` it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drills.errors import RunbookError, SpecError
from drills.model import DrillSpec
from drills.runbook import Cause, Command, Runbook, RunbookDocument, options_for, parse_runbook_file

PACKAGE_DIR = Path(__file__).resolve().parent
CATALOG_DIR = PACKAGE_DIR / "catalog"
PROJECT_ROOT = PACKAGE_DIR.parent
SHARED_NAME = "_service.yaml"


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """1-based line of the YAML node at pydantic's error location (the deepest node that exists)."""
    line: int = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return int(key.start_mark.line) + 1 if key else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _has(node: yaml.Node | None, loc: tuple[Any, ...]) -> bool:
    """Whether the YAML document has a value at pydantic's error location."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return False
    return node is not None


@dataclass(frozen=True)
class _Source:
    """A YAML file's text parsed twice: the data, and the node tree that knows each value's line."""

    path: Path
    data: dict[str, Any]
    node: yaml.Node


def _read(path: Path, what: str) -> _Source:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {what}: {exc}", str(path)) from exc
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(f"invalid YAML: {getattr(exc, 'problem', exc)}", str(path),
                        mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict) or node is None:
        raise SpecError(f"a {what} must be a YAML mapping", str(path), 1)
    return _Source(path, data, node)


def shared_file(spec_path: Path) -> Path | None:
    """The ``_service.yaml`` a spec inherits: in its directory, else the one above; None if neither has one."""
    for directory in (spec_path.parent, spec_path.parent.parent):
        if (directory / SHARED_NAME).is_file():
            return directory / SHARED_NAME
    return None


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``own`` over ``base``: mappings merged key by key, anything else (lists included) replaced."""
    merged = dict(base)
    for key, value in own.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def load_spec(path: Path) -> DrillSpec:
    spec_src = _read(path, "drill spec")
    shared_path = shared_file(path)
    shared = _read(shared_path, "shared service file") if shared_path else None
    if shared is not None and "id" in shared.data:
        raise SpecError(f"id: belongs in each drill spec, not in {SHARED_NAME}", str(shared.path),
                        _line_of(shared.node, ("id",)))
    data = _merge(shared.data, spec_src.data) if shared else spec_src.data
    try:
        spec = DrillSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        where = ".".join(str(p) for p in loc)
        msg = first["msg"]
        if first["type"] == "missing":
            msg += f" (say it in the spec or in a {SHARED_NAME} beside it)"
        at = loc[:-1] if first["type"] == "missing" else loc  # a missing key: where its mapping is
        src = shared if shared is not None and not _has(spec_src.node, at) and _has(shared.node, at) \
            else spec_src
        raise SpecError(f"{where}: {msg}", str(src.path), _line_of(src.node, loc)) from exc
    spec.source = str(path)
    spec.shared = str(shared_path) if shared_path else ""
    node = spec_src.node
    _check_budgets(spec, node)
    _check_fault(spec, node)
    resolve(spec, node)
    return spec


def _check_budgets(spec: DrillSpec, node: yaml.Node) -> None:
    overrides: list[tuple[tuple[str, ...], object]] = [
        (("budgets", name), value) for name, value in spec.budgets.model_dump().items()]
    overrides += [(("profiles", profile, "budgets", name), value) for profile, o in spec.profiles.items()
                  for name, value in o.budgets.items()]
    for loc, value in overrides:
        if isinstance(value, int | float) and value < 0:
            raise SpecError(f"{'.'.join(loc)}: a budget cannot be negative ({value})", spec.source,
                            _line_of(node, loc))


def _check_fault(spec: DrillSpec, node: yaml.Node) -> None:
    """The fault kind is registered and every parameter is one the fault takes, with a valid value."""
    from drills import registry
    from drills.errors import DrillbookError

    try:
        plugin = registry.fault(spec.fault.kind)
    except DrillbookError as exc:
        raise SpecError(f"fault.kind: {exc}", spec.source, _line_of(node, ("fault", "kind"))) from exc
    known = {key for name, f in plugin.params.model_fields.items() for key in (name, f.alias) if key}
    for key in spec.fault.params:
        if key not in known:
            raise SpecError(f"fault.params.{key}: not a parameter of fault {plugin.kind!r}; it takes: "
                            f"{', '.join(sorted(known)) or 'none'}", spec.source,
                            _line_of(node, ("fault", "params", key)))
    try:
        plugin.params.model_validate(spec.fault.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ("fault", "params", *first["loc"])
        raise SpecError(f"{'.'.join(str(p) for p in loc)}: {first['msg']}", spec.source,
                        _line_of(node, loc)) from exc


RUNBOOK_LEVEL = "Investigation & Resolution"  # what a runbook without causes (Runbook 6) is drilled as


@dataclass(frozen=True)
class ResolvedDrill:
    spec: DrillSpec
    document: RunbookDocument
    runbook: Runbook
    cause: Cause | None  # None: the runbook's own Investigation & Resolution section

    @property
    def commands(self) -> list[Command]:
        return self.cause.steps if self.cause else self.runbook.steps

    @property
    def cause_title(self) -> str:
        return self.cause.title if self.cause else (self.runbook.remediation_title or RUNBOOK_LEVEL)

    @property
    def cause_line(self) -> int:
        return self.cause.line if self.cause else self.runbook.line

    @property
    def cause_end_line(self) -> int:
        blocks = self.cause.resolution if self.cause else self.runbook.resolution
        return max([b.end_line for b in blocks] or [self.cause_line])


def runbook_path(spec: DrillSpec) -> Path:
    raw = Path(spec.runbook_file)
    for base in (Path.cwd(), PROJECT_ROOT, Path(spec.source).parent):
        if (base / raw).exists():
            return (base / raw).resolve()
    return raw


@cache
def _document(path: Path) -> RunbookDocument:
    return parse_runbook_file(path, options_for(path))


def resolve(spec: DrillSpec, node: yaml.Node | None = None) -> ResolvedDrill:
    """Find the spec's runbook and cause; errors point at the spec's line."""
    def line(key: str) -> int | None:
        return _line_of(node, (key,)) if node is not None else None

    path = runbook_path(spec)
    if not path.exists():
        raise SpecError(f"runbook file not found: {spec.runbook_file}", spec.source, line("runbook_file"))
    try:
        document = _document(path)
    except RunbookError as exc:
        raise SpecError(f"runbook file {exc}", spec.source, line("runbook_file")) from exc
    try:
        runbook = document.runbook(spec.runbook)
    except RunbookError as exc:
        raise SpecError(exc.message, spec.source, line("runbook")) from exc
    try:
        runbook, cause = document.section(runbook, spec.cause)
    except RunbookError as exc:
        where = line("cause") if spec.cause is not None else line("runbook")
        raise SpecError(exc.message, spec.source, where) from exc
    drill = ResolvedDrill(spec, document, runbook, cause)
    _check_steps(drill, node)
    return drill


def _check_steps(drill: ResolvedDrill, node: yaml.Node | None) -> None:
    """Every step selector picks a step of the section: a line where a step starts, or a text in one."""
    starts = [c.line for c in drill.commands]
    for i, sel in enumerate(drill.spec.steps or []):
        where = _line_of(node, ("steps", i)) if node is not None else None
        if sel.line is not None and sel.line not in starts:
            at = ", ".join(map(str, starts)) or "none"
            raise SpecError(f"steps[{i}].line {sel.line}: no step of {drill.cause_title!r} starts there; "
                            f"steps start at lines {at}", drill.spec.source, where)
        if sel.contains is not None and not any(sel.contains in c.text for c in drill.commands):
            raise SpecError(f"steps[{i}].contains {sel.contains!r}: no step of {drill.cause_title!r} "
                            "contains it", drill.spec.source, where)


def load_catalog(directory: Path = CATALOG_DIR) -> list[DrillSpec]:
    if not directory.is_dir():
        raise SpecError(f"catalog directory not found: {directory}", str(directory))
    specs = [load_spec(p) for p in sorted(directory.rglob("*.yaml")) if not p.name.startswith("_")]
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.id in seen:
            raise SpecError(f"drill id {spec.id!r} also defined in {seen[spec.id]}", spec.source, 1)
        seen[spec.id] = spec.source
    return specs


def select(specs: list[DrillSpec], ids: list[str], runbooks: list[str]) -> list[DrillSpec]:
    """Drills by id (or id prefix like ``agent-down/``) and/or by runbook title; all when none given."""
    if not ids and not runbooks:
        return specs
    wanted = [s for s in specs if any(s.id == i or (i.endswith("/") and s.id.startswith(i)) for i in ids)
              or any(s.runbook.casefold() == r.casefold() for r in runbooks)]
    unknown = [i for i in ids if not any(s.id == i or (i.endswith("/") and s.id.startswith(i)) for s in specs)]
    if unknown:
        raise SpecError(f"no drill with id {', '.join(unknown)}; known: {', '.join(s.id for s in specs)}")
    return wanted
