"""Secrets are masked everywhere in a result: plain and base64, in nested structures."""

from __future__ import annotations

import base64

from pydantic import BaseModel, SecretStr

from drills.model import DrillResult, StepResult
from drills.secrets import MASK, credential_bindings, scrub, secret_params

KEY = "sk-ant-planted-5eb1c2"


def test_credential_bindings_are_chosen_by_name() -> None:
    assert credential_bindings({"NEW_API_KEY": KEY, "NODE_NAME": "worker-1", "GITHUB_TOKEN": "ghp_x1234"}) == \
        {KEY, "ghp_x1234"}


def test_secret_params_come_from_secretstr_fields() -> None:
    class Params(BaseModel):
        key: SecretStr = SecretStr(KEY)
        namespace: str = "production-agents"

    assert secret_params(Params()) == {KEY}
    assert Params().model_dump(mode="json")["key"] != KEY


def test_scrub_masks_plain_and_base64_forms_in_a_whole_result() -> None:
    encoded = base64.b64encode(KEY.encode()).decode()
    r = DrillResult(id="a/b", runbook="R", cause="about cabs", runbook_file="f.md", target="local",
                    reason=f"key {KEY} rejected", findings=[f"data: {encoded}"])
    r.steps.append(StepResult(command="kubectl get secret", cls="read-only", line=3, status="ran",
                              output=f"anthropic-api-key: {encoded}\nplain {KEY}"))
    r.fault = None
    clean = DrillResult.model_validate(scrub(r.model_dump(), {KEY, "ab"}))
    text = clean.model_dump_json()
    assert KEY not in text and encoded not in text and encoded.rstrip("=") not in text
    assert clean.reason == f"key {MASK} rejected" and clean.steps[0].output.count(MASK) == 2
    assert clean.cause == "about cabs"  # "ab" is too short to be a secret: left alone
