"""The target interface: the primitives faults, verifiers and the runner use, one per Kubernetes action.

Each method maps one to one onto a cluster operation (noted in its docstring), so the kind target implements
it with the official ``kubernetes`` client and the local sandbox implements it on its object store. Faults and
verifiers are written against this Protocol only; they never touch processes, cgroups or the API directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import requests

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


@dataclass(frozen=True)
class WorkloadRef:
    kind: str  # "Deployment" | "StatefulSet"
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str, namespace: str) -> WorkloadRef:
        """``deployment/agent-deployment`` → WorkloadRef("Deployment", namespace, "agent-deployment")."""
        kind, _, name = text.partition("/")
        kinds = {"deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet",
                 "sts": "StatefulSet"}
        if not name or kind.lower() not in kinds:
            raise ValueError(f"expected deployment/NAME or statefulset/NAME, got {text!r}")
        return cls(kinds[kind.lower()], namespace, name)

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} -n {self.namespace}"


@dataclass(frozen=True)
class PodState:
    """What ``kubectl get pod -o json`` says of a pod, reduced to what checks need."""

    name: str
    namespace: str
    node: str
    ip: str
    phase: str
    ready: bool
    restarts: int
    waiting_reason: str | None
    last_reason: str | None  # lastState.terminated.reason, e.g. "OOMKilled"
    last_exit_code: int | None
    last_finished_at: float | None = None  # lastState.terminated.finishedAt, unix seconds
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


@runtime_checkable
class Target(Protocol):
    """A place drills run: the local sandbox, or a Kubernetes cluster (kind)."""

    name: str

    def describe(self) -> dict[str, Any]:
        """Enough to rebuild this target later (the journal stores it for ``drillbook cleanup``)."""

    def ensure_up(self) -> None:
        """Make the system under test available (sandbox: start it; cluster: check the context is allowed)."""

    def liveness(self, since: float | None = None) -> str | None:
        """Why the target is lost (control plane or API server not answering, or restarted after ``since``, a
        unix time: what the drill observed before is gone), or None while it answers. Quick (a second at
        most): the runner's watchdog polls it every second while a fault is in."""

    def wait_steady(self, timeout_s: float) -> None:
        """Wait until every workload is rolled out and ready (``kubectl rollout status`` on all of them)."""

    def pods(self, namespace: str, selector: dict[str, str]) -> list[PodState]:
        """``kubectl get pods -l ...``."""

    def rollout_status(self, ref: WorkloadRef) -> dict[str, int]:
        """Replica counts as ``kubectl rollout status`` sees them: replicas, updatedReplicas,
        updatedReadyReplicas, currentReplicas (pods of any template that still exist)."""

    def logs(self, namespace: str, pod: str, previous: bool = False, tail: int = 200) -> str:
        """``kubectl logs POD [--previous] --tail N`` (the pod's single container)."""

    def get_config(self, namespace: str, name: str) -> dict[str, str]:
        """``kubectl get configmap NAME -o jsonpath={.data}``."""

    def set_config(self, namespace: str, name: str, data: dict[str, str | None]) -> dict[str, str]:
        """Merge ``data`` into a ConfigMap (None removes a key); return the previous values of those keys."""

    def get_secret(self, namespace: str, name: str) -> dict[str, str]:
        """A Secret's values, decoded (``kubectl get secret -o jsonpath={.data}`` + base64 -d)."""

    def set_secret(self, namespace: str, name: str, data: dict[str, str]) -> dict[str, str]:
        """Replace string values in a Secret; return the previous values of those keys."""

    def secret_values(self) -> set[str]:
        """Every value of every Secret in the target, decoded: what reports must never contain."""

    def set_resources(self, ref: WorkloadRef, container: str, limits: dict[str, str | None]) -> None:
        """``kubectl set resources ... --limits``; None removes that limit (a patch with ``null``)."""

    def set_image(self, ref: WorkloadRef, container: str, image: str) -> None:
        """``kubectl set image``."""

    def scale(self, ref: WorkloadRef, replicas: int) -> None:
        """``kubectl scale --replicas``."""

    def restart(self, ref: WorkloadRef) -> None:
        """``kubectl rollout restart``."""

    def rollback(self, ref: WorkloadRef) -> None:
        """``kubectl rollout undo``: back to the previous revision."""

    def apply(self, obj: dict[str, Any]) -> None:
        """``kubectl apply -f`` of one object."""

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """``kubectl delete KIND NAME --ignore-not-found``."""

    def remove_image(self, image: str) -> None:
        """Make an image reference unpullable (the tag was deleted from the registry)."""

    def restore_image(self, image: str) -> None:
        """Undo :meth:`remove_image` (push the tag again from the target's own image source)."""

    def set_node_ready(self, node: str, ready: bool) -> None:
        """A node fails (kubelet and its pods gone, NotReady) or comes back."""

    def delete_pod(self, namespace: str, name: str) -> None:
        """``kubectl delete pod`` (its controller replaces it)."""

    def exec(self, namespace: str, pod: str, argv: list[str], timeout_s: float = 30) -> ExecResult:
        """``kubectl exec POD -- argv``."""

    def cordon(self, node: str, unschedulable: bool = True) -> None:
        """``kubectl cordon`` / ``uncordon``."""

    def drain(self, node: str, timeout_s: float = 120) -> ExecResult:
        """``kubectl drain --ignore-daemonsets --delete-emptydir-data``, honouring PodDisruptionBudgets."""

    def prometheus_url(self) -> str:
        """Base URL of the Prometheus that evaluates the alert rules, reached with :meth:`http`."""

    def api_client(self) -> ApiClient:
        """The official ``kubernetes`` client for this target's API server (the drill lock goes through it)."""

    def http(self) -> requests.Session:
        """A session authenticated to the API server as the kubeconfig says (bearer token or client
        certificate, verified against the cluster's CA): what every URL below is fetched with."""

    def service_url(self, namespace: str, service: str, port: int | str) -> str:
        """Base URL (no trailing slash) of a Service as drillbook reaches it from outside the cluster: the API
        server's service proxy, ``.../namespaces/NS/services/NAME:PORT/proxy``. Never a pod IP."""

    def pod_url(self, namespace: str, pod: str, port: int | str) -> str:
        """Base URL of one pod's port through the API server's pod proxy (per-replica health checks)."""

    def alert_for_seconds(self) -> dict[str, float]:
        """Each alert rule's ``for:`` in seconds, as loaded into that Prometheus."""

    def scrape_and_eval_seconds(self) -> tuple[float, float]:
        """Prometheus scrape and evaluation interval (the rest of the detection floor)."""

    def step_environment(self) -> dict[str, str]:
        """Environment for runbook steps: a ``kubectl`` that reaches this target first on PATH."""

    def snapshot(self) -> Any:
        """Desired state of everything drills may change, to put back after a drill."""

    def restore(self, snapshot: Any) -> None:
        """Put a snapshot back (``kubectl apply`` of the saved objects)."""

    def state_version(self) -> str:
        """A fingerprint that changes whenever anything in the snapshot, any pod or any node changes
        (resourceVersions on Kubernetes); ``""`` when the target cannot tell. The runner uses it to carry a
        steady state it just verified over to the next drill."""

    def tools(self) -> dict[str, str]:
        """Versions of the tools drills run here (the kubectl steps use, the monitoring, the datastore)."""

    def capabilities(self) -> set[str]:
        """What faults may rely on here: ``memory-limits``, ``tmpfs``, ``iptables``, ..."""
