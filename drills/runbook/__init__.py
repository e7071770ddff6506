"""Runbook Markdown -> typed model: runbooks, causes, their steps and how risky each step is.

The parser keeps every step's source line and class so a drill can replay a cause's resolution,
refuse what it must not run unattended, and point at the runbook line when something fails. It reads
the common shapes runbooks are written in (see parser), with a vocabulary a team can extend (options).
"""

from drills.runbook.classes import classify
from drills.runbook.commands import find_placeholders, split_commands
from drills.runbook.model import (
    Block,
    Cause,
    ChecklistPhase,
    Command,
    CommandClass,
    EscalationLevel,
    Notice,
    Outline,
    Runbook,
    RunbookDocument,
    priority_of,
)
from drills.runbook.options import ParseOptions, load_alert_rules, load_style, options_for
from drills.runbook.parser import parse_runbook_file, parse_runbook_text, seconds

__all__ = [
    "Block",
    "Cause",
    "ChecklistPhase",
    "Command",
    "CommandClass",
    "EscalationLevel",
    "Notice",
    "Outline",
    "ParseOptions",
    "Runbook",
    "RunbookDocument",
    "classify",
    "find_placeholders",
    "load_alert_rules",
    "load_style",
    "options_for",
    "parse_runbook_file",
    "parse_runbook_text",
    "priority_of",
    "seconds",
    "split_commands",
]
