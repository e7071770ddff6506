"""Where the engine finds faults: the ``drillbook.faults`` entry point group.

The engine does not import concrete faults. A fault package declares, in its ``pyproject.toml``::

    [project.entry-points."drillbook.faults"]
    oom = "faults.oom:FAULT"

and ``FAULT`` is a :class:`FaultPlugin`. Plugins are validated when loaded (its kind matches the entry point
name, its parameters are a pydantic model), so a broken plugin fails loudly at start-up, not mid-drill.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel

from drills.errors import DrillbookError
from drills.targets.base import Target

Undo = dict[str, Any]
Evidence = dict[str, Any]


@dataclass(frozen=True)
class FaultPlugin:
    """One fault family. The flow (journal, timing, always-revert) lives in the runner, not here.

    - ``undo(target, params)`` computes the undo record *before* anything changes; the runner journals it.
    - ``inject(target, params)`` reproduces the cause.
    - ``confirm(target, params, since, timeout_s)`` waits for the symptom that proves it took effect (observed
      after ``since``, the injection time) and returns the evidence, or raises FaultError.
    - ``revert(target, undo)`` puts things back; it must be idempotent (cleanup may call it twice).
    """

    kind: str
    summary: str
    params: type[BaseModel]
    undo: Callable[[Target, Any], Undo]
    inject: Callable[[Target, Any], None]
    confirm: Callable[[Target, Any, float, float], Evidence]
    revert: Callable[[Target, Undo], None]
    requires: frozenset[str] = field(default_factory=frozenset)
    binds: frozenset[str] = field(default_factory=frozenset)  # placeholders its evidence binds (NODE_NAME)


GROUP = "drillbook.faults"


@cache
def faults() -> dict[str, FaultPlugin]:
    found: dict[str, FaultPlugin] = {}
    for ep in entry_points(group=GROUP):
        plugin = ep.load()
        register(found, ep.name, plugin)
    return found


def register(registry: dict[str, FaultPlugin], name: str, plugin: object) -> None:
    if not isinstance(plugin, FaultPlugin):
        raise DrillbookError(f"entry point {GROUP}:{name} is {type(plugin).__name__}, not a FaultPlugin")
    if plugin.kind != name:
        raise DrillbookError(f"entry point {GROUP}:{name} declares kind {plugin.kind!r}")
    if not (isinstance(plugin.params, type) and issubclass(plugin.params, BaseModel)):
        raise DrillbookError(f"fault {name}: params must be a pydantic model")
    if name in registry:
        raise DrillbookError(f"fault kind {name!r} registered twice")
    registry[name] = plugin


def fault(kind: str) -> FaultPlugin:
    try:
        return faults()[kind]
    except KeyError:
        raise DrillbookError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(faults()))}") from None
