"""Read an incident-runbook Markdown file into a :class:`RunbookDocument`.

The Markdown is the source of truth that on-call engineers already maintain, so it is parsed as-is
(markdown-it-py, CommonMark + tables) in whatever common shape it has: a collection of
"## Runbook N: Title" sections, one runbook per heading whose subsections are named like runbook
sections, or one runbook per file (the alert-per-file style, with optional YAML front matter). Bytes
that are not text, and structure that cannot be used, are reported as ``file:line`` so the fix lands in
the runbook, not in drillbook; what is merely unusual becomes a notice and nothing is dropped silently.
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.errors import RunbookError
from drills.runbook import extract
from drills.runbook.builder import SHELL_LANGS, RunbookBuilder
from drills.runbook.model import (
    ChecklistPhase,
    EscalationLevel,
    Notice,
    Runbook,
    RunbookDocument,
    priority_of,
)
from drills.runbook.options import ParseOptions
from drills.runbook.outline import MAX_NESTING, Fence, Heading, ListBlock, Table, flatten_deep, parse_events

_RUNBOOK = re.compile(r"^Runbook(?:\s+#?(\d+))?\s*[:.\-–]\s*(.+?)\s*$", re.IGNORECASE)
_PHASE = re.compile(r"^Phase\s+(\d+)\s*[:.\-–]\s*(.+?)\s*(?:\(([^)]*)\))?\s*$", re.IGNORECASE)
_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b", re.IGNORECASE
)
_WINDOW = re.compile(r"(\d+(?:\.\d+)?)\s*[-–]\s*(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SECTION_KINDS = {"symptoms", "impact", "investigation", "resolution", "investigation-resolution", "causes"}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def parse_runbook_file(path: str | Path, options: ParseOptions | None = None) -> RunbookDocument:
    """Parse a runbook file from disk; unreadable files are RunbookErrors too (one error type to catch)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RunbookError(f"cannot read runbook file: {exc}", file=str(path)) from exc
    return parse_runbook_text(decode(data, str(path)), str(path), options)


def decode(data: bytes, path: str) -> str:
    """UTF-8 (a BOM allowed; UTF-16 with its BOM too); anything else is an error at its line and column."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].decode("utf-16", errors="replace").count("\n") + 1
            raise RunbookError(f"invalid UTF-16 text: {exc.reason}", file=path, line=line) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        raise RunbookError(
            f"column {column}: byte 0x{data[exc.start]:02x} is not UTF-8 text ({exc.reason}); "
            "save the file as UTF-8",
            file=path,
            line=line,
        ) from exc


def parse_runbook_text(
    text: str, path: str = "<string>", options: ParseOptions | None = None
) -> RunbookDocument:
    """Parse runbook Markdown held in memory; ``path`` is only used for locations in errors and models."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _Document(path, text, options or ParseOptions()).build()


def seconds(text: str) -> int | None:
    """ "5 min" -> 300, "24 hours" -> 86400; None when ``text`` holds no duration."""
    m = _DURATION.search(text)
    return round(float(m.group(1)) * _UNIT_S[m.group(2)[0].lower()]) if m else None


def _window(text: str) -> tuple[int | None, int | None]:
    """ "0-5 min" -> (0, 300): the unit after the range applies to both ends."""
    m = _WINDOW.search(text)
    if not m:
        return None, None
    return seconds(f"{m.group(1)} {m.group(3)}"), seconds(f"{m.group(2)} {m.group(3)}")


def _cell(cells: list[str], idx: int | None) -> str:
    return cells[idx] if idx is not None and idx < len(cells) else ""


def _area(text: str) -> str | None:
    t = text.casefold()
    return "escalation" if "escalation" in t else "checklist" if "checklist" in t else None


class _Document:
    """One pass over the events: which heading opens a runbook, and the shared escalation and checklist."""

    def __init__(self, path: str, text: str, options: ParseOptions) -> None:
        self.path, self.options = path, options
        self.front: dict[str, object] = {}
        self.notices: list[Notice] = []
        text = self.front_matter(text)
        self.lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
        text, deep = flatten_deep(text)
        for line, depth in deep:
            self.note(
                line,
                f"nested {depth} quote/list levels deep, more than Markdown is read to "
                f"({MAX_NESTING} levels): read as plain text from here",
            )
        try:
            self.events = parse_events(text)
        except RecursionError as exc:  # not expected below MAX_NESTING; an error with a line if it happens
            raise self.error("Markdown nested too deeply to read", deep[0][0] if deep else 1) from exc
        self.runbooks: list[Runbook] = []
        self.escalation: list[EscalationLevel] = []
        self.checklist: list[ChecklistPhase] = []
        self.chosen: dict[int, tuple[int | None, str]] = {}

    def front_matter(self, text: str) -> str:
        """YAML front matter read into ``self.front``; its lines blanked so line numbers stay true."""
        m = _FRONT_MATTER.match(text)
        if not m:
            return text
        import yaml

        try:
            data = yaml.safe_load(m.group(1) or "")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.note((mark.line + 2) if mark else 1, f"front matter is not valid YAML: {exc}")
            data = None
        if isinstance(data, dict):
            self.front = {str(k).casefold(): v for k, v in data.items()}
        return "\n" * m.group(0).count("\n") + text[m.end() :]

    def note(self, line: int, message: str) -> None:
        self.notices.append(Notice(file=self.path, line=line, message=message))

    def error(self, message: str, line: int | None) -> RunbookError:
        return RunbookError(message, file=self.path, line=line)

    # -- which headings are runbooks -------------------------------------------------------------------
    def starts(self) -> dict[int, tuple[int | None, str]]:
        """Event index -> (number, title) of every heading that opens a runbook; -1 for the whole file."""
        heads = [(i, e) for i, e in enumerate(self.events) if isinstance(e, Heading)]
        explicit = {
            i: (int(m.group(1)) if m.group(1) else None, m.group(2).strip())
            for i, h in heads
            if (m := _RUNBOOK.match(h.text))
        }
        if explicit:
            return explicit
        chosen: dict[int, tuple[int | None, str]] = {}
        end_of_chosen = -1
        for i, h in heads:
            if (
                i < end_of_chosen
                or _area(h.text)
                or (h.level > 1 and self.options.kind(h.text) in _SECTION_KINDS)
            ):
                continue  # a "# Fix the cache" title may name a runbook; a deeper "## Fix" is its section
            end = next((j for j, o in heads if j > i and o.level <= h.level), len(self.events))
            if self.is_runbook(i, end, h.level):
                chosen[i] = (None, extract.without_level_tag(extract.plain(h.text)))
                end_of_chosen = end
        if not chosen and self.is_runbook(-1, len(self.events), 0):
            chosen[-1] = (None, self.file_title())
        return chosen

    def is_runbook(self, start: int, end: int, level: int) -> bool:
        """A heading whose child headings are runbook sections, or whose own text holds shell steps."""
        inner = [e for e in self.events[start + 1 : end] if isinstance(e, Heading) and e.level > level]
        top = min((h.level for h in inner), default=0)
        if any(h.level == top and self.options.kind(h.text) in _SECTION_KINDS for h in inner):
            return True
        body = self.events[
            start + 1 : next((j for j in range(start + 1, end) if isinstance(self.events[j], Heading)), end)
        ]
        fences = [e for e in body if isinstance(e, Fence)]
        fences += [
            e
            for lst in body
            if isinstance(lst, ListBlock)
            for item in lst.items
            for e in item.events
            if isinstance(e, Fence)
        ]
        return any(f.lang in SHELL_LANGS and f.lang != "" and not f.indented for f in fences)

    def file_title(self) -> str:
        for key in ("title", "alert", "alertname", "name"):
            if isinstance(self.front.get(key), str | int):
                return str(self.front[key])
        return Path(self.path).stem

    # -- the pass --------------------------------------------------------------------------------------
    def build(self) -> RunbookDocument:
        starts = self.chosen = self.starts()
        if not starts:
            raise self.error(
                "not a runbook document: no runbook headings and no runbook sections "
                "(Symptoms, Diagnosis, Mitigation, Resolution, Causes ...)",
                1,
            )
        rb: RunbookBuilder | None = None
        if -1 in starts:
            rb = self.open(Heading(0, starts[-1][1], 1), *starts[-1])
        area: tuple[str, int] | None = None
        for i, event in enumerate(self.events):
            if isinstance(event, Fence):
                self.check_closed(event)
            if isinstance(event, Heading):
                if rb is not None and event.level <= rb.level:
                    self.close(rb)
                    rb = None
                if area is not None and event.level <= area[1]:
                    area = None
                if i in starts:
                    rb = self.open(event, *starts[i])
                    continue
                if rb is None and (kind := _area(event.text)):
                    area = (kind, event.level)
                    continue
            if rb is not None:
                rb.feed(event)
            elif area is not None and area[0] == "checklist" and isinstance(event, Heading):
                self.phase(event)
            elif area is not None and area[0] == "escalation" and isinstance(event, Table):
                self.escalation_table(event)
            elif isinstance(event, Fence) and event.lang in SHELL_LANGS:
                self.note(event.line, f"{event.lang} block outside any runbook (not read as steps)")
        if rb is not None:
            self.close(rb)
        return RunbookDocument(
            path=self.path,
            runbooks=self.runbooks,
            escalation=self.escalation,
            checklist=self.checklist,
            notices=sorted(self.notices, key=lambda n: n.line),
        )

    def check_closed(self, fence: Fence) -> None:
        if fence.indented:
            return
        closing = (
            self.lines[fence.end_line - 1].strip().lstrip("> \t") if fence.end_line - 1 >= fence.line else ""
        )
        if fence.end_line >= len(self.lines) and not (
            closing and set(closing) == {fence.markup[0]} and len(closing) >= len(fence.markup)
        ):
            raise self.error(f"unterminated code fence opened with {fence.markup!r}", fence.line)

    def open(self, heading: Heading, number: int | None, title: str) -> RunbookBuilder:
        for other in self.runbooks:
            if (number is not None and other.number == number) or other.title.casefold() == title.casefold():
                raise self.error(
                    f"duplicate runbook {heading.text!r} (first at line {other.line})", heading.line
                )
        return RunbookBuilder(self.path, self.lines, self.options, heading, number, title, self.notices)

    def close(self, rb: RunbookBuilder) -> None:
        alerts: list[tuple[str, int]] = []
        severity: list[tuple[str, str]] = []
        if len(self.chosen) <= 1:  # one runbook per file: front matter and file name speak for it
            for key in ("alert", "alerts", "alertname", "alert_name"):
                value = self.front.get(key)
                for name in value if isinstance(value, list) else [value] if value else []:
                    alerts.append((str(name), 1))
            for key in ("severity", "priority", "sev", "urgency"):
                if isinstance(self.front.get(key), str | int):
                    severity.append((str(self.front[key]), f"front matter {key}"))
            alerts += self.guessed_alerts(rb.title)
        elif extract.looks_like_alert(rb.title):
            alerts += self.guessed_alerts(rb.title, with_file=False)
        self.runbooks.append(rb.build(alerts, severity))

    def guessed_alerts(self, title: str, with_file: bool = True) -> list[tuple[str, int]]:
        """An alert named by the runbook's title or file name: kept if a rule defines it (or, without rule
        files, if it is CamelCase like an alert name). Line 0 marks them as guesses."""
        rules = self.options.alert_rules
        found: list[tuple[str, int]] = []
        for guess in [title, Path(self.path).stem] if with_file else [title]:
            match = next((name for name in rules if name.casefold() == guess.casefold()), None)
            if match or (not rules and extract.looks_like_alert(guess)):
                found.append((match or guess, 0))
        return found

    def phase(self, h: Heading) -> None:
        if m := _PHASE.match(h.text):
            start, end = _window(m.group(3) or "")
            self.checklist.append(
                ChecklistPhase(number=int(m.group(1)), name=m.group(2), start_s=start, end_s=end, line=h.line)
            )

    def escalation_table(self, table: Table) -> None:
        rows = table.rows
        if not rows:
            return
        header = [h.casefold() for h in rows[0][0]]
        col = {
            key: next((i for i, h in enumerate(header) if key in h), None)
            for key in ("severity", "priority", "description", "response", "escalation")
        }
        sev_col = col["severity"] if col["severity"] is not None else col["priority"]
        if sev_col is None or col["response"] is None:
            return  # some other table (e.g. contacts): not the severity levels
        for cells, row_line in rows[1:]:
            severity, response = _cell(cells, sev_col), seconds(_cell(cells, col["response"]))
            priority = priority_of(severity, self.options.severity_words)
            if priority is None or response is None:
                raise self.error(
                    f"escalation row needs a P0..P3 severity and a response time, got {cells}", row_line
                )
            name = re.sub(r"^P\d\s*[-–:]?\s*", "", severity, flags=re.IGNORECASE).strip() or severity
            self.escalation.append(
                EscalationLevel(
                    priority=priority,
                    name=name,
                    description=_cell(cells, col["description"]),
                    response_time_s=response,
                    escalation=_cell(cells, col["escalation"]),
                    line=row_line,
                )
            )
