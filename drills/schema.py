"""The JSON Schema of ``results.json``, generated from the result models and shipped in the package.

``drills/schemas/results.schema.json`` is the published contract for tools that read drill results; a test
keeps it identical to what the models generate, so the file cannot drift from the code. Regenerate with
``python -m drills.schema > drills/schemas/results.schema.json``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field

from drills.model import DrillResult


class ResultsDocument(BaseModel):
    """``results.json``: every drill of one ``drillbook run``."""

    drills: list[DrillResult] = Field(description="one entry per drill, in the order they ran")


def generate() -> dict[str, Any]:
    schema = ResultsDocument.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "drillbook results.json"
    return schema


def shipped() -> dict[str, Any]:
    return dict(json.loads(resources.files("drills").joinpath("schemas/results.schema.json").read_text()))


if __name__ == "__main__":
    print(json.dumps(generate(), indent=2, sort_keys=True))
