"""The fault journal: every fault's undo is on disk before the fault is injected.

If the runner dies (``kill -9``, a crash, a lost terminal), the journal still says what to put back;
``drillbook cleanup`` and the next ``drillbook run`` revert whatever it holds. Entries are data (fault kind,
parameters, undo record, the target's pre-drill desired state), never code: the undo function is found
through the fault registry when reverting.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class PhaseMark(BaseModel):
    phase: str
    at: float = Field(default_factory=time.time)


class JournalEntry(BaseModel):
    drill_id: str
    target: dict[str, Any] = Field(description="how to rebuild the target (Target.describe())")
    fault_kind: str
    undo: dict[str, Any]
    snapshot: Any = None
    written_at: float = Field(default_factory=time.time)
    phase: str = "injecting"
    # Every phase the drill entered, in order: a phase of a few milliseconds (detection when the alert fired
    # during confirmation) is still on record for whoever reads the journal after it ended.
    phases: list[PhaseMark] = Field(default_factory=list)

    def model_post_init(self, _context: Any) -> None:
        if not self.phases:
            self.phases.append(PhaseMark(phase=self.phase, at=self.written_at))


def default_path() -> Path:
    if os.environ.get("DRILLBOOK_JOURNAL"):
        return Path(os.environ["DRILLBOOK_JOURNAL"])
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state / "drillbook" / "journal.json"


class Journal:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def entries(self) -> list[JournalEntry]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return [JournalEntry.model_validate(e) for e in raw]

    def add(self, entry: JournalEntry) -> None:
        self._update(lambda entries: [*[e for e in entries if e.drill_id != entry.drill_id], entry])

    def set_phase(self, drill_id: str, phase: str) -> None:
        def change(entries: list[JournalEntry]) -> list[JournalEntry]:
            for e in entries:
                if e.drill_id == drill_id:
                    e.phase = phase
                    e.phases.append(PhaseMark(phase=phase))
            return entries

        self._update(change)

    def remove(self, drill_id: str) -> None:
        self._update(lambda entries: [e for e in entries if e.drill_id != drill_id])

    def _update(self, change: Callable[[list[JournalEntry]], list[JournalEntry]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = change(self.entries())
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps([e.model_dump() for e in entries], indent=1))
            os.chmod(tmp, 0o600)  # it holds the target's objects, Secrets included
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
