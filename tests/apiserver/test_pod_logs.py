"""``kubectl logs -f`` against the API server's pods/log: it follows a running container until it stops.

Found by running the seed runbook's ``kubectl logs -f $POD`` on the embedded cluster: the follow ended at the
end of the file at once, as if the container had stopped.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from kubernetes import client, config

from tests.apiserver.conftest import KUBECTL, Api


def _agent_pod(api: Api) -> str:
    status = json.loads((api.root / "status.json").read_text())
    return str(next(p["name"] for p in status["pods"] if p["labels"].get("app") == "production-agent"))


def test_follow_waits_while_the_container_runs_and_ends_when_it_stops(api: Api) -> None:
    pod = _agent_pod(api)
    log = api.root / "logs" / "production-agents" / pod / "agent.log"
    log.parent.mkdir(parents=True)
    log.write_text("one\n")
    argv = [f"--kubeconfig={api.kubeconfig}", f"--cache-dir={api.cache}", "logs", "-f", pod, "-n",
            "production-agents"]
    api.kubectl("version")  # the skip when there is no kubectl; warms the discovery cache
    with subprocess.Popen([str(KUBECTL), *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as follower:
        try:
            time.sleep(1.5)
            assert follower.poll() is None, follower.communicate()
            with log.open("a") as file:
                file.write("two\n")
            status = json.loads((api.root / "status.json").read_text())
            for entry in status["pods"]:
                if entry["name"] == pod:
                    entry["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
            (api.root / "status.json").write_text(json.dumps(status))
            out, err = follower.communicate(timeout=10)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
    assert (out, follower.returncode) == ("one\ntwo\n", 0), err


def test_a_request_without_container_reads_the_pods_first_container(api: Api) -> None:
    """The official client sends no ``container`` when none is given (kubectl always names one)."""
    pod = _agent_pod(api)
    log = api.root / "logs" / "production-agents" / pod / "agent.log"
    log.parent.mkdir(parents=True)
    log.write_text("one\ntwo\n")
    with config.new_client_from_config(config_file=str(api.kubeconfig)) as client_api:  # type: ignore[no-untyped-call]
        core = client.CoreV1Api(client_api)
        assert core.read_namespaced_pod_log(pod, "production-agents", tail_lines=1) == "two\n"
        with pytest.raises(client.ApiException) as missing:
            core.read_namespaced_pod_log(pod, "production-agents", container="sidecar")
    assert missing.value.status == 400
