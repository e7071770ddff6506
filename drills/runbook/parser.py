"""Read an incident-runbook Markdown file into a :class:`RunbookDocument`.

The Markdown is the source of truth that on-call engineers already maintain, so it is parsed as-is
(markdown-it-py, CommonMark + tables) rather than asking for a second, drill-only format. Structure
problems are reported as ``file:line`` so the fix lands in the runbook, not in drillbook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.token import Token

from drills.errors import RunbookError
from drills.runbook.commands import split_commands
from drills.runbook.model import (
    Block,
    Cause,
    ChecklistPhase,
    EscalationLevel,
    Runbook,
    RunbookDocument,
    Section,
    priority_of,
)

_SHELL_LANGS = {"bash", "sh", "shell", "zsh", "ksh"}
_COMMAND_SECTIONS = {"investigation", "resolution", "investigation-resolution"}
_NUMBERED = r"^{}\s+(\d+)\s*[:.\-–]\s*(.+?)\s*$"
_RUNBOOK = re.compile(_NUMBERED.format("Runbook"), re.I)
_CAUSE = re.compile(_NUMBERED.format("Cause"), re.I)
_PHASE = re.compile(r"^Phase\s+(\d+)\s*[:.\-–]\s*(.+?)\s*(?:\(([^)]*)\))?\s*$", re.I)
_LABEL = re.compile(r"^\*\*\s*([A-Za-z &]+?)\s*:?\s*\*\*\s*:?\s*(.*)$", re.S)
_SEVERITY = re.compile(r"Severity\s*:\s*\**\s*([^*\n]+?)\s*\**\s*$", re.I | re.M)
_ALERT_LINE = re.compile(r"^Alerts?\s*:", re.I)
_CHECKBOX = re.compile(r"^\[[ xX]\]\s*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b", re.I)
_WINDOW = re.compile(r"(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*([a-z]+)", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_runbook_file(path: str | Path) -> RunbookDocument:
    """Parse a runbook file from disk; unreadable files are RunbookErrors too (one error type to catch)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookError(f"cannot read runbook file: {exc}", file=str(path)) from exc
    return parse_runbook_text(text, str(path))


def parse_runbook_text(text: str, path: str = "<string>") -> RunbookDocument:
    """Parse runbook Markdown held in memory; ``path`` is only used for locations in errors and models."""
    return _Builder(path, text).build()


def seconds(text: str) -> int | None:
    """"5 min" -> 300, "24 hours" -> 86400; None when ``text`` holds no duration."""
    m = _DURATION.search(text)
    return round(float(m.group(1)) * _UNIT_S[m.group(2)[0].lower()]) if m else None


def _events(tokens: list[Token]) -> Iterator[tuple[Any, ...]]:
    """Flatten markdown-it tokens into the few events the structure needs, with 1-based lines.

    ("h", level, text, line) | ("fence", token) | ("p" or "item", text, line) | ("table", rows, line)
    where rows are (cells, line). "item" is a paragraph inside a list item.
    """
    depth = 0
    rows: list[tuple[list[str], int]] = []
    row: tuple[list[str], int] | None = None
    for i, tok in enumerate(tokens):
        line = tok.map[0] + 1 if tok.map else 0
        if tok.type == "heading_open":
            yield "h", int(tok.tag[1:]), tokens[i + 1].content.strip(), line
        elif tok.type == "fence":
            yield "fence", tok
        elif tok.type in ("list_item_open", "list_item_close"):
            depth += 1 if tok.type == "list_item_open" else -1
        elif tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            yield ("item" if depth else "p"), tok.content, line
        elif tok.type == "table_open":
            rows, table_line = [], line
        elif tok.type == "tr_open":
            row = ([], line)
        elif tok.type == "inline" and row is not None:
            row[0].append(tok.content.strip())
        elif tok.type == "tr_close" and row is not None:
            rows.append(row)
            row = None
        elif tok.type == "table_close":
            yield "table", rows, table_line


def _window(text: str) -> tuple[int | None, int | None]:
    """"0-5 min" -> (0, 300): the unit after the range applies to both ends."""
    m = _WINDOW.search(text)
    if not m:
        return None, None
    return seconds(f"{m.group(1)} {m.group(3)}"), seconds(f"{m.group(2)} {m.group(3)}")


def _cell(cells: list[str], idx: int | None) -> str:
    return cells[idx] if idx is not None and idx < len(cells) else ""


def _section_kind(title: str) -> str:
    """Name of a "###" runbook section; "Investigation & Resolution" is its own kind (no causes)."""
    t = title.casefold()
    if "cause" in t:
        return "causes"
    if "investigation" in t and "resolution" in t:
        return "investigation-resolution"
    for prefix, kind in (("symptom", "symptoms"), ("impact", "impact"), ("investigation", "investigation"),
                         ("diagnos", "investigation"), ("resolution", "resolution"),
                         ("remediation", "resolution")):
        if t.startswith(prefix):
            return kind
    return "other"


class _Builder:
    """One pass over the events, tracking the current "##" / "###" / "####" context."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.lines = path, text.splitlines()
        self.tokens = MarkdownIt("commonmark").enable("table").parse(text)
        self.runbooks: list[Runbook] = []
        self.escalation: list[EscalationLevel] = []
        self.checklist: list[ChecklistPhase] = []
        self.area = "other"  # what the current "##" is: runbook | escalation | checklist | other
        self.rb: dict[str, Any] | None = None
        self.cause: dict[str, Any] | None = None
        self.section, self.part = "other", ""

    def error(self, message: str, line: int | None) -> RunbookError:
        return RunbookError(message, file=self.path, line=line)

    def build(self) -> RunbookDocument:
        for event in _events(self.tokens):
            getattr(self, f"on_{event[0]}")(*event[1:])
        self.close_runbook()
        if not self.runbooks:
            raise self.error("not a runbook document: no '## Runbook N: Title' sections", 1)
        return RunbookDocument(path=self.path, runbooks=self.runbooks, escalation=self.escalation,
                               checklist=self.checklist)

    def on_h(self, level: int, text: str, line: int) -> None:
        if level <= 2:
            self.close_runbook()
            self.area = "other"
        if level == 2:
            self.start_area(text, line)
        elif level == 3 and self.rb is not None:
            self.close_cause()
            self.section, self.part = _section_kind(text), ""
            self.rb.setdefault("section_lines", {})[self.section] = line
        elif level == 3 and self.area == "checklist" and (m := _PHASE.match(text)):
            start, end = _window(m.group(3) or "")
            self.checklist.append(ChecklistPhase(number=int(m.group(1)), name=m.group(2), start_s=start,
                                                 end_s=end, line=line))
        elif level == 4 and self.rb is not None and self.section == "causes":
            self.close_cause()
            m = _CAUSE.match(text)
            self.cause = {"number": int(m.group(1)) if m else None, "title": m.group(2) if m else text,
                          "heading": text, "line": line, "symptoms": [], "resolution": []}
            self.part = ""

    def start_area(self, text: str, line: int) -> None:
        if m := _RUNBOOK.match(text):
            number, title = int(m.group(1)), m.group(2)
            for other in self.runbooks:
                if other.number == number or other.title.casefold() == title.casefold():
                    raise self.error(f"duplicate runbook {text!r} (first at line {other.line})", line)
            self.area, self.section = "runbook", "other"
            self.rb = {"number": number, "title": title, "heading": text, "line": line, "file": self.path,
                       "severity": None, "expected_alerts": [], "symptoms": [], "investigation": [],
                       "causes": [], "resolution": []}
        elif re.match(r"runbook\b", text, re.I):
            raise self.error(f"runbook heading {text!r} should read 'Runbook N: Title'", line)
        elif "escalation" in text.casefold():
            self.area = "escalation"
        elif "checklist" in text.casefold():
            self.area = "checklist"

    def on_p(self, text: str, line: int) -> None:
        if self.rb is None:
            return
        if self.section == "impact" and self.rb["severity"] is None and (m := _SEVERITY.search(text)):
            self.rb["severity"] = m.group(1).strip()
        elif self.cause is not None and (m := _LABEL.match(text)):
            self.part = m.group(1).strip().casefold()
            if self.part == "symptoms" and m.group(2).strip():
                self.cause["symptoms"].append(m.group(2).strip())

    def on_item(self, text: str, line: int) -> None:
        text = _CHECKBOX.sub("", text.strip())
        if self.rb is not None and self.section == "symptoms" and self.cause is None:
            self.rb["symptoms"].append(text)
            if _ALERT_LINE.match(text):
                self.rb["expected_alerts"].extend(re.findall(r"`([^`]+)`", text))
        elif self.cause is not None and self.part == "symptoms":
            self.cause["symptoms"].append(text)
        elif self.rb is not None and self.section == "impact":
            self.on_p(text, line)

    def on_fence(self, tok: Token) -> None:
        assert tok.map is not None
        line, end = tok.map[0] + 1, tok.map[1]
        closing = self.lines[end - 1].strip() if end - 1 > tok.map[0] else ""
        if end >= len(self.lines) and not (closing and set(closing) == {tok.markup[0]}
                                           and len(closing) >= len(tok.markup)):
            raise self.error(f"unterminated code fence opened with {tok.markup!r}", line)
        if self.rb is None:
            return
        section: Section = cast(Section, self.section) if self.section in _COMMAND_SECTIONS else "other"
        if self.cause is not None:
            part_sections: dict[str, Section] = {"symptoms": "symptoms", "resolution": "resolution"}
            section = part_sections.get(self.part, "other")
        if section == "symptoms" or self.section == "symptoms":
            target = self.cause["symptoms"] if self.cause is not None else self.rb["symptoms"]
            target.extend(s.strip() for s in tok.content.splitlines() if s.strip())
            return
        lang = tok.info.split()[0].lower() if tok.info.strip() else ""
        shell = lang in _SHELL_LANGS or (lang == "" and section in _COMMAND_SECTIONS)
        commands = split_commands(tok.content, line + 1, self.path) if shell else []
        block = Block(file=self.path, line=line, end_line=end, lang=lang, section=section, text=tok.content,
                      commands=commands)
        if self.cause is not None and section == "resolution":
            self.cause["resolution"].append(block)
        elif self.cause is None and section == "investigation":
            self.rb["investigation"].append(block)
        elif self.cause is None and section in ("resolution", "investigation-resolution"):
            self.rb["resolution"].append(block)

    def on_table(self, rows: list[tuple[list[str], int]], line: int) -> None:
        if self.area != "escalation" or not rows:
            return
        header = [h.casefold() for h in rows[0][0]]
        col = {key: next((i for i, h in enumerate(header) if key in h), None)
               for key in ("severity", "priority", "description", "response", "escalation")}
        sev_col = col["severity"] if col["severity"] is not None else col["priority"]
        if sev_col is None or col["response"] is None:
            return  # some other table (e.g. contacts): not the severity levels
        for cells, row_line in rows[1:]:
            severity, response = _cell(cells, sev_col), seconds(_cell(cells, col["response"]))
            priority = priority_of(severity)
            if priority is None or response is None:
                raise self.error(f"escalation row needs a P0..P3 severity and a response time, got {cells}",
                                 row_line)
            name = re.sub(r"^P\d\s*[-–:]?\s*", "", severity, flags=re.I).strip() or severity
            self.escalation.append(EscalationLevel(
                priority=priority, name=name, description=_cell(cells, col["description"]),
                response_time_s=response, escalation=_cell(cells, col["escalation"]), line=row_line))

    def close_cause(self) -> None:
        if self.cause is None or self.rb is None:
            return
        cause, self.cause = self.cause, None
        if not cause["resolution"]:
            raise self.error(f"cause {cause['heading']!r} has no '**Resolution:**' code fence", cause["line"])
        if any(c.title.casefold() == cause["title"].casefold() for c in self.rb["causes"]):
            raise self.error(f"duplicate cause {cause['heading']!r} in {self.rb['heading']!r}", cause["line"])
        self.rb["causes"].append(Cause(**cause))

    def close_runbook(self) -> None:
        self.close_cause()
        if self.rb is None:
            return
        rb, self.rb = self.rb, None
        section_lines = rb.pop("section_lines", {})
        if rb["severity"] is None:
            raise self.error(f"runbook {rb['heading']!r} has no '**Severity: ...**' in its Impact section",
                             section_lines.get("impact", rb["line"]))
        self.runbooks.append(Runbook(priority=priority_of(rb["severity"]), **rb))
