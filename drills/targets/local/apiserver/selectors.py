"""Label and field selectors as the API server parses them (``?labelSelector=`` / ``?fieldSelector=``).

No maintained Python library parses Kubernetes selector syntax, so this is the grammar of
k8s.io/apimachinery/pkg/labels (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``)
and of fields (``path=value``, ``path!=value``, comma-joined).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from drills.targets.local.apiserver.errors import ApiError

Predicate = Callable[[Mapping[str, str]], bool]
_SET = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


def _equals(key: str, value: str, negate: bool) -> Predicate:
    return lambda labels: (labels.get(key) == value) != negate


def label_selector(text: str | None) -> Predicate:
    """A predicate over an object's labels; 400 for text that is not a selector."""
    terms: list[Predicate] = []
    for part in _split(text or ""):
        eq = _EQ.match(part)
        if eq:
            key, op, value = eq.groups()
            terms.append(_equals(key, value, negate=op == "!="))
            continue
        st = _SET.match(part)
        if not st:
            raise ApiError(400, f"unable to parse requirement: found '{part.strip()}', expected: in, notin, =, "
                                "==, !=, gt, lt")
        negate, key, op, values = st.groups()
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                terms.append((lambda k, a: lambda labels: labels.get(k) in a)(key, allowed))
            else:
                terms.append((lambda k, a: lambda labels: labels.get(k) not in a)(key, allowed))
        elif negate:
            terms.append((lambda k: lambda labels: k not in labels)(key))
        else:
            terms.append((lambda k: lambda labels: k in labels)(key))
    return lambda labels: all(term(labels) for term in terms)


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string a field selector compares against (``spec.unschedulable`` of a missing field is "false")."""
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        return "false" if path == "spec.unschedulable" else ""
    return str(node)


def field_selector(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    terms: list[tuple[str, bool, str]] = []
    for part in _split(text or ""):
        eq = _EQ.match(part) or re.match(r"^\s*([\w./-]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not eq:
            raise ApiError(400, f'invalid field selector: "{part}"')
        path, op, value = eq.groups()
        terms.append((path, op == "!=", value))
    return lambda obj: all((field_value(obj, path) != value) if negate else (field_value(obj, path) == value)
                           for path, negate, value in terms)
