"""The parsed shape of an incident-runbook Markdown file.

Every object keeps the 1-based source line it came from, because every later error (a drill that
names a missing cause, a step that failed) has to point a person back at the exact runbook line.
Models are frozen: a parsed runbook is evidence of what the document said, not something to edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Literal

from drills.errors import RunbookError

PRIORITIES = ("P0", "P1", "P2", "P3")
Section = Literal["investigation", "resolution", "investigation-resolution", "symptoms", "other"]
SectionKind = Literal["symptoms", "impact", "investigation", "resolution", "investigation-resolution",
                      "causes", "cause", "other"]
# Words teams use for a severity, and the P-level each means. SEV-1 is the worst on the SEV scale, P0 on ours.
SEVERITY_WORDS = {"CRITICAL": "P0", "BLOCKER": "P0", "EMERGENCY": "P0", "HIGH": "P1", "MAJOR": "P1",
                  "ERROR": "P1", "PAGE": "P1", "MEDIUM": "P2", "MODERATE": "P2", "MINOR": "P2",
                  "WARNING": "P2", "WARN": "P2", "LOW": "P3", "INFO": "P3", "NONE": "P3", "TICKET": "P3"}
SEV_LEVELS = {0: "P0", 1: "P0", 2: "P1", 3: "P2", 4: "P3", 5: "P3"}
_LEVEL = re.compile(r"^(?:(P)\s*-?\s*(\d)|(SEV)(?:ERITY)?\s*-?\s*(\d))\b")


def priority_of(severity: str, words: Mapping[str, str] | None = None) -> str | None:
    """Map "CRITICAL" / "P1" / "P0 - Critical" / "SEV-2" / "sev1" to "P0".."P3"; None when it is neither.

    Runbooks say "CRITICAL" while the escalation table says "P0 - Critical" and other teams say "SEV-2";
    drills need one key. ``words`` replaces the word table (a team's own "warning" may page).
    """
    table = {k.upper(): v for k, v in (words or SEVERITY_WORDS).items()}
    word = severity.strip().strip("*_`[]()").strip().upper()
    if m := _LEVEL.match(word):
        if m.group(1):
            level = int(m.group(2))
            return PRIORITIES[min(level, 3)] if level <= 5 else None
        return SEV_LEVELS.get(int(m.group(4)), "P3")
    head = re.split(r"[\s\-–:/(]+", word, maxsplit=1)[0] if word else ""
    return table.get(word) or table.get(head)


# Frozen stdlib dataclasses rather than pydantic: the parser builds them from trusted values, and not
# importing pydantic keeps `drillbook parse` fast to start. ``to_json`` is what callers need.


class _Frozen:
    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass
        return data

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


class CommandClass(StrEnum):
    """How dangerous a step is to run, which decides whether a drill may execute it unattended."""

    READ_ONLY = "read-only"
    MUTATING = "mutating"
    MANUAL = "manual"
    EXTERNAL = "external"


@dataclass(frozen=True, kw_only=True)
class Command(_Frozen):
    """One logical shell command of a fenced block (continuations joined onto one line)."""

    text: str
    line: int
    end_line: int
    cls: CommandClass
    reason: str
    placeholders: list[str] = field(default_factory=list)
    comment: str | None = None


@dataclass(frozen=True, kw_only=True)
class Block(_Frozen):
    """A fenced code block; ``line`` is the opening fence, ``end_line`` the closing one."""

    file: str
    line: int
    end_line: int
    lang: str
    section: Section
    text: str
    commands: list[Command] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Notice(_Frozen):
    """Something drillbook could not read as runbook structure, reported so nothing is lost silently."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True, kw_only=True)
class Outline(_Frozen):
    """One section of a runbook as ``drillbook parse`` lists it: ``title`` is what a drill spec names.

    ``selectable`` sections (causes, the remediation section of a runbook without causes) can be a spec's
    ``cause:``; the others are shown so a person sees where every heading went.
    """

    title: str
    kind: SectionKind
    line: int
    selectable: bool = False


@dataclass(frozen=True, kw_only=True)
class Cause(_Frozen):
    """One cause (a heading, list item or table row) with its symptoms and the resolution a drill replays."""

    number: int | None
    title: str
    heading: str
    line: int
    symptoms: list[str] = field(default_factory=list)
    investigation: list[Block] = field(default_factory=list)
    resolution: list[Block] = field(default_factory=list)

    @property
    def steps(self) -> list[Command]:
        """All resolution commands in document order: what the drill runs after injecting the fault."""
        return [cmd for block in self.resolution for cmd in block.commands]


@dataclass(frozen=True, kw_only=True)
class Runbook(_Frozen):
    """One runbook: a "## Runbook N: Title" section of a collection, or a whole alert-per-file document.

    ``resolution`` holds the remediation section of runbooks that have no causes (Runbook 6's
    "Investigation & Resolution", an alert runbook's "Mitigation"), titled ``remediation_title``, so their
    mutating steps are still reachable for a drill. ``other`` keeps blocks of sections that are neither
    (Prevention, Notes): shown, never run. ``severity_source`` says where the severity was read.
    """

    number: int | None
    title: str
    heading: str
    line: int
    file: str
    severity: str | None
    priority: str | None
    severity_source: str = ""
    expected_alerts: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    investigation: list[Block] = field(default_factory=list)
    causes: list[Cause] = field(default_factory=list)
    resolution: list[Block] = field(default_factory=list)
    remediation_title: str | None = None
    other: list[Block] = field(default_factory=list)
    sections: list[Outline] = field(default_factory=list)

    @property
    def steps(self) -> list[Command]:
        """Commands of the runbook-level resolution blocks (empty for runbooks with causes)."""
        return [cmd for block in self.resolution for cmd in block.commands]


@dataclass(frozen=True, kw_only=True)
class EscalationLevel(_Frozen):
    """A row of the "Escalation Paths" table; ``response_time_s`` is the drill's time budget."""

    priority: str
    name: str
    description: str
    response_time_s: int
    escalation: str
    line: int


@dataclass(frozen=True, kw_only=True)
class ChecklistPhase(_Frozen):
    """A "### Phase N: Name (a-b unit)" of the general checklist, window in seconds."""

    number: int
    name: str
    start_s: int | None
    end_s: int | None
    line: int


def _match(wanted: str | int, number: int | None, title: str, heading: str) -> bool:
    if isinstance(wanted, int):
        return number == wanted
    key = wanted.strip().casefold()
    return key in (title.casefold(), heading.casefold())


@dataclass(frozen=True, kw_only=True)
class RunbookDocument(_Frozen):
    """A whole runbook file: the runbooks plus the shared escalation table and checklist."""

    path: str
    runbooks: list[Runbook]
    escalation: list[EscalationLevel] = field(default_factory=list)
    checklist: list[ChecklistPhase] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def runbook(self, title_or_heading: str | int) -> Runbook:
        """Find a runbook by title, full heading (case-insensitive) or number; say what exists if not."""
        for rb in self.runbooks:
            if _match(title_or_heading, rb.number, rb.title, rb.heading):
                return rb
        known = ", ".join(repr(rb.heading) for rb in self.runbooks)
        raise RunbookError(f"no runbook {title_or_heading!r}; runbooks are: {known}", file=self.path)

    def cause(self, runbook: Runbook | str | int, cause: str | int) -> Cause:
        """Find a cause of a runbook by title, full heading or number; say which causes exist if not."""
        rb = runbook if isinstance(runbook, Runbook) else self.runbook(runbook)
        for c in rb.causes:
            if _match(cause, c.number, c.title, c.heading):
                return c
        known = ", ".join(repr(c.heading) for c in rb.causes) or "none (no causes section)"
        if rb.remediation_title:
            known += f"; remediation section: {rb.remediation_title!r}"
        message = f"runbook {rb.heading!r} has no cause {cause!r}; causes are: {known}"
        raise RunbookError(message, file=self.path, line=rb.line)

    def section(self, runbook: Runbook | str | int, title: str | int | None) -> tuple[Runbook, Cause | None]:
        """What a drill spec's ``runbook:``/``cause:`` select: a cause, or (None) the runbook's remediation.

        ``title`` None or the remediation section's own title ("Mitigation", "Investigation & Resolution")
        selects the runbook-level steps of a runbook; anything else must name a cause.
        """
        rb = runbook if isinstance(runbook, Runbook) else self.runbook(runbook)
        remediation = (rb.remediation_title or "").casefold()
        names_remediation = isinstance(title, str) and remediation and title.strip().casefold() == remediation
        if title is None or (names_remediation
                             and not any(_match(title, c.number, c.title, c.heading) for c in rb.causes)):
            if not rb.steps:
                what = "has causes; name one with cause:" if rb.causes else "has no remediation steps"
                raise RunbookError(f"runbook {rb.heading!r} {what}", file=self.path, line=rb.line)
            return rb, None
        return rb, self.cause(rb, title)

    def target_seconds(self, priority: str) -> int:
        """Response-time target for a priority ("P0" or a severity word) from the escalation table."""
        wanted = priority_of(priority)
        for level in self.escalation:
            if level.priority == wanted:
                return level.response_time_s
        known = ", ".join(f"{lv.priority}={lv.response_time_s}s" for lv in self.escalation) or "none"
        raise RunbookError(f"no escalation row for {priority!r}; table has: {known}", file=self.path)
