"""Benchmark the embedded cluster's API server: what a kubectl call costs beyond kubectl's own start-up, and how
long an object change takes to reach a watch. Run against a sandbox that is up::

    sudo .venv/bin/python ci/bench_api.py [--sandbox DIR] [--runs 20]

1. ``kubectl get pods -n production-agents`` vs ``kubectl version --client`` (the binary's start-up alone),
   alternated, medians over ``--runs``: the difference is the API's share (TLS, discovery from the warm cache,
   one Table list).
2. A ConfigMap changed in the object store (as a fault or the controller changes it) → the MODIFIED event on an
   open watch of that ConfigMap: median over ``--runs`` changes.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills.targets.local import sandbox  # noqa: E402
from drills.targets.local.apiserver import kubeconfig  # noqa: E402
from drills.targets.local.config import SandboxConfig  # noqa: E402
from drills.targets.local.store import ObjectStore  # noqa: E402

NS = "production-agents"


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def kubectl_share(root: Path, runs: int) -> tuple[float, float]:
    env = sandbox.kubectl_environment(root)
    get, version = [], []
    timed(["kubectl", "get", "pods", "-n", NS], env)  # warm the discovery cache, as every later call finds it
    for _ in range(runs):
        get.append(timed(["kubectl", "get", "pods", "-n", NS], env))
        version.append(timed(["kubectl", "version", "--client"], env))
    return statistics.median(get), statistics.median(version)


def watch_latency(root: Path, runs: int) -> list[float]:
    address = SandboxConfig.load(root).controller_address
    token = kubeconfig.token_path(root).read_text().strip()
    tls = ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))
    store = ObjectStore(root)
    url = (f"{kubeconfig.server_url(address)}/api/v1/namespaces/{NS}/configmaps?watch=true&"
           f"fieldSelector=metadata.name%3Dagent-config&resourceVersion=0&timeoutSeconds=120")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    delays = []
    with urllib.request.urlopen(request, context=tls, timeout=30) as stream:
        json.loads(stream.readline())  # the initial ADDED
        for i in range(runs):
            time.sleep(0.2)
            changed = time.perf_counter()
            store.patch("ConfigMap", NS, "agent-config", {"data": {"BENCH_MARK": str(i)}})
            while json.loads(stream.readline())["type"] != "MODIFIED":
                pass
            delays.append(time.perf_counter() - changed)
    store.patch("ConfigMap", NS, "agent-config", {"data": {"BENCH_MARK": None}})
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sandbox", type=Path, default=sandbox.default_root())
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    get, version = kubectl_share(args.sandbox, args.runs)
    print(f"kubectl get pods -n {NS}: median {get * 1000:.0f} ms; kubectl version --client: median "
          f"{version * 1000:.0f} ms; the API's share: {(get - version) * 1000:.0f} ms ({args.runs} runs each)")
    delays = sorted(watch_latency(args.sandbox, args.runs))
    print(f"object change -> watch event: median {statistics.median(delays) * 1000:.1f} ms, min "
          f"{delays[0] * 1000:.1f} ms, max {delays[-1] * 1000:.1f} ms ({len(delays)} changes)")


if __name__ == "__main__":
    main()
