"""Turn a bash fence into logical commands, classify how risky each is, and find its placeholders.

A drill may only run a runbook step unattended if we know it is read-only or a mutation confined to
the sandbox; anything that leaves the sandbox (cloud CLIs, public hosts) or needs a human (editors,
ssh) must be recognised. Unknown commands are classed as mutating: failing safe beats guessing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from itertools import dropwhile

import bashlex

from drills.errors import RunbookError
from drills.runbook.model import Command, CommandClass

Verdict = tuple[CommandClass, str]
RO, MUT, MAN, EXT = CommandClass.READ_ONLY, CommandClass.MUTATING, CommandClass.MANUAL, CommandClass.EXTERNAL
_RANK = {RO: 0, MUT: 1, MAN: 2, EXT: 3}
_SAYS = {RO: "is read-only", MUT: "mutates", MAN: "needs a person (interactive, or host access on a node)",
         EXT: "talks to a system outside the sandbox"}


def _table(**by_class: str) -> dict[str, CommandClass]:
    """``_table(ro="get rollout_status")`` -> {"get": RO, "rollout status": RO}; "_" joins a two-word key."""
    classes = {"ro": RO, "mut": MUT, "man": MAN, "ext": EXT}
    return {w.replace("_", " "): classes[k] for k, words in by_class.items() for w in words.split()}


_KUBECTL = _table(
    ro="get describe logs top explain api-resources api-versions version cluster-info events diff wait "
    "rollout_history rollout_status auth_can-i",
    mut="patch set scale apply create replace delete label annotate cordon uncordon drain taint autoscale "
    "expose run cp rollout_restart rollout_undo rollout_pause rollout_resume",
    man="edit port-forward attach proxy debug",
)
_REDIS = _table(ro="PING INFO GET MGET KEYS SCAN TTL PTTL DBSIZE EXISTS TYPE STRLEN HGET HGETALL HKEYS HLEN "
                "LRANGE LLEN SMEMBERS SCARD ZRANGE ZCARD XLEN XRANGE ROLE LASTSAVE TIME ECHO CONFIG_GET "
                "SLOWLOG_GET SLOWLOG_LEN MEMORY_USAGE MEMORY_STATS MEMORY_DOCTOR CLIENT_LIST CLIENT_INFO "
                "CLUSTER_INFO CLUSTER_NODES --scan --bigkeys --memkeys --stat --latency")
_REDIS_PAIRS = {"CONFIG", "SLOWLOG", "MEMORY", "CLIENT", "CLUSTER", "ACL", "SCRIPT"}
_TOOLS = _table(
    ro="grep egrep fgrep sort uniq head tail wc awk sed cut jq yq echo printf true false sleep ls df du cat "
    "env ps date whoami hostname id uptime free tr column test [ nslookup dig git_log git_status git_diff "
    "git_show git_blame git_rev-parse docker_ps docker_images docker_inspect docker_logs promtool_query "
    "promtool_check helm_list helm_status helm_get helm_history",
    mut="rm mv cp mkdir rmdir touch chmod chown ln kill pkill killall tee dd truncate shred",
    man="ssh scp journalctl systemctl sudo vim vi nano emacs less more top htop watch",
    ext="aws gcloud gsutil az eksctl git_push git_pull git_fetch git_clone docker_pull docker_push "
    "docker_login helm_repo",
)
_VALUE_FLAGS = {  # flags that consume the next word, so it is not mistaken for a verb or a host
    "kubectl": set("-n --namespace --context --cluster --user --kubeconfig -s --server --token --as".split()),
    "redis-cli": set("-h -p -a -n -u -s --user --pass".split()),
    "curl": set("-w -o -H -d -X -u -A -e -m -T -F -b -c -x -K --data --data-raw --data-binary --header "
                "--request --user --max-time --connect-timeout --output --write-out --cacert --cert --key "
                "--retry".split()),
    "nc": {"-p", "-w", "-s"},
}
_WRAPPERS = set("env timeout nohup time command sh bash".split())
_NET_TOOLS = set("curl wget nc ncat netcat telnet".split())
_WELL_KNOWN_ENV = set("HOME PATH USER PWD OLDPWD SHELL HOSTNAME LANG TERM TMPDIR KUBECONFIG EDITOR UID EUID "
                      "RANDOM LOGNAME SECONDS PPID IFS".split())
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_CONST_NAME = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")
_DUMMY = [re.compile(p) for p in (r"x{3,}", r"^your[-_][a-z0-9_-]+$", r"^(working|good|known-good)-tag$")]
_ASSIGNED = re.compile(r"(?:^|[;&|(]\s*|\b(?:export|local|declare|readonly)\s+)([A-Za-z_]\w*)=")
_LOOP_VAR = re.compile(r"\b(?:for|read(?:\s+-\w+)*)\s+([A-Za-z_]\w*)")
_HOST = re.compile(r"^(?:\w+://)?(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)")  # scheme://user@HOST:port/path
_HEREDOC = re.compile(r"(?<!<)<<(-?)(?!<)\s*(['\"]?)([A-Za-z_]\w*)\2")


def _scan(line: str, quote: str | None) -> tuple[str, str | None]:
    """``line`` without its comment (``#`` at a word start, outside quotes) and the quote open at its end."""
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


def _simple_commands(text: str) -> Iterator[list[str]]:
    """Yield the words of every simple command, including those inside ``$(...)``.

    bashlex understands pipelines, lists and substitutions; when it rejects a command (no ``[[``,
    arithmetic, ...) we fall back to shlex and split on operators ourselves."""
    try:
        stack = list(bashlex.parse(text))
    except Exception:  # bashlex raises unrelated types (ParsingError, NotImplementedError, ...)
        yield from _shlex_commands(text)
        return
    while stack:
        node = stack.pop(0)
        if node.kind == "command":
            words = [p.word for p in node.parts if p.kind == "word"]
            writes = [p.output.word for p in node.parts
                      if p.kind == "redirect" and p.type in (">", ">>", ">|") and hasattr(p.output, "word")]
            if any(w not in ("/dev/null", "/dev/stdout", "/dev/stderr") for w in writes):
                words = [">", *words]  # a file write is a mutation whatever the tool
            if words:
                yield words
        if node.kind == "commandsubstitution":
            stack.append(node.command)
        stack.extend((getattr(node, "parts", None) or []) + (getattr(node, "list", None) or []))


def _shlex_commands(text: str) -> Iterator[list[str]]:
    """shlex fallback: substitutions are judged on their own, operators end a simple command."""
    for inner in re.findall(r"\$\(([^()]*)\)", text):
        yield from _shlex_commands(inner)
    lex = shlex.shlex(re.sub(r"\$\([^()]*\)", "SUBST", text), posix=True, punctuation_chars=True)
    lex.whitespace_split, lex.commenters = True, ""
    words: list[str] = []
    for tok in lex:
        if tok and set(tok) <= set("|&;()"):
            yield from [words] if words else []
            words = []
        elif tok != "]]":
            words.append("test" if tok == "[[" else tok)
    yield from [words] if words else []


def classify(command_text: str) -> Verdict:
    """Class of a logical command: the most severe of its simple commands (external > manual > ...)."""
    verdicts = [_classify_words(words) for words in _simple_commands(command_text)]
    return max(verdicts, key=lambda v: _RANK[v[0]], default=(RO, "only assignments or no command"))


def _positionals(args: list[str], value_flags: set[str]) -> list[str]:
    """Arguments that are neither flags nor the value of a flag in ``value_flags``."""
    prev = ["", *args[:-1]]
    return [a for a, p in zip(args, prev, strict=False) if (a == "-" or not a.startswith("-")) and p not in value_flags]


def _classify_words(words: list[str]) -> Verdict:
    tool, args = words[0].rsplit("/", 1)[-1], words[1:]
    pos = _positionals(args, set())
    if tool == ">":
        return MUT, "redirects output into a file"
    if tool in _WRAPPERS and (rest := _unwrap(tool, args)):  # env X=1 cmd, sh -c 'cmd': judge the wrapped one
        return rest if isinstance(rest, tuple) else _classify_words(rest)
    if tool == "kubectl":
        return _kubectl(args)
    if tool == "redis-cli":
        pos = [p.upper() for p in _positionals(args, _VALUE_FLAGS[tool])] or [a for a in args if a in _REDIS]
        if not pos:
            return MAN, "redis-cli without a command is interactive"
        key = " ".join(pos[:2]) if pos[0] in _REDIS_PAIRS else pos[0]
        return (RO, f"redis-cli {key} is read-only") if key in _REDIS else (MUT, f"redis-cli {key} writes")
    if tool in _NET_TOOLS:
        return _network(tool, args)
    if tool == "sed" and any(a.startswith(("-i", "--in-place")) for a in args):
        return MUT, "sed -i edits files in place"
    for key in (f"{tool} {pos[0]}" if pos else "", tool):
        if key in _TOOLS:
            return _TOOLS[key], f"{key} {_SAYS[_TOOLS[key]]}"
    return MUT, f"unknown command: {tool} -> mutating (fail safe)"


def _unwrap(tool: str, args: list[str]) -> list[str] | Verdict | None:
    if tool in ("sh", "bash"):
        return classify(args[args.index("-c") + 1]) if "-c" in args[:-1] else None
    rest = list(dropwhile(lambda a: a.startswith("-") or (tool == "env" and "=" in a), args))
    return rest[1 if tool == "timeout" else 0 :] or None


def _kubectl(args: list[str]) -> Verdict:
    pos = _positionals(args, _VALUE_FLAGS["kubectl"])
    verb = pos[0] if pos else ""
    if verb == "exec":
        inner = args[args.index("--") + 1 :] if "--" in args else []
        if not inner:
            return MAN, "kubectl exec without a command is an interactive shell"
        cls, reason = _classify_words(inner)
        return cls, f"kubectl exec: {reason}"
    if any(a.startswith("--dry-run=") and a != "--dry-run=none" for a in args):
        return RO, f"kubectl {verb} --dry-run changes nothing"
    if verb == "logs" and any(a in ("-f", "--follow", "--follow=true") for a in args):
        return RO, "kubectl logs is read-only; follows logs; runs until the step timeout"
    for key in (" ".join(pos[:2]), verb):
        if key in _KUBECTL:
            return _KUBECTL[key], f"kubectl {key} {_SAYS[_KUBECTL[key]]}"
    return MUT, f"unknown command: kubectl {verb} -> mutating (fail safe)"


def _internal(host: str) -> bool:
    """Loopback, private addresses and cluster names (no dot, ``*.svc``, ``*.cluster.local``)."""
    host = host.strip("[]").lower()
    private = re.match(r"^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$)", host) is not None
    return private or "." not in host or host.endswith((".svc", ".cluster.local", ".localhost"))


def _network(tool: str, args: list[str]) -> Verdict:
    pos = _positionals(args, _VALUE_FLAGS["curl" if tool in ("curl", "wget") else "nc"])
    if not pos:
        return EXT, f"{tool} target unknown -> external (fail safe)"
    host = _HOST.match(pos[0]).group(1)  # type: ignore[union-attr]  # the pattern matches any string
    if "$" in host or not _internal(host):
        return EXT, f"{tool} reaches {host}, outside the cluster"
    sends = any(a.split("=")[0] in ("-d", "--data", "-F", "-T", "--data-raw", "--data-binary") for a in args)
    method = next((args[i + 1].upper() for i, a in enumerate(args[:-1]) if a in ("-X", "--request")), "GET")
    if tool == "curl" and (sends or method not in ("GET", "HEAD")):
        return MUT, f"curl {'POST' if sends else method} to {host} may change it"
    return RO, f"{tool} to cluster-internal {host} only probes"


def find_placeholders(command_text: str, assigned: set[str]) -> list[str]:
    """Names a person must fill in before this command can run, without duplicates.

    First unbound ``$VARS`` (not in ``assigned`` from earlier commands, not set by this command, not
    well-known env), then CONSTANT_LIKE words or ``=``-values (``NEW_KEY``) and dummy literals
    (``your-org``, ``working-tag``, ``sg-xxxxx``) in word order.
    """
    bound = assigned | _assigned_names(command_text) | _WELL_KNOWN_ENV
    unquoted = [part for part in re.split(r"('[^']*')", command_text) if not part.startswith("'")]
    found = [v for part in unquoted for v in _VAR.findall(part) if v not in bound]  # not awk '{print $NF}'
    for word in (w for words in _simple_commands(command_text) for w in words):
        for value in word.split("=")[1:] if "=" in word else [word]:
            if _CONST_NAME.match(value) and value not in bound:
                found.append(value)
        for token in re.split(r"[/:=@,\s]+", word):
            if "$" not in token and any(p.search(token) for p in _DUMMY):
                found.append(token)
    return list(dict.fromkeys(found))
