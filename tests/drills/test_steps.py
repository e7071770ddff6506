"""Runbook steps run as written: bash -euo pipefail, no stdin, timeout kills the group, placeholders bound."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from drills import steps
from drills.model import StepResult, StepSelector
from drills.runbook import split_commands

ENV = dict(os.environ)


def commands(text: str):  # type: ignore[no-untyped-def]
    return split_commands(text, 10, "rb.md")


def test_real_exit_code_and_pipefail() -> None:
    assert steps.run("exit 3", ENV, 5)[0] == 3
    assert steps.run("false | true", ENV, 5)[0] == 1  # pipefail
    assert steps.run("echo $UNSET_VARIABLE_X", ENV, 5)[0] == 1  # nounset


def test_stdin_is_dev_null_so_prompts_cannot_hang() -> None:
    code, out, duration = steps.run("read -r answer; echo got:$answer", ENV, 5)
    assert code == 1 and duration < 2


def test_timeout_kills_the_whole_process_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "child.pid"
    started = time.monotonic()
    code, out, _ = steps.run(f"sleep 60 & echo $! > {marker}; wait", ENV, 1)
    assert code == 124 and "timeout" in out
    assert time.monotonic() - started < 5
    child = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child)


@pytest.fixture()
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here even when pytest was started with it ignored (``make test &``)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_raises")
def test_an_interrupted_step_kills_its_group_and_closes_its_pipe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C or an abort guard's SIGINT landing mid-step: the step's process group dies and its output pipe
    is closed (it used to be left open, a ResourceWarning that failed the abort e2e test now and then)."""
    marker = tmp_path / "child.pid"
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            steps.run(f"sleep 60 & echo $! > {marker}; wait", ENV, 30)
        gc.collect()
    timer.join()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    time.sleep(0.2)
    assert not _alive(int(marker.read_text()))


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_default_selection_is_the_mutating_steps_in_order() -> None:
    cmds = commands("kubectl get pods -n x\nkubectl rollout restart deployment/a -n x\nssh node\n"
                    "kubectl scale deployment a --replicas=3 -n x\n")
    chosen = steps.select(cmds, None)
    assert [c.text.split()[1] for c in chosen] == ["rollout", "scale"]
    assert steps.select(cmds, [StepSelector(contains="scale")])[0].text.startswith("kubectl scale")
    assert steps.select(cmds, []) == []


def test_placeholders_are_bound_shell_quoted_or_reported_unbound() -> None:
    (cmd,) = commands('redis-cli SET "blocked:user:${USER_ID}" 1 EX 3600\n')
    assert steps.bind(cmd, {}) is None
    bound = steps.bind(cmd, {"USER_ID": "bob; rm -rf /"})
    assert bound == "redis-cli SET \"blocked:user:'bob; rm -rf /'\" 1 EX 3600"
    (secret,) = commands("kubectl create secret generic s --from-literal=k=NEW_KEY\n")
    assert steps.bind(secret, {"NEW_KEY": "sk-1"}) == "kubectl create secret generic s --from-literal=k=sk-1"


def test_a_placeholder_inside_single_quotes_is_found_and_bound_for_that_quoting() -> None:
    # A patch's JSON is single-quoted, so the shell would send ${DATABASE_URL} as written: it is a blank to
    # fill in. awk's $NF and jq's $x inside single quotes are not.
    (patch,) = commands("kubectl patch configmap c -p '{\"data\":{\"DATABASE_URL\":\"${DATABASE_URL}\"}}'\n")
    assert patch.placeholders == ["DATABASE_URL"]
    assert steps.bind(patch, {}) is None
    bound = steps.bind(patch, {"DATABASE_URL": "postgres://db/o?x=it's"})
    assert bound is not None
    argv = subprocess.run(["bash", "-c", bound.replace("kubectl", "printf '%s\\n'", 1)], capture_output=True,
                          text=True, check=True).stdout.splitlines()
    assert argv[-1] == '{"data":{"DATABASE_URL":"postgres://db/o?x=it\'s"}}'
    (awk,) = commands("kubectl get pods | awk '{print $NF}' | jq '$x'\n")
    assert awk.placeholders == []


def test_execute_reports_every_step_and_redacts_bound_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cmds = commands("echo token=${TOKEN}\nssh somewhere\necho ${MISSING_VALUE}\n")
    selected = [cmds[0], cmds[2]]
    results = steps.execute(cmds, selected, {"TOKEN": "s3cr3t-value"}, ENV, 5)
    assert [r.status for r in results] == ["ran", "skipped-manual", "unbound"]
    assert results[0].exit_code == 0 and "s3cr3t-value" not in results[0].output + results[0].command
    assert "***" in results[0].output
    assert results[0].line == 10 and results[2].line == 12


@pytest.mark.usefixtures("sigint_raises")
def test_a_step_cut_short_by_an_interrupt_is_reported_with_the_steps_before_it() -> None:
    cmds = commands("echo first\nsleep 30\necho never\n")
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    results: list[StepResult] = []
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        steps.execute(cmds, cmds, {}, ENV, 30, results=results)
    timer.join()
    assert [(r.status, r.line) for r in results] == [("ran", 10), ("interrupted", 11)]
