"""``kubectl describe`` text for pods, nodes, Deployments and StatefulSets (and ``rollout history
--revision``'s pod template), laid out as kubectl lays it out: aligned ``Key:  value`` blocks, container
state with the last termination (``OOMKilled``, exit code 137), conditions and events tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drills.targets.local.kubectl_format import node_roles, pod_status_text, selector_text, table
from drills.targets.local.kubectl_resources import Obj
from drills.targets.local.kubectl_time import age
from drills.targets.local.kubectl_views import list_kind, template_spec
from drills.targets.local.workloads import template_hash


def _kv(pairs: list[tuple[str, Any]], indent: str = "", width: int = 0) -> str:
    width = width or max(len(k) for k, _ in pairs) + 2
    return "".join(f"{indent}{(k + ':').ljust(width)}{'' if v is None else v}\n" for k, v in pairs)


def _map_lines(values: dict[str, str] | None, sep: str = "=", indent: int = 0) -> str:
    if not values:
        return "<none>"
    items = [f"{k}{sep}{v}" for k, v in values.items()]
    return ("\n" + " " * indent).join(items)


def _env_line(item: Obj) -> str:
    if "value" in item:
        return f"{item['name']}:  {item['value']}"
    source = item.get("valueFrom", {})
    if "fieldRef" in source:
        return f"{item['name']}:   ({source['fieldRef'].get('apiVersion', 'v1')}:{source['fieldRef']['fieldPath']})"
    for key, what in (("secretKeyRef", "secret"), ("configMapKeyRef", "config map")):
        if key in source:
            ref_ = source[key]
            return (f"{item['name']}:  <set to the key '{ref_['key']}' in {what} '{ref_['name']}'>  "
                    f"Optional: {str(ref_.get('optional', False)).lower()}")
    return f"{item['name']}:  <unknown>"


def _container_text(spec: Obj, cs: Obj | None, mounts: dict[str, str] | None, indent: str) -> str:
    lines = [f"{indent}{spec.get('name', cs.get('name') if cs else '')}:\n"]
    inner = indent + "  "
    pairs: list[tuple[str, Any]] = [("Image", spec.get("image", cs.get("image") if cs else ""))]
    ports = ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    pairs.append(("Port", ports or "<none>"))
    if spec.get("args"):
        pairs.append(("Args", "\n" + "".join(f"{inner}  {a}\n" for a in spec["args"]).rstrip("\n")))
    lines.append(_kv(pairs, inner, 18))
    if cs is not None:
        lines.append(_state_text(cs, inner))
    resources = spec.get("resources", {})
    for section in ("limits", "requests"):
        if resources.get(section):
            lines.append(f"{inner}{section.title()}:\n" + _kv(list(resources[section].items()), inner + "  ",
                                                                 max(map(len, resources[section])) + 3))
    probe = spec.get("readinessProbe")
    if probe:
        how = ("http-get " + f"http://:{probe['httpGet']['port']}{probe['httpGet'].get('path', '/')}"
               if "httpGet" in probe else f"tcp-socket :{probe['tcpSocket']['port']}" if "tcpSocket" in probe
               else "exec " + str(probe.get("exec", {}).get("command")))
        lines.append(f"{inner}Readiness:        {how} period={probe.get('periodSeconds', 10)}s\n")
    env_from = spec.get("envFrom", [])
    if env_from:
        lines.append(f"{inner}Environment Variables from:\n" + "".join(
            f"{inner}  {s.get('configMapRef', s.get('secretRef', {})).get('name')}  "
            f"{'ConfigMap' if 'configMapRef' in s else 'Secret'}  Optional: false\n" for s in env_from))
    env = spec.get("env", [])
    lines.append(f"{inner}Environment:" + ("".join(f"\n{inner}  {_env_line(e)}" for e in env) if env else
                                            "      <none>") + "\n")
    if mounts is not None:
        lines.append(f"{inner}Mounts:" + ("".join(f"\n{inner}  {m} from {h} (rw)" for m, h in mounts.items())
                                           if mounts else "            <none>") + "\n")
    return "".join(lines)


def _state_text(cs: Obj, indent: str) -> str:
    def one(label: str, state: Obj) -> str:
        if not state:
            return f"{indent}{label}:".ljust(len(indent) + 18) + "Waiting\n" if label == "State" else ""
        name, detail = next(iter(state.items()))
        pairs = [("Reason", detail.get("reason"))] if detail.get("reason") else []
        if "exitCode" in detail:
            pairs.append(("Exit Code", detail["exitCode"]))
        pairs += [(k.title(), detail[f"{k}At"]) for k in ("started", "finished") if detail.get(f"{k}At")]
        if detail.get("message"):
            pairs.append(("Message", detail["message"]))
        head = f"{indent}{label}:".ljust(len(indent) + 18) + name.title() + "\n"
        return head + _kv(pairs, indent + "  ", 16)

    return (one("State", cs.get("state", {})) + one("Last State", cs.get("lastState", {}))
            + _kv([("Ready", str(cs.get("ready", False))), ("Restart Count", cs.get("restartCount", 0))], indent, 18))


def _section_table(headers: list[str], rows: list[list[str]]) -> str:
    """A table inside a describe section: two spaces in, two between columns."""
    return "".join(f"  {line}\n" for line in table(headers, rows, padding=2).splitlines())


def _events_text(events: list[Obj]) -> str:
    if not events:
        return "Events:  <none>\n"
    rows = [[e["type"], e["reason"], age(e.get("lastTimestamp")), e.get("source", {}).get("component", ""),
             e["message"]] for e in events]
    return "Events:\n" + _section_table(["Type", "Reason", "Age", "From", "Message"],
                                        [["----", "------", "----", "----", "-------"], *rows])


def describe_pod(pod: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, st, spec = pod["metadata"], pod["status"], pod["spec"]
    raw: Obj = next((p for p in status.get("pods", []) if p["name"] == meta["name"]
                and p["namespace"] == meta["namespace"]), {})
    owner = meta.get("ownerReferences", [{}])[0]
    head = _kv([("Name", meta["name"]), ("Namespace", meta["namespace"]), ("Priority", 0),
                ("Service Account", "default"), ("Node", spec.get("nodeName") or "<none>"),
                ("Start Time", st.get("startTime")), ("Labels", _map_lines(meta.get("labels"), indent=18)),
                ("Annotations", _map_lines(meta.get("annotations"), ": ", 18)),
                ("Status", pod_status_text(pod) if meta.get("deletionTimestamp") else st.get("phase")),
                ("IP", st.get("podIP")), ("Controlled By", f"{owner.get('kind')}/{owner.get('name')}")], width=18)
    statuses = {c["name"]: c for c in st.get("containerStatuses", [])}
    raw_cs = (raw.get("containerStatuses") or [{}])[0]
    containers = spec.get("containers") or [{"name": n} for n in statuses]
    body = "Containers:\n" + "".join(_container_text(c, statuses.get(c.get("name", "")), raw_cs.get("mounts", {}),
                                                        "  ") for c in containers)
    conditions = "Conditions:\n  Type              Status\n" + "".join(
        f"  {c['type']:<18}{c['status']}\n" for c in st.get("conditions", []))
    volumes = "Volumes:\n" + ("".join(f"  {v['name']}:\n    Type:  {next(iter(k for k in v if k != 'name'), '')}\n"
                                      for v in spec.get("volumes", [])) or "  <none>\n")
    events = [e for e in list_kind("Event", objects, status, meta["namespace"])
              if e["involvedObject"]["name"] == meta["name"]]
    return head + body + conditions + volumes + "QoS Class:        Burstable\n" + _events_text(events)


def describe_node(node: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, spec = node["metadata"], node.get("spec", {})
    taints = [f"{t['key']}:{t.get('effect', 'NoSchedule')}" for t in spec.get("taints", [])]
    if spec.get("unschedulable"):
        taints.append("node.kubernetes.io/unschedulable:NoSchedule")
    head = _kv([("Name", meta["name"]), ("Roles", node_roles(node)),
                ("Labels", _map_lines(meta.get("labels"), indent=20)), ("CreationTimestamp",
                                                                       meta.get("creationTimestamp")),
                ("Taints", "\n".ljust(21).join(taints) or "<none>"),
                ("Unschedulable", str(bool(spec.get("unschedulable"))).lower())], width=20)
    conditions = node.get("status", {}).get("conditions", [])
    cond_rows = [[c["type"], c["status"], c.get("reason", "KubeletReady" if c["status"] == "True" else
                                                "KubeletNotReady"), c.get("message", "")] for c in conditions]
    cond_text = "Conditions:\n" + _section_table(["Type", "Status", "Reason", "Message"], cond_rows)
    pods = [p for p in status.get("pods", []) if p["nodeName"] == meta["name"] and p["phase"] != "Terminating"]
    pod_rows = [[p["namespace"], p["name"], _limit(p, objects), age(p.get("creationTimestamp"))] for p in pods]
    pods_text = f"Non-terminated Pods:          ({len(pods)} in total)\n" + _section_table(
        ["Namespace", "Name", "Memory Limits", "Age"], pod_rows)
    return head + cond_text + pods_text + "Events:              <none>\n"


def _limit(pod: Obj, objects: dict[str, Obj]) -> str:
    containers = template_spec(pod, objects).get("containers", [{}])
    return str(containers[0].get("resources", {}).get("limits", {}).get("memory", "0 (0%)")) if containers else ""


def describe_template(template: Obj, indent: str = "  ") -> str:
    meta = template.get("metadata", {})
    out = _kv([("Labels", _map_lines(meta.get("labels"), indent=len(indent) + 14)),
               ("Annotations", _map_lines(meta.get("annotations"), ": ", len(indent) + 14))], indent, 14)
    out += f"{indent}Containers:\n" + "".join(
        _container_text(c, None, None, indent + "  ") for c in template.get("spec", {}).get("containers", []))
    volumes = template.get("spec", {}).get("volumes", [])
    out += f"{indent}Volumes:" + ("".join(f"\n{indent}  {v['name']}" for v in volumes) or "  <none>") + "\n"
    return out


def describe_workload(obj: Obj, objects: dict[str, Obj], status: Obj) -> str:
    meta, spec, st = obj["metadata"], obj["spec"], obj.get("status", {})
    replicas = spec.get("replicas", 1)
    pairs: list[tuple[str, Any]] = [
        ("Name", meta["name"]), ("Namespace", meta["namespace"]), ("CreationTimestamp", meta.get("creationTimestamp")),
        ("Labels", _map_lines(meta.get("labels"), indent=23)),
        ("Annotations", _map_lines(meta.get("annotations"), ": ", 23)),
        ("Selector", selector_text(spec.get("selector", {}).get("matchLabels"))),
        ("Replicas", f"{replicas} desired | {st.get('updatedReplicas', 0)} updated | {st.get('replicas', 0)} total | "
                     f"{st.get('availableReplicas', 0)} available | "
                     f"{max(0, replicas - st.get('availableReplicas', 0))} unavailable")]
    if obj["kind"] == "Deployment":
        strategy = spec.get("strategy", {})
        rolling = strategy.get("rollingUpdate", {})
        pairs += [("StrategyType", strategy.get("type", "RollingUpdate")),
                  ("RollingUpdateStrategy", f"{rolling.get('maxUnavailable', '25%')} max unavailable, "
                                            f"{rolling.get('maxSurge', '25%')} max surge")]
    out = _kv(pairs, width=23) + "Pod Template:\n" + describe_template(spec["template"])
    if obj["kind"] == "Deployment":
        current = f"{meta['name']}-{template_hash(spec['template'])[:10]}"
        sets = [o for o in objects.values() if o["kind"] == "ReplicaSet" and o["metadata"].get("ownerName") ==
                meta["name"] and o["metadata"]["namespace"] == meta["namespace"]]
        old = ", ".join(s["metadata"]["name"] for s in sets if s["metadata"]["name"] != current) or "<none>"
        out += _kv([("OldReplicaSets", old), ("NewReplicaSet", f"{current} ({st.get('updatedReplicas', 0)}/"
                                                               f"{replicas} replicas created)")], width=16)
    return out + "Events:          <none>\n"


DESCRIBERS: dict[str, Callable[[Obj, dict[str, Obj], Obj], str]] = {
    "Pod": describe_pod, "Node": describe_node, "Deployment": describe_workload, "StatefulSet": describe_workload,
}
