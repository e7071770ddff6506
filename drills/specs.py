"""The drill catalog: one YAML spec per runbook cause, validated with file:line errors.

PyYAML's composer keeps each node's position, so a pydantic validation error (a path like
``fault.params``) is reported at the line of the offending key, and a spec naming a runbook or cause that
does not exist is reported at its ``runbook:``/``cause:`` line with the names that do exist.
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
from drills.runbook import Cause, Command, Runbook, RunbookDocument, parse_runbook_file

PACKAGE_DIR = Path(__file__).resolve().parent
CATALOG_DIR = PACKAGE_DIR / "catalog"
PROJECT_ROOT = PACKAGE_DIR.parent


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """1-based line of the YAML node at pydantic's error location (the deepest node that exists)."""
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_spec(path: Path) -> DrillSpec:
    text = path.read_text()
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(f"invalid YAML: {getattr(exc, 'problem', exc)}", str(path),
                        mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict) or node is None:
        raise SpecError("a drill spec must be a YAML mapping", str(path), 1)
    try:
        spec = DrillSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(f"{where}: {first['msg']}", str(path), _line_of(node, first["loc"])) from exc
    spec.source = str(path)
    resolve(spec, node)
    return spec


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
        return self.cause.title if self.cause else RUNBOOK_LEVEL

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
    return parse_runbook_file(path)


def resolve(spec: DrillSpec, node: yaml.Node | None = None) -> ResolvedDrill:
    """Find the spec's runbook and cause; errors point at the spec's line."""
    def line(key: str) -> int | None:
        return _line_of(node, (key,)) if node is not None else None

    path = runbook_path(spec)
    if not path.exists():
        raise SpecError(f"runbook file not found: {spec.runbook_file}", spec.source, line("runbook_file"))
    document = _document(path)
    try:
        runbook = document.runbook(spec.runbook)
    except RunbookError as exc:
        raise SpecError(exc.message, spec.source, line("runbook")) from exc
    if spec.cause is None:
        if not runbook.steps:
            raise SpecError(f"runbook {runbook.title!r} has causes; name one with cause:", spec.source, line("runbook"))
        return ResolvedDrill(spec, document, runbook, None)
    try:
        cause = document.cause(runbook.title, spec.cause)
    except RunbookError as exc:
        raise SpecError(exc.message, spec.source, line("cause")) from exc
    return ResolvedDrill(spec, document, runbook, cause)


def load_catalog(directory: Path = CATALOG_DIR) -> list[DrillSpec]:
    specs = [load_spec(p) for p in sorted(directory.rglob("*.yaml"))]
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
