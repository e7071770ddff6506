"""Small readers for what a runbook states in prose: severities, alert names, labels and titles.

Each takes raw Markdown text (emphasis and code spans still in) and returns what it found or None, so
the structure builder stays about structure. Severity values keep the runbook's own spelling
("CRITICAL", "SEV-2", "P1"); the P-level is derived from it with :func:`priority_of`.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"[*_`~]+")
_CHECKBOX = re.compile(r"^\s*\[[ xX]\]\s*")
_SEVERITY = re.compile(
    r"(?:severity|priority|sev|urgency)\s*\**\s*[:=]\s*\**\s*([^*\n|]+?)\s*\**\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_SEVERITY_KEYS = {"severity", "priority", "sev", "urgency"}
_LEVEL_IN_TEXT = re.compile(r"(?<![\w-])(P[0-4]|SEV[-\s]?[0-5])(?![\w-])", re.IGNORECASE)
_ALERT_LINE = re.compile(r"^[\s*_]*(?:firing\s+)?alert(?:s|name|\s+name)?\b", re.IGNORECASE)
_CODE = re.compile(r"`([^`\n]+)`")
ALERT_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_LABEL = re.compile(r"^\s*(?:\*\*|__)\s*([^*_:\n]+?)\s*:?\s*(?:\*\*|__)\s*:?\s*(.*)$", re.DOTALL)
_CAUSE = re.compile(r"^(?:Cause|Scenario|Case)(?:\s+#?(\d+))?\s*[:.\-–]\s*(.+?)\s*$", re.IGNORECASE)
_PLAIN_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z &/-]{0,40}?)\s*:\s*$")
_LEVEL_TAG = re.compile(r"^\s*[\[(](?:P[0-5]|SEV[-\s]?[0-5])[\])]\s*[:\-–]?\s*", re.IGNORECASE)


def plain(text: str) -> str:
    """Markdown emphasis, code marks and a task-list checkbox removed."""
    return _MARKUP.sub("", _CHECKBOX.sub("", text)).strip()


def unchecked(text: str) -> str:
    """A list item's text without its ``[ ]`` checkbox (the rest kept as written)."""
    return _CHECKBOX.sub("", text.strip())


def severity_in(text: str) -> str | None:
    """The value of a "Severity: X" / "**Priority:** P1" line in a paragraph."""
    m = _SEVERITY.search(text)
    return m.group(1).strip() if m else None


def severity_key(cell: str) -> bool:
    return plain(cell).casefold() in _SEVERITY_KEYS


def level_in_heading(text: str) -> str | None:
    """A P-level or SEV-level written into a heading, like "[P1] Database down" or "SEV-2: Slow API"."""
    m = _LEVEL_IN_TEXT.search(text)
    return m.group(1).upper() if m else None


def alerts_in_line(text: str) -> list[str]:
    """Code spans of a line that starts with "Alert"/"Alerts": ``Alert: `AgentDown` firing``."""
    if not _ALERT_LINE.match(unchecked(text)):
        return []
    return [name for name in _CODE.findall(text) if ALERT_NAME.match(name)]


def alert_names(cell: str) -> list[str]:
    """Alert names in a table cell or list item: its code spans, or the whole text if it is one name."""
    names = [n for n in _CODE.findall(cell) if ALERT_NAME.match(n)]
    if names:
        return names
    text = plain(cell)
    return [text] if ALERT_NAME.match(text) and looks_like_alert(text) else []


def looks_like_alert(name: str) -> bool:
    """CamelCase like an alert rule name (KubePodCrashLooping, etcdNoLeader), not a plain word."""
    return ALERT_NAME.match(name) is not None and re.search(r"[a-z][A-Z]", name) is not None


def code_spans(text: str) -> list[str]:
    return _CODE.findall(text)


def label(text: str) -> tuple[str, str] | None:
    """("Resolution", rest) for a paragraph that starts with a bold label "**Resolution:**", or that is
    only a short label ending in a colon ("Diagnosis:")."""
    if m := _LABEL.match(text):
        return m.group(1).strip(), m.group(2).strip()
    if m := _PLAIN_LABEL.match(text):
        return m.group(1).strip(), ""
    return None


def numbered_cause(text: str) -> tuple[int | None, str] | None:
    """(2, "Disk Full") for "Cause 2: Disk Full", (None, "Disk Full") for "Cause: Disk Full"."""
    m = _CAUSE.match(text)
    return (int(m.group(1)) if m.group(1) else None, m.group(2)) if m else None


def without_level_tag(title: str) -> str:
    """ "[P1] Search stalled" -> "Search stalled": the level is the severity, not part of the name."""
    return _LEVEL_TAG.sub("", title) or title


def item_title(text: str) -> str:
    """A list item's title: its bold lead, else its first line up to a colon or dash, without markup."""
    first = text.strip().split("\n", 1)[0]
    m = re.match(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)", first)
    if m:
        return plain(m.group(1)).rstrip(":").strip()
    head = re.split(r":\s|\s[—–-]\s", plain(first), maxsplit=1)[0]
    return head.rstrip(":").strip()[:120]
