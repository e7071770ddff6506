"""A steady state one drill verified, carried over to the next drill when nothing changed in between.

Every drill starts from a verified steady state: the service healthy and stable for ``stable_s``, no restart,
no alert. Run back to back, the previous drill's recovery hold has just proved the first two; when its revert
then changed no object, no pod and no node (the target's state version, from resourceVersions, is the same as
at the end of that hold), the next drill need not wait ``stable_s`` again to learn it. It probes once (the
service healthy, no alert active) instead. Any change in between, a different service to check, a shorter
hold than the one now required, or more than :data:`MAX_AGE_S` since, and the next drill holds as usual.

What no object shows (an iptables rule, a Redis ``CONFIG SET``, the LLM stub's behaviour) is not in the state
version: the fault's own revert puts it back to the state verified before the fault went in, and the probe
sees the service as it is now.

Kept in this process only: a later ``drillbook run`` always holds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from drills.model import ServiceCheck
from drills.targets.base import Target

MAX_AGE_S = 60.0


@dataclass(frozen=True)
class Verified:
    """What one drill's recovery hold proved, and of which state."""

    drill: str
    version: str  # the target's state version at the end of the hold
    at: float  # when the hold ended
    stable_s: float
    service: dict[str, Any]  # the service that was checked (its recovery spec; a fault's promises left out)


_verified: dict[str, Verified] = {}


def service(recovery: ServiceCheck) -> dict[str, Any]:
    """The service a steady state is about: the recovery spec without a fault's promises (``conditions``)."""
    return recovery.model_dump(exclude={"conditions"})


def _key(target: Target) -> str:
    return json.dumps(target.describe(), sort_keys=True, default=str)


def offer(target: Target, held: Verified | None) -> None:
    """After a revert: keep ``held`` for the next drill if the target is still in the state it proved."""
    _verified.pop(_key(target), None)
    if held is not None and held.version and target.state_version() == held.version:
        _verified[_key(target)] = held


def take(target: Target, service: dict[str, Any], stable_s: float) -> Verified | None:
    """The steady state the previous drill verified, if it still holds for this one (used once)."""
    held = _verified.pop(_key(target), None)
    if held is None or held.service != service or held.stable_s < stable_s or time.time() - held.at > MAX_AGE_S:
        return None
    return held if target.state_version() == held.version else None
