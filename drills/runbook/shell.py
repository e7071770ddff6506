"""The words of every simple command in one logical shell command, and console blocks read as commands.

Most runbook commands are plain pipelines and lists, which a shlex-compatible regex splits in
microseconds; bashlex (a real bash grammar, but ~1 ms a command and ~0.1 s to import) is kept for the
commands whose meaning needs it: loops, conditionals, groups, backticks and nested substitutions. A
``<POD_NAME>`` placeholder is replaced by a plain word first, so it is never read as a redirect.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

Words = tuple[str, ...]
ANGLE_PLACEHOLDER = re.compile(r"(?<![<\w])<([A-Za-z][\w.\-]*)>(?![>\w])")
_COMPOUND = re.compile(
    r"`|\$\([^()]*\$\(|[<>]\(|\$\(\(|\(\(|(?:^|[;&|(]|\s)(?:for|while|until|if|case|select|"
    r"function)\s|(?:^|[;&|]\s*)[{(]\s"
)
_SUBST = re.compile(r"\$\(([^()]*)\)")
_HEREDOC = re.compile(r"(?<!<)<<-?(?!<)")
_TOKEN = re.compile(r"""(?:'[^']*'|"(?:\\.|[^"\\])*"|\\.|[^\s'"\\|&;()<>])+|[|&;()<>]+""")
_UNQUOTE = re.compile(r"""'([^']*)'|"((?:\\.|[^"\\])*)"|\\(.)""")
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*(?:\[[^\]]*\])?\+?=")
_HARMLESS_WRITES = ("/dev/null", "/dev/stdout", "/dev/stderr")
_CONSOLE_LANGS = {"console", "shell-session", "shellsession", "terminal", "session", "sh-session"}


@lru_cache(maxsize=8192)
def simple_commands(text: str) -> tuple[Words, ...]:
    """Words of every simple command of ``text``, including those inside ``$(...)``.

    A command that writes a file through a redirect gets a leading ``">"`` word: a file write is a
    mutation whatever the tool. Assignment-only commands yield nothing.
    """
    text = ANGLE_PLACEHOLDER.sub(r"PLACEHOLDER_\1", text)
    if _HEREDOC.search(text.split("\n", 1)[0]):
        text = text.split("\n", 1)[0]  # the heredoc body is data, not commands
    if _COMPOUND.search(text):
        try:
            return tuple(_bashlex_commands(text))
        except Exception:  # noqa: BLE001, S110  # bashlex raises unrelated types; shlex below still judges it
            pass
    return tuple(_shlex_commands(text))


def _bashlex_commands(text: str) -> Iterator[Words]:
    import bashlex

    stack = list(bashlex.parse(text))
    while stack:
        node = stack.pop(0)
        if node.kind == "command":
            words = [p.word for p in node.parts if p.kind == "word"]
            writes = [
                p.output.word
                for p in node.parts
                if p.kind == "redirect" and p.type in (">", ">>", ">|") and hasattr(p.output, "word")
            ]
            if any(w not in _HARMLESS_WRITES for w in writes):
                words = [">", *words]
            if words:
                yield tuple(words)
        if node.kind == "commandsubstitution":
            stack.append(node.command)
        stack.extend((getattr(node, "parts", None) or []) + (getattr(node, "list", None) or []))


def _tokens(text: str) -> list[str]:
    """Words and operator runs as ``shlex.shlex(posix=True, punctuation_chars=True)`` with whitespace_split
    yields them, quotes removed; written as one regex because shlex's per-character loop took most of the
    parse time of a large runbook file. An unbalanced quote is dropped rather than raising."""
    out = []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        out.append(_UNQUOTE.sub(_unquote, word) if "'" in word or '"' in word or "\\" in word else word)
    return out


def _unquote(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return m.group(1)
    if m.group(2) is not None:
        return re.sub(r'\\([\\"$`])', r"\1", m.group(2))
    return m.group(3)


def _shlex_commands(text: str) -> Iterator[Words]:
    """Substitutions are judged on their own; operators end a simple command; redirects are read."""
    for inner in _SUBST.findall(text):
        yield from _shlex_commands(inner)
    words: list[str] = []
    writes = False
    tokens = iter(_tokens(_SUBST.sub("SUBST", text)))
    for tok in tokens:
        if tok and set(tok) <= set("|&;()!"):
            if words or writes:
                yield tuple([">", *words] if writes else words)
            words, writes = [], False
        elif tok and set(tok) <= set("<>&|0123456789") and ("<" in tok or ">" in tok):
            if words and words[-1].isdigit():
                words.pop()  # the fd of "2>" is not an argument
            target = next(tokens, "")
            if ">" in tok and not tok.endswith("&") and target not in _HARMLESS_WRITES:
                writes = True
        elif tok == "[[":
            words.append("test")
        elif tok != "]]" and not (not words and _ASSIGNMENT.match(tok)):
            words.append(tok)
    if words or writes:
        yield tuple([">", *words] if writes else words)


def console_text(text: str, lang: str) -> str | None:
    """A console transcript as a bash block: prompts stripped, output lines blanked (line numbers kept).

    None when the block is not a transcript (no ``$ `` prompt; and a ``console`` block without any prompt
    is all output). In a ``console`` block without ``$`` prompts, ``# `` is a root prompt; elsewhere a
    comment. Lines continuing a command (after ``\\``) stay part of it.
    """
    lines = text.split("\n")
    dollar = any(re.match(r"^\s*\$\s", ln) or ln.strip() == "$" for ln in lines)
    console = lang in _CONSOLE_LANGS
    if not dollar and not console:
        return None
    root = console and not dollar
    out: list[str] = []
    continuing = False
    for line in lines:
        stripped = line.lstrip()
        if continuing:
            out.append(re.sub(r"^\s*> ", "", line))  # the shell's continuation prompt
        elif stripped.startswith("$ ") or stripped == "$" or root and stripped.startswith("# "):
            out.append(stripped[2:])
        elif not console and stripped.startswith("#"):
            out.append(line)  # a comment of a bash block written with prompts
        else:
            out.append("")  # output
            continuing = False
            continue
        continuing = out[-1].rstrip().endswith("\\")
    return "\n".join(out)

