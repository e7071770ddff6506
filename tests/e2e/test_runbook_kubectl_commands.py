"""Every kubectl command of the seed runbooks and of runbooks/production-agent.md, run as written with the real
kubectl 1.37.1 against the real embedded cluster, each checked for its output or its effect (issue #8).

Commands come from drillbook's own parser and run through its own step runner (``bash -euo pipefail``, stdin
from /dev/null, a timeout); placeholders are bound with its ``bind``. The table
(:mod:`tests.e2e.runbook_command_table`) says per ``file:line`` which group runs a command and what it must
print; each mutating group starts from a snapshot and restores it, then waits until the sandbox is steady.
"""

from __future__ import annotations

import base64
import calendar
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.stream import stream

from drills.steps import bind, run
from drills.targets.local import LocalTarget
from drills.targets.local.infra import SPARE_KEY
from tests.e2e.runbook_command_table import AGENT, NOT_RUN, SEED, TABLE, Expect
from tests.e2e.runbook_commands import kubectl_commands

NS = "production-agents"
COMMANDS = kubectl_commands()
NEW_API_KEY = "sk-ant-drill-0000-valid"  # the key the sandbox's Anthropic stub accepts (never a real key)
REVOKED = base64.b64encode(b"sk-ant-drill-revoked-0000").decode()
# WORKING_TAG: another tag the sandbox has, so that `set image` after the undo changes something
BINDINGS = {"your-org": "drillbook", "working-tag": "1.0.0", "WORKING_TAG": "1.1.0", "NEW_KEY": "sk-ant-drill-seed",
            "NEW_API_KEY": NEW_API_KEY, "SPARE_API_KEY": SPARE_KEY, "USER_ID": "user-blocked-by-e2e"}

# Before a fix that restores the reference state, the fault it fixes (else it changes nothing):
FAULTS = {
    f"{AGENT}:132": ["set", "image", "deployment/agent-deployment", "agent=ghcr.io/drillbook/production-agent:9.9.9"],
    f"{AGENT}:163": ["patch", "configmap", "agent-config", "--type=merge", "-p",
                     '{"data":{"REDIS_URL":null,"API_TIMEOUT":"0"}}'],
    f"{AGENT}:189": ["patch", "secret", "agent-secrets", "--type=merge", "-p",
                     json.dumps({"data": {"anthropic-api-key": REVOKED}})],
    f"{AGENT}:325": ["scale", "statefulset", "redis", "--replicas=0"],  # "ECONNREFUSED: nothing listens"
}


def test_every_kubectl_command_has_a_table_entry() -> None:
    missing = sorted(set(COMMANDS) - set(TABLE) - set(NOT_RUN))
    stale = sorted((set(TABLE) | set(NOT_RUN)) - set(COMMANDS))
    assert not missing, "kubectl commands without a table entry: " + "; ".join(
        f"{k}: {COMMANDS[k].text}" for k in missing)
    assert not stale, f"table entries for lines that are not kubectl commands (moved?): {stale}"
    assert not set(TABLE) & set(NOT_RUN)


class Steps:
    """Runs the table's commands of one group, in runbook order, and checks exit code and output."""

    def __init__(self, sandbox: LocalTarget, group: str, **bindings: str) -> None:
        self.sandbox, self.group = sandbox, group
        self.bindings = {**BINDINGS, **bindings}
        self.shell: dict[str, str] = {}
        self.done: list[str] = []

    def lines(self, file: str | None = None) -> list[str]:
        return [k for k in COMMANDS if TABLE.get(k, Expect("")).group == self.group
                and (file is None or k.startswith(file + ":"))]

    def __call__(self, key: str, env: dict[str, str] | None = None) -> str:
        expect = TABLE[key]
        assert expect.group == self.group, f"{key} belongs to group {expect.group!r}"
        text = bind(COMMANDS[key], self.bindings)
        assert text is not None, f"{key}: unbound placeholder in {COMMANDS[key].placeholders}"
        if "rollout restart" in text:
            # restartedAt has whole seconds: kubectl refuses a second restart within the same second (a person
            # reading the runbook is never that quick)
            time.sleep(1.05 - time.time() % 1)
        code, out, _ = run(text, {**self.sandbox.step_environment(), **self.shell, **(env or {})},
                           expect.timeout_s)
        failed = [p for p in expect.patterns if not re.search(p, out, re.MULTILINE)]
        assert code in expect.rc and not failed, (
            f"{key}: {text}\nexit {code} (want {expect.rc}); missing {failed}\n{out}")
        self.done.append(key)
        return out


def inject_fault_before(sandbox: LocalTarget, key: str) -> bool:
    if key in FAULTS:
        kubectl(sandbox, *FAULTS[key], "-n", NS)
        # As a responder meets it: the controllers have seen the change (a new ReplicaSet revision recorded)
        # before the runbook acts; otherwise `rollout undo` may run before the faulty revision exists.
        until(lambda: all(observed(sandbox, kind) for kind in ("deployments", "statefulsets")), 60,
              "the controllers observed the fault")
    return key in FAULTS


def observed(sandbox: LocalTarget, kind: str) -> bool:
    items = get(sandbox, kind)["items"]
    return all(o.get("status", {}).get("observedGeneration", 0) >= o["metadata"]["generation"] for o in items)


def kubectl(sandbox: LocalTarget, *args: str, timeout_s: float = 60) -> str:
    done = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=sandbox.step_environment(),
                          timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def get(sandbox: LocalTarget, kind: str, name: str = "", namespace: str | None = NS) -> Any:
    ns = ["-n", namespace] if namespace else []
    return json.loads(kubectl(sandbox, "get", kind, *([name] if name else []), *ns, "-o", "json"))


def agent_pods(sandbox: LocalTarget) -> list[dict[str, Any]]:
    pods = json.loads(kubectl(sandbox, "get", "pods", "-n", NS, "-l", "app=production-agent", "-o", "json"))["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def template(sandbox: LocalTarget) -> dict[str, Any]:
    spec = get(sandbox, "deployment", "agent-deployment")["spec"]["template"]
    return dict(spec)


def until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout_s:.0f}s: {what}")


def rolled_out(sandbox: LocalTarget) -> None:
    """What ``rollout status`` promised: every replica updated, ready and available, no old pod left."""
    deployment = get(sandbox, "deployment", "agent-deployment")
    spec, status = deployment["spec"], deployment["status"]
    assert status["observedGeneration"] >= deployment["metadata"]["generation"]
    assert status.get("updatedReplicas") == status.get("readyReplicas") == status.get(
        "availableReplicas") == spec["replicas"], status
    assert len(agent_pods(sandbox)) == spec["replicas"]


@pytest.fixture()
def steady(sandbox: LocalTarget) -> Iterator[LocalTarget]:
    """The sandbox, restored to what it was and steady again after the test, whatever the test changed."""
    snapshot = sandbox.snapshot()
    try:
        yield sandbox
    finally:
        sandbox.restore(snapshot)
        sandbox.wait_steady(180)


# -- reads ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_read_commands_show_the_steady_cluster(sandbox: LocalTarget) -> None:
    agent = agent_pods(sandbox)[0]["metadata"]["name"]
    steps = Steps(sandbox, "reads", AGENT_POD=agent)
    steps.shell["POD"] = agent  # set by the seed's `POD=$(...)` line in the runbook's own shell
    for key in steps.lines():
        steps(key, env={"EDITOR": "true"} if "edit pvc" in COMMANDS[key].text else None)
    assert len(steps.done) == sum(1 for e in TABLE.values() if e.group == "reads")


# -- logs --previous after a restart ---------------------------------------------------------------------------
@pytest.mark.slow
def test_logs_previous_shows_the_restarted_containers_last_lines(steady: LocalTarget) -> None:
    pods = {p["metadata"]["name"] for p in agent_pods(steady)}
    pids = [c["pid"] for p in steady.status()["pods"] if p["name"] in pods for c in p["containerStatuses"]]
    assert len(pids) == len(pods) == 2
    before = {p: kubectl(steady, "logs", p, "-n", NS, "--tail=1") for p in pods}
    killed_at = time.time()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)

    def restarted() -> bool:
        current = [p for p in agent_pods(steady) if p["metadata"]["name"] in pods]
        return len(current) == 2 and all(
            c["restartCount"] >= 1 and c["ready"] for p in current for c in p["status"]["containerStatuses"])
    until(restarted, 90, "both agent containers restarted and ready")
    Steps(steady, "restart")(f"{AGENT}:74")  # the runbook's line, over all replicas
    for pod in pods:  # the step runner keeps only the output's end: each pod's part, checked one by one
        previous = kubectl(steady, "logs", "-n", NS, pod, "--previous", "--tail=100")
        stamps = re.findall(r"^ts=(\S+)", previous, re.MULTILINE)
        assert 0 < len(stamps) <= 100 and before[pod].strip() in previous, (before[pod], previous[-1000:])
        assert calendar.timegm(time.strptime(stamps[-1][:19], "%Y-%m-%dT%H:%M:%S")) <= killed_at + 1
    listing = kubectl(steady, "get", "pods", "-n", NS)  # the runbook's first command, RESTARTS now counted
    assert re.search(r"^agent-deployment-\S+\s+1/1\s+Running\s+1 \(\d+s ago\)\s+\d+[smh]", listing,
                     re.MULTILINE), listing


# -- ConfigMap patches, restarts, rollout status ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("file", [SEED, AGENT])
def test_config_patches_restarts_and_rollout_status(steady: LocalTarget, file: str) -> None:
    steps = Steps(steady, "config")
    for key in steps.lines(file):  # each file from the original ConfigMap: the agent's repeats the seed's
        text = COMMANDS[key].text
        before = template(steady) if "rollout restart" in text else None
        inject_fault_before(steady, key)
        steps(key)
        if "patch configmap" in text:
            patch = json.loads(re.search(r"--patch '(.*)'", text).group(1))  # type: ignore[union-attr]
            data = get(steady, "configmap", "agent-config")["data"]
            assert {k: data.get(k) for k in patch["data"]} == patch["data"]
        elif before is not None:
            after = template(steady)["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            assert after != (before["metadata"].get("annotations") or {}).get("kubectl.kubernetes.io/restartedAt")
        elif "rollout status" in text:
            rolled_out(steady)


# -- Deployment: patch, undo, set image, scale -------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("file", [SEED, AGENT])
def test_deployment_patch_undo_set_image_scale(steady: LocalTarget, file: str) -> None:
    steps = Steps(steady, "deployment")
    history: list[dict[str, Any]] = [template(steady)]
    for key in steps.lines(file):
        text = COMMANDS[key].text
        if inject_fault_before(steady, key):
            history.append(template(steady))
        steps(key)
        now = template(steady)
        if "rollout undo" in text:
            assert _content(now) == _content(history[-2]), f"{key}: undo did not restore the previous template"
            history.append(now)
        elif "patch deployment" in text:
            limits = now["spec"]["containers"][0]["resources"]["limits"]
            assert limits.get("memory") == "4Gi" or limits.get("cpu") == "4000m", limits
            history.append(now)
        elif "set image" in text:
            image = now["spec"]["containers"][0]["image"]
            assert image == bind(COMMANDS[key], steps.bindings).split("agent=")[1].split()[0]  # type: ignore[union-attr]
            history.append(now)
            if image.endswith("/agent:1.0.0"):  # the seed's image path is not ours: the new pods cannot pull it
                until(lambda: "ErrImagePull" in kubectl(steady, "get", "pods", "-n", NS) or
                      "ImagePullBackOff" in kubectl(steady, "get", "pods", "-n", NS), 60, "ErrImagePull")
        elif "scale deployment" in text:
            replicas = int(re.search(r"--replicas=(\d+)", text).group(1))  # type: ignore[union-attr]
            assert get(steady, "deployment", "agent-deployment")["spec"]["replicas"] == replicas
        elif "rollout status" in text:
            rolled_out(steady)


def _content(tpl: dict[str, Any]) -> Any:
    """A pod template without the hash label kubectl's undo strips."""
    labels = {k: v for k, v in tpl.get("metadata", {}).get("labels", {}).items() if k != "pod-template-hash"}
    return {"labels": labels, "annotations": tpl.get("metadata", {}).get("annotations") or {}, "spec": tpl["spec"]}


# -- Secret replaced by create --dry-run | apply ------------------------------------------------------------------
@pytest.mark.slow
def test_secret_create_dry_run_apply_replaces_the_key(steady: LocalTarget) -> None:
    steps = Steps(steady, "secret")
    original = get(steady, "secret", "agent-secrets")["data"]
    for key in steps.lines():
        inject_fault_before(steady, key)
        steps(key)
        if "create secret" in COMMANDS[key].text and key.startswith(SEED):
            # no -n: the seed's command writes the context's namespace, not production-agents
            data = get(steady, "secret", "agent-secrets", namespace="default")["data"]
            assert base64.b64decode(data["anthropic-api-key"]).decode() == BINDINGS["NEW_KEY"]
            assert get(steady, "secret", "agent-secrets")["data"] == original
        elif "create secret" in COMMANDS[key].text:
            data = get(steady, "secret", "agent-secrets")["data"]
            key_value = SPARE_KEY if "SPARE_API_KEY" in COMMANDS[key].text else NEW_API_KEY
            assert {k: base64.b64decode(v).decode() for k, v in data.items()} == {"anthropic-api-key": key_value}
        elif "rollout status" in COMMANDS[key].text:
            rolled_out(steady)


# -- Redis CONFIG SET and keys ------------------------------------------------------------------------------------
def redis_cli(sandbox: LocalTarget, *args: str) -> str:
    return kubectl(sandbox, "exec", "redis-0", "-n", NS, "--", "redis-cli", *args)


@pytest.mark.slow
def test_redis_cli_changes_take_effect(sandbox: LocalTarget) -> None:
    saved = {k: redis_cli(sandbox, "CONFIG", "GET", k).split("\n")[1] for k in ("maxmemory", "maxmemory-policy", "save")}
    steps = Steps(sandbox, "redis")
    try:
        for key in steps.lines():
            text = bind(COMMANDS[key], steps.bindings) or ""
            steps(key)
            words = re.search(r"CONFIG SET (\S+) (.*)$", text)
            if words:
                value = redis_cli(sandbox, "CONFIG", "GET", words.group(1)).split("\n")[1]
                wanted = words.group(2).split("#")[0].strip().strip("'\"")
                assert value == {"2gb": "2147483648", "400mb": "419430400", "3gb": "3221225472"}.get(wanted, wanted)
            else:
                assert redis_cli(sandbox, "GET", "blocked:user:" + BINDINGS["USER_ID"]).strip() == "1"
    finally:
        for name, value in saved.items():
            redis_cli(sandbox, "CONFIG", "SET", name, value)
        redis_cli(sandbox, "DEL", "blocked:user:" + BINDINGS["USER_ID"])
    assert {k: redis_cli(sandbox, "CONFIG", "GET", k).split("\n")[1] for k in saved} == saved


# -- StatefulSet: delete redis-0, patch, scale ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("file", [SEED, AGENT])
def test_statefulset_delete_patch_scale(steady: LocalTarget, file: str) -> None:
    steps = Steps(steady, "statefulset")
    for key in steps.lines(file):
        text = COMMANDS[key].text
        uid = get(steady, "pod", "redis-0")["metadata"]["uid"] if "delete pod" in text else None
        if inject_fault_before(steady, key):
            until(lambda: "redis-0" not in kubectl(steady, "get", "pods", "-n", NS, "-o", "name"), 60, "Redis gone")
        steps(key)
        if uid is not None:
            until(partial(_redis_ready_with_new_uid, steady, uid), 90, "redis-0 recreated and ready")
        elif "scale statefulset" in text:
            assert get(steady, "statefulset", "redis")["spec"]["replicas"] == 1
        elif "patch statefulset" in text:
            sts = get(steady, "statefulset", "redis")
            assert sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "4Gi"
        elif "statefulset" in text and "rollout status" in text:
            sts = get(steady, "statefulset", "redis")
            assert sts["status"].get("readyReplicas") == sts["spec"]["replicas"] == 1
            assert sts["status"].get("updateRevision") == sts["status"].get("currentRevision")
        elif "rollout status" in text:
            rolled_out(steady)


def _redis_ready_with_new_uid(sandbox: LocalTarget, uid: str) -> bool:
    pod = json.loads(subprocess.run(["kubectl", "get", "pod", "redis-0", "-n", NS, "-o", "json"], text=True,
                                    capture_output=True, env=sandbox.step_environment(), check=False).stdout or "{}")
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return bool(pod) and pod["metadata"]["uid"] != uid and bool(statuses[0].get("ready"))


# -- NetworkPolicy deleted -------------------------------------------------------------------------------------------
SCRATCH_POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": "redis-network-policy", "namespace": NS},
                  "spec": {"podSelector": {"matchLabels": {"app": "no-such-app"}}, "policyTypes": ["Ingress"]}}


@pytest.mark.slow
def test_network_policy_delete(steady: LocalTarget) -> None:
    steps = Steps(steady, "netpol")
    for key in steps.lines():
        if "delete networkpolicy" in COMMANDS[key].text:
            subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(SCRATCH_POLICY), text=True, check=True,
                           capture_output=True, env=steady.step_environment())
        steps(key)
        if "delete networkpolicy" in COMMANDS[key].text:
            assert "redis-network-policy" not in kubectl(steady, "get", "networkpolicy", "-n", NS, "-o", "name")
        else:
            rolled_out(steady)


# -- Node: cordon, drain held by the PDB, uncordon ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("file", [SEED, AGENT])
def test_node_cordon_drain_held_by_the_pdb(steady: LocalTarget, file: str) -> None:
    # One agent replica: agent-pdb (minAvailable 1) allows no eviction until a second one is ready.
    kubectl(steady, "scale", "deployment", "agent-deployment", "-n", NS, "--replicas=1")
    until(lambda: len(agent_pods(steady)) == 1 and agent_pods(steady)[0]["status"].get("containerStatuses", [{}])[
        0].get("ready"), 90, "one ready agent replica")
    node = agent_pods(steady)[0]["spec"]["nodeName"]
    steps = Steps(steady, "node", NODE_NAME=node)
    for key in steps.lines(file):
        text = COMMANDS[key].text
        if "drain" in text:
            _drain_held_then_done(steady, steps, key, node)
            continue
        steps(key)
        if "cordon" in text:
            unschedulable = get(steady, "node", node, namespace=None)["spec"].get("unschedulable")
            assert bool(unschedulable) is ("uncordon" not in text)
        elif "rollout status" in text:
            rolled_out(steady)
    if file == SEED:  # the seed never uncordons (the ASG replaces the node); this test does
        kubectl(steady, "uncordon", node)
    assert all(p["spec"]["nodeName"] != node for p in agent_pods(steady))


def _drain_held_then_done(sandbox: LocalTarget, steps: Steps, key: str, node: str) -> None:
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(steps(key)))
    thread.start()
    time.sleep(12)  # two eviction attempts, 5 s apart, both refused
    held = thread.is_alive() and any(p["spec"]["nodeName"] == node for p in agent_pods(sandbox))
    kubectl(sandbox, "scale", "deployment", "agent-deployment", "-n", NS, "--replicas=2")
    thread.join(120)
    assert held, "drain did not wait for the PodDisruptionBudget"
    assert result, f"{key}: drain did not complete once a second replica was ready"
    assert "Cannot evict pod as it would violate the pod's disruption budget." in result[0]


# -- the official Python client ---------------------------------------------------------------------------------------
def _shut(ws: Any) -> None:
    """kubernetes 37's WSClient.close() leaves the socket to the GC (see tests/apiserver/test_streams.py)."""
    ws.close()
    ws.sock.shutdown()


@pytest.mark.slow
def test_python_client_watch_patch_evict_exec_logs(steady: LocalTarget) -> None:
    with config.new_client_from_config(config_file=str(steady.kubeconfig)) as api:  # type: ignore[no-untyped-call]
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        names = {p["metadata"]["name"] for p in agent_pods(steady)}
        w = watch.Watch()  # type: ignore[no-untyped-call]
        seen: set[str] = set()
        events = w.stream(core.list_namespaced_pod, NS,  # type: ignore[no-untyped-call]
                          label_selector="app=production-agent", timeout_seconds=5)
        for event in events:
            if event["type"] == "ADDED":
                seen.add(event["object"].metadata.name)
            if seen >= names:
                w.stop()  # type: ignore[no-untyped-call]
        assert seen >= names

        patched = apps.patch_namespaced_deployment("agent-deployment", NS, {"spec": {"replicas": 1}})
        assert patched.spec.replicas == 1
        until(lambda: len(agent_pods(steady)) == 1 and all(
            c["ready"] for p in agent_pods(steady) for c in p["status"].get("containerStatuses", [])), 90, "1 ready")
        only = agent_pods(steady)[0]["metadata"]["name"]
        eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=only, namespace=NS))
        with pytest.raises(client.ApiException) as refused:
            core.create_namespaced_pod_eviction(only, NS, eviction)
        assert refused.value.status == 429
        apps.patch_namespaced_deployment("agent-deployment", NS, {"spec": {"replicas": 2}})
        until(lambda: len(agent_pods(steady)) == 2 and all(
            c["ready"] for p in agent_pods(steady) for c in p["status"].get("containerStatuses", [])), 90, "2 ready")
        core.create_namespaced_pod_eviction(only, NS, eviction)
        until(lambda: only not in {p["metadata"]["name"] for p in agent_pods(steady)}, 60, "evicted pod gone")

        ws = stream(core.connect_get_namespaced_pod_exec, "redis-0", NS,
                    command=["redis-cli", "ping"], stderr=True, stdin=False, stdout=True, tty=False,
                    _preload_content=False)
        try:
            ws.run_forever(timeout=10)
            assert (ws.read_stdout(), ws.returncode) == ("PONG\n", 0)
        finally:
            _shut(ws)

        name = agent_pods(steady)[0]["metadata"]["name"]  # new: wait for it to serve a few requests
        log = until(lambda: _lines(core.read_namespaced_pod_log(name, NS, tail_lines=3), 3), 30, "3 log lines")
        assert 'msg="chat request"' in log and log.endswith("\n")


def _lines(text: str, count: int) -> str | None:
    return text if len(text.splitlines()) == count else None
