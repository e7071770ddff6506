"""The runbook's remediation, run as written.

Each selected step runs under ``bash -euo pipefail`` with stdin from /dev/null (a prompt can never hang a
drill), in its own process group with a timeout that kills the whole group, and its real exit code kept
(the pitfalls Runme #153/#414 ran into). Placeholders are bound from the drill spec, shell-quoted; a step
whose placeholders are not all bound is not run and is reported as unbound. Results record the runbook's
text, not the bound text, and credential values (names with KEY, TOKEN, SECRET...) are masked from output,
so a secret bound into a step never reaches a report.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable

from drills.model import StepResult, StepSelector
from drills.runbook import Command, CommandClass
from drills.secrets import credential_bindings, scrub_text

OUTPUT_LIMIT = 4000


def select(commands: list[Command], selectors: list[StepSelector] | None) -> list[Command]:
    """The steps a drill runs: the given selectors in order, or by default every mutating step."""
    if selectors is None:
        return [c for c in commands if c.cls == CommandClass.MUTATING]
    chosen = []
    for sel in selectors:
        for command in commands:
            if (sel.line is not None and command.line == sel.line) or \
                    (sel.contains is not None and sel.contains in command.text):
                chosen.append(command)
                break
    return chosen


def bind(command: Command, bindings: dict[str, str]) -> str | None:
    """The command with its placeholders replaced by shell-quoted values; None if one is unbound.

    A ``${NAME}`` inside single quotes (a patch's JSON) gets the value escaped for that quoting, so the
    shell passes it on as written; anywhere else the value is one shell word."""
    text = command.text
    for name in command.placeholders:
        key = name if name in bindings else name.strip("<>[]{} .")  # <POD_NAME> binds as POD_NAME too
        if key not in bindings:
            return None
        value = shlex.quote(bindings[key])
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            quoted_value = bindings[key].replace("'", "'\\''")
            as_variable = re.search(rf"\$\{{?{name}\b", text) is not None  # else a CONSTANT_LIKE word
            parts = re.split(r"('[^']*')", text)
            for i, part in enumerate(parts):
                quoted = part.startswith("'")
                word = quoted_value if quoted else value
                if as_variable:
                    pattern = rf"\$\{{{name}\}}" if quoted else rf"\$\{{{name}\}}|\${name}\b"
                else:
                    pattern = rf"(?<![\w$-]){name}(?![\w-])"
                parts[i] = re.sub(pattern, lambda _m, v=word: v, part)
            text = "".join(parts)
        else:
            text = text.replace(name, value)
    return text


def run(text: str, env: dict[str, str], timeout_s: float) -> tuple[int, str, float]:
    """Run one step; returns (exit code, combined output, seconds). Timeout → 124, like timeout(1)."""
    started = time.monotonic()
    # ``with`` closes the output pipe on every path: an abort guard's SIGINT landing mid-step used to leave it
    # open (a ResourceWarning, and a file descriptor per interrupted step).
    with subprocess.Popen(["bash", "-euo", "pipefail", "-c", text], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          start_new_session=True) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            out, _ = proc.communicate()
            code = 124
            out += f"\n[drillbook: step killed after {timeout_s:.0f}s timeout]".encode()
        except BaseException:  # Ctrl-C while a step runs: never leave its process group behind
            _kill_group(proc.pid)
            proc.wait()
            raise
    return code, out.decode(errors="replace")[-OUTPUT_LIMIT:], time.monotonic() - started


def execute(commands: list[Command], selected: list[Command], bindings: dict[str, str], env: dict[str, str],
            timeout_s: float, on_step: Callable[[Command], object] | None = None,
            results: list[StepResult] | None = None) -> list[StepResult]:
    """Run the selected steps in runbook order; report every other step of the cause with why it did not run.

    Results are appended to ``results`` as each step ends, so a drill interrupted mid-remediation (Ctrl-C, an
    abort guard) still reports the steps that ran and the one that was cut short (status ``interrupted``).
    """
    results = [] if results is None else results
    secrets = credential_bindings(bindings)
    for command in commands:
        if command not in selected:
            skip = {CommandClass.MANUAL: ("skipped-manual", "needs a person or host access: " + command.reason),
                    CommandClass.EXTERNAL: ("skipped-external", "reaches outside the target: " + command.reason)}
            status, reason = skip.get(command.cls, ("not-selected", command.reason))
            results.append(StepResult(command=command.text, cls=command.cls.value, line=command.line,
                                      status=status, reason=reason))
            continue
        text = bind(command, bindings)
        if text is None:
            missing = [p for p in command.placeholders if p not in bindings and p.strip("<>[]{} .") not in bindings]
            results.append(StepResult(command=command.text, cls=command.cls.value, line=command.line,
                                      status="unbound", reason=f"unbound placeholder(s): {missing}"))
            continue
        if on_step:
            on_step(command)
        started = time.time()
        try:
            code, output, duration = run(text, env, timeout_s)
        except KeyboardInterrupt:
            results.append(StepResult(command=command.text, cls=command.cls.value, line=command.line,
                                      status="interrupted", duration_s=round(time.time() - started, 3),
                                      reason="the drill was interrupted while this step ran", started_at=started))
            raise
        results.append(StepResult(command=command.text, cls=command.cls.value, line=command.line,
                                  status="ran", exit_code=code, duration_s=round(duration, 3),
                                  output=scrub_text(output, secrets), started_at=started))
    return results


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
