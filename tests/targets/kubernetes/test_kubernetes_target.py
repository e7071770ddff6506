"""KubernetesTarget without a cluster: what it computes from API objects, its description, its URLs and its
requests session, eviction retries, and the providers' refusals."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from drills.targets import make_target
from drills.targets.existing import ExistingProvider
from drills.targets.kubernetes import KubernetesTarget, _duration_s
from drills.targets.kubernetes.client import Api, ApiError, path_of
from drills.targets.kubernetes.drain import drain
from drills.targets.kubernetes.snapshot import content, replacement
from drills.targets.kubernetes.workloads import container_patch, is_rolled_out, pod_state, restart_patch
from drills.targets.local.provider import EmbeddedProvider
from drills.targets.provider import ClusterProvider, Unsupported


def kubeconfig(tmp_path: Path, user: dict[str, Any]) -> Path:
    path = tmp_path / "kubeconfig"
    (tmp_path / "ca.crt").write_text("not a real CA\n")
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.47.0.1:6443",
                                               "certificate-authority": str(tmp_path / "ca.crt")}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}]}))
    return path


def test_describe_round_trips_through_the_entry_points(tmp_path: Path) -> None:
    target = KubernetesTarget(ExistingProvider("ctx", kubeconfig(tmp_path, {"token": "t"})), prometheus_port=9090)
    again = make_target(target.describe())
    assert isinstance(again, KubernetesTarget)
    assert again.describe() == target.describe()
    embedded = KubernetesTarget(EmbeddedProvider(tmp_path / "sb", octet=47, sandbox_name="x"))
    assert make_target(embedded.describe()).describe() == embedded.describe()
    assert isinstance(embedded.provider, ClusterProvider) and isinstance(target.provider, ClusterProvider)


def test_urls_go_through_the_api_servers_proxy(tmp_path: Path) -> None:
    target = KubernetesTarget(ExistingProvider("ctx", kubeconfig(tmp_path, {"token": "t"})))
    base = "https://127.47.0.1:6443/api/v1/namespaces"
    assert target.prometheus_url() == f"{base}/monitoring/services/prometheus:19090/proxy"
    assert target.service_url("production", "agent", 8080) == f"{base}/production/services/agent:8080/proxy"
    assert target.pod_url("production", "redis-0", 6379) == f"{base}/production/pods/redis-0:6379/proxy"


def test_http_session_authenticates_as_the_kubeconfig_says(tmp_path: Path) -> None:
    session = KubernetesTarget(ExistingProvider("ctx", kubeconfig(tmp_path, {"token": "s3cret"}))).http()
    assert session.headers["Authorization"] == "Bearer s3cret"
    assert session.verify == str(tmp_path / "ca.crt")
    (tmp_path / "c.crt").write_text("x")
    (tmp_path / "c.key").write_text("x")
    certs = {"client-certificate": str(tmp_path / "c.crt"), "client-key": str(tmp_path / "c.key")}
    session = KubernetesTarget(ExistingProvider("ctx", kubeconfig(tmp_path, certs))).http()
    assert "Authorization" not in session.headers
    assert session.cert == (str(tmp_path / "c.crt"), str(tmp_path / "c.key"))


def test_step_environment_selects_the_context_first(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path, {"token": "t"})
    env = KubernetesTarget(ExistingProvider("ctx", config)).step_environment()
    first, second = env["KUBECONFIG"].split(":")
    assert yaml.safe_load(Path(first).read_text())["current-context"] == "ctx"
    assert second == str(config)
    assert env["PATH"].split(":")[0].endswith("/bin")


def test_api_errors_keep_the_servers_status() -> None:
    exc = ApiException(status=409, reason="Conflict")
    exc.body = '{"kind":"Status","reason":"AlreadyExists","code":409,"message":"configmaps \\"x\\" already exists"}'
    error = ApiError.from_exception(exc, "POST /api/v1/namespaces/d/configmaps")
    assert (error.code, error.reason, error.message) == (409, "AlreadyExists", 'configmaps "x" already exists')
    assert "POST /api/v1/namespaces/d/configmaps" in str(error)


def test_paths() -> None:
    assert path_of("Deployment", "p", "a", "scale") == "/apis/apps/v1/namespaces/p/deployments/a/scale"
    assert path_of("Node", "ignored", "n1") == "/api/v1/nodes/n1"
    assert path_of("Pod") == "/api/v1/pods"


def test_pod_state_from_the_pod_json() -> None:
    pod = {"metadata": {"name": "a-1", "namespace": "p", "labels": {"app": "a"}},
           "spec": {"nodeName": "w1"},
           "status": {"phase": "Running", "podIP": "127.47.1.2", "conditions": [{"type": "Ready", "status": "False"}],
                      "containerStatuses": [{"restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                             "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                                                          "finishedAt": "2026-01-01T00:00:10Z"}}}]}}
    state = pod_state(pod)
    assert (state.ready, state.restarts, state.waiting_reason, state.last_reason, state.last_exit_code) == \
        (False, 3, "CrashLoopBackOff", "OOMKilled", 137)
    assert state.last_finished_at == 1767225610.0 and state.node == "w1" and state.labels == {"app": "a"}


def deployment(generation: int = 2, observed: int = 2, **status: int) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": 2},
            "status": {"observedGeneration": observed, **status}}


def test_rolled_out_as_kubectl_rollout_status_judges() -> None:
    assert is_rolled_out(deployment(replicas=2, updatedReplicas=2, availableReplicas=2))
    assert not is_rolled_out(deployment(observed=1, replicas=2, updatedReplicas=2, availableReplicas=2))
    assert not is_rolled_out(deployment(replicas=3, updatedReplicas=2, availableReplicas=2))  # old pod left
    assert not is_rolled_out(deployment(replicas=2, updatedReplicas=2, availableReplicas=1))
    sts: dict[str, Any] = {"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 1},
           "status": {"observedGeneration": 1, "readyReplicas": 1, "updatedReplicas": 0,
                      "currentRevision": "r-a", "updateRevision": "r-b"}}
    assert not is_rolled_out(sts)
    assert is_rolled_out({**sts, "status": {**sts["status"], "currentRevision": "r-b"}})


def test_patches_are_kubectls() -> None:
    assert container_patch("agent", {"image": "i:2"}) == \
        {"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "i:2"}]}}}}
    stamp = restart_patch(0)["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert stamp.startswith("19") and ("+" in stamp[19:] or "-" in stamp[19:])


def test_snapshot_content_strips_what_the_server_stamps() -> None:
    live = {"kind": "Service", "metadata": {"name": "s", "namespace": "p", "uid": "u", "resourceVersion": "9",
                                            "creationTimestamp": "x", "annotations": {"a": "b"}},
            "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"], "ports": [{"port": 80}]}, "status": {}}
    saved = content(live)
    assert saved == {"kind": "Service", "metadata": {"name": "s", "namespace": "p", "annotations": {"a": "b"}},
                     "spec": {"ports": [{"port": 80}]}}
    body = replacement(saved, live)
    assert body["metadata"]["resourceVersion"] == "9" and body["spec"]["clusterIP"] == "10.0.0.1"
    dep = {"kind": "Deployment", "metadata": {"name": "d", "generation": 4,
                                              "annotations": {"deployment.kubernetes.io/revision": "3"}}}
    assert content(dep) == {"kind": "Deployment", "metadata": {"name": "d"}}


def test_prometheus_durations() -> None:
    assert _duration_s("1m30s") == 90 and _duration_s("500ms") == 0.5 and _duration_s("1s") == 1
    with pytest.raises(Exception, match="duration"):
        _duration_s("1.5s")


class FakeApi:
    """Answers a drain's requests: one pod blocked by a PDB twice, a DaemonSet pod, one evicted at once."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {
            "a": {"metadata": {"name": "a", "namespace": "p", "uid": "1"}, "status": {"phase": "Running"}},
            "b": {"metadata": {"name": "b", "namespace": "p", "uid": "2"}, "status": {"phase": "Running"}},
            "ds": {"metadata": {"name": "ds", "namespace": "p", "uid": "3", "ownerReferences": [
                {"kind": "DaemonSet", "controller": True}]}, "status": {"phase": "Running"}}}
        self.blocked = 2
        self.evictions: list[str] = []
        self.cordoned = False

    def patch(self, kind: str, namespace: str | None, name: str, body: Any, **_: Any) -> dict[str, Any]:
        self.cordoned = body == {"spec": {"unschedulable": True}}
        return {}

    def list(self, kind: str, namespace: str | None = None, fields: str | None = None) -> list[dict[str, Any]]:
        assert fields == "spec.nodeName=w1"
        return list(self.pods.values())

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        name = body["metadata"]["name"]
        self.evictions.append(name)
        if name == "a" and self.blocked:
            self.blocked -= 1
            raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.")
        self.pods.pop(name)
        return {}

    def find(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pods.get(name)


def test_drain_retries_evictions_a_budget_blocks() -> None:
    api = FakeApi()
    result = drain(api, "w1", timeout_s=5, retry_s=0.01)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert api.cordoned and api.evictions == ["a", "b", "a", "a"] and list(api.pods) == ["ds"]
    assert "DaemonSet-managed pod p/ds" in result.output and "will retry" in result.output


def test_drain_gives_up_at_the_timeout() -> None:
    api = FakeApi()
    api.blocked = 1000
    result = drain(api, "w1", timeout_s=0.05, retry_s=0.01)  # type: ignore[arg-type]
    assert result.exit_code == 1 and "still blocked: p/a" in result.output


def test_existing_provider_refuses_what_it_cannot_do() -> None:
    provider = ExistingProvider("someone-elses")
    for action in (provider.down, lambda: provider.set_node_ready("n", False), lambda: provider.remove_image("i:1")):
        with pytest.raises(Unsupported) as raised:
            action()
        assert raised.value.capability in ("cluster-lifecycle", "node-failure", "image-removal")
        assert "someone-elses" in str(raised.value)


def test_secret_values_are_decoded() -> None:
    from drills.targets.kubernetes import _decoded

    assert _decoded({"data": {"k": base64.b64encode(b"v").decode()}, "stringData": {"s": "w"}}) == {"k": "v", "s": "w"}


class _Provider(ExistingProvider):
    """An existing cluster whose ``up`` is counted, and whose liveness the test sets."""

    def __init__(self, kubeconfig: Path, lost: str | None) -> None:
        super().__init__("ctx", kubeconfig)
        self.lost, self.ups = lost, 0

    def liveness(self, since: float | None = None) -> str | None:
        return self.lost

    def up(self) -> None:
        self.ups += 1
        self.lost = None


def test_ensure_up_brings_up_only_a_cluster_that_does_not_answer(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A drill takes a running cluster as it is: kind's ``up`` rebuilds and loads images (minutes)."""
    provider = _Provider(kubeconfig(tmp_path, {"token": "t"}), lost="node container drillbook-control-plane is exited")
    target = KubernetesTarget(provider)
    monkeypatch.setattr(Api, "request", lambda *a, **k: {"gitVersion": "v1.35.0"})  # the API server answers
    target.ensure_up()
    assert provider.ups == 1
    target.ensure_up()
    assert provider.ups == 1  # answering: reused as it is
    target.up()
    assert provider.ups == 2  # `drillbook up` always refreshes


def test_ensure_up_of_a_cluster_never_brought_up(tmp_path: Path) -> None:
    provider = _Provider(tmp_path / "missing-kubeconfig", lost=None)  # no kubeconfig: the client cannot load it
    KubernetesTarget(provider).ensure_up()
    assert provider.ups == 1


class ConflictingApi:
    """A Deployment whose controller writes it (a new resourceVersion) between our read and our write, twice."""

    def __init__(self, conflicts: int) -> None:
        self.version, self.conflicts, self.puts = 1, conflicts, []  # type: ignore[var-annotated]

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.version)}}

    def request(self, method: str, path: str, body: Any = None, **_: Any) -> Any:
        if self.conflicts:
            self.conflicts -= 1
            self.version += 1  # the controller wrote meanwhile
            raise ApiError(409, "Conflict", "the object has been modified")
        assert body["metadata"]["resourceVersion"] == str(self.version)
        self.puts.append(body)
        return body


def test_replace_reads_again_and_retries_on_a_conflict() -> None:
    from drills.targets.kubernetes.snapshot import replace

    saved = {"kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 2}}
    api = ConflictingApi(conflicts=2)
    replace(api, saved)  # type: ignore[arg-type]
    assert len(api.puts) == 1 and api.puts[0]["spec"] == {"replicas": 2}
    with pytest.raises(ApiError) as raised:
        replace(ConflictingApi(conflicts=9), saved)  # type: ignore[arg-type]
    assert raised.value.conflict
