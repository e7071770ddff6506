"""The ``meta.k8s.io/v1`` Table bodies the embedded API server answers ``kubectl get`` with.

Real kubectl asks every list for a Table (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...``)
and prints whatever columns and cells the server sends; a plain list gets only NAME and AGE. So the
columns kubectl users know (READY, STATUS, RESTARTS, CLUSTER-IP, ...) are the server's job. No Python
package ships Kubernetes' printers (kubernetes/kubernetes pkg/printers/internalversion/printers.go, Go),
so this module re-states their rules for the kinds the sandbox stores, working on plain JSON objects.
The server always renders the wide columns (priority 1) and kubectl drops them unless ``-o wide``.

Pure: no I/O, the clock comes in as ``now`` (epoch seconds) so every cell is reproducible.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Cell = str | int | bool | None

_TABLE_GV = "meta.k8s.io/v1"
_NAME_DOC = "Name must be unique within a namespace."
_AGE_DOC = "CreationTimestamp is when the server created this object, shown as its age."
_WORKLOAD_WIDE = (
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "Label query over the pods this object manages."),
)
_NAME = ("Name", "string", 0, _NAME_DOC)
_AGE = ("Age", "string", 0, _AGE_DOC)

# kind -> columns (name, type, priority, description), in the order of the row cells. Column types follow
# the upstream definitions even where a cell is an int under a "string" column (Deployment, Secret, ...).
_COLUMNS: dict[str, tuple[tuple[str, str, int, str], ...]] = {
    "Pod": (_NAME, ("Ready", "string", 0, "Ready containers out of all containers."),
            ("Status", "string", 0, "The aggregate status of the containers in this pod."),
            ("Restarts", "string", 0, "Container restarts, and how long ago the last one was."), _AGE,
            ("IP", "string", 1, "The pod's first IP."), ("Node", "string", 1, "The node it is bound to."),
            ("Nominated Node", "string", 1, "The node the scheduler nominated by preemption."),
            ("Readiness Gates", "string", 1, "Readiness gates whose condition is True, out of all.")),
    "Deployment": (_NAME, ("Ready", "string", 0, "Ready replicas out of desired."),
                   ("Up-to-date", "string", 0, "Replicas running the current template."),
                   ("Available", "string", 0, "Replicas available to serve."), _AGE, *_WORKLOAD_WIDE),
    "ReplicaSet": (_NAME, ("Desired", "integer", 0, "Desired replicas."), ("Current", "integer", 0, "Replicas."),
                   ("Ready", "integer", 0, "Ready replicas."), _AGE, *_WORKLOAD_WIDE),
    "StatefulSet": (_NAME, ("Ready", "string", 0, "Ready replicas out of desired."), _AGE, *_WORKLOAD_WIDE[:2]),
    "DaemonSet": (_NAME, ("Desired", "integer", 0, "Nodes that should run the daemon pod."),
                  ("Current", "integer", 0, "Nodes running at least one daemon pod."),
                  ("Ready", "integer", 0, "Nodes whose daemon pod is ready."),
                  ("Up-to-date", "integer", 0, "Nodes running the current template."),
                  ("Available", "integer", 0, "Nodes whose daemon pod is available."),
                  ("Node Selector", "string", 0, "The pod template's node selector."), _AGE,
                  *_WORKLOAD_WIDE),
    "ControllerRevision": (_NAME, ("Controller", "string", 0, "Controller of the object"),
                           ("Revision", "string", 0, "Revision number."), _AGE),
    "Service": (_NAME, ("Type", "string", 0, "How it is exposed."), ("Cluster-IP", "string", 0, "Cluster IP."),
                ("External-IP", "string", 0, "Addresses reaching the service from outside."),
                ("Port(s)", "string", 0, "The service's ports."), _AGE,
                ("Selector", "string", 1, "Pods the service routes to.")),
    "Endpoints": (_NAME, ("Endpoints", "string", 0, "Ready addresses with their ports."), _AGE),
    "ConfigMap": (_NAME, ("Data", "string", 0, "Number of data and binaryData keys."), _AGE),
    "Secret": (_NAME, ("Type", "string", 0, "The secret's type."), ("Data", "string", 0, "Data keys."), _AGE),
    "Namespace": (_NAME, ("Status", "string", 0, "The status of the namespace"), _AGE),
    "NetworkPolicy": (_NAME, ("Pod-Selector", "string", 0, "Pods the policy applies to."), _AGE),
    "PodDisruptionBudget": (_NAME, ("Min Available", "string", 0, "Pods that must stay available."),
                            ("Max Unavailable", "string", 0, "Pods that may be unavailable."),
                            ("Allowed Disruptions", "integer", 0, "Evictions allowed right now."), _AGE),
    "PersistentVolumeClaim": (_NAME, ("Status", "string", 0, "The claim's phase."),
                              ("Volume", "string", 0, "The bound volume."), ("Capacity", "string", 0, "Its size."),
                              ("Access Modes", "string", 0, "The bound volume's access modes."),
                              ("StorageClass", "string", 0, "StorageClass of the pvc"),
                              ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
                              _AGE, ("VolumeMode", "string", 1, "Filesystem or Block.")),
    "Node": (_NAME, ("Status", "string", 0, "The status of the node"), ("Roles", "string", 0, "Node roles"), _AGE,
             ("Version", "string", 0, "Kubelet version."), ("Internal-IP", "string", 1, "First InternalIP."),
             ("External-IP", "string", 1, "First ExternalIP."), ("OS-Image", "string", 1, "OS image."),
             ("Kernel-Version", "string", 1, "Kernel version."), ("Container-Runtime", "string", 1, "Runtime.")),
    "Event": (("Last Seen", "string", 0, "When the event last happened."),
              ("Type", "string", 0, "Normal or Warning."), ("Reason", "string", 0, "Why it happened."),
              ("Object", "string", 0, "The object it is about."), ("Subobject", "string", 1, "Its field."),
              ("Source", "string", 1, "The component that reported it."), ("Message", "string", 0, "What."),
              ("First Seen", "string", 1, "When the event first happened."),
              ("Count", "string", 1, "How often it happened."), ("Name", "string", 1, _NAME_DOC)),
}
# Kinds without a printer get the generic registry's default convertor
# (staging/src/k8s.io/apiserver/pkg/registry/rest/table.go): the name and the raw creation time.
_DEFAULT_COLUMNS = (_NAME, ("Created At", "date", 0, _AGE_DOC))


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration: "3m2s", "47h", "2y10d" (the AGE column's wording)."""
    s = int(seconds)  # truncates toward zero like Go's int(d.Seconds())
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def _epoch(value: Any) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp (Time or MicroTime); None for absent/zero/garbled."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()  # RFC 3339 says UTC


def _since(value: Any, now: float) -> str:
    ts = _epoch(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def _age(obj: Obj, now: float) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


def _format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted ``k=v`` joined by commas, ``<none>`` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _selector_string(selector: Obj | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key, "" for none/all."""
    terms: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector or {}).get("matchLabels", {}).items()]
    for expr in (selector or {}).get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), ",".join(sorted(expr.get("values") or []))
        text = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                "DoesNotExist": f"!{key}"}.get(op, f"{key} {op} ({values})")
        terms.append((key, text))
    return ",".join(text for _, text in sorted(terms, key=lambda term: term[0]))


def _format_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: the selector text, ``<none>`` when it selects nothing or everything."""
    return _selector_string(selector) or "<none>"


def _containers(template_spec: Obj) -> list[Cell]:
    containers = template_spec.get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


def _template_spec(obj: Obj) -> Obj:
    spec: Obj = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def _restart_marks(statuses: list[Obj]) -> tuple[int, float | None]:
    """Restarts summed over these container statuses, and the newest lastState.terminated.finishedAt."""
    finished = [_epoch(s.get("lastState", {}).get("terminated", {}).get("finishedAt")) for s in statuses]
    return sum(s.get("restartCount", 0) for s in statuses), max((f for f in finished if f), default=None)


def _init_walk(pod: Obj, reason: str) -> tuple[str, bool, int, list[Obj]]:
    """Walk the init containers in order: (reason, initializing, ready sidecars, statuses walked)."""
    spec_inits = pod.get("spec", {}).get("initContainers") or []
    sidecars = {c.get("name") for c in spec_inits if c.get("restartPolicy") == "Always"}
    ready, walked = 0, []
    for i, status in enumerate(pod.get("status", {}).get("initContainerStatuses") or []):
        walked.append(status)
        state = status.get("state", {})
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if status.get("name") in sidecars and status.get("started"):
            ready += 1 if status.get("ready") else 0
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{terminated.get('exitCode', 0)}"
        elif waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(spec_inits)}"
        return reason, True, ready, walked
    return reason, False, ready, walked


def _pod(pod: Obj, now: float) -> list[Cell]:
    """printPod: READY, STATUS, RESTARTS, AGE | IP, NODE, NOMINATED NODE, READINESS GATES."""
    spec, status, meta = pod.get("spec", {}), pod.get("status", {}), pod.get("metadata", {})
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    sidecar_names = {c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecar_names)
    reason, initializing, ready, walked = _init_walk(pod, reason)
    restarts, last_restart = _restart_marks(walked)
    if not initializing or conditions.get("Initialized", {}).get("status") == "True":
        sidecars = [s for s in walked if s.get("name") in sidecar_names]  # only those the walk reached
        containers = status.get("containerStatuses") or []
        restarts, last_restart = _restart_marks(sidecars + containers)
        has_running = False
        for container in reversed(containers):
            state = container.get("state", {})
            terminated, waiting = state.get("terminated"), state.get("waiting")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                reason = (f"Signal:{terminated['signal']}" if terminated.get("signal")
                          else f"ExitCode:{terminated.get('exitCode', 0)}")
            elif container.get("ready") and state.get("running") is not None:
                has_running, ready = True, ready + 1
        if reason == "Completed" and has_running:
            reason = "Running" if conditions.get("Ready", {}).get("status") == "True" else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
    gates_text = f"{sum(conditions.get(g, {}).get('status') == 'True' for g in gates)}/{len(gates)}" if gates \
        else "<none>"
    ips = status.get("podIPs") or [{"ip": status.get("podIP")}]  # the API server fills podIPs from podIP
    return [f"{ready}/{total}", reason, restarts_text, _age(pod, now), ips[0].get("ip") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gates_text]


def _deployment(obj: Obj, now: float) -> list[Cell]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0), _age(obj, now), *_containers(_template_spec(obj)),
            _selector_string(spec.get("selector"))]


def _replicaset(obj: Obj, now: float) -> list[Cell]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0), _age(obj, now),
            *_containers(_template_spec(obj)), _format_selector(spec.get("selector"))]


def _statefulset(obj: Obj, now: float) -> list[Cell]:
    ready, desired = obj.get("status", {}).get("readyReplicas", 0), obj.get("spec", {}).get("replicas", 0)
    return [f"{ready}/{desired}", _age(obj, now), *_containers(_template_spec(obj))]


def _daemonset(obj: Obj, now: float) -> list[Cell]:
    status = obj.get("status", {})
    counts = ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled",
              "numberAvailable")
    return [*(status.get(key, 0) for key in counts), _format_labels(_template_spec(obj).get("nodeSelector")),
            _age(obj, now), *_containers(_template_spec(obj)), _format_selector(obj.get("spec", {}).get("selector"))]


def _controller_revision(obj: Obj, now: float) -> list[Cell]:
    owner = next((ref for ref in obj.get("metadata", {}).get("ownerReferences") or [] if ref.get("controller")),
                 None)
    controller = "<none>"
    if owner is not None:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        kind = f"{owner.get('kind', '')}.{group}" if group else owner.get("kind", "")
        controller = f"{kind.lower()}/{owner.get('name', '')}" if kind else owner.get("name", "")
    return [controller, obj.get("revision", 0), _age(obj, now)]


def _service_external_ip(spec: Obj, status: Obj) -> str:
    external = spec.get("externalIPs") or []
    kind = spec.get("type", "ClusterIP")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = status.get("loadBalancer", {}).get("ingress") or []
        balancers = sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""})
        return ",".join([*balancers, *external]) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service(obj: Obj, now: float) -> list[Cell]:
    spec = obj.get("spec", {})
    # The real API server defaults type, clusterIPs and protocol on create; objects written before those
    # defaults existed in the sandbox store get the same values here.
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [spec.get("type", "ClusterIP"), cluster_ips[0] if cluster_ips else "<none>",
            _service_external_ip(spec, obj.get("status", {})), ports or "<none>", _age(obj, now),
            _format_labels(spec.get("selector"))]


def _host_port(ip: str, port: Any) -> str:
    """net.JoinHostPort: IPv6 addresses in brackets."""
    try:
        v6 = ipaddress.ip_address(ip).version == 6
    except ValueError:
        v6 = ":" in ip
    return f"[{ip}]:{port}" if v6 else f"{ip}:{port}"


def _endpoints(obj: Obj, now: float) -> list[Cell]:
    subsets = obj.get("subsets") or []
    if not subsets:
        return ["<none>", _age(obj, now)]
    shown: list[str] = []
    total = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        for port in subset.get("ports") or [None]:
            total += len(addresses)
            shown += [ip if port is None else _host_port(ip, port.get("port")) for ip in addresses]
    text = ",".join(shown[:3])
    return [f"{text} + {total - 3} more..." if total > 3 else text, _age(obj, now)]


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def _pvc(obj: Obj, now: float) -> list[Cell]:
    spec, status, meta = obj.get("spec", {}), obj.get("status", {}), obj.get("metadata", {})
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        held = status.get("accessModes") or []
        modes = ",".join(short for mode, short in _ACCESS_MODES if mode in held)
        capacity = str((status.get("capacity") or {}).get("storage", "0"))  # not canonicalised like Quantity
    storage_class = (meta.get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    if storage_class is None:
        storage_class = spec.get("storageClassName") or ""
    return [phase, spec.get("volumeName", ""), capacity, modes, storage_class,
            spec.get("volumeAttributesClassName") or "<unset>", _age(obj, now), spec.get("volumeMode") or "<unset>"]


def _node(obj: Obj, now: float) -> list[Cell]:
    status, meta = obj.get("status", {}), obj.get("metadata", {})
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if obj.get("spec", {}).get("unschedulable"):
        state.append("SchedulingDisabled")
    roles = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key != "node-role.kubernetes.io/":
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo", {})

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in status.get("addresses") or [] if a.get("type") == kind),
                    "<none>")

    return [",".join(state), ",".join(sorted(roles)) or "<none>", _age(obj, now), info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


def _event(obj: Obj, now: float) -> list[Cell]:
    first = _since(obj.get("firstTimestamp") or obj.get("eventTime"), now)
    last = _since(obj["lastTimestamp"], now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 1
    if obj.get("series"):
        last, count = _since(obj["series"].get("lastObservedTime"), now), obj["series"].get("count", 0)
    involved, source = obj.get("involvedObject", {}), obj.get("source", {})
    kind = involved.get("kind", "").lower()
    component = source.get("component") or obj.get("reportingController") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return [last, obj.get("type", ""), obj.get("reason", ""),
            f"{kind}/{involved['name']}" if involved.get("name") else kind, involved.get("fieldPath", ""),
            f"{component}, {host}" if host else component, str(obj.get("message", "")).strip(), first, count,
            obj.get("metadata", {}).get("name", "")]


def _int_or_string(value: Any) -> str:  # a PDB's minAvailable/maxUnavailable: 1 or "50%"
    return "N/A" if value is None else str(value)


_ROWS: dict[str, Callable[[Obj, float], list[Cell]]] = {
    "Pod": _pod, "Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset,
    "DaemonSet": _daemonset, "ControllerRevision": _controller_revision, "Service": _service,
    "Endpoints": _endpoints, "PersistentVolumeClaim": _pvc, "Node": _node,
    "ConfigMap": lambda o, now: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), _age(o, now)],
    "Secret": lambda o, now: [o.get("type", "Opaque"), len(o.get("data") or {}), _age(o, now)],
    "Namespace": lambda o, now: [o.get("status", {}).get("phase", ""), _age(o, now)],
    "NetworkPolicy": lambda o, now: [_format_selector(o.get("spec", {}).get("podSelector", {})), _age(o, now)],
    "PodDisruptionBudget": lambda o, now: [
        _int_or_string(o.get("spec", {}).get("minAvailable")), _int_or_string(o.get("spec", {}).get("maxUnavailable")),
        o.get("status", {}).get("disruptionsAllowed", 0), _age(o, now)],
}

_POD_CONDITIONS = {
    "Succeeded": [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}],
    "Failed": [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}],
}


def column_definitions(kind: str) -> list[dict[str, Any]]:
    """The Table's columnDefinitions for ``kind`` (e.g. "Pod"); unknown kinds get Name and Created At."""
    return [{"name": name, "type": kind_, "format": "name" if name == "Name" else "", "description": doc,
             "priority": priority} for name, kind_, priority, doc in _COLUMNS.get(kind, _DEFAULT_COLUMNS)]


def row_cells(kind: str, obj: Obj, now: float) -> list[Cell]:
    """One cell per column of ``column_definitions(kind)``, wide columns included."""
    name = obj.get("metadata", {}).get("name", "")
    if kind == "Event":
        return _event(obj, now)
    render = _ROWS.get(kind)
    if render is not None:
        return [name, *render(obj, now)]
    created = _epoch(obj.get("metadata", {}).get("creationTimestamp"))
    # Go formats the zero time when the object has none.
    stamp = "0001-01-01T00:00:00Z" if created is None else \
        datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [name, stamp]


def _row_object(obj: Obj, include_object: str | None) -> Obj | None:
    if include_object == "Object":
        return obj
    if include_object in (None, "", "Metadata"):
        return {"kind": "PartialObjectMetadata", "apiVersion": _TABLE_GV, "metadata": obj.get("metadata", {})}
    if include_object == "None":
        return None
    raise ValueError(f"unrecognized includeObject value: {include_object!r}".replace("'", '"'))


def table(kind: str, objects: list[Obj], *, resource_version: str, include_object: str | None, now: float,
          continue_token: str | None = None, remaining: int | None = None,
          with_definitions: bool = True) -> dict[str, Any]:
    """The meta.k8s.io/v1 Table for a list (or one object, or one watch event) of ``kind``.

    ``include_object`` is the request's ``includeObject`` parameter: absent/""/"Metadata" puts a
    PartialObjectMetadata in each row, "Object" the full object (kubectl's ``--sort-by`` and ``-A`` need
    it), "None" nothing; anything else raises ValueError, which the server answers with 400 BadRequest.
    ``with_definitions=False`` leaves the columns out, as the server does after a watch's first event.
    """
    _row_object({}, include_object)  # reject a bad value even when there are no rows
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": row_cells(kind, obj, now)}
        if kind == "Pod" and obj.get("status", {}).get("phase") in _POD_CONDITIONS:
            row["conditions"] = _POD_CONDITIONS[obj["status"]["phase"]]
        row["object"] = _row_object(obj, include_object)
        rows.append(row)
    metadata: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": _TABLE_GV, "metadata": metadata,
            "columnDefinitions": column_definitions(kind) if with_definitions else [], "rows": rows}


def _media_params(media_range: str) -> tuple[str, dict[str, str]]:
    kind, *params = (part.strip() for part in media_range.split(";"))
    pairs = (p.partition("=") for p in params if "=" in p)
    return kind.lower(), {k.strip().lower(): v.strip().strip('"') for k, _, v in pairs}


def wants_table(accept_header: str) -> bool:
    """Whether the Accept header asks for a meta.k8s.io/v1 Table, as ``kubectl get`` does first
    (``application/json;as=Table;v=v1;g=meta.k8s.io,...,application/json``). Only v1 Tables are served:
    a client accepting none (``-o json``, the Python client) gets the plain list."""
    for media_range in accept_header.split(","):
        kind, params = _media_params(media_range)
        if (kind in ("application/json", "*/*", "application/*") and params.get("as") == "Table"
                and params.get("g") == "meta.k8s.io" and params.get("v") == "v1"
                and params.get("q", "1") not in ("0", "0.0", "0.00", "0.000")):
            return True
    return False
