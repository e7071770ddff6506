"""Revert what the journal still holds: faults left by a runner that was killed or crashed."""

from __future__ import annotations

from drills import registry
from drills.errors import DrillbookError
from drills.journal import Journal
from drills.targets import make_target


def cleanup_journal(journal: Journal, steady_timeout_s: float = 180) -> list[str]:
    """Revert each journaled fault, restore the target's pre-drill state, wait for steady state."""
    done = []
    for entry in journal.entries():
        target = make_target(entry.target)
        plugin = registry.fault(entry.fault_kind)
        try:
            plugin.revert(target, entry.undo)
            if entry.snapshot is not None:
                target.restore(entry.snapshot)
            journal.remove(entry.drill_id)
            target.wait_steady(steady_timeout_s)
            done.append(f"reverted {entry.fault_kind} left by {entry.drill_id} (phase {entry.phase}); steady")
        except DrillbookError as exc:
            done.append(f"could not fully revert {entry.fault_kind} of {entry.drill_id}: {exc}")
    return done
