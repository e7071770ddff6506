"""Shared test fixtures: the seed runbooks (a verbatim copy of ../shared/seed/incident-runbooks.md)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed-incident-runbooks.md"
