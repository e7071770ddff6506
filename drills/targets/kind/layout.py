"""Where the kind target's files live in the repository, and what it builds and applies from them.

- ``deploy/kind/cluster.yaml``: the kind cluster (1 control plane + 3 workers), also used by CI's kind-action;
- ``deploy/kind/addons/*.yaml``: what the embedded cluster provides by itself and a kind cluster lacks
  (Prometheus, kube-state-metrics, redis_exporter, metrics-server, the Anthropic stub, the load generator);
- ``refsystem/docker/Dockerfile``: the reference system's images, next to the code they package;
- ``refsystem/manifests/`` and ``refsystem/prometheus/alerts.yml``: the same objects and alert rules the
  embedded cluster runs, applied unchanged.

The image list is derived from the embedded cluster's image store (drills/targets/local/images.py), so a new
``python -m refsystem.X`` image there is built here too (with the Dockerfile stage named ``X``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drills.targets.local.images import default_images

ROOT = Path(__file__).resolve().parents[3]
CLUSTER_CONFIG = ROOT / "deploy" / "kind" / "cluster.yaml"
ADDONS = ROOT / "deploy" / "kind" / "addons"
DOCKERFILE = ROOT / "refsystem" / "docker" / "Dockerfile"
MANIFESTS = ROOT / "refsystem" / "manifests"
ALERT_RULES = ROOT / "refsystem" / "prometheus" / "alerts.yml"

Obj = dict[str, Any]


def built_images() -> dict[str, str]:
    """Image reference -> Dockerfile stage, for every image the embedded cluster runs from ``refsystem``.
    Public images (redis, prometheus, redis_exporter) are pulled by the nodes instead."""
    out: dict[str, str] = {}
    for image, argv in default_images().items():
        if len(argv) == 3 and argv[1] == "-m" and argv[2].startswith("refsystem."):
            if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
                raise ValueError(f"{image}: kind needs a fixed tag (':latest' makes the kubelet pull)")
            out[image] = argv[2].removeprefix("refsystem.")
    return out


def rules_configmap() -> Obj:
    """The ConfigMap ``monitoring/prometheus-rules`` holding the repository's alert rules file unchanged."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "prometheus-rules", "namespace": "monitoring",
                         "labels": {"app.kubernetes.io/managed-by": "drillbook"}},
            "data": {"alerts.yml": ALERT_RULES.read_text()}}


def load_documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifest_files() -> list[Path]:
    """Reference system first, then the add-ons, each directory in name order."""
    return sorted(MANIFESTS.glob("*.yaml")) + sorted(ADDONS.glob("*.yaml"))


REDIS_DATA_LIMIT = "64Mi"


def redis_data_in_memory(doc: Obj) -> Obj:
    """Redis's ``redis-data`` volume as a memory-backed emptyDir with a ``sizeLimit``, instead of the PVC.

    The one change kind makes to the reference manifests, and why: kind's local-path volumes are host
    directories that enforce no capacity, so the disk-full fault (which writes until ENOSPC) would fill the
    node's, i.e. the CI runner's, disk and Redis would never see its own volume full. A memory-backed
    emptyDir is a tmpfs sized to min(sizeLimit, memory limit), so ENOSPC comes at 64 MiB; its files count
    against Redis's 512Mi memory limit, which leaves room for the data (else "disk full" becomes OOMKilled).
    The cost: Redis's RDB file does not survive a pod deletion on kind (it does on the embedded cluster).
    """
    if doc.get("kind") != "StatefulSet" or doc["metadata"]["name"] != "redis":
        return doc
    out = yaml.safe_load(yaml.safe_dump(doc))
    claims = out["spec"].pop("volumeClaimTemplates", [])
    if [c["metadata"]["name"] for c in claims] != ["redis-data"]:
        raise ValueError(f"redis StatefulSet: expected one claim template 'redis-data', got {claims}")
    out["spec"]["template"]["spec"].setdefault("volumes", []).append(
        {"name": "redis-data", "emptyDir": {"medium": "Memory", "sizeLimit": REDIS_DATA_LIMIT}})
    return dict(out)


def documents() -> list[Obj]:
    """Every object ``up`` applies, namespaces first so one ``kubectl apply`` can create them all."""
    docs = [redis_data_in_memory(doc) for path in manifest_files() for doc in load_documents(path)]
    docs.append(rules_configmap())
    return sorted(docs, key=lambda d: d.get("kind") != "Namespace")  # stable: keeps the files' order otherwise


def workloads(docs: list[Obj]) -> list[tuple[str, str]]:
    """``(namespace, kind/name)`` of every Deployment, StatefulSet and DaemonSet, for ``rollout status``."""
    return [(d["metadata"].get("namespace", "default"), f"{d['kind'].lower()}/{d['metadata']['name']}")
            for d in docs if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet")]
