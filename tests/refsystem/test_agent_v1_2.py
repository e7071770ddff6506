"""Version 1.2.0 of the agent really fails part of the requests (a quarter of the users), and nothing else."""

from __future__ import annotations

import zlib

import pytest

from drills.targets.kind.layout import built_images
from drills.targets.local.images import default_images
from refsystem.agent_v1_2 import ARMS, ExperimentAgent, experiment_arm, experiment_prompt
from tests.refsystem.inprocess import agent, chat, stub_thread

LOAD_USERS = [f"user-{i:04d}" for i in range(20)]  # the load generator's default users


def test_a_quarter_of_the_users_fail_every_time() -> None:
    failing = [u for u in LOAD_USERS if experiment_arm(u) == "d"]
    assert len(failing) == 5
    for user in LOAD_USERS:
        if user in failing:
            with pytest.raises(KeyError):
                experiment_prompt(user)
        else:
            assert experiment_prompt(user)
    assert experiment_arm("user-0005") == ARMS[zlib.crc32(b"user-0005") % 4]  # stable across processes


def test_the_image_runs_it_on_both_clusters() -> None:
    assert default_images()["ghcr.io/drillbook/production-agent:1.2.0"][1:] == ["-m", "refsystem.agent_v1_2"]
    assert built_images()["ghcr.io/drillbook/production-agent:1.2.0"] == "agent_v1_2"  # a Dockerfile stage


def test_the_experiment_fails_before_anything_else_and_others_are_served(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    with stub_thread(tmp_path) as st, agent(redis_url, st.url, cls=ExperimentAgent) as experiment:
        with pytest.raises(KeyError):
            chat(experiment, "user-0005", "conv-a")
        assert chat(experiment, "user-0000", "conv-b")[0] == 200
