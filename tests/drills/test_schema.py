"""The shipped results.json schema matches the models and accepts what drillbook writes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from drills.model import DrillResult, FaultRecord, StepResult, Verdict
from drills.reports import write_results
from drills.schema import generate, shipped


def test_shipped_schema_is_what_the_models_generate() -> None:
    assert shipped() == json.loads(json.dumps(generate(), sort_keys=True)), \
        "regenerate: python -m drills.schema > drills/schemas/results.schema.json"


def test_a_written_results_file_validates_and_a_broken_one_does_not(tmp_path: Path) -> None:
    result = DrillResult(id="agent-down/oom", runbook="Agent Down", cause="Out of Memory (OOM)",
                         runbook_file="runbooks/production-agent.md", target="local", verdict=Verdict.FAILED,
                         target_s=300, fault=FaultRecord(kind="oom", params={}, injected_at=1.0, reverted_at=2.0))
    result.steps.append(StepResult(command="kubectl patch ...", cls="mutating", line=104, status="ran", exit_code=1))
    result.check("within-target", False, "not recovered")
    write_results([result], tmp_path)
    document = json.loads((tmp_path / "results.json").read_text())
    jsonschema.validate(document, shipped())
    document["drills"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, shipped())
    del document["drills"][0]["id"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, shipped())
