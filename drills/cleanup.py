"""Revert what the journal still holds (faults left by a runner that was killed, crashed or lost its target),
and tell the truth about the target afterwards: an empty journal does not mean a steady cluster."""

from __future__ import annotations

import time

from drills import registry
from drills.errors import DrillbookError
from drills.journal import Journal
from drills.targets import make_target
from drills.targets.base import Target


def cleanup_journal(journal: Journal, steady_timeout_s: float = 180) -> list[str]:
    """Revert each journaled fault, restore the target's pre-drill state, wait for steady state.

    The target is brought up first: a drill that lost its target left the fault in the journal precisely so
    that it is reverted here once the target is back."""
    done = []
    for entry in journal.entries():
        target = make_target(entry.target)
        plugin = registry.fault(entry.fault_kind)
        try:
            target.ensure_up()
            plugin.revert(target, entry.undo)
            if entry.snapshot is not None:
                target.restore(entry.snapshot)
            journal.remove(entry.drill_id)
            target.wait_steady(steady_timeout_s)
            done.append(f"reverted {entry.fault_kind} left by {entry.drill_id} (phase {entry.phase}); steady")
        except DrillbookError as exc:
            done.append(f"could not fully revert {entry.fault_kind} of {entry.drill_id}: {exc}")
    return done


def not_steady(target: Target, steady_timeout_s: float = 60, poll_s: float = 0.5) -> str | None:
    """What is wrong with the target (lost, or not rolled out and ready within the timeout), or None.

    A control plane that is being restarted (the sandbox's supervisor backs off between restarts) gets the
    same timeout to answer again before it is called lost."""
    deadline = time.monotonic() + steady_timeout_s
    while (lost := target.liveness()) is not None and time.monotonic() < deadline:
        time.sleep(poll_s)
    if lost is not None:
        return f"target {target.name} is not running: {lost}"
    try:
        target.wait_steady(max(1.0, deadline - time.monotonic()))
    except DrillbookError as exc:
        return f"target {target.name} is not steady: {exc}"
    return None
