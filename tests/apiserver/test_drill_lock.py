"""One drill at a time per target: the Lease lock, through the embedded API server and the official client."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client, config

from drills.lock import NAME, NAMESPACE, DrillLock, Holder, TargetBusy
from tests.apiserver.conftest import Api


@pytest.fixture()
def api_client(api: Api) -> Iterator[client.ApiClient]:
    with config.new_client_from_config(config_file=str(api.kubeconfig)) as made:  # type: ignore[no-untyped-call]
        yield made


def lock(api_client: client.ApiClient, drills: str, who: str, duration_s: int = 30) -> DrillLock:
    made = DrillLock(api_client, drills, duration_s=duration_s)
    made.identity = who  # two runs on one machine in this test; in use, host:pid
    return made


def lease(api_client: client.ApiClient) -> client.V1Lease:
    return client.CoordinationV1Api(api_client).read_namespaced_lease(NAME, NAMESPACE)


def test_a_second_run_refuses_naming_the_holder_and_gets_it_once_released(api_client: client.ApiClient) -> None:
    first = lock(api_client, "agent-down/oom", "ci-runner:101")
    first.acquire()
    held = lease(api_client)
    assert held.spec.holder_identity == "ci-runner:101" and held.spec.lease_duration_seconds == 30
    second = lock(api_client, "redis-failure/oom", "laptop:202")
    with pytest.raises(TargetBusy, match=r"agent-down/oom on ci-runner:101, since \d{4}-\d\d-\d\d .*--wait"):
        second.acquire()
    first.release()
    second.acquire()
    assert lease(api_client).spec.holder_identity == "laptop:202"
    first.release()  # not its lease any more: leaves it alone
    assert lease(api_client).spec.holder_identity == "laptop:202"
    second.release()
    with pytest.raises(client.ApiException) as gone:
        lease(api_client)
    assert gone.value.status == 404


def test_with_wait_a_run_queues_until_the_holder_releases(api_client: client.ApiClient) -> None:
    first = lock(api_client, "agent-down/oom", "nightly:1")
    first.acquire()
    waited: list[Holder] = []
    timer = threading.Timer(1.5, first.release)
    timer.start()
    started = time.monotonic()
    second = lock(api_client, "agent-down/bad-image", "gate:2")
    second.acquire(wait=True, poll_s=0.2, timeout_s=20, on_wait=waited.append)
    assert time.monotonic() - started >= 1.4
    assert [h.identity for h in waited] == ["nightly:1"], "told once whom it waits for"
    assert lease(api_client).spec.holder_identity == "gate:2"
    second.release()


def test_a_lease_whose_holder_died_expires_and_is_taken_over(api_client: client.ApiClient) -> None:
    dead = lock(api_client, "agent-down/oom", "crashed:9", duration_s=2)
    dead.acquire()
    dead._stop.set()  # the process died: nothing renews its lease any more
    alive = lock(api_client, "node-failure/drain", "gate:3")
    with pytest.raises(TargetBusy):
        alive.acquire()
    time.sleep(2.5)
    alive.acquire()
    held = lease(api_client)
    assert held.spec.holder_identity == "gate:3"
    assert held.metadata.annotations["drillbook.io/drills"] == "node-failure/drain"
    alive.release()


def test_the_holder_renews_its_lease_while_it_runs(api_client: client.ApiClient) -> None:
    holder = lock(api_client, "agent-down/oom", "game-day:4", duration_s=3)
    holder.acquire()
    try:
        first = lease(api_client).spec.renew_time
        time.sleep(2.5)
        renewed = lease(api_client).spec.renew_time
        assert renewed > first
        assert datetime.now(UTC) - renewed < timedelta(seconds=3)
        assert holder.lost is None
    finally:
        holder.release()


def test_a_lease_held_by_a_killed_run_on_this_host_is_taken_over_at_once(api_client: client.ApiClient) -> None:
    killed = lock(api_client, "agent-down/oom", f"{socket.gethostname()}:{_exited_pid()}")
    killed.acquire()
    killed._stop.set()  # SIGKILLed: no release, no renewal, lease far from expiry
    successor = lock(api_client, "agent-down/oom", "gate:5")
    successor.acquire()
    assert lease(api_client).spec.holder_identity == "gate:5"
    successor.release()
    elsewhere = lock(api_client, "agent-down/oom", f"another-host:{_exited_pid()}")
    elsewhere.acquire()
    with pytest.raises(TargetBusy):  # on another host a dead pid proves nothing: only expiry frees it
        lock(api_client, "x", "gate:6").acquire()
    elsewhere.release()


def _exited_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid
