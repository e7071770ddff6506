"""How the sandbox ``kubectl`` prints objects: kubectl's tables (``NAME READY STATUS RESTARTS AGE`` for
pods, ...; ``-o wide``, ``-A``, ``--show-labels``) and ``-o yaml|json|jsonpath=``, so a runbook's ``| grep``
/ ``| awk`` sees what it would see on a cluster. The objects come from :mod:`kubectl_views`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from drills.targets.local.kubectl_jsonpath import JsonPathError, jsonpath
from drills.targets.local.kubectl_resources import KubectlError, Obj, ref
from drills.targets.local.kubectl_time import age, to_epoch


# -- tables ----------------------------------------------------------------------------------------
def table(headers: list[str], rows: list[list[str]], padding: int = 3) -> str:
    """Left-aligned columns, as kubectl's tabwriter prints them (the last column is not padded)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(widths[i] + padding) for i, c in enumerate(row[:-1])] + [str(row[-1])]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _age(obj: Obj) -> str:
    return age(obj["metadata"].get("creationTimestamp"))


def selector_text(labels: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (labels or {}).items()) or "<none>"


def _pod_row(pod: Obj, wide: bool) -> list[str]:
    statuses = pod["status"].get("containerStatuses", [])
    ready = sum(1 for c in statuses if c.get("ready"))
    row = [pod["metadata"]["name"], f"{ready}/{len(statuses) or 1}", pod_status_text(pod), restarts_text(pod), _age(pod)]
    if wide:
        row += [pod["status"].get("podIP") or "<none>", pod["spec"].get("nodeName") or "<none>", "<none>",
                "<none>"]
    return row


def pod_status_text(pod: Obj) -> str:
    """kubectl's STATUS column: a waiting or terminated reason wins over the phase."""
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    for cs in pod["status"].get("containerStatuses", []):
        state = cs.get("state", {})
        reason = state.get("waiting", {}).get("reason") or state.get("terminated", {}).get("reason")
        if reason:
            return str(reason)
    return str(pod["status"].get("phase", "Pending"))


def restarts_text(pod: Obj) -> str:
    """``3 (45s ago)`` like kubectl 1.2x; the time is the last termination."""
    statuses = pod["status"].get("containerStatuses", [])
    count = sum(int(c.get("restartCount", 0)) for c in statuses)
    finished = [c.get("lastState", {}).get("terminated", {}).get("finishedAt") for c in statuses]
    last = max((t for t in (to_epoch(f) for f in finished) if t), default=None)
    return f"{count} ({age(last)} ago)" if count and last else str(count)


def _workload_row(obj: Obj, wide: bool) -> list[str]:
    st, spec = obj.get("status", {}), obj["spec"]
    meta = obj["metadata"]
    if obj["kind"] == "Deployment":
        row = [meta["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
               str(st.get("updatedReplicas", 0)), str(st.get("availableReplicas", 0))]
    elif obj["kind"] == "ReplicaSet":
        row = [meta["name"], str(spec.get("replicas", 0)), str(st.get("replicas", 0)), str(st.get("readyReplicas", 0))]
    else:
        row = [meta["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"]
    row.append(_age(obj))
    if wide:
        containers = spec.get("template", {}).get("spec", {}).get("containers", [])
        row += [",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)]
        if obj["kind"] != "StatefulSet":
            row.append(selector_text(spec.get("selector", {}).get("matchLabels")))
    return row


def node_status_text(node: Obj) -> str:
    ready = next((c.get("status") for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"),
                 "True")
    text = "Ready" if ready == "True" else "NotReady"
    return text + (",SchedulingDisabled" if node.get("spec", {}).get("unschedulable") else "")


def node_roles(node: Obj) -> str:
    prefix = "node-role.kubernetes.io/"
    return ",".join(k[len(prefix):] for k in node["metadata"].get("labels", {}) if k.startswith(prefix)) or "<none>"


def _node_row(node: Obj, wide: bool) -> list[str]:
    row = [node["metadata"]["name"], node_status_text(node), node_roles(node), _age(node),
           "v1.32.0-sandbox"]
    return row + (["<none>", "<none>", "drillbook sandbox", "local processes"] if wide else [])


def _service_row(svc: Obj, wide: bool) -> list[str]:
    spec = svc.get("spec", {})
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", [])) or "<none>"
    row = [svc["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "None", "<none>", ports,
           _age(svc)]
    return row + ([selector_text(spec.get("selector"))] if wide else [])


def _pdb_row(pdb: Obj, wide: bool) -> list[str]:
    spec = pdb.get("spec", {})
    return [pdb["metadata"]["name"], str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            str(pdb.get("status", {}).get("disruptionsAllowed", 0)), _age(pdb)]


def _pvc_row(pvc: Obj, wide: bool) -> list[str]:
    spec = pvc.get("spec", {})
    modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}
    return [pvc["metadata"]["name"], pvc.get("status", {}).get("phase", "Bound"), spec.get("volumeName", ""),
            spec.get("resources", {}).get("requests", {}).get("storage", ""),
            ",".join(modes.get(m, m) for m in spec.get("accessModes", [])), spec.get("storageClassName", "standard"),
            "<unset>", _age(pvc)]


def _event_row(ev: Obj, wide: bool) -> list[str]:
    inv = ev["involvedObject"]
    return [age(ev.get("lastTimestamp")), ev["type"], ev["reason"], f"{inv['kind'].lower()}/{inv['name']}",
            ev["message"]]


def _simple(*columns: Callable[[Obj], str]) -> Callable[[Obj, bool], list[str]]:
    return lambda o, wide: [o["metadata"]["name"], *(c(o) for c in columns), _age(o)]


# kind -> (headers, wide-only headers, row function)
TABLES: dict[str, tuple[list[str], list[str], Callable[[Obj, bool], list[str]]]] = {
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
            _pod_row),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _workload_row),
    "StatefulSet": (["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"], _workload_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _workload_row),
    "Node": (["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
             ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "CONTAINER-RUNTIME"], _node_row),
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], _service_row),
    "PodDisruptionBudget": (["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"], [],
                            _pdb_row),
    "PersistentVolumeClaim": (["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
                               "VOLUMEATTRIBUTESCLASS", "AGE"], [], _pvc_row),
    "Event": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], _event_row),
    "ConfigMap": (["NAME", "DATA", "AGE"], [], _simple(lambda o: str(len(o.get("data", {}))))),
    "Secret": (["NAME", "TYPE", "DATA", "AGE"], [],
               _simple(lambda o: o.get("type", "Opaque"), lambda o: str(len(o.get("data", {}))))),
    "NetworkPolicy": (["NAME", "POD-SELECTOR", "AGE"], [],
                      _simple(lambda o: selector_text(o.get("spec", {}).get("podSelector", {}).get("matchLabels")))),
    "Namespace": (["NAME", "STATUS", "AGE"], [], _simple(lambda o: "Active")),
}


def render_table(kind: str, objs: list[Obj], *, wide: bool, all_ns: bool, show_labels: bool,
                 prefix_kind: bool) -> str:
    headers, wide_headers, row_fn = TABLES[kind]
    headers = headers + (wide_headers if wide else [])
    rows = []
    for obj in objs:
        row = row_fn(obj, wide)
        if prefix_kind:
            row[0] = ref(kind, row[0])
        if all_ns and kind not in ("Node", "Namespace"):
            row.insert(0, obj["metadata"].get("namespace", ""))
        if show_labels:
            row.append(selector_text(obj["metadata"].get("labels")))
        rows.append(row)
    if all_ns and kind not in ("Node", "Namespace"):
        headers = ["NAMESPACE", *headers]
    return table(headers + (["LABELS"] if show_labels else []), rows)


# -- structured output -----------------------------------------------------------------------------
class _KubeDumper(yaml.SafeDumper):
    """Quote like kubectl (sigs.k8s.io/yaml): ``"30"``, not ``'30'``."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def to_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubeDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4) + "\n"


def as_list(objs: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}}


def render_structured(output: str, data: Obj) -> str:
    """``-o yaml``, ``-o json``, ``-o jsonpath=...`` of one object or a List."""
    if output == "yaml":
        return to_yaml(data)
    if output == "json":
        return to_json(data)
    template = output.split("=", 1)[1] if "=" in output else ""
    try:
        return jsonpath(template, data)
    except JsonPathError as exc:
        raise KubectlError(f'error: error executing jsonpath {json.dumps(template)}: Error executing template: '
                           f'{exc}. Printing more information for debugging the template:\n'
                           f'\ttemplate was:\n\t\t{template}\n') from exc

