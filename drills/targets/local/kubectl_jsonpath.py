"""kubectl's JSONPath templates, the subset runbooks use: ``-o jsonpath=...`` and ``--sort-by``.

``{.items[0].metadata.name}``, ``{range .items[*]}..{end}``, ``{"\\n"}``, filters ``[?(@.type=="Ready")]``,
``[*]``, slices, ``..name`` (recursive descent) and escaped dots (``kubectl\\.kubernetes\\.io/x``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


class JsonPathError(Exception):
    pass


def jsonpath(template: str, data: Any) -> str:
    """Evaluate a kubectl JSONPath template against ``data`` (see the module's docstring for the forms)."""
    nodes, rest = _parse_template(_tokens(template), 0)
    if rest is not None:
        raise JsonPathError("unexpected {end}")
    return _render(nodes, data, data)


def _tokens(template: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in re.finditer(r"\{((?:[^{}\"']|\"(?:\\.|[^\"\\])*\"|'[^']*')*)\}", template):
        if m.start() > pos:
            out.append(("text", template[pos:m.start()]))
        out.append(("expr", m.group(1).strip()))
        pos = m.end()
    if pos < len(template):
        out.append(("text", template[pos:]))
    return out


def _parse_template(tokens: list[tuple[str, str]], i: int) -> tuple[list[Any], int | None]:
    nodes: list[Any] = []
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "expr" and value == "end":
            return nodes, i
        if kind == "expr" and value.startswith("range "):
            body, end = _parse_template(tokens, i + 1)
            if end is None:
                raise JsonPathError("range without {end}")
            nodes.append(("range", value[6:].strip(), body))
            i = end + 1
            continue
        nodes.append((kind, value))
        i += 1
    return nodes, None


def _render(nodes: list[Any], root: Any, current: Any) -> str:
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "range":
            for item in _eval(node[1], root, current):
                out.append(_render(node[2], root, item))
        else:
            expr = node[1]
            if expr.startswith(('"', "'")):
                out.append(json.loads(expr) if expr.startswith('"') else expr[1:-1])
            else:
                out.append(" ".join(_scalar(v) for v in _eval(expr, root, current)))
    return "".join(out)


def _scalar(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


_SEGMENT = re.compile(r"\.\.((?:\\.|[^.\[\\])+)|\.((?:\\.|[^.\[\\])+)|\[([^\]]*)\]|\.")


def _eval(expr: str, root: Any, current: Any) -> list[Any]:
    if expr.startswith("$"):
        values, expr = [root], expr[1:]
    elif expr.startswith("@"):
        values, expr = [current], expr[1:]
    else:
        values = [current]
    pos = 0
    while pos < len(expr):
        m = _SEGMENT.match(expr, pos)
        if m is None:
            raise JsonPathError(f"unrecognized character in action: {expr[pos:]!r}")
        pos = m.end()
        if m.group(1) is not None:
            values = [v for x in values for v in _descend(x, m.group(1).replace("\\.", "."))]
        elif m.group(2) is not None:
            values = _field(values, m.group(2).replace("\\.", "."))
        elif m.group(3) is not None:
            values = [v for x in values for v in _subscript(x, m.group(3).strip(), root)]
    return values


def _field(values: list[Any], name: str) -> list[Any]:
    if name == "*":
        return [v for x in values for v in (x.values() if isinstance(x, dict) else x if isinstance(x, list) else [])]
    return [x[name] for x in values if isinstance(x, dict) and name in x]


def _descend(value: Any, name: str) -> list[Any]:
    found = []
    if isinstance(value, dict):
        if name in value:
            found.append(value[name])
        children = list(value.values())
    else:
        children = value if isinstance(value, list) else []
    for child in children:
        found += _descend(child, name)
    return found


def _subscript(value: Any, sub: str, root: Any) -> list[Any]:
    if sub.startswith(("'", '"')):
        return _field([value], sub[1:-1])
    if not isinstance(value, list):
        return []
    if sub == "*":
        return list(value)
    if sub.startswith("?(") and sub.endswith(")"):
        return [item for item in value if _filter(sub[2:-1].strip(), item, root)]
    if ":" in sub:
        parts = [int(p) if p.strip() else None for p in sub.split(":")]
        return value[slice(*parts)]
    index = int(sub)
    if not -len(value) <= index < len(value):
        raise JsonPathError(f"array index out of bounds: index {index}, length {len(value)}")
    return [value[index]]


def _filter(cond: str, item: Any, root: Any) -> bool:
    m = re.fullmatch(r"(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+)", cond)
    if m is None:
        return bool(_eval(cond, root, item))
    left = _eval(m.group(1), root, item)
    literal = m.group(3).strip()
    right: Any = literal[1:-1] if literal[:1] in "'\"" else json.loads(literal) if literal else None
    if not left:
        return False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}
    try:
        return ops[m.group(2)](left[0], right)
    except TypeError:
        return False


def sort_key(expr: str) -> Callable[[Obj], tuple[int, Any]]:
    """``--sort-by=.lastTimestamp`` / ``{.metadata.name}``: objects without the field sort first."""
    path = expr.strip("{}")

    def key(obj: Obj) -> tuple[int, Any]:
        values = _eval(path if path.startswith((".", "$", "@")) else "." + path, obj, obj)
        if not values or values[0] is None:
            return (0, "")
        value = values[0]
        return (1, value) if isinstance(value, (int, float)) else (2, _scalar(value))

    return key

