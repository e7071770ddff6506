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
from markdown_it.token import Token


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
        # inline parsing off: only the raw text of paragraphs and cells is used, and it is half the time
        _MD = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable("table").disable("inline")
    tokens = _MD.parse(text)
    out: list[Event] = []
    _walk(tokens, 0, len(tokens), out, in_item=False)
    return out


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _close(tokens: list[Token], start: int) -> int:
    """Index of the token closing the container opened at ``start`` (same level, nesting -1)."""
    level, j = tokens[start].level, start + 1
    while j < len(tokens) and not (tokens[j].nesting == -1 and tokens[j].level == level):
        j += 1
    return j


def _walk(tokens: list[Token], i: int, end: int, out: list[Event], in_item: bool) -> None:
    """Walk the flat token stream (markdown-it's own form; cheaper than building its syntax tree)."""
    while i < end:
        tok = tokens[i]
        kind = tok.type
        if kind in ("heading_open", "paragraph_open"):
            text = tokens[i + 1].content if i + 1 < end and tokens[i + 1].type == "inline" else ""
            if kind == "heading_open" and not in_item:
                out.append(Heading(int(tok.tag[1:]), text.strip(), _line(tok)))
            else:
                out.append(Para(text.strip() if kind == "heading_open" else text, _line(tok), in_item))
            i = _close(tokens, i) + 1
        elif kind in ("fence", "code_block"):
            end_line = tok.map[1] if tok.map else _line(tok)
            out.append(Fence(tok.info, tok.content, _line(tok), end_line, tok.markup, kind == "code_block"))
            i += 1
        elif kind == "table_open":
            close = _close(tokens, i)
            out.append(Table(_rows(tokens[i:close]), _line(tok)))
            i = close + 1
        elif kind in ("bullet_list_open", "ordered_list_open"):
            close = _close(tokens, i)
            items = _items(tokens, i + 1, close)
            if in_item:  # a nested list: its items' content belongs to the enclosing item
                for item in items:
                    out.extend(item.events)
            else:
                out.append(ListBlock(items, _line(tok)))
            i = close + 1
        elif kind == "blockquote_open":
            close = _close(tokens, i)
            _walk(tokens, i + 1, close, out, in_item)
            i = close + 1
        else:  # html blocks (a fence in a comment stays in the comment), rules, stray closes
            i += 1


def _items(tokens: list[Token], i: int, end: int) -> list[Item]:
    items: list[Item] = []
    while i < end:
        if tokens[i].type == "list_item_open":
            close = _close(tokens, i)
            info = tokens[i].info
            item = Item(_line(tokens[i]), int(info) if info.isdigit() else None)
            _walk(tokens, i + 1, close, item.events, in_item=True)
            items.append(item)
            i = close
        i += 1
    return items


def _rows(tokens: list[Token]) -> list[tuple[list[str], int]]:
    rows: list[tuple[list[str], int]] = []
    cells: list[str] = []
    line = 0
    for tok in tokens:
        if tok.type == "tr_open":
            cells, line = [], _line(tok)
        elif tok.type == "inline":
            cells.append(tok.content.strip())
        elif tok.type == "tr_close":
            rows.append((cells, line))
    return rows
