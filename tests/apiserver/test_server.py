"""The embedded cluster's API server driven by the real kubectl 1.37 and the official Python client: reads,
watches, writes and every error path, over a fabricated sandbox state (fast, no root)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from urllib.error import HTTPError

import pytest

from tests.apiserver.conftest import Api

NS = "production-agents"


def tls(api: Api) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(api.root / "pki" / "ca.crt"))


def call(api: Api, method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
         token: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(api.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {token or api.token}", "Content-Type": ctype})
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls(api)) as reply:
            return reply.status, json.loads(reply.read())
    except HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_get_pods_shows_ready_status_restarts_age(api: Api) -> None:
    done = api.kubectl("get", "pods", "-n", NS)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(rows) == 3 and all(r.split()[1:4] == ["1/1", "Running", "0"] for r in rows), done.stdout
    assert {r.split()[0] for r in rows} >= {"redis-0"}


def test_get_all_namespaces_wide_and_labels(api: Api) -> None:
    done = api.kubectl("get", "pods", "-A", "-o", "wide", "--show-labels")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header[:2] == ["NAMESPACE", "NAME"] and "NODE" in header and header[-1] == "LABELS"
    assert "app=production-agent" in done.stdout


def test_short_names_selectors_and_jsonpath(api: Api) -> None:
    done = api.kubectl("get", "deploy", "-n", NS, "-o", "jsonpath={.items[*].metadata.name}")
    assert done.stdout == "agent-deployment", done.stderr
    done = api.kubectl("get", "po", "-n", NS, "-l", "app in (redis)", "-o", "name")
    assert done.stdout.split() == ["pod/redis-0"], done.stderr
    done = api.kubectl("get", "pods", "-A", "--field-selector=spec.nodeName=sandbox-worker", "-o", "name")
    assert done.returncode == 0 and done.stdout.strip(), done.stderr


def test_unknown_resource_is_kubectls_own_message(api: Api) -> None:
    done = api.kubectl("get", "cronjobs", "-n", NS)
    assert done.returncode != 0
    assert 'the server doesn\'t have a resource type "cronjobs"' in done.stderr


def test_not_found_and_already_exists(api: Api) -> None:
    done = api.kubectl("get", "configmap", "nope", "-n", NS)
    assert 'configmaps "nope" not found' in done.stderr
    code, body = call(api, "POST", f"/api/v1/namespaces/{NS}/configmaps",
                      json.dumps({"metadata": {"name": "agent-config"}}).encode())
    assert (code, body["reason"]) == (409, "AlreadyExists")


def test_stale_resource_version_is_a_conflict(api: Api) -> None:
    _, cm = call(api, "GET", f"/api/v1/namespaces/{NS}/configmaps/agent-config")
    stale = json.loads(json.dumps(cm))
    cm["data"]["X"] = "1"  # type: ignore[index]
    assert call(api, "PUT", f"/api/v1/namespaces/{NS}/configmaps/agent-config", json.dumps(cm).encode())[0] == 200
    code, body = call(api, "PUT", f"/api/v1/namespaces/{NS}/configmaps/agent-config", json.dumps(stale).encode())
    assert (code, body["reason"]) == (409, "Conflict")


def test_a_merge_patch_that_drops_the_image_is_invalid(api: Api) -> None:
    patch = '{"spec":{"template":{"spec":{"containers":[{"name":"agent","resources":{"limits":{"memory":"4Gi"}}}]}}}}'
    done = api.kubectl("patch", "deployment", "agent-deployment", "-n", NS, "--type", "merge", "-p", patch)
    assert done.returncode != 0
    assert "spec.template.spec.containers[0].image: Required value" in done.stderr
    done = api.kubectl("patch", "deployment", "agent-deployment", "-n", NS, "-p", patch)  # strategic: keeps it
    assert done.returncode == 0, done.stderr
    image = api.kubectl("get", "deploy", "agent-deployment", "-n", NS, "-o",
                        "jsonpath={.spec.template.spec.containers[0].image}")
    assert image.stdout == "ghcr.io/drillbook/production-agent:1.0.0"


@pytest.mark.parametrize(("body", "ctype", "code"), [
    (b"{not json", "application/json", 400),
    (b"\x0a\x03k8s", "application/vnd.kubernetes.protobuf", 415),
    (b"{" + b" " * (4 * 1024 * 1024) + b"}", "application/json", 413),
])
def test_bad_bodies_get_a_status_not_a_traceback(api: Api, body: bytes, ctype: str, code: int) -> None:
    got, status = call(api, "POST", f"/api/v1/namespaces/{NS}/configmaps", body, ctype)
    assert got == code and status["kind"] == "Status" and status["code"] == code, status
    assert "Traceback" not in json.dumps(status)


def test_protobuf_create_tells_the_user_what_to_run(api: Api) -> None:
    done = api.kubectl("create", "configmap", "x", "-n", NS, "--from-literal=a=b")
    assert done.returncode != 0 and "--dry-run=client -o yaml | kubectl apply -f -" in done.stderr, done.stderr


def test_no_token_no_access(api: Api) -> None:
    code, status = call(api, "GET", "/api/v1/namespaces", token="wrong")
    assert (code, status["reason"]) == (401, "Unauthorized")
    assert oct(api.kubeconfig.stat().st_mode & 0o777) == "0o600"


def test_list_pages_with_limit_and_continue(api: Api) -> None:
    _, first = call(api, "GET", "/api/v1/pods?limit=2")
    meta = first["metadata"]
    assert len(first["items"]) == 2 and meta["continue"]  # type: ignore[arg-type, index]
    _, rest = call(api, "GET", f"/api/v1/pods?limit=500&continue={meta['continue']}")  # type: ignore[index]
    names = [p["metadata"]["name"] for p in [*first["items"], *rest["items"]]]  # type: ignore[misc]
    assert len(names) == len(set(names)) == len(call(api, "GET", "/api/v1/pods")[1]["items"])  # type: ignore[arg-type]


def test_watch_list_sends_initial_events_then_the_bookmark_then_changes(api: Api) -> None:
    url = f"{api.url}/api/v1/namespaces/{NS}/configmaps?watch=true&sendInitialEvents=true&" \
          "resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api.token}"})
    with urllib.request.urlopen(request, timeout=10, context=tls(api)) as stream:
        first = json.loads(stream.readline())
        bookmark = json.loads(stream.readline())
        api.store.patch("ConfigMap", NS, "agent-config", {"data": {"API_TIMEOUT": "5"}})
        changed = json.loads(stream.readline())
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "agent-config"
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert changed["type"] == "MODIFIED" and changed["object"]["data"]["API_TIMEOUT"] == "5"
    assert int(changed["object"]["metadata"]["resourceVersion"]) > int(bookmark["object"]["metadata"]["resourceVersion"])


def test_rollout_status_and_scale(api: Api) -> None:
    done = api.kubectl("rollout", "status", "deployment/agent-deployment", "-n", NS, "--timeout=10s")
    assert done.returncode == 0 and "successfully rolled out" in done.stdout, done.stderr
    done = api.kubectl("scale", "deployment", "agent-deployment", "-n", NS, "--replicas=3")
    assert done.returncode == 0, done.stderr
    assert api.store.require("Deployment", NS, "agent-deployment")["spec"]["replicas"] == 3


def test_official_client_patch_and_watch(api: Api) -> None:
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(str(api.kubeconfig))
    with api_client:
        core = client.CoreV1Api(api_client)
        core.patch_namespaced_config_map("agent-config", NS, {"data": {"K": "v"}})
        assert core.read_namespaced_config_map("agent-config", NS).data["K"] == "v"
        seen = []
        w = watch.Watch()
        started = time.monotonic()
        for event in w.stream(core.list_namespaced_config_map, NS, timeout_seconds=2):
            seen.append((event["type"], event["object"].metadata.name))
            if time.monotonic() - started > 5:
                break
        assert ("ADDED", "agent-config") in seen
        with pytest.raises(client.ApiException) as caught:
            core.read_namespaced_config_map("nope", NS)
        assert caught.value.status == 404 and json.loads(caught.value.body)["reason"] == "NotFound"


def test_an_eviction_the_disruption_budget_forbids_is_429_with_the_budget_named(api: Api) -> None:
    api.store.apply({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                     "metadata": {"name": "all-agents", "namespace": NS},
                     "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "production-agent"}}}})
    _, pods = call(api, "GET", f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dproduction-agent")
    name = pods["items"][0]["metadata"]["name"]  # type: ignore[index]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": NS}}
    code, status = call(api, "POST", f"/api/v1/namespaces/{NS}/pods/{name}/eviction", json.dumps(eviction).encode())
    assert (code, status["reason"]) == (429, "TooManyRequests"), status
    assert "all-agents needs 2 healthy pods and has 2 currently" in json.dumps(status)
    api.store.delete("PodDisruptionBudget", NS, "all-agents")
    code, status = call(api, "POST", f"/api/v1/namespaces/{NS}/pods/{name}/eviction", json.dumps(eviction).encode())
    assert code == 201, status
    assert api.store.get("PodDeletion", NS, name) is not None, "the eviction did not ask for the pod's deletion"


def test_exec_runs_in_the_pods_directory_with_its_address_and_keeps_the_exit_code(api: Api) -> None:
    done = api.kubectl("exec", "redis-0", "-n", NS, "--", "sh", "-c", 'echo "$POD_IP $(pwd)"; exit 3')
    assert done.returncode == 3, done.stderr
    ip, cwd = done.stdout.split()
    assert ip.startswith("127.45.") and cwd == str(api.root / "pods" / NS / "redis-0")
    assert "command terminated with exit code 3" in done.stderr


def test_events_are_served_and_describe_lists_them(api: Api) -> None:
    from drills.targets.local.events import EventRecorder
    from drills.targets.local.store import uid_of

    _, pod = call(api, "GET", f"/api/v1/namespaces/{NS}/pods/redis-0")
    meta = pod["metadata"]
    recorder = EventRecorder(api.root)
    recorder.pod(NS, "redis-0", meta["uid"], "BackOff",  # type: ignore[index]
                 "Back-off restarting failed container redis", warning=True, host="sandbox-worker")
    recorder.flush()
    assert meta["uid"] == uid_of(f"Pod/{NS}/redis-0", meta["creationTimestamp"])  # type: ignore[index]
    done = api.kubectl("describe", "pod", "redis-0", "-n", NS)
    assert "Back-off restarting failed container redis" in done.stdout.split("Events:")[1], done.stdout
    done = api.kubectl("get", "events", "-n", NS, "--sort-by=.lastTimestamp")
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], done.stdout
    assert any(row.split()[1:4] == ["Warning", "BackOff", "pod/redis-0"] for row in rows), done.stdout
