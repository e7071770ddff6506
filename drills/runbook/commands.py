"""Turn a bash fence into logical commands, each classified (see classes) and with its placeholders.

A placeholder is whatever a person must fill in before a step can run, in every spelling runbooks use:
``${X}``, ``$X`` that nothing set, ``<POD_NAME>``, ``<my-namespace>``, ``[NAMESPACE]``, ``YOUR_TOKEN``,
``your-org``. A step with one is not run until a drill spec binds it.
"""

from __future__ import annotations

import re

from drills.errors import RunbookError
from drills.runbook.classes import classify
from drills.runbook.model import Command
from drills.runbook.shell import ANGLE_PLACEHOLDER, simple_commands

_WELL_KNOWN_ENV = frozenset(("HOME", "PATH", "USER", "PWD", "OLDPWD", "SHELL", "HOSTNAME", "LANG", "TERM",
                             "TMPDIR", "KUBECONFIG", "EDITOR", "UID", "EUID", "RANDOM", "LOGNAME", "SECONDS",
                             "PPID", "IFS"))
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_BRACED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONST_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
_DUMMY = [re.compile(p)
          for p in (r"x{3,}", r"^(?i:your)[-_][A-Za-z0-9_-]+$", r"^(working|good|known-good)-tag$")]
_SPECIAL = re.compile(r"['\"\\#]")
_MAYBE_CONST = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]")  # cheap pre-checks before the per-word ones
_MAYBE_DUMMY = re.compile(r"x{3}|(?i:your)[-_]|-tag")
_BRACKET = re.compile(r"\[([A-Z][A-Z0-9]+(?:[_-][A-Z0-9]{2,})*)\]")
_MUSTACHE = re.compile(r"\{\{\s*\.?[A-Za-z_][\w.]*\s*\}\}")
_ASSIGNED = re.compile(r"(?:^|[;&|(]\s*|\b(?:export|local|declare|readonly)\s+)([A-Za-z_]\w*)=")
_LOOP_VAR = re.compile(r"\b(?:for|read(?:\s+-\w+)*)\s+([A-Za-z_]\w*)")
_HEREDOC = re.compile(r"(?<!<)<<(-?)(?!<)\s*(['\"]?)([A-Za-z_]\w*)\2")


def _scan(line: str, quote: str | None) -> tuple[str, str | None]:
    """``line`` without its comment (``#`` at a word start, outside quotes) and the quote open at its end."""
    if quote is None and not _SPECIAL.search(line):
        return line, None  # most lines: nothing to scan for
    i = 0
    while i < len(line):
        ch = line[i]
        if quote == "'":
            quote = None if ch == "'" else quote
        elif ch == "\\":
            i += 1
        elif quote == '"':
            quote = None if ch == '"' else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;|&()<>"):
            return line[:i].rstrip(), quote
        i += 1
    return line, quote


def split_commands(block_text: str, first_line: int, file: str | None) -> list[Command]:
    """Split a bash block into logical commands; ``first_line`` is the source line of its first line.

    Comment-only and blank lines are dropped; ``\\``-continuations and lines ending in ``|``, ``&&``
    or ``||`` are joined onto one line; heredocs and multi-line quotes keep their newlines.
    """
    out: list[Command] = []
    assigned: set[str] = set()
    buf, start, quote, comment, cont = "", 0, None, None, ""
    heredoc: tuple[bool, str] | None = None
    lines = block_text.splitlines()
    for lineno, raw in enumerate(lines, start=first_line):
        if heredoc:
            buf += "\n" + raw
            if (raw.lstrip("\t") if heredoc[0] else raw).rstrip() == heredoc[1]:
                _emit(out, buf, start, lineno, comment, assigned)
                buf, cont, heredoc = "", "", None
            continue
        code, after = _scan(raw, quote)
        if quote is None and not code.strip():
            if not buf and raw.strip().startswith("#"):
                comment = raw.strip().lstrip("#").strip() or comment
            elif buf and cont == "\\":  # a blank line ends a backslash continuation, as in bash
                _emit(out, buf, start, lineno - 1, comment, assigned)
                buf, cont = "", ""
            continue
        if not buf:
            start, buf = lineno, code.strip()
        else:
            buf += "\n" + code if quote is not None else " " + code.strip()
        quote = after
        if quote is not None:
            continue
        buf = buf.rstrip()
        if (len(buf) - len(buf.rstrip("\\"))) % 2 == 1:
            buf, cont = buf[:-1].rstrip(), "\\"
        elif buf.endswith(("|", "&&")):
            cont = "op"
        elif m := _HEREDOC.search(buf):
            heredoc = (m.group(1) == "-", m.group(3))
        else:
            _emit(out, buf, start, lineno, comment, assigned)
            buf, cont = "", ""
    if quote is not None or heredoc:
        what = f"{quote} quote" if quote else "heredoc"
        raise RunbookError(f"unterminated {what} in command {buf[:60]!r}", file=file, line=start)
    if buf:
        _emit(out, buf, start, first_line + len(lines) - 1, comment, assigned)
    return out


def _emit(out: list[Command], text: str, line: int, end: int, comment: str | None, bound: set[str]) -> None:
    cls, reason = classify(text)
    out.append(Command(text=text, line=line, end_line=end, cls=cls, reason=reason, comment=comment,
                       placeholders=find_placeholders(text, bound)))
    bound.update(_assigned_names(text))


def _assigned_names(text: str) -> set[str]:
    return set(_ASSIGNED.findall(text)) | set(_LOOP_VAR.findall(text))


def find_placeholders(command_text: str, assigned: set[str]) -> list[str]:
    """Names a person must fill in before this command can run, without duplicates.

    First unbound ``$VARS`` (not in ``assigned`` from earlier commands, not set by this command, not
    well-known env), then ``<NAME>``, ``[NAME]`` and ``{{ name }}`` as written, then CONSTANT_LIKE
    words or ``=``-values (``NEW_KEY``) and dummy literals
    (``your-org``, ``working-tag``, ``sg-xxxxx``) in word order.
    """
    bound = assigned | _assigned_names(command_text) | _WELL_KNOWN_ENV
    # Outside single quotes every $VAR; inside them only ${VAR}: the shell leaves it as written, so it is the
    # runbook's blank to fill in (a patch's JSON), while awk's '{print $NF}' or jq's '$x' are not.
    parts = re.split(r"('[^']*')", command_text)
    found = [v for part in parts for v in (_BRACED_VAR if part.startswith("'") else _VAR).findall(part)
             if v not in bound]
    spelled = [(m.start(), m.group(0)) for pattern in (ANGLE_PLACEHOLDER, _BRACKET, _MUSTACHE)
               for m in pattern.finditer(command_text)]
    found += [text for _, text in sorted(spelled)]
    constants, dummies = _MAYBE_CONST.search(command_text), _MAYBE_DUMMY.search(command_text)
    for word in (w for words in simple_commands(command_text) for w in words if "PLACEHOLDER_" not in w):
        for value in word.split("=")[1:] if constants and "=" in word else [word] if constants else []:
            if _CONST_NAME.match(value) and value not in bound:
                found.append(value)
        for token in re.split(r"[/:=@,\s]+", word) if dummies else []:
            if "$" not in token and any(p.search(token) for p in _DUMMY):
                found.append(token)
    return list(dict.fromkeys(found))
