"""How the sandbox ``kubectl`` names resources: kinds and their spellings, ``KIND/NAME`` words, label
selectors, and kubectl's own wording for the errors about them (``Error from server (NotFound): ...``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.errors import TargetError, UnsupportedVerb
from drills.targets.local.labels import matches
from drills.targets.local.store import canonical_kind

Obj = dict[str, Any]

# kind -> (resource as kubectl names it in errors, as it names one object in "x/name patched")
RESOURCES: dict[str, tuple[str, str]] = {
    "Pod": ("pods", "pod"),
    "Deployment": ("deployments.apps", "deployment.apps"),
    "StatefulSet": ("statefulsets.apps", "statefulset.apps"),
    "ReplicaSet": ("replicasets.apps", "replicaset.apps"),
    "Node": ("nodes", "node"),
    "Namespace": ("namespaces", "namespace"),
    "ConfigMap": ("configmaps", "configmap"),
    "Secret": ("secrets", "secret"),
    "Service": ("services", "service"),
    "NetworkPolicy": ("networkpolicies.networking.k8s.io", "networkpolicy.networking.k8s.io"),
    "PodDisruptionBudget": ("poddisruptionbudgets.policy", "poddisruptionbudget.policy"),
    "PersistentVolumeClaim": ("persistentvolumeclaims", "persistentvolumeclaim"),
    "Event": ("events", "event"),
}
POD_WORDS = {"pod", "pods", "po"}
EVENT_WORDS = {"event", "events", "ev"}
VIEW_ONLY = {"Pod", "Event", "PersistentVolumeClaim"}  # not objects in the store: built from status.json
STORE_KINDS = set(RESOURCES) - VIEW_ONLY
WORKLOADS = {"Deployment", "StatefulSet"}


class KubectlError(TargetError):
    """An error kubectl reports: the message is printed as it is, the exit code is 1."""


def not_found(kind: str, name: str) -> KubectlError:
    return KubectlError(f'Error from server (NotFound): {RESOURCES.get(kind, (kind.lower() + "s",))[0]} '
                        f'"{name}" not found')


def unsupported(what: str) -> UnsupportedVerb:
    """``get ingress``, ``rollout undo statefulset``: refused by name (the CLI adds what is supported)."""
    return UnsupportedVerb(f'drillbook sandbox kubectl does not support "{what}"')


def ref(kind: str, name: str) -> str:
    """``deployment.apps/agent-deployment``: how kubectl names an object it changed."""
    return f"{RESOURCES.get(kind, ('', kind.lower()))[1]}/{name}"


def kind_of(word: str) -> str:
    low = word.split(".", 1)[0].lower()
    if low in POD_WORDS:
        return "Pod"
    if low in EVENT_WORDS:
        return "Event"
    return canonical_kind(word)


def parse_resources(words: list[str]) -> list[tuple[str, str | None]]:
    """``pods`` | ``pod a b`` | ``deployment/x`` | ``deploy,sts`` → [(Kind, name or None)]."""
    if not words:
        return []
    if "/" in words[0]:
        out: list[tuple[str, str | None]] = []
        for word in words:
            kind, _, name = word.partition("/")
            out.append((kind_of(kind), name))
        return out
    kinds = [kind_of(k) for k in words[0].split(",") if k]
    if len(words) == 1:
        return [(k, None) for k in kinds]
    return [(k, n) for k in kinds for n in words[1:]]


def one_resource(verb: str, words: list[str], kinds: set[str]) -> tuple[str, str]:
    """The single ``KIND NAME`` / ``KIND/NAME`` a verb such as ``scale`` or ``patch`` works on."""
    pairs = parse_resources(words)
    if len(pairs) != 1 or pairs[0][1] is None:
        raise KubectlError(f"error: {verb} needs exactly one resource as TYPE NAME or TYPE/NAME")
    kind, name = pairs[0]
    if kind not in kinds:
        raise unsupported(f"{verb} {kind.lower()}")
    return kind, str(name)


def labels_match(match_labels: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """A ``matchLabels`` selector (a PDB's, a Service's) against an object's labels."""
    return matches(match_labels, labels)


def selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality-based label selectors as ``-l`` takes them: ``a=b,c!=d,e,!f``."""
    for term in (t.strip() for t in (selector or "").split(",") if t.strip()):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def selected(objs: list[Obj], selector: str | None) -> list[Obj]:
    """The objects whose labels match a ``-l`` selector (all of them without one)."""
    return [o for o in objs if selector_matches(selector, o["metadata"].get("labels", {}))]
