"""Version 1.2.0 of the agent: 1.0.0 plus a system-prompt experiment, with the bug that makes it a bad deployment.

Why it exists: Runbook 2, cause 3 ("Bad Deployment": errors started right after a deployment, the new code
has bugs) is only drilled honestly if a new image version really fails on part of the requests while its
pods stay healthy, so the rollout completes and nothing but the error rate tells. 1.2.0 assigns every user
to one of four experiment arms by a hash of the user id, but ships prompt templates for three: the users of
the fourth arm (a quarter of them) get ``KeyError: 'd'``, which the server answers 500 ``internal`` and logs
with its traceback. ``/health`` does not touch the experiment, so every replica is ready.

Image ``ghcr.io/drillbook/production-agent:1.2.0`` runs this module (``drills/targets/local/images.py``,
Dockerfile stage ``agent_v1_2``); 1.0.0 and 1.1.0 run :mod:`refsystem.agent`.
"""

from __future__ import annotations

import zlib
from typing import Any

from refsystem.agent import Agent, main
from refsystem.conversation import SYSTEM_PROMPT

ARMS = ("a", "b", "c", "d")
# The release added arm "d" to the assignment, but not its template: the bug.
TEMPLATES = {"a": SYSTEM_PROMPT, "b": SYSTEM_PROMPT + " Prefer bullet points.",
             "c": SYSTEM_PROMPT + " Cite the runbook section you rely on."}


def experiment_arm(user: str) -> str:
    """The user's arm, stable across requests and replicas (a hash of the id, not Python's salted hash)."""
    return ARMS[zlib.crc32(user.encode()) % len(ARMS)]


def experiment_prompt(user: str) -> str:
    """The arm's system prompt; raises KeyError for arm "d", whose template was never added."""
    return TEMPLATES[experiment_arm(user)]


class ExperimentAgent(Agent):
    """1.0.0's request logic, after choosing the user's experiment arm (which fails for a quarter of users)."""

    def chat(self, body: Any, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if isinstance(body, dict) and isinstance(body.get("user_id"), str):
            experiment_prompt(body["user_id"])
            fields["arm"] = experiment_arm(body["user_id"])
        return super().chat(body, fields)


if __name__ == "__main__":
    main(ExperimentAgent)
