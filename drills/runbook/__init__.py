"""Runbook Markdown -> typed model: runbooks, causes, their steps and how risky each step is.

The parser keeps every step's source line and class so a drill can replay a cause's resolution,
refuse what it must not run unattended, and point at the runbook line when something fails.
"""

from drills.runbook.commands import classify, find_placeholders, split_commands
from drills.runbook.model import (
    Block,
    Cause,
    ChecklistPhase,
    Command,
    CommandClass,
    EscalationLevel,
    Runbook,
    RunbookDocument,
    priority_of,
)
from drills.runbook.parser import parse_runbook_file, parse_runbook_text, seconds

__all__ = [
    "Block",
    "Cause",
    "ChecklistPhase",
    "Command",
    "CommandClass",
    "EscalationLevel",
    "Runbook",
    "RunbookDocument",
    "classify",
    "find_placeholders",
    "parse_runbook_file",
    "parse_runbook_text",
    "priority_of",
    "seconds",
    "split_commands",
]
