"""The load generator's flood knobs (FLOOD_USER, FLOOD_SHARE): one user id among the real users, the bot or
abusive client of Runbook 4 Cause 1, at a share of all requests that the drills count from the agents' logs."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from refsystem.loadgen import LoadGen


def users(env: dict[str, str], n: int = 4000) -> Counter[str]:
    random.seed(7)
    gen = LoadGen({"USERS": "20", **env})
    return Counter(gen._body()["user_id"] for _ in range(n))


def test_flood_user_gets_its_share_of_the_requests() -> None:
    seen = users({"FLOOD_USER": "user-8f3a2c", "FLOOD_SHARE": "0.75"})
    assert 0.72 < seen["user-8f3a2c"] / 4000 < 0.78
    assert len(seen) == 21 and max(v for k, v in seen.items() if k != "user-8f3a2c") < 100


def test_no_flood_by_default_or_without_a_user() -> None:
    assert len(users({})) == 20 and max(users({}).values()) < 300
    assert "user-8f3a2c" not in users({"FLOOD_SHARE": "1"})


@pytest.mark.parametrize("share", ["1.5", "-0.1", "lots"])
def test_a_bad_share_fails_like_a_bad_config(share: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        LoadGen({"FLOOD_SHARE": share})
    assert exc.value.code == 1 and "FLOOD_SHARE" in capsys.readouterr().err
