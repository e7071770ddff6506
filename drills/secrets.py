"""Keep secrets out of everything drillbook writes or prints.

The runner collects the values that must never leave the run: every Secret value in the target (before the
fault, after the runbook ran — it may have created new ones), values bound to placeholders whose name says
they are credentials, and ``SecretStr`` fault parameters. ``scrub`` replaces each of them, and its base64
form (what ``kubectl get secret -o yaml`` shows), in every string of a result, before any report is made.
The journal is the one exception: it must hold the pre-drill Secret to restore it, so it is mode 0600.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "***"
MIN_LENGTH = 6  # shorter values ("true", "1") would mask ordinary words; real credentials are longer
CREDENTIAL_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


def credential_bindings(bindings: dict[str, str]) -> set[str]:
    """Bound placeholder values whose name says they are credentials (NEW_API_KEY, GITHUB_TOKEN, ...)."""
    return {value for name, value in bindings.items() if CREDENTIAL_NAME.search(name)}


def secret_params(params: BaseModel) -> set[str]:
    """``SecretStr`` fields of a fault's parameters (e.g. the revoked key it plants)."""
    return {value.get_secret_value() for value in params.__dict__.values() if isinstance(value, SecretStr)}


def forms(secrets: set[str]) -> list[str]:
    """Each secret and its base64 encodings, longest first (so no partial mask leaves a tail behind)."""
    out: set[str] = set()
    for s in secrets:
        if len(s) < MIN_LENGTH:
            continue
        out.add(s)
        encoded = base64.b64encode(s.encode()).decode()
        out.update({encoded, encoded.rstrip("=")})
    return sorted(out, key=len, reverse=True)


def scrub_text(text: str, secrets: set[str]) -> str:
    return _mask(text, forms(secrets))


def scrub(value: Any, secrets: set[str]) -> Any:
    """Recursively mask secrets in every string of a JSON-like value (their forms are computed once)."""
    masks = forms(secrets)
    return _walk(value, masks) if masks else value


def _mask(text: str, masks: list[str]) -> str:
    for s in masks:
        text = text.replace(s, MASK)
    return text


def _walk(value: Any, masks: list[str]) -> Any:
    if isinstance(value, str):
        return _mask(value, masks)
    if isinstance(value, dict):
        return {_walk(k, masks): _walk(v, masks) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_walk(v, masks) for v in value)
    return value
