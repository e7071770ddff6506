"""The sandbox's control plane in one process: controllers, scheduler and kubelet for pods as processes.

Run as ``python -m drills.targets.local.controller DIR`` (``drillbook up`` starts it in the background). Each
tick it reads the desired state from the object store, reconciles Deployments (through ReplicaSets, so
``rollout undo`` has revisions to go back to) and StatefulSets into pods, schedules new pods onto Ready,
schedulable nodes, starts/reaps/restarts their containers, and publishes what it sees: ``status.json``
(for ``kubectl get`` and the verifiers), endpoint files, Prometheus file-SD targets and kube-state-metrics.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import signal
import string
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.targets.local import cgroups, netpol
from drills.targets.local.config import SandboxConfig
from drills.targets.local.dns import service_addresses
from drills.targets.local.events import EventRecorder
from drills.targets.local.images import ImageStore
from drills.targets.local.ksm import serve_metrics
from drills.targets.local.labels import matches as labels_match
from drills.targets.local.podspec import ContainerConfigError, PodContext, build_container, prepare_volumes
from drills.targets.local.revisions import RevisionRecorder, record_revisions
from drills.targets.local.runtime import Backoff, Container, utc
from drills.targets.local.store import Obj, ObjectStore, key_of, rfc3339, uid_of, write_json_atomic
from drills.targets.local.volumes import unmount_all
from drills.targets.local.workloads import plan_deployment, plan_statefulset, template_hash

TICK_S = 0.25


@dataclass
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    owner: tuple[str, str]  # (kind, name)
    template_hash: str
    spec: Obj
    node: str
    ip: str
    created: float
    container: Container
    deleting: bool = False
    stopped: bool = False  # set by the thread that stopped a deleted pod's container; the tick then forgets it
    stopping: bool = False  # a kubelet is stopping it (not while its node is lost: nobody is there to confirm)
    deletion_timestamp: float | None = None  # deletion requested + grace period, as the API server stamps it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.container.ready and not self.deleting

    @property
    def uid(self) -> str:
        """The UID the API server serves for this pod (events name their object by it)."""
        return uid_of(key_of("Pod", self.namespace, self.name), rfc3339(self.created))


class Controller:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = SandboxConfig.load(root)
        self.store = ObjectStore(root)
        self.images = ImageStore(root / "images.json")
        self.events = EventRecorder(root)
        self.pods: dict[str, Pod] = {}
        # Pods being stopped, out of ``pods`` so a StatefulSet's replacement (same name) can be tracked apart;
        # the replacement is only created once its predecessor is gone, as the StatefulSet controller does.
        self.terminating: dict[int, Pod] = {}
        self.backoff = Backoff(self.config.profile.backoff_base_s, self.config.profile.backoff_cap_s,
                               self.config.profile.backoff_reset_s)
        self.cgroup_flavour = cgroups.cgroup_support()
        self.stopping = threading.Event()
        self.status: dict[str, Any] = {}
        self.netpol_missing = netpol.available() if self.cgroup_flavour else "cgroups"
        self._netpol_rules: list[str] | None = None
        self._ips = self._load_ips()
        self._lost_since: dict[str, float] = {}

    # -- main loop ---------------------------------------------------------------------------------
    def run(self) -> None:
        serve_metrics(self, self.config.controller_address, 8081)
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        RevisionRecorder(self.store, self.stopping).start()
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception as exc:  # keep the control plane alive; report and retry next tick
                print(f"{utc(time.time())} tick failed: {exc!r}\n{traceback.format_exc()}", file=sys.stderr,
                      flush=True)
            self.stopping.wait(max(0.0, TICK_S - (time.monotonic() - started)))
        self.shutdown()

    def shutdown(self) -> None:
        threads = [threading.Thread(target=p.container.stop)
                   for p in [*self.pods.values(), *self.terminating.values()]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.pods.clear()
        if self.cgroup_flavour:
            cgroups.remove_tree(self.cgroup_flavour, self.config.cgroup_name)
        unmount_all(self.root)
        if not self.netpol_missing:
            netpol.remove(netpol.chain_name(self.config.octet))
        self.publish({})

    def tick(self) -> None:
        # A deleted pod leaves only at the start of a tick, never half-way: otherwise a StatefulSet pod whose
        # predecessor finished stopping after the StatefulSet was reconciled would be published as absent
        # for a whole tick (``kubectl delete pod redis-0`` right after a template change got NotFound).
        for key in [k for k, p in self.terminating.items() if p.stopped]:
            del self.terminating[key]
        record_revisions(self.store)  # normally done already by the RevisionRecorder thread
        objects = self.store.snapshot()
        self._track_lost_nodes(objects)
        # A pod deleted while its node was lost stays Terminating until the node's kubelet is back to confirm.
        for pod in [p for p in self.terminating.values() if not p.stopping and self._node_up(objects, p)]:
            self._stop(pod)
        self._handle_deletions(objects)
        self._evict_from_lost_nodes()
        for obj in [o for o in objects.values() if o["kind"] == "Deployment"]:
            self._reconcile_deployment(obj)
        for obj in [o for o in objects.values() if o["kind"] == "StatefulSet"]:
            self._reconcile_statefulset(obj)
        owners = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects.values()}
        for pod in list(self.pods.values()):
            if (pod.owner[0], pod.namespace, pod.owner[1]) not in owners:
                self._delete_pod(pod)
        for pod in list(self.pods.values()):
            try:
                self._sync_container(pod, objects)
            except Exception as exc:  # one pod's failure must not stop the control plane
                pod.container.waiting = ("RunContainerError", f"{type(exc).__name__}: {exc}")
                pod.container.backoff_until = time.time() + 2
                print(f"{utc(time.time())} pod {pod.namespace}/{pod.name}: {exc!r}", file=sys.stderr, flush=True)
        self._enforce_network_policies(objects)
        self.events.flush()
        self.publish(objects)

    def _enforce_network_policies(self, objects: dict[str, Obj]) -> None:
        if self.netpol_missing:
            return
        pods = [{"namespace": p.namespace, "name": p.name, "labels": p.labels, "podIP": p.ip}
                for p in self.pods.values()]
        cgroup_of = {f"{p.namespace}/{p.name}": p.container.cgroup.name for p in self.pods.values()
                     if p.container.cgroup is not None}
        policies = [o for o in objects.values() if o["kind"] == "NetworkPolicy"]
        rules = netpol.desired_rules(policies, pods, cgroup_of)
        if rules != self._netpol_rules:
            netpol.apply(netpol.chain_name(self.config.octet), rules)
            self._netpol_rules = rules

    # -- controllers -------------------------------------------------------------------------------
    def _reconcile_deployment(self, deploy: Obj) -> None:
        meta, spec = deploy["metadata"], deploy["spec"]
        current = template_hash(spec["template"])
        pods = self._owned("Deployment", meta["namespace"], meta["name"])
        plan = plan_deployment(spec, current, pods)
        for name in plan.delete:
            self._delete_pod(self.pods[key_of("Pod", meta["namespace"], name)])
        for _ in range(plan.create):
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            self._create_pod(f"{meta['name']}-{current[:10]}-{suffix}", deploy, current, stable_ip=False)

    def _reconcile_statefulset(self, sts: Obj) -> None:
        meta, spec = sts["metadata"], sts["spec"]
        self._record_claims(sts)
        current = template_hash(spec["template"])
        pods = self._owned("StatefulSet", meta["namespace"], meta["name"])
        create, delete = plan_statefulset(spec, meta["name"], current, pods)
        for name in delete:
            self._delete_pod(self.pods[key_of("Pod", meta["namespace"], name)])
        stopping = {p.name for p in self.terminating.values() if p.namespace == meta["namespace"]}
        for name in create:
            if name not in stopping:
                self._create_pod(name, sts, current, stable_ip=True)

    def _record_claims(self, sts: Obj) -> None:
        """A StatefulSet's volumeClaimTemplates become PersistentVolumeClaims ``<template>-<pod>``, once."""
        meta = sts["metadata"]
        for i in range(int(sts["spec"].get("replicas", 1))):
            for template in sts["spec"].get("volumeClaimTemplates", []):
                name = f"{template['metadata']['name']}-{meta['name']}-{i}"
                if self.store.get("PersistentVolumeClaim", meta["namespace"], name) is None:
                    self.store.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "metadata": {"name": name, "namespace": meta["namespace"]},
                                      "spec": copy.deepcopy(template["spec"]), "status": {"phase": "Bound"}})

    def _handle_deletions(self, objects: dict[str, Obj]) -> None:
        """``kubectl delete pod`` leaves a PodDeletion request; the controller carries it out. A grace period of
        0 (``--force --grace-period=0``) removes the pod at once, even one stuck on a lost node."""
        for obj in [o for o in objects.values() if o["kind"] == "PodDeletion"]:
            meta = obj["metadata"]
            grace = obj.get("spec", {}).get("gracePeriodSeconds")
            pod = self.pods.get(key_of("Pod", meta["namespace"], meta["name"]))
            if pod is not None:
                self._delete_pod(pod, grace)
            elif grace == 0:
                for stuck in [p for p in self.terminating.values() if not p.stopping
                              and (p.namespace, p.name) == (meta["namespace"], meta["name"])]:
                    self._stop(stuck)
            self.store.delete("PodDeletion", meta["namespace"], meta["name"])

    def _track_lost_nodes(self, objects: dict[str, Obj]) -> None:
        """When each node stopped being Ready (the unreachable taint's start), for the eviction below."""
        now = time.time()
        for node in [o for o in objects.values() if o["kind"] == "Node"]:
            name = node["metadata"]["name"]
            if _node_ready(node):
                self._lost_since.pop(name, None)
            else:
                self._lost_since.setdefault(name, now)

    def _evict_from_lost_nodes(self) -> None:
        """Taint-based eviction: a pod tolerates ``node.kubernetes.io/unreachable`` for its tolerationSeconds
        (300 s added by the DefaultTolerationSeconds admission; the profile's value here), then the node
        lifecycle controller deletes it. It stays Terminating, since no kubelet confirms; its Deployment
        replaces it, a StatefulSet does not (the name is still taken)."""
        now = time.time()
        for pod in list(self.pods.values()):
            since = self._lost_since.get(pod.node)
            if since is not None and now - since >= _toleration_s(pod.spec, self.config.profile.pod_eviction_s):
                self._event(pod, "TaintManagerEviction", f"Marking for deletion Pod {pod.namespace}/{pod.name}",
                            component="taint-eviction-controller")
                self._delete_pod(pod)

    # -- pods --------------------------------------------------------------------------------------
    def _owned(self, kind: str, namespace: str, name: str) -> list[Pod]:
        return [p for p in self.pods.values()
                if p.owner == (kind, name) and p.namespace == namespace and not p.deleting]

    def _create_pod(self, name: str, owner: Obj, current: str, stable_ip: bool) -> None:
        namespace = owner["metadata"]["namespace"]
        template = owner["spec"]["template"]
        node = self._schedule(template["spec"], (namespace, owner["kind"], owner["metadata"]["name"]))
        if node is None:
            return  # Pending: no node fits; retried next tick
        container_spec = template["spec"]["containers"][0]
        cgroup = None
        if self.cgroup_flavour:
            cgroup = cgroups.ContainerCgroup(self.cgroup_flavour, f"{self.config.cgroup_name}/{namespace}_{name}")
        pod = Pod(
            name=name, namespace=namespace, labels=dict(template["metadata"].get("labels", {})),
            annotations=dict(template["metadata"].get("annotations", {})),
            owner=(owner["kind"], owner["metadata"]["name"]), template_hash=current,
            spec=_pod_spec(owner, name),
            node=node, ip=self._allocate_ip(namespace, name, node, stable_ip), created=time.time(),
            container=Container(container_spec["name"], container_spec.get("image", ""),
                                self.root / "logs" / namespace / name / f"{container_spec['name']}.log", cgroup),
        )
        # A new pod starts with empty pod-level volumes (emptyDir), whatever a predecessor of the same name left.
        shutil.rmtree(self.root / "pods" / namespace / name, ignore_errors=True)
        self.pods[key_of("Pod", namespace, name)] = pod
        self._owner_event(owner, current, name)
        self._event(pod, "Scheduled", f"Successfully assigned {namespace}/{name} to {node}",
                    component="default-scheduler")

    def _event(self, pod: Pod, reason: str, message: str, *, warning: bool = False, component: str = "kubelet",
               container: bool = False) -> None:
        field = f"spec.containers{{{pod.container.name}}}" if container else ""
        host = pod.node if component == "kubelet" else ""
        self.events.pod(pod.namespace, pod.name, pod.uid, reason, message, warning=warning, component=component,
                        host=host, field=field)

    def _owner_event(self, owner: Obj, current: str, pod: str) -> None:
        """The workload controller's record of the pod it created (on the ReplicaSet for a Deployment)."""
        meta = owner["metadata"]
        kind, name, component = owner["kind"], meta["name"], "statefulset-controller"
        message = f"create Pod {pod} in StatefulSet {name} successful"
        if kind == "Deployment":
            kind, name, component, message = "ReplicaSet", f"{name}-{current[:10]}", "replicaset-controller", \
                f"Created pod: {pod}"
        stored = self.store.get(kind, meta["namespace"], name)
        if stored is None:
            return
        created = stored["metadata"].get("creationTimestamp", "")
        self.events.record({"kind": kind, "namespace": meta["namespace"], "name": name, "apiVersion": "apps/v1",
                            "uid": uid_of(key_of(kind, meta["namespace"], name), created)},
                           "SuccessfulCreate", message, component=component)

    def _delete_pod(self, pod: Pod, grace_s: float | None = None) -> None:
        if pod.deleting:
            return
        pod.deleting = True
        grace = pod.spec.get("terminationGracePeriodSeconds", 30) if grace_s is None else grace_s
        pod.deletion_timestamp = time.time() + float(grace)
        self.pods.pop(key_of("Pod", pod.namespace, pod.name), None)
        self.terminating[id(pod)] = pod
        if grace == 0 or _node_ready(self.store.get("Node", None, pod.node) or {}):
            self._stop(pod)

    def _node_up(self, objects: dict[str, Obj], pod: Pod) -> bool:
        return _node_ready(objects.get(key_of("Node", None, pod.node), {}))

    def _stop(self, pod: Pod) -> None:
        """The kubelet stops a deleted pod's container and confirms; the next tick forgets the pod."""
        pod.stopping = True
        if pod.container.running:
            self._event(pod, "Killing", f"Stopping container {pod.container.name}", container=True)

        def finish() -> None:
            pod.container.stop()
            pod.stopped = True

        threading.Thread(target=finish, daemon=True).start()

    def _sync_container(self, pod: Pod, objects: dict[str, Obj]) -> None:
        container = pod.container
        if not _node_ready(objects.get(key_of("Node", None, pod.node), {})):
            # The node is down: its kubelet no longer runs or reports anything. The processes die with it,
            # and nothing restarts them until the node returns or the pod is deleted (drain).
            if container.running:
                container.stop(grace_s=0)
            container.waiting = ("NodeLost", f"node {pod.node} is not ready")
            if not pod.extra.get("node_lost"):
                self._event(pod, "NodeNotReady", "Node is not ready", warning=True, component="node-controller")
            pod.extra["node_lost"] = True
            return
        pod.extra.pop("node_lost", None)
        if container.reap(self.backoff):
            self._event(pod, "BackOff", f"Back-off restarting failed container {container.name} in pod "
                                        f"{pod.name}_{pod.namespace}({pod.uid})", warning=True, container=True)
        if container.running or time.time() < container.backoff_until:
            return
        spec = pod.spec["containers"][0]
        image = spec.get("image", "")
        entrypoint = self.images.entrypoint(image)
        if entrypoint is None:
            first = container.waiting is None or container.waiting[0] not in ("ErrImagePull", "ImagePullBackOff")
            container.failures += 1
            reason = "ErrImagePull" if first else "ImagePullBackOff"
            message = f'Failed to pull image "{image}": manifest unknown'
            container.wait(self.backoff, reason, message)
            if first:
                self._event(pod, "Pulling", f'Pulling image "{image}"', container=True)
                self._event(pod, "Failed", message, warning=True, container=True)
            else:
                self._event(pod, "BackOff", f'Back-off pulling image "{image}"', container=True)
            self._event(pod, "Failed", f"Error: {reason}", warning=True, container=True)
            return
        ctx = self._context(pod, objects)
        try:
            ctx.volume_dirs = prepare_volumes(pod.spec, ctx, self.root / "volumes" / pod.namespace)
            config = build_container(spec, ctx, entrypoint)
        except ContainerConfigError as exc:
            if container.waiting is None or container.waiting[0] != "CreateContainerConfigError":
                self._event(pod, "Failed", f"Error: {exc}", warning=True, container=True)
            container.waiting = ("CreateContainerConfigError", str(exc))
            container.backoff_until = time.time() + 1
            return
        self._event(pod, "Pulled", f'Container image "{image}" already present on machine', container=True)
        self._event(pod, "Created", f"Created container: {container.name}", container=True)
        container.start(config, ctx.pod_dir)
        self._event(pod, "Started", f"Started container {container.name}", container=True)

    def _context(self, pod: Pod, objects: dict[str, Obj]) -> PodContext:
        def named(kind: str) -> dict[str, Obj]:
            return {o["metadata"]["name"]: o for o in objects.values()
                    if o["kind"] == kind and o["metadata"]["namespace"] == pod.namespace}

        pod_dir = self.root / "pods" / pod.namespace / pod.name
        pod_dir.mkdir(parents=True, exist_ok=True)
        return PodContext(name=pod.name, namespace=pod.namespace, node=pod.node, ip=pod.ip, pod_dir=pod_dir,
                          configmaps=named("ConfigMap"), secrets=named("Secret"),
                          claims={c["metadata"]["name"]: c
                                  for c in self.store.list("PersistentVolumeClaim", pod.namespace)},
                          services=self._dns(objects, pod.namespace), base_env=_base_env())

    # -- scheduling and addresses ------------------------------------------------------------------
    def _schedule(self, spec: Obj, owner: tuple[str, str, str] | None = None) -> str | None:
        if spec.get("nodeName"):
            return str(spec["nodeName"])
        selector = spec.get("nodeSelector", {})
        tolerated = {t.get("key") for t in spec.get("tolerations", [])}
        candidates = []
        for node in self.store.list("Node"):
            labels = node["metadata"].get("labels", {})
            taints = {t["key"] for t in node.get("spec", {}).get("taints", [])}
            if node.get("spec", {}).get("unschedulable") or not _node_ready(node):
                continue
            if not labels_match(selector, labels) or (taints - tolerated):
                continue
            candidates.append(node["metadata"]["name"])
        if not candidates:
            return None
        # Spread a workload's replicas over nodes first (the default scheduler's topology spreading), then
        # balance the total number of pods.
        def score(node: str) -> tuple[int, int, str]:
            on_node = [p for p in self.pods.values() if p.node == node]
            siblings = sum(1 for p in on_node if owner and (p.namespace, *p.owner) == owner)
            return siblings, len(on_node), node

        return str(min(candidates, key=score))

    def _allocate_ip(self, namespace: str, name: str, node: str, stable: bool) -> str:
        key = f"{namespace}/{name}"
        if stable and key in self._ips:
            return self._ips[key]
        used = {p.ip for p in [*self.pods.values(), *self.terminating.values()]} | set(self._ips.values())
        subnet = 0 if stable else 1 + self.config.nodes.index(node) if node in self.config.nodes else 9
        for host in range(10, 250):
            ip = f"127.{self.config.octet}.{subnet}.{host}"
            if ip not in used:
                break
        else:
            raise RuntimeError(f"no free pod address on {node}")
        if stable:
            self._ips[key] = ip
            write_json_atomic(self.root / "ips.json", self._ips)
        return ip

    def _load_ips(self) -> dict[str, str]:
        try:
            return dict(json.loads((self.root / "ips.json").read_text()))
        except FileNotFoundError:
            return {}

    def _dns(self, objects: dict[str, Obj], namespace: str) -> dict[str, str]:
        """Service names → address of the Service's StatefulSet pod (see :func:`dns.service_addresses`)."""
        services = [o for o in objects.values() if o["kind"] == "Service"]
        pods = [{"name": p.name, "namespace": p.namespace, "ownerKind": p.owner[0], "labels": p.labels,
                 "podIP": p.ip} for p in self.pods.values()]
        return service_addresses(services, pods, namespace)

    # -- publishing --------------------------------------------------------------------------------
    def publish(self, objects: dict[str, Obj]) -> None:
        from drills.targets.local.publish import publish_status

        self.status = publish_status(self, objects)


def _pod_spec(owner: Obj, pod_name: str) -> Obj:
    """The pod's spec; a StatefulSet's volumeClaimTemplates become the pod's own claims (``data-redis-0``)."""
    spec: Obj = copy.deepcopy(owner["spec"]["template"]["spec"])
    for claim in owner["spec"].get("volumeClaimTemplates", []):
        name = claim["metadata"]["name"]
        spec.setdefault("volumes", []).append(
            {"name": name, "persistentVolumeClaim": {"claimName": f"{name}-{pod_name}"}})
    return spec


def _toleration_s(spec: Obj, default_s: float) -> float:
    """How long a pod stays bound to an unreachable node: its own toleration, else the admission default."""
    for toleration in spec.get("tolerations", []):
        if toleration.get("key") in ("node.kubernetes.io/unreachable", None) and \
                toleration.get("effect") in ("NoExecute", None):
            seconds = toleration.get("tolerationSeconds")
            return float("inf") if seconds is None else float(seconds)
    return default_s


def _node_ready(node: Obj) -> bool:
    for cond in node.get("status", {}).get("conditions", []):
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return True


def _base_env() -> dict[str, str]:
    import os

    keep = ("PATH", "LANG", "LC_ALL", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "TZ")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def main() -> None:
    Controller(Path(sys.argv[1])).run()


if __name__ == "__main__":
    main()
