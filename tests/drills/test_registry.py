"""Fault plugins are found through entry points and validated when they register."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from drills import registry
from drills.errors import DrillbookError
from faults.oom import FAULT


def test_oom_is_registered_through_its_entry_point() -> None:
    assert registry.fault("oom") is FAULT
    assert "memory-limits" in FAULT.requires


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(DrillbookError, match="unknown fault kind 'nope'; known: .*oom"):
        registry.fault("nope")


@pytest.mark.parametrize(("name", "plugin", "message"), [
    ("oom", object(), "not a FaultPlugin"),
    ("other", FAULT, "declares kind 'oom'"),
])
def test_bad_plugins_are_refused(name: str, plugin: object, message: str) -> None:
    with pytest.raises(DrillbookError, match=message):
        registry.register({}, name, plugin)


def test_params_must_be_a_pydantic_model_and_kinds_unique() -> None:
    class Params(BaseModel):
        x: int = 1

    broken = registry.FaultPlugin(kind="x", summary="", params=dict, undo=FAULT.undo,  # type: ignore[arg-type]
                                  inject=FAULT.inject, confirm=FAULT.confirm, revert=FAULT.revert)
    with pytest.raises(DrillbookError, match="params must be a pydantic model"):
        registry.register({}, "x", broken)
    ok = registry.FaultPlugin(kind="x", summary="", params=Params, undo=FAULT.undo, inject=FAULT.inject,
                              confirm=FAULT.confirm, revert=FAULT.revert)
    found: dict[str, registry.FaultPlugin] = {}
    registry.register(found, "x", ok)
    with pytest.raises(DrillbookError, match="registered twice"):
        registry.register(found, "x", ok)
