"""The parsed shape of an incident-runbook Markdown file.

Every object keeps the 1-based source line it came from, because every later error (a drill that
names a missing cause, a step that failed) has to point a person back at the exact runbook line.
Models are frozen: a parsed runbook is evidence of what the document said, not something to edit.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from drills.errors import RunbookError

PRIORITIES = ("P0", "P1", "P2", "P3")
Section = Literal["investigation", "resolution", "investigation-resolution", "symptoms", "other"]
_SEVERITY_WORDS = {"CRITICAL": "P0", "HIGH": "P1", "MEDIUM": "P2", "LOW": "P3"}


def priority_of(severity: str) -> str | None:
    """Map "CRITICAL" / "P1" / "P0 - Critical" to "P0".."P3"; None when it is neither.

    Runbooks say "CRITICAL" while the escalation table says "P0 - Critical"; drills need one key.
    """
    word = severity.strip().upper()
    head = word.split("-")[0].split()[0] if word.split() else ""
    if head in PRIORITIES:
        return head
    return _SEVERITY_WORDS.get(word) or _SEVERITY_WORDS.get(head)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CommandClass(StrEnum):
    """How dangerous a step is to run, which decides whether a drill may execute it unattended."""

    READ_ONLY = "read-only"
    MUTATING = "mutating"
    MANUAL = "manual"
    EXTERNAL = "external"


class Command(_Frozen):
    """One logical shell command of a fenced block (continuations joined onto one line)."""

    text: str
    line: int
    end_line: int
    cls: CommandClass
    reason: str
    placeholders: list[str] = []
    comment: str | None = None


class Block(_Frozen):
    """A fenced code block; ``line`` is the opening fence, ``end_line`` the closing one."""

    file: str
    line: int
    end_line: int
    lang: str
    section: Section
    text: str
    commands: list[Command] = []


class Cause(_Frozen):
    """One "#### Cause N: Title" with its symptoms and the resolution a drill will replay."""

    number: int | None
    title: str
    heading: str
    line: int
    symptoms: list[str] = []
    resolution: list[Block] = []

    @property
    def steps(self) -> list[Command]:
        """All resolution commands in document order: what the drill runs after injecting the fault."""
        return [cmd for block in self.resolution for cmd in block.commands]


class Runbook(_Frozen):
    """One "## Runbook N: Title" section.

    ``resolution`` holds "Investigation & Resolution" blocks of runbooks that have no causes
    (Runbook 6 style), so their mutating steps are still reachable for a drill.
    """

    number: int
    title: str
    heading: str
    line: int
    file: str
    severity: str
    priority: str | None
    expected_alerts: list[str] = []
    symptoms: list[str] = []
    investigation: list[Block] = []
    causes: list[Cause] = []
    resolution: list[Block] = []

    @property
    def steps(self) -> list[Command]:
        """Commands of the runbook-level resolution blocks (empty for runbooks with causes)."""
        return [cmd for block in self.resolution for cmd in block.commands]


class EscalationLevel(_Frozen):
    """A row of the "Escalation Paths" table; ``response_time_s`` is the drill's time budget."""

    priority: str
    name: str
    description: str
    response_time_s: int
    escalation: str
    line: int


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


class RunbookDocument(_Frozen):
    """A whole runbook file: the runbooks plus the shared escalation table and checklist."""

    path: str
    runbooks: list[Runbook]
    escalation: list[EscalationLevel] = []
    checklist: list[ChecklistPhase] = []

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
        message = f"runbook {rb.heading!r} has no cause {cause!r}; causes are: {known}"
        raise RunbookError(message, file=self.path, line=rb.line)

    def target_seconds(self, priority: str) -> int:
        """Response-time target for a priority ("P0" or a severity word) from the escalation table."""
        wanted = priority_of(priority)
        for level in self.escalation:
            if level.priority == wanted:
                return level.response_time_s
        known = ", ".join(f"{lv.priority}={lv.response_time_s}s" for lv in self.escalation) or "none"
        raise RunbookError(f"no escalation row for {priority!r}; table has: {known}", file=self.path)
