"""Property: whatever Markdown a person writes, the parser returns a document or its own located error.

Hypothesis mutates real runbooks (the seed and the house-style fixtures): it nests lines in quotes and
lists, opens and closes fences, wraps text in HTML comments, sprinkles console-markup and shell
characters, changes line ends, and re-encodes the bytes. No other exception may escape, the error must
carry a line, and printing the result must not interpret any of the text as console markup.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from drills import cli
from drills.errors import RunbookError
from drills.runbook import ParseOptions, parse_runbook_file
from tests.conftest import FIXTURES, SEED

SOURCES = [
    SEED.read_text(encoding="utf-8"),
    *(p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "runbooks").glob("*.md"))),
]
SNIPPETS = [
    "```",
    "~~~",
    "```bash",
    "```console",
    "$ ",
    "# ",
    "> ",
    "- ",
    "1. ",
    "    ",
    "<!--",
    "-->",
    "[/red]",
    "[bold]",
    "[a-z]",
    ":fire:",
    "`",
    "**",
    "|",
    "\\",
    "'",
    '"',
    "<POD>",
    "${X}",
    "$(",
    "---",
    "#### Cause 1:",
    "## Runbook 9: X",
    "**Severity:**",
    "Alert: `A`",
    "\t",
    "\x00",
    "\u2028",
    "é",
    "🔥",
    "<<EOF",
    "&&",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    lines = draw(st.sampled_from(SOURCES)).split("\n")
    for _ in range(draw(st.integers(0, 12))):
        lines = lines or [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["insert", "prefix", "suffix", "delete", "nest", "comment"]))
        piece = draw(st.sampled_from(SNIPPETS)) if draw(st.booleans()) else draw(st.text(max_size=8))
        if op == "insert":
            lines.insert(i, piece)
        elif op == "prefix":
            lines[i] = piece + lines[i]
        elif op == "suffix":
            lines[i] = lines[i] + piece
        elif op == "delete" and lines:
            del lines[i : i + draw(st.integers(1, 20))]
        elif op == "nest":
            depth = draw(st.integers(1, 60))
            lines[i : i + 5] = [
                draw(st.sampled_from(["> ", "  ", "- ", "1. "])) * depth + ln for ln in lines[i : i + 5]
            ]
        else:
            lines.insert(min(i + draw(st.integers(1, 10)), len(lines)), "-->")
            lines.insert(i, "<!--")
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=4)) + data[at:]
    return data


QUICK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@QUICK
@given(data=mutated(), indented=st.booleans())
def test_no_exception_escapes_but_a_located_runbook_error(
    tmp_path: Path, data: bytes, indented: bool
) -> None:
    check(tmp_path, data, indented)


@pytest.mark.slow
@settings(QUICK, max_examples=1500)
@given(data=mutated(), indented=st.booleans())
def test_no_exception_escapes_many_examples(tmp_path: Path, data: bytes, indented: bool) -> None:
    check(tmp_path, data, indented)


def check(tmp_path: Path, data: bytes, indented: bool) -> None:
    path = tmp_path / "mutated.md"
    path.write_bytes(data)
    try:
        document = parse_runbook_file(path, ParseOptions(indented_code=indented))
    except RunbookError as exc:
        assert exc.line is not None and exc.line >= 1, str(exc)
        assert exc.file == str(path)
        return
    buffer = io.StringIO()
    saved = cli.out, cli.console
    cli.out = cli.console = Console(file=buffer, width=100, emoji=False)
    try:
        cli._print_document(document)
    finally:
        cli.out, cli.console = saved
    for rb in document.runbooks:
        assert rb.title.replace("\n", " ")[:20] in buffer.getvalue().replace("\n", " ") or not rb.title


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf# Restart\r\n\r\nSeverity: P1\r\n\r\n```bash\r\nkubectl get pods\r\n```\r\n",
        (
            "# T\n\nSeverity: P1\n\n" + "".join("> " * 60 + ln + "\n" for ln in ["```bash", "ls", "```"])
        ).encode(),
        ("# T\n\nSeverity: P1\n\n" + "- " * 40 + "x\n\n```console\n$ ls\necho 'unterminated\n```\n").encode(),
        "# Tést\n\nSeverity: P1\n\n```bash\nkubectl get pods\n```\n".encode("utf-16"),
    ],
)
def test_bom_crlf_deep_nesting_output_quotes_and_utf16_are_read(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "odd.md"
    path.write_bytes(data)
    document = parse_runbook_file(path)
    assert document.runbooks and document.runbooks[0].priority == "P1"


@pytest.mark.parametrize("prefix", ["> ", "- ", "1. ", "  - "])
def test_nesting_deeper_than_read_is_reported_with_its_line(tmp_path: Path, prefix: str) -> None:
    path = tmp_path / "deep.md"
    path.write_text("# T\n\nSeverity: P1\n\n```bash\nkubectl get pods\n```\n\n" + prefix * 500 + "lost\n")
    document = parse_runbook_file(path)
    assert [(n.line, "nested 500 quote/list levels deep" in n.message) for n in document.notices] == [
        (9, True)
    ]
    assert "lost" in path.read_text()
    assert [c.text for c in document.runbooks[0].steps] == ["kubectl get pods"]


def test_non_utf8_bytes_are_an_error_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("# Runbook 1: Café\n\n## Fix ça\n".encode("latin-1"))
    with pytest.raises(RunbookError, match=r"latin1\.md:1: column 17: byte 0xe9 is not UTF-8"):
        parse_runbook_file(path)
