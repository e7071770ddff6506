"""Markdown -> the few block events a runbook is made of, each with its 1-based source line.

markdown-it-py (CommonMark + tables) does the reading, so fences inside list items, blockquotes and HTML
comments behave as on GitHub: a fence in a comment is part of the comment, not a step. Its syntax tree
is reduced here to headings, paragraphs, fences (indented code blocks flagged), tables and top-level
lists, which is all the structure needs; lists stay grouped so their items can be causes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int


@dataclass(frozen=True)
class Para:
    """A paragraph's raw Markdown (emphasis and code spans kept); ``in_item`` when inside a list item."""

    text: str
    line: int
    in_item: bool = False


@dataclass(frozen=True)
class Fence:
    info: str
    content: str
    line: int
    end_line: int
    markup: str
    indented: bool = False

    @property
    def lang(self) -> str:
        return self.info.split()[0].lower().strip("{}.") if self.info.strip() else ""


@dataclass(frozen=True)
class Table:
    rows: list[tuple[list[str], int]]  # (cells as raw Markdown, line); the first row is the header
    line: int


@dataclass
class Item:
    line: int
    number: int | None
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class ListBlock:
    items: list[Item]
    line: int


Event = Heading | Para | Fence | Table | ListBlock

MAX_NESTING = 100  # markdown-it recurses per level and stops reading the whole file past its limit
_CONTAINER = re.compile(r"(?:[ \t]*(?:(>)|[-*+]|\d{1,9}[.)])(?=[ \t]|$)[ \t]?)")
_MD: MarkdownIt | None = None


def flatten_deep(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Lines nested deeper than markdown-it reads, with their quote/list prefix removed (so the rest of
    the file is still read), and (line, depth) of the first line of each such run, to report."""
    found: list[tuple[int, int]] = []
    lines = text.split("\n")
    previous = False
    for number, line in enumerate(lines, start=1):
        weight = depth = pos = 0
        if line[:1] in ">-*+ \t0123456789":
            while (m := _CONTAINER.match(line, pos)) and m.end() > pos:
                weight, depth, pos = weight + (1 if m.group(1) else 2), depth + 1, m.end()
        deep = weight > MAX_NESTING - 10
        if deep:
            lines[number - 1] = line[pos:]
            if not previous:
                found.append((number, depth))
        previous = deep
    return ("\n".join(lines), found) if found else (text, found)


def parse_events(text: str) -> list[Event]:
    """Top-level events of a Markdown text, in document order."""
    global _MD
    if _MD is None:  # building the parser costs more than parsing a small runbook
        _MD = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable("table")
    root = SyntaxTreeNode(_MD.parse(text))
    out: list[Event] = []
    _walk(root.children, out, in_item=False)
    return out


def _line(node: SyntaxTreeNode) -> int:
    return node.map[0] + 1 if node.map else 0


def _inline(node: SyntaxTreeNode) -> str:
    return "".join(child.content for child in node.children if child.type == "inline")


def _walk(nodes: list[SyntaxTreeNode], out: list[Event], in_item: bool) -> None:
    for node in nodes:
        kind = node.type
        if kind == "heading":
            if in_item:
                out.append(Para(_inline(node).strip(), _line(node), in_item))
            else:
                out.append(Heading(int(node.tag[1:]), _inline(node).strip(), _line(node)))
        elif kind == "paragraph":
            out.append(Para(_inline(node), _line(node), in_item))
        elif kind in ("fence", "code_block"):
            end = node.map[1] if node.map else _line(node)
            out.append(Fence(node.info, node.content, _line(node), end, node.markup, kind == "code_block"))
        elif kind == "table":
            out.append(Table(_rows(node), _line(node)))
        elif kind in ("bullet_list", "ordered_list"):
            items = [_item(child) for child in node.children if child.type == "list_item"]
            if in_item:  # a nested list: its items' content belongs to the enclosing item
                for item in items:
                    out.extend(item.events)
            else:
                out.append(ListBlock(items, _line(node)))
        elif kind == "blockquote":
            _walk(node.children, out, in_item)


def _item(node: SyntaxTreeNode) -> Item:
    number = int(node.info) if node.info.isdigit() else None
    item = Item(_line(node), number)
    _walk(node.children, item.events, in_item=True)
    return item


def _rows(table: SyntaxTreeNode) -> list[tuple[list[str], int]]:
    rows: list[tuple[list[str], int]] = []
    for section in table.children:
        for tr in section.children:
            rows.append(([_inline(cell).strip() for cell in tr.children], _line(tr)))
    return rows
