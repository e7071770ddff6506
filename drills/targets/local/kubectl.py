"""The local sandbox's ``kubectl``: the runbooks' own commands, run against the sandbox.

Run as ``python -m drills.targets.local.kubectl ARGS``; the sandbox is ``$DRILLBOOK_SANDBOX`` (see
:func:`drills.targets.local.sandbox.default_root`). This module is the command line only: it parses what a
runbook step wrote (global flags anywhere, kubectl's spellings) and hands it to
the module that implements the verb (``kubectl_read``, ``kubectl_patch``, ``kubectl_apply``, ``kubectl_rollout``,
``kubectl_exec``, ``kubectl_nodes``, ``kubectl_info``). A verb or kind the sandbox does not implement fails
loudly, naming it (:class:`drills.errors.UnsupportedVerb`), instead of pretending to succeed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from drills.errors import TargetError, UnsupportedVerb
from drills.targets.local import (
    kubectl_apply,
    kubectl_exec,
    kubectl_info,
    kubectl_nodes,
    kubectl_patch,
    kubectl_read,
    kubectl_rollout,
)
from drills.targets.local.kubectl_ctx import Ctx
from drills.targets.local.kubectl_resources import EVENT_WORDS, POD_WORDS, KubectlError, kind_of, unsupported
from drills.targets.local.sandbox import default_root

NO_SANDBOX_NEEDED = {"version", "api-resources"}
GLOBAL_VALUE_FLAGS = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server",
                      "--request-timeout", "-v", "--v"}
OTHER_KINDS = {"ingress", "ingresses", "ing", "daemonset", "daemonsets", "ds", "job", "jobs", "cronjob", "cronjobs",
               "cj", "serviceaccount", "serviceaccounts", "sa", "endpoints", "ep", "pv", "persistentvolume",
               "persistentvolumes", "hpa", "horizontalpodautoscaler", "role", "rolebinding", "clusterrole"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise KubectlError(f"error: {message}\nSee '{self.prog} --help' for usage.")


BOOL_FLAGS: dict[str, str] = {}  # --long-name -> dest, for pflag's ``--wait=false`` spelling


def _bool_flag(parser: argparse.ArgumentParser, *names: str, default: bool = False) -> None:
    action = parser.add_argument(*names, action="store_true", default=default)
    for name in names:
        if name.startswith("--"):
            BOOL_FLAGS[name] = action.dest


def _globals(parser: argparse.ArgumentParser) -> None:
    """Flags kubectl accepts with every verb, before or after it."""
    parser.add_argument("-n", "--namespace")
    _bool_flag(parser, "-A", "--all-namespaces")
    for flag in ("--context", "--kubeconfig", "--cluster", "--user", "--request-timeout", "-s", "--server"):
        parser.add_argument(flag)  # accepted and ignored: the sandbox is the only cluster
    parser.add_argument("-v", "--v", dest="verbosity")


def _get(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", nargs="*")
    p.add_argument("-o", "--output")
    p.add_argument("-l", "--selector")
    p.add_argument("--sort-by")
    _bool_flag(p, "--show-labels")
    _bool_flag(p, "-w", "--watch")  # accepted; prints once
    _bool_flag(p, "--ignore-not-found")


def _describe(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", nargs="*")
    p.add_argument("-l", "--selector")


def _top(p: argparse.ArgumentParser) -> None:
    p.add_argument("what")
    p.add_argument("name", nargs="?")
    p.add_argument("-l", "--selector")
    p.add_argument("--sort-by")
    _bool_flag(p, "--containers")


def _logs(p: argparse.ArgumentParser) -> None:
    p.add_argument("pod", nargs="?")
    p.add_argument("-c", "--container")
    p.add_argument("--tail", type=int)
    for flag in (("-f", "--follow"), ("-p", "--previous"), ("--prefix",), ("--timestamps",), ("--all-containers",)):
        _bool_flag(p, *flag)
    p.add_argument("--since")  # accepted; the sandbox's logs have no per-line times
    p.add_argument("--since-time")
    p.add_argument("-l", "--selector")
    p.add_argument("--max-log-requests")


def _exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("words", nargs="*")
    p.add_argument("-c", "--container")
    for flag in (("-i", "--stdin"), ("-t", "--tty"), ("-q", "--quiet")):
        _bool_flag(p, *flag)


def _patch(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", nargs="*")
    p.add_argument("-p", "--patch")
    p.add_argument("--patch-file")
    p.add_argument("--type", default="strategic")


def _set(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["image", "resources", "env"])
    p.add_argument("words", nargs="+")
    p.add_argument("-c", "--containers", "--container", dest="container")
    p.add_argument("--limits")
    p.add_argument("--requests")


def _scale(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", nargs="*")
    p.add_argument("--replicas", type=int)
    p.add_argument("--current-replicas", type=int)


def _rollout(p: argparse.ArgumentParser) -> None:
    p.add_argument("action")
    p.add_argument("resources", nargs="*")
    p.add_argument("--to-revision", type=int, default=0)
    p.add_argument("--revision", type=int, default=0)
    p.add_argument("--timeout")
    _bool_flag(p, "-w", "--watch", default=True)


def _create(p: argparse.ArgumentParser) -> None:
    p.add_argument("what")
    p.add_argument("words", nargs="+")  # [generic] NAME
    for flag in ("--from-literal", "--from-file", "--from-env-file"):
        p.add_argument(flag, action="append")
    p.add_argument("--type", dest="secret_type")
    p.add_argument("--dry-run", nargs="?", const="client")
    p.add_argument("-o", "--output")


def _apply(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filename")
    p.add_argument("--dry-run", nargs="?", const="client")
    p.add_argument("-o", "--output")
    _bool_flag(p, "--server-side")
    _bool_flag(p, "--force")


def _delete(p: argparse.ArgumentParser) -> None:
    p.add_argument("resources", nargs="*")
    p.add_argument("-l", "--selector")
    for flag in ("--all", "--ignore-not-found", "--force", "--now"):
        _bool_flag(p, flag)
    _bool_flag(p, "--wait", default=True)
    p.add_argument("--timeout")
    p.add_argument("--grace-period", type=int)


def _node(p: argparse.ArgumentParser) -> None:
    p.add_argument("node")


def _drain(p: argparse.ArgumentParser) -> None:
    p.add_argument("node")
    for flag in ("--ignore-daemonsets", "--delete-emptydir-data", "--delete-local-data", "--force",
                 "--disable-eviction"):
        _bool_flag(p, flag)
    p.add_argument("--timeout")
    p.add_argument("--grace-period", type=int)
    p.add_argument("--pod-selector")


def _version(p: argparse.ArgumentParser) -> None:
    _bool_flag(p, "--client")
    p.add_argument("-o", "--output")


def _api_resources(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output")
    _bool_flag(p, "--namespaced")


def _auth(p: argparse.ArgumentParser) -> None:
    p.add_argument("action")
    p.add_argument("rest", nargs="*")


# verb -> (flags and arguments, implementation)
VERBS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = {
    "get": (_get, kubectl_read.get), "describe": (_describe, kubectl_read.describe),
    "logs": (_logs, kubectl_read.logs), "top": (_top, kubectl_read.top),
    "patch": (_patch, kubectl_patch.patch), "set": (_set, kubectl_patch.set_), "scale": (_scale, kubectl_patch.scale),
    "rollout": (_rollout, kubectl_rollout.rollout),
    "create": (_create, kubectl_apply.create), "apply": (_apply, kubectl_apply.apply),
    "delete": (_delete, kubectl_apply.delete),
    "exec": (_exec, kubectl_exec.exec_),
    "cordon": (_node, kubectl_nodes.cordon), "uncordon": (_node, kubectl_nodes.uncordon),
    "drain": (_drain, kubectl_nodes.drain),
    "version": (_version, kubectl_info.version), "cluster-info": (lambda p: None, kubectl_info.cluster_info),
    "api-resources": (_api_resources, kubectl_info.api_resources), "auth": (_auth, kubectl_info.auth),
}
SUPPORTED = tuple(VERBS)


def parse(verb: str, argv: list[str]) -> argparse.Namespace:
    """The verb's flags and arguments, intermixed as kubectl allows (``logs -f POD -n ns --tail=5``)."""
    parser = _Parser(prog=f"kubectl {verb}")
    _globals(parser)
    VERBS[verb][0](parser)
    argv, off = _bool_values(argv)
    args = parser.parse_intermixed_args(argv)
    for dest in off:
        setattr(args, dest, False)
    if isinstance(getattr(args, "output", None), str):
        args.output = args.output.lstrip("=")  # -o=yaml
    args.verb = verb
    return args


def _bool_values(argv: list[str]) -> tuple[list[str], set[str]]:
    """``--wait=false`` → drop it and remember ``wait`` is off; ``--watch=true`` → ``--watch``."""
    out, off = [], set()
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name in BOOL_FLAGS and value.lower() in ("true", "false"):
            if value.lower() == "true":
                out.append(name)
            else:
                off.add(BOOL_FLAGS[name])
        else:
            out.append(arg)
    return out, off


def _word_indexes(argv: list[str]) -> list[int]:
    """Where the words are that are neither flags nor a global flag's value (the verb is the first)."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in GLOBAL_VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            out.append(i)
    return out


def check_supported(verb: str, rest: list[str]) -> None:
    """Refuse a verb the sandbox does not implement, naming the verb (and the kind, when one follows)."""
    if verb in VERBS:
        return
    words = [rest[i] for i in _word_indexes(rest)]
    what = verb
    if words:
        kind = words[0].split("/", 1)[0]
        if kind.lower() in POD_WORDS | EVENT_WORDS | OTHER_KINDS or kind_of(kind) != kind:
            what += f" {kind}"
    raise unsupported(what)


def run(argv: list[str]) -> int:
    end = argv.index("--") if "--" in argv else len(argv)
    indexes = _word_indexes(argv[:end])
    if not indexes:
        raise KubectlError(f"error: a command is required (supported: {', '.join(SUPPORTED)})")
    verb, rest = argv[indexes[0]], argv[:indexes[0]] + argv[indexes[0] + 1:]
    check_supported(verb, rest)
    command: list[str] = []
    if verb == "exec" and "--" in rest:  # everything after -- is the container's command, untouched
        rest, command = rest[:rest.index("--")], rest[rest.index("--") + 1:]
    args = parse(verb, rest)
    args.command = command
    ctx = Ctx(root=default_root(), namespace=args.namespace or "default",
                    explicit_namespace=args.namespace is not None, all_namespaces=args.all_namespaces)
    if verb not in NO_SANDBOX_NEEDED and not (ctx.root / "objects.json").exists():
        raise KubectlError(f"The connection to the server was refused - no drillbook sandbox at {ctx.root} "
                           "(run `drillbook up`, or set DRILLBOOK_SANDBOX)")
    return VERBS[verb][1](ctx, args)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except UnsupportedVerb as exc:
        print(f"error: {exc} (supported: {', '.join(SUPPORTED)})", file=sys.stderr)
        return 1
    except TargetError as exc:
        sys.stdout.flush()
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # `kubectl ... | head`: the reader left; kubectl dies of SIGPIPE there (141)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
