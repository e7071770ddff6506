"""One runbook's events -> a :class:`Runbook`: sections by name, causes in any shape, steps, severity, alerts.

A runbook's sections are told apart by their names (see :class:`ParseOptions`), at any heading depth.
Causes are the headings under a causes section (numbered or not) or "Cause N:" headings anywhere, and,
when such a section holds a list or table whose items carry their own code, those items or rows.
Nothing is dropped quietly: blocks of sections that are neither investigation nor remediation are kept
in ``other``, and what cannot be read becomes a :class:`Notice` with its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from drills.errors import RunbookError
from drills.runbook import extract
from drills.runbook.commands import split_commands
from drills.runbook.model import Block, Cause, Command, Notice, Outline, Runbook, Section, priority_of
from drills.runbook.options import ParseOptions
from drills.runbook.outline import Event, Fence, Heading, ListBlock, Para, Table
from drills.runbook.shell import console_text

SHELL_LANGS = {
    "bash",
    "sh",
    "shell",
    "zsh",
    "ksh",
    "console",
    "shell-session",
    "shellsession",
    "terminal",
    "sh-session",
    "session",
}
_COMMAND_SECTIONS = {"investigation", "resolution", "investigation-resolution"}
_PARTS: dict[str, str] = {
    "symptoms": "symptoms",
    "investigation": "investigation",
    "resolution": "resolution",
    "investigation-resolution": "resolution",
}


@dataclass
class _Frame:
    level: int
    kind: str  # a SectionKind, or "part" (a heading inside a cause)
    title: str


@dataclass
class _Cause:
    number: int | None
    title: str
    heading: str
    line: int
    level: int
    part: str = "resolution"  # until a label or sub-heading says otherwise
    symptoms: list[str] = field(default_factory=list)
    investigation: list[Block] = field(default_factory=list)
    resolution: list[Block] = field(default_factory=list)


class RunbookBuilder:
    """Collects one runbook while the document builder feeds it the events inside its heading."""

    def __init__(
        self,
        path: str,
        lines: list[str],
        options: ParseOptions,
        heading: Heading,
        number: int | None,
        title: str,
        notices: list[Notice],
    ) -> None:
        self.path, self.lines, self.options, self.notices = path, lines, options, notices
        self.level, self.number, self.title = heading.level, number, title
        self.heading, self.line = heading.text, heading.line
        self.stack: list[_Frame] = []
        self.cause: _Cause | None = None
        self.causes: list[Cause] = []
        self.symptoms: list[str] = []
        self.alerts: list[tuple[str, int]] = []
        self.severity: list[tuple[str, str]] = []  # (value, source) in the order found
        self.investigation: list[Block] = []
        self.resolution: list[Block] = []
        self.direct: list[Block] = []
        self.other: list[Block] = []
        self.sections: list[Outline] = []
        self.remediation_title: str | None = None
        if level := extract.level_in_heading(heading.text):
            self.severity.append((level, f"heading line {heading.line}"))

    # -- events ---------------------------------------------------------------------------------------
    def feed(self, event: Event) -> None:
        if isinstance(event, Heading):
            self.on_heading(event)
        elif isinstance(event, Para):
            self.on_para(event)
        elif isinstance(event, Fence):
            self.on_fence(event)
        elif isinstance(event, Table):
            self.on_table(event)
        else:
            self.on_list(event)

    def context(self) -> str:
        if self.cause is not None:
            return "cause"
        for frame in reversed(self.stack):
            if frame.kind != "other":
                return frame.kind
        return "other" if self.stack else "direct"

    def on_heading(self, h: Heading) -> None:
        while self.stack and self.stack[-1].level >= h.level:
            self.stack.pop()
        if self.cause is not None and self.cause.level >= h.level:
            self.close_cause()
        parent = self.stack[-1].kind if self.stack else None
        numbered = extract.numbered_cause(h.text)
        if numbered or parent == "causes":
            number, title = numbered or (None, extract.plain(h.text))
            title = extract.plain(title)
            self.open_cause(number, title, h.text, h.line, h.level)
            self.stack.append(_Frame(h.level, "cause", h.text))
        elif self.cause is not None:
            kind = self.options.kind(h.text)
            self.cause.part = _PARTS.get(kind, "other" if kind != "other" else self.cause.part)
            self.stack.append(_Frame(h.level, "part", h.text))
        else:
            kind = self.options.kind(h.text)
            name, colon, rest = h.text.partition(":")
            if colon and extract.plain(name).casefold() in ("alert", "alertname", "alert name"):
                self.alerts += [(a, h.line) for a in extract.alert_names(rest.strip())]
            selectable = kind in ("resolution", "investigation-resolution") and self.remediation_title is None
            if selectable:
                self.remediation_title = extract.plain(h.text)
            self.sections.append(
                Outline(title=extract.plain(h.text), kind=kind, line=h.line, selectable=selectable)
            )
            self.stack.append(_Frame(h.level, kind, h.text))

    def on_para(self, p: Para) -> None:
        ctx = self.context()
        if self.cause is not None:
            if found := extract.label(p.text):
                name, rest = found
                kind = self.options.kind(name)
                self.cause.part = _PARTS.get(kind, "other")
                if self.cause.part == "symptoms" and rest:
                    self.cause.symptoms.append(rest)
            elif p.in_item and self.cause.part == "symptoms":
                self.cause.symptoms.append(extract.unchecked(p.text))
            return
        self.alerts += [(a, p.line) for a in extract.alerts_in_line(p.text)]
        if ctx == "symptoms" and p.in_item:
            self.symptoms.append(extract.unchecked(p.text))
            if any(
                extract.plain(f.title).casefold().startswith(("alert", "related alert")) for f in self.stack
            ):
                self.alerts += [(a, p.line) for a in extract.alert_names(p.text)]
        if value := extract.severity_in(p.text):
            self.severity.append((value, f"line {p.line}"))

    def on_fence(self, f: Fence) -> None:
        ctx = self.context()
        if f.indented and not self.options.indented_code:
            if ctx in _COMMAND_SECTIONS or ctx in ("cause", "direct"):
                self.note(f.line, "indented code block not read as steps (indented_code is off)")
            return
        part = self.cause.part if self.cause is not None else ctx
        if part == "symptoms":
            target = self.cause.symptoms if self.cause is not None else self.symptoms
            target.extend(s.strip() for s in f.content.splitlines() if s.strip())
            return
        section: Section = {
            "investigation": "investigation",
            "resolution": "resolution",
            "investigation-resolution": "investigation-resolution",
        }.get(part, "other")  # type: ignore[assignment]
        block = self.block(f, section, runnable=part in _COMMAND_SECTIONS or part == "direct")
        if self.cause is not None:
            {"investigation": self.cause.investigation, "resolution": self.cause.resolution}.get(
                part, self.other
            ).append(block)
        elif part == "direct":
            self.direct.append(block)
        elif section == "investigation":
            self.investigation.append(block)
        elif section in ("resolution", "investigation-resolution"):
            self.resolution.append(block)
        else:
            self.other.append(block)

    def block(self, f: Fence, section: Section, runnable: bool, text: str | None = None) -> Block:
        """A fence as a Block; its commands if it is shell (an unlabelled fence only where steps are)."""
        lang = "" if f.indented else f.lang
        commands: list[Command] = []
        if lang in SHELL_LANGS or (lang in ("", "inline") and runnable):
            source = text if text is not None else console_text(f.content, lang)
            first = f.line if f.indented or text is not None else f.line + 1
            try:
                commands = split_commands(source if source is not None else f.content, first, self.path)
            except RunbookError as exc:
                self.note(exc.line or f.line, f"{exc.message}; block at line {f.line} not read as steps")
        return Block(
            file=self.path,
            line=f.line,
            end_line=f.end_line,
            lang=lang,
            section=section,
            text=f.content,
            commands=commands,
        )

    def on_table(self, t: Table) -> None:
        if self.cause is None and self.context() == "causes" and self.table_causes(t):
            return
        if self.cause is not None or not t.rows:
            return
        header = [extract.plain(h).casefold() for h in t.rows[0][0]]
        key_value = False  # "| Severity | P1 |" rows, the first row included (it may be the header)
        for cells, line in t.rows:
            if len(cells) >= 2 and extract.severity_key(cells[0]):
                self.severity.append((extract.plain(cells[1]), f"table line {line}"))
                key_value = True
            if len(cells) >= 2 and extract.plain(cells[0]).casefold() in ("alert", "alertname", "alert name"):
                self.alerts += [(a, line) for a in extract.alert_names(cells[1])]
                key_value = True
        for col, name in enumerate([] if key_value else header):
            for cells, line in t.rows[1:]:
                if col < len(cells) and "alert" in name:
                    self.alerts += [(a, line) for a in extract.alert_names(cells[col])]
                if col < len(cells) and name in ("severity", "priority"):
                    self.severity.append((extract.plain(cells[col]), f"table line {line}"))

    def table_causes(self, t: Table) -> bool:
        """Rows of a table under a causes section, each with its own code spans, as causes."""
        header = [extract.plain(h) for h in t.rows[0][0]] if t.rows else []
        title_col = next((i for i, h in enumerate(header) if self.options.kind(h) == "causes"), 0)
        kinds = {i: _PARTS.get(self.options.kind(h), "") for i, h in enumerate(header) if i != title_col}
        if not any(kinds.values()):
            kinds = dict.fromkeys(kinds, "resolution")
        rows = [
            (cells, line)
            for cells, line in t.rows[1:]
            if any(" " in code.strip() for c in cells for code in extract.code_spans(c))
        ]
        if not rows:
            return False
        for cells, line in rows:
            title = extract.plain(cells[title_col]) if title_col < len(cells) else f"row {line}"
            self.open_cause(None, title, title, line, self.level + 100)
            assert self.cause is not None
            for col, part in kinds.items():
                for code in extract.code_spans(cells[col]) if col < len(cells) and part else []:
                    fence = Fence("inline", code, line, line, "`")
                    block = self.block(
                        fence,
                        "resolution" if part == "resolution" else "investigation",
                        runnable=True,
                        text=code,
                    )
                    {"investigation": self.cause.investigation, "symptoms": self.other}.get(
                        part, self.cause.resolution
                    ).append(block)
            self.close_cause()
        return True

    def on_list(self, lst: ListBlock) -> None:
        if (
            self.cause is None
            and self.context() == "causes"
            and any(isinstance(e, Fence) for item in lst.items for e in item.events)
        ):
            for item in lst.items:
                first = next((e for e in item.events if isinstance(e, Para)), None)
                numbered = extract.numbered_cause(extract.plain(first.text)) if first else None
                title = (
                    numbered[1]
                    if numbered
                    else extract.item_title(first.text)
                    if first
                    else f"item {item.line}"
                )
                number = numbered[0] if numbered else item.number
                self.open_cause(number, title, title, item.line, self.level + 100)
                for event in item.events:
                    if event is not first:
                        self.feed(event)
                self.close_cause()
            return
        for item in lst.items:
            for event in item.events:
                self.feed(event)

    # -- causes and the result ------------------------------------------------------------------------
    def open_cause(self, number: int | None, title: str, heading: str, line: int, level: int) -> None:
        self.close_cause()
        self.cause = _Cause(number, title, heading, line, level)
        self.sections.append(Outline(title=title, kind="cause", line=line, selectable=True))

    def close_cause(self) -> None:
        cause, self.cause = self.cause, None
        if cause is None:
            return
        if not cause.resolution:
            self.note(
                cause.line,
                f"cause {cause.heading!r} has no remediation steps (no '**Resolution:**' "
                "code fence or shell block)",
            )
        if any(c.title.casefold() == cause.title.casefold() for c in self.causes):
            raise RunbookError(
                f"duplicate cause {cause.heading!r} in {self.heading!r}", self.path, cause.line
            )
        self.causes.append(
            Cause(
                number=cause.number,
                title=cause.title,
                heading=cause.heading,
                line=cause.line,
                symptoms=cause.symptoms,
                investigation=cause.investigation,
                resolution=cause.resolution,
            )
        )

    def note(self, line: int, message: str) -> None:
        self.notices.append(Notice(file=self.path, line=line, message=message))

    def build(self, extra_alerts: list[tuple[str, int]], extra_severity: list[tuple[str, str]]) -> Runbook:
        """The finished runbook; ``extra_*`` come from front matter and the file name (checked here)."""
        self.close_cause()
        if self.direct and not self.resolution and not self.causes:
            self.resolution = [replace(b, section="resolution") for b in self.direct]
            self.sections.insert(
                0, Outline(title=self.title, kind="resolution", line=self.line, selectable=True)
            )
        else:
            self.investigation = [
                replace(b, section="investigation") for b in self.direct
            ] + self.investigation
        alerts = self.checked_alerts(extra_alerts + self.alerts)
        severity, priority, source = self.pick_severity(extra_severity + self.severity, alerts)
        if severity is None:
            self.note(
                self.line,
                f"runbook {self.heading!r} states no severity ('**Severity: ...**' line, "
                "table, front matter, P-level in the title, or an alert rule's label)",
            )
        return Runbook(
            number=self.number,
            title=self.title,
            heading=self.heading,
            line=self.line,
            file=self.path,
            severity=severity,
            priority=priority,
            severity_source=source,
            expected_alerts=alerts,
            symptoms=self.symptoms,
            investigation=self.investigation,
            causes=self.causes,
            resolution=self.resolution,
            remediation_title=self.remediation_title,
            other=self.other,
            sections=self.sections,
        )

    def checked_alerts(self, found: list[tuple[str, int]]) -> list[str]:
        rules = self.options.alert_rules
        names: list[str] = []
        for name, line in found:
            if rules and name not in rules:
                if line > 0:
                    self.note(line, f"alert {name!r} is not defined in the alert rule files")
                if line <= 0:  # guessed from a title or file name: only kept when a rule defines it
                    continue
            if name not in names:
                names.append(name)
        return names

    def pick_severity(
        self, found: list[tuple[str, str]], alerts: list[str]
    ) -> tuple[str | None, str | None, str]:
        words = self.options.severity_words
        for value, source in found:
            if priority_of(value, words):
                return value, priority_of(value, words), source
        if found:
            return found[0][0], None, found[0][1]
        for alert in alerts:
            label = self.options.alert_rules.get(alert, {}).get("severity")
            if label:
                mapped = self.options.label_priority.get(label.casefold()) or priority_of(label, words)
                return label, mapped, f"alert rule {alert} severity label"
        return None, None, ""
