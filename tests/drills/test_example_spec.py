"""The documented example (docs/drill-spec.md, examples/checkout) loads and plans without a cluster."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from drills.cli import app
from drills.specs import load_catalog

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "checkout"


def test_the_example_inherits_its_service_file() -> None:
    (spec,) = load_catalog(EXAMPLE / "drills")
    assert spec.id == "checkout-down/database-url-missing"
    assert spec.recovery.namespace == "shop" and spec.recovery.request is not None
    assert spec.recovery.request.expect_status == 201 and [q.name for q in spec.series] == ["orders placed",
                                                                                           "5xx ratio"]


def test_plan_prints_the_examples_fault_budgets_and_steps() -> None:
    result = CliRunner().invoke(app, ["plan", "checkout-down/database-url-missing",
                                      "--catalog", str(EXAMPLE / "drills")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Checkout Down / Database URL Missing (P0)" in out
    assert '"configmap": "checkout-config"' in out and "expected alerts: ['CheckoutDown']" in out
    assert "recover       300s  escalation table P0 response time" in out
    assert "run    43 mutating  kubectl rollout restart deployment/checkout -n shop" in out


def test_the_doc_shows_the_example_files_as_they_are() -> None:
    """docs/drill-spec.md quotes the example's files; a change to one must be made in the other."""
    doc = (ROOT / "docs" / "drill-spec.md").read_text()
    for name in ("drills/_service.yaml", "drills/checkout-down/database-url-missing.yaml"):
        assert (EXAMPLE / name).read_text().strip() in doc, name
