"""Targets refuse anything outside their allowlist: kind-* contexts by default, sandbox octets 2..254."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from drills.cli import app
from drills.errors import DrillbookError, TargetError
from drills.targets import allowlist
from drills.targets.choose import choose, description
from drills.targets.local import LocalTarget


def kubeconfig(tmp_path: Path, current: str, *names: str) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": current,
           "clusters": [{"name": n, "cluster": {"server": f"https://{n}.invalid:6443"}} for n in names],
           "users": [{"name": n, "user": {"token": "t"}} for n in names],
           "contexts": [{"name": n, "context": {"cluster": n, "user": n}} for n in names]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kind_contexts_are_allowed_by_default(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "kind-drillbook", "kind-drillbook", "prod-eu")
    assert allowlist.kube_context(path, None) == "kind-drillbook"


def test_other_contexts_are_refused_unless_allowed_explicitly(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "prod-eu", "kind-drillbook", "prod-eu", "staging-1")
    with pytest.raises(TargetError, match="refusing context 'prod-eu'.*--allow-context 'prod-eu'"):
        allowlist.kube_context(path, None)
    with pytest.raises(TargetError, match="refusing context 'prod-eu'"):
        allowlist.kube_context(path, "prod-eu", ["staging-*"])
    assert allowlist.kube_context(path, "staging-1", ["staging-*"]) == "staging-1"
    assert allowlist.kube_context(path, "prod-eu", ["prod-eu"]) == "prod-eu"


def test_unknown_context_and_unreadable_kubeconfig_are_clear_errors(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, "kind-a", "kind-a")
    with pytest.raises(TargetError, match="no context 'kind-b'.*contexts: kind-a"):
        allowlist.kube_context(path, "kind-b")
    with pytest.raises(TargetError, match="cannot read kubeconfig"):
        allowlist.kube_context(tmp_path / "missing", None)


def test_cli_refuses_a_non_kind_context_before_touching_anything(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, "prod-eu", "prod-eu")))
    result = CliRunner().invoke(app, ["run", "agent-down/oom", "--target", "kubernetes", "--context", "prod-eu"])
    assert result.exit_code == 2 and "refusing context 'prod-eu'" in result.output


def test_target_choice_names_a_provider_per_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, "prod-eu", "prod-eu", "staging-1")))
    assert description("local", sandbox=tmp_path)["name"] == "local"
    embedded = description("kubernetes", context="drillbook-local", sandbox=tmp_path)
    assert embedded == {"name": "kubernetes", "provider": {"name": "embedded", "root": str(tmp_path),
                                                           "profile": "fast"}}
    assert description("kind", cluster="ci")["provider"] == {"name": "kind", "cluster": "ci"}
    staging = description("kubernetes", context="staging-1", allow_context=["staging-*"])
    assert staging["provider"] == {"name": "existing", "context": "staging-1"}
    with pytest.raises(DrillbookError, match="needs --context"):
        description("kubernetes")
    with pytest.raises(DrillbookError, match="unknown target 'gke'"):
        description("gke")
    target = choose("kubernetes", context="staging-1", allow_context=["staging-*"])
    assert target.describe()["provider"]["context"] == "staging-1"  # built through the entry points


@pytest.mark.parametrize("octet", [0, 1, 255])
def test_the_sandbox_never_takes_the_hosts_loopback_ranges(tmp_path: Path, octet: int) -> None:
    with pytest.raises(TargetError, match=f"refusing sandbox octet {octet}"):
        LocalTarget(tmp_path, octet=octet)
