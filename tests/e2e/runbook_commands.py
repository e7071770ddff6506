"""Every kubectl command of the two runbook files, found with drillbook's own parser, keyed by ``file:line``.

Kept apart from the end-to-end test so the table check (a new kubectl line without a table entry fails) runs
without a sandbox. Commands inside a block's comments ("# Redis connectivity: kubectl exec ... ping") count
too: a reader copies them as readily as the steps, so they are run as well.
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.runbook import Block, Command, parse_runbook_file, split_commands

ROOT = Path(__file__).resolve().parents[2]
FILES = (ROOT / "tests" / "fixtures" / "seed-incident-runbooks.md", ROOT / "runbooks" / "production-agent.md")
_KUBECTL = re.compile(r"\bkubectl\s")
_COMMENTED = re.compile(r"^\s*#.*?:\s*(kubectl\s.*)$")


def _blocks(path: Path) -> list[Block]:
    """Investigation and resolution blocks: the runbook's own, then each cause's."""
    document = parse_runbook_file(path)
    return [block for rb in document.runbooks
            for block in (*rb.investigation, *rb.resolution, *(b for c in rb.causes for b in c.resolution))]


def _commented(block: Block) -> list[Command]:
    """kubectl commands written in a block's comments, as the parser would read them on their own line."""
    found: list[Command] = []
    for lineno, raw in enumerate(block.text.splitlines(), start=block.line + 1):
        match = _COMMENTED.match(raw)
        if match:
            found.extend(split_commands(match.group(1), lineno, block.file))
    return found


def kubectl_commands() -> dict[str, Command]:
    """``"<file name>:<line>"`` -> the command starting there, for every command that runs kubectl."""
    found: dict[str, Command] = {}
    for path in FILES:
        for block in _blocks(path):
            for command in [*block.commands, *_commented(block)]:
                if _KUBECTL.search(command.text):
                    found[f"{path.name}:{command.line}"] = command
    return dict(sorted(found.items(), key=lambda item: (item[0].split(":")[0] != FILES[0].name,
                                                         int(item[0].split(":")[1]))))
