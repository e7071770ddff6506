"""The ``drillbook`` command line (typer + rich). Thin: every command calls into the engine."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from drills.errors import DrillbookError

# Heavy modules (the engine, reports, the kubernetes client, even rich) are imported inside the commands
# that use them, so `drillbook parse` starts in a fraction of the time.
if TYPE_CHECKING:
    from rich.console import Console

    from drills.journal import Journal
    from drills.model import DrillResult
    from drills.runbook import Command, Runbook, RunbookDocument
    from drills.runner import RunContext
    from drills.specs import ResolvedDrill


class _LazyConsole:
    """A rich Console made on first use (importing rich costs more than parsing a runbook)."""

    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr
        self.made: Console | None = None

    def plain_stream(self) -> TextIO | None:
        """The raw stream when it is not a terminal and no console was made: plain lines go there."""
        stream = sys.stderr if self.stderr else sys.stdout
        return stream if self.made is None and not stream.isatty() else None

    def __getattr__(self, name: str) -> Any:
        if self.made is None:
            from rich.console import Console

            # emoji off: a runbook's ":fire:" is text; user text is also escape()d, so "[/red]" prints as is
            width = None if self.stderr or sys.stdout.isatty() else 160
            self.made = Console(stderr=self.stderr, soft_wrap=not self.stderr, emoji=False, width=width)
        return getattr(self.made, name)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"  # the same as drills.specs.CATALOG_DIR
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Prove incident runbooks work: inject each cause, run the runbook, verify recovery.")
console: Any = _LazyConsole(stderr=True)
out: Any = _LazyConsole(stderr=False)

SandboxOpt = Annotated[Path | None, typer.Option("--sandbox", help="sandbox directory (default: "
                                                    "$DRILLBOOK_SANDBOX or ~/.local/state/drillbook/sandbox)")]
ProfileOpt = Annotated[str, typer.Option("--profile", help="sandbox timing profile: fast | realistic")]
CatalogOpt = Annotated[Path, typer.Option("--catalog", help="directory of drill specs")]


TargetOpt = Annotated[str, typer.Option("--target", help="where: local (the embedded cluster) | kind | kubernetes")]
ContextOpt = Annotated[str | None, typer.Option(
    "--context", help="kubeconfig context (--target kubernetes; drillbook-local is the embedded cluster)")]
ClusterOpt = Annotated[str, typer.Option("--cluster", help="kind cluster name (--target kind)")]
AllowOpt = Annotated[list[str] | None, typer.Option(
    "--allow-context", help="also allow contexts matching this pattern (default: only kind-*)")]

if TYPE_CHECKING:
    from drills.targets import Target
    from drills.targets.local import LocalTarget


def _local(sandbox: Path | None, profile: str = "fast") -> LocalTarget:
    from drills.targets.local import LocalTarget

    return LocalTarget(sandbox, profile=profile)


def _target(target: str, sandbox: Path | None, profile: str, context: str | None, cluster: str,
            allow_context: list[str] | None) -> Target:
    from drills.targets.choose import choose

    return choose(target, sandbox=sandbox, profile=profile, context=context, cluster=cluster,
                  allow_context=allow_context)


def _fail(exc: Exception, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(code)


@app.command()
def parse(
    file: Path,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    rules: Annotated[list[Path] | None, typer.Option(
        "--rules", help="Prometheus alert rule file: checks alert names, gives severities runbooks omit"),
    ] = None,
    style: Annotated[Path | None, typer.Option(
        "--style", help="section vocabulary YAML (default: drillbook-style.yaml beside the runbook)")] = None,
    indented_code: Annotated[bool, typer.Option(
        "--indented-code", help="read indented code blocks as steps too")] = False,
) -> None:
    """Parse a runbook file: runbooks, sections (with the title a drill spec names), severities, alerts,
    causes and steps with line and class."""
    from dataclasses import replace

    from drills.runbook import load_style, options_for, parse_runbook_file

    try:
        options = load_style(style) if style else options_for(file)
        indented = indented_code or options.indented_code
        options = replace(options.with_rules(rules or []), indented_code=indented)
        document = parse_runbook_file(file, options)
    except DrillbookError as exc:
        _fail(exc)
    if as_json:
        out.print_json(document.to_json())
        return
    _print_document(document)


Part = str | tuple[str, str]  # text, or (text, rich style): user text is never parsed as markup


def _emit(target: Any, *parts: Part) -> None:
    """One output line. Styled on a terminal; plain and fast otherwise (rich's per-line rendering made
    `parse` of a large file take seconds)."""
    stream = target.plain_stream() if isinstance(target, _LazyConsole) else None
    if stream is None and target.is_terminal:
        from rich.text import Text

        target.print(Text.assemble(*parts), highlight=False)
    else:
        (stream or target.file).write("".join(p if isinstance(p, str) else p[0] for p in parts) + "\n")


def _print_document(document: RunbookDocument) -> None:
    for rb in document.runbooks:
        _print_runbook(rb)
    for notice in document.notices:
        _emit(console, ("note:", "yellow"), f" {notice}")


def _print_runbook(rb: Runbook) -> None:
    severity = f"{rb.priority or '?'} ({rb.severity or 'no severity'})"
    alerts = ", ".join(rb.expected_alerts) or "none"
    _emit(out, (f"runbook: {rb.title}", "bold"), (f"  line {rb.line}", "dim"), f"  {severity}  alerts: {alerts}")
    causes = {c.line: c for c in rb.causes}
    for i, section in enumerate(rb.sections):
        if section.kind == "cause" and section.line in causes:
            _emit(out, f"  cause: {section.title}", (f"  line {section.line}", "dim"))
            _print_steps(causes[section.line].steps)
        elif section.selectable:
            _emit(out, f"  cause: {section.title}", (f"  line {section.line}, {section.kind}", "dim"))
            _print_steps(rb.steps if section.title == (rb.remediation_title or rb.title) else [])
        else:
            until = min((s.line for s in rb.sections[i + 1:] if s.line > section.line), default=1 << 30)
            steps = sum(len(b.commands) for b in rb.investigation if section.line < b.line < until)
            note = f", {steps} investigation steps" if steps else ""
            _emit(out, (f"  # {section.title}  line {section.line}, {section.kind}{note}", "dim"))


def _print_steps(commands: list[Command]) -> None:
    styles = {"read-only": "green", "mutating": "yellow", "manual": "magenta", "external": "cyan"}
    for cmd in commands:
        text = cmd.text.replace("\n", " ")[:100]
        _emit(out, f"    {cmd.line:4d} ", (f"{cmd.cls.value:9s}", styles[cmd.cls.value]), f" {text}")


@app.command("list")
def list_drills(catalog: CatalogOpt = CATALOG_DIR) -> None:
    """Show the drill catalog and the runbook causes that have no drill yet."""
    from rich.table import Table

    from drills.specs import RUNBOOK_LEVEL, load_catalog, resolve

    try:
        specs = load_catalog(catalog)
        resolved = [resolve(s) for s in specs]
    except DrillbookError as exc:
        _fail(exc)
    table = Table("drill", "runbook", "cause", "fault", "severity")
    covered: set[tuple[str, str, str]] = set()
    for d in resolved:
        table.add_row(*(escape(v) for v in (d.spec.id, d.runbook.title, d.cause_title, d.spec.fault.kind,
                                            d.runbook.priority or "?")))
        covered.add((d.document.path, d.runbook.title, d.cause_title))
    out.print(table)
    for document in {d.document.path: d.document for d in resolved}.values():
        missing = [(rb.title, c.title) for rb in document.runbooks for c in rb.causes
                   if (document.path, rb.title, c.title) not in covered]
        missing += [(rb.title, rb.remediation_title or RUNBOOK_LEVEL) for rb in document.runbooks
                    if not rb.causes and rb.steps
                    and (document.path, rb.title, rb.remediation_title or RUNBOOK_LEVEL) not in covered]
        if missing:
            where = escape(document.path)
            out.print(f"\n[bold]{len(missing)} runbook cause(s) in {where} without a drill:[/bold]")
            for rb_title, cause in missing:
                out.print(f"  {escape(rb_title)} / {escape(cause)}")


@app.command()
def plan(drill_id: str, catalog: CatalogOpt = CATALOG_DIR, profile: ProfileOpt = "fast") -> None:
    """Print what a drill would do (fault, steps, bindings, budgets, guards), without touching anything."""
    from drills import budgets, registry, steps
    from drills.secrets import credential_bindings
    from drills.specs import load_catalog, resolve, select

    try:
        (spec,) = select(load_catalog(catalog), [drill_id], [])
        d = resolve(spec)
        plugin = registry.fault(spec.fault.kind)
        params = plugin.params.model_validate(spec.fault.params)
        _, chosen = budgets.for_drill(spec, d.document, d.runbook.priority, profile)
    except (DrillbookError, ValueError) as exc:
        _fail(exc)
    out.print(f"[bold]{escape(spec.id)}[/bold]: {escape(d.runbook.title)} / {escape(d.cause_title)} "
              f"({d.runbook.priority})")
    params_json = json.dumps(params.model_dump(mode="json"))
    out.print(escape(f"fault: {plugin.kind} — {plugin.summary}\n  params: {params_json}"))
    alerts = [e.name for e in spec.expect_alerts] if spec.expect_alerts is not None else d.runbook.expected_alerts
    out.print(escape(f"expected alerts: {alerts}"))
    out.print("budgets (from the fault's injection):")
    for b in chosen.values():
        out.print(escape(f"  {b.phase:9s} {b.seconds:7.0f}s  {b.source}"))
    for guard in spec.abort:
        out.print(escape(f"abort when: {guard.expr} (for {guard.for_s:.0f}s) {guard.description}"))
    for condition in spec.recovery.conditions:
        out.print(escape(f"recovered only while: {condition.expr} {condition.description}".rstrip()))
    secret = credential_bindings(spec.bind)
    shown = {name: ("***" if value in secret else value) for name, value in spec.bind.items()}
    bindings = {**{name: f"<chosen by the fault: {name}>" for name in plugin.binds}, **shown}
    if bindings:
        out.print(escape("bindings: " + ", ".join(f"${{{k}}}={v}" for k, v in bindings.items())))
    selected = steps.select(d.commands, spec.steps)
    out.print(escape(f"runbook steps ({d.document.path}):"))
    for cmd in d.commands:
        action = "run" if cmd in selected else "skip"
        bound = steps.bind(cmd, bindings)
        note = "" if not cmd.placeholders else (" (bound)" if bound else f" (unbound: {cmd.placeholders})")
        out.print(escape(f"  {action:4s} {cmd.line:4d} {cmd.cls.value:9s} {cmd.text[:90]}{note}"))


@app.command()
def run(
    drill_ids: Annotated[list[str] | None, typer.Argument(help="drill ids (or prefixes like agent-down/)")] = None,
    runbook: Annotated[list[str] | None, typer.Option("--runbook", help="all drills of this runbook")] = None,
    target: TargetOpt = "local",
    context: ContextOpt = None,
    cluster: ClusterOpt = "drillbook",
    allow_context: AllowOpt = None,
    report_dir: Annotated[Path, typer.Option("--report-dir")] = Path("drill-reports"),
    sandbox: SandboxOpt = None,
    profile: ProfileOpt = "fast",
    catalog: CatalogOpt = CATALOG_DIR,
    pushgateway: Annotated[str | None, typer.Option(
        "--pushgateway", envvar="DRILLBOOK_PUSHGATEWAY",
        help="also push drillbook_drill_success / time-to-detect / time-to-recover to this Pushgateway URL")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="if another run holds the target's drill lease, wait for it instead of refusing")] = False,
) -> None:
    """Run drills; write results.json, junit.xml, report.html and postmortems into --report-dir.

    One run at a time per target: the run holds a Lease (default/drillbook-drill-lock) in the cluster."""
    from drills.journal import Journal
    from drills.lock import DrillLock
    from drills.model import Verdict
    from drills.runner import RunContext
    from drills.specs import load_catalog, resolve, select

    try:  # the allowlist is checked before anything else, so a wrong context is never touched
        tgt = _target(target, sandbox, profile, context, cluster, allow_context)
    except DrillbookError as exc:
        _fail(exc)
    try:
        specs = select(load_catalog(catalog), list(drill_ids or []), list(runbook or []))
        drills = [resolve(s) for s in specs]
    except DrillbookError as exc:
        _fail(exc)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # SIGINT may be ignored when started in the background (`drillbook run &`): Ctrl-C and the abort guards
    # both rely on it raising KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    journal = Journal()
    results: list[DrillResult] = []
    ctx = RunContext(target=tgt, journal=journal,
                     events=lambda phase, msg: console.print(f"  [dim]{phase:9s}[/dim] {escape(msg)}"))
    try:
        tgt.ensure_up()
        lock = DrillLock(tgt.api_client(), ", ".join(d.spec.id for d in drills))
        lock.acquire(wait=wait, on_wait=lambda holder: console.print(f"waiting for {escape(str(holder))}"))
    except DrillbookError as exc:
        _fail(exc)
    try:
        _run_all(drills, ctx, journal, results, report_dir, pushgateway)
    finally:
        lock.release()
    if any(r.verdict in (Verdict.FAILED, Verdict.ERROR) for r in results):
        raise typer.Exit(1)


def _run_all(drills: list[ResolvedDrill], ctx: RunContext, journal: Journal, results: list[DrillResult],
             report_dir: Path, pushgateway: str | None) -> None:
    """Every drill in turn, reverting what a lost target left before each; reports written in any case."""
    from drills.cleanup import cleanup_journal
    from drills.runner import Interrupted, run_drill

    try:
        for d in drills:
            # before every drill, not only the first: a drill that lost its target left its fault here
            for line in cleanup_journal(journal):
                console.print(f"[yellow]cleanup:[/yellow] {escape(line)}")
            console.print(f"[bold]▶ {escape(d.spec.id)}[/bold]  {escape(d.runbook.title)} / {escape(d.cause_title)}")
            result = run_drill(d, ctx)
            results.append(result)
            _print_result(result)
    except KeyboardInterrupt as exc:
        if isinstance(exc, Interrupted):
            results.append(exc.result)
            _print_result(exc.result)
        console.print("[red]interrupted[/red]: faults were reverted")
        _write(results, report_dir, pushgateway)
        raise typer.Exit(130) from None
    _write(results, report_dir, pushgateway)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _write(results: list[DrillResult], report_dir: Path, pushgateway: str | None) -> None:
    from drills.reports import write_reports

    paths = write_reports(results, report_dir)
    console.print("reports: " + ", ".join(str(p) for p in paths))
    console.print(f"[bold]HTML report:[/bold] {(report_dir / 'report.html').resolve()}")
    if pushgateway:
        from drills.reports.pushgateway import push_metrics

        try:
            push_metrics(results, pushgateway)
            console.print(f"metrics pushed to {pushgateway}")
        except DrillbookError as exc:  # the verdicts are written; a metrics outage must not hide them
            console.print(f"[yellow]warning:[/yellow] {exc}")


def _print_result(r: DrillResult) -> None:
    colour = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow"}[r.verdict.value]
    timing = (f"ttd {r.ttd_s}s (floor {r.detection_floor_s}s), ttm {r.ttm_s}s, "
              f"ttr {r.ttr_s}s of {r.target_s:.0f}s") if r.target_s else ""
    console.print(f"  [{colour}]{r.verdict.value.upper()}[/{colour}] {timing}")
    for name in r.failed_checks:
        detail = next((c.detail for c in r.checks if c.name == name), "")
        console.print(f"    [red]✗ {escape(name)}[/red]: {escape(detail)}")
    if r.reason:
        console.print(f"    {escape(r.reason)}")
    for finding in r.findings:
        console.print(f"    [cyan]finding[/cyan]: {escape(finding)}")


@app.command()
def up(sandbox: SandboxOpt = None, profile: ProfileOpt = "fast", target: TargetOpt = "local",
       cluster: ClusterOpt = "drillbook") -> None:
    """Start the embedded cluster (or create or reuse a kind cluster: --target kind) and wait until steady."""
    if target == "kind":
        try:
            from drills.targets.kubernetes import KubernetesTarget

            kind = _target("kind", None, profile, None, cluster, None)
            assert isinstance(kind, KubernetesTarget)
            kind.up()
        except DrillbookError as exc:
            _fail(exc, 2)
        console.print(f"kind cluster {cluster!r} up and steady (context kind-{cluster})")
        return
    tgt = _local(sandbox, profile)
    try:
        tgt.up()
        tgt.wait_steady(180)
    except DrillbookError as exc:
        _fail(exc, 1)
    prometheus = tgt.prometheus_url()
    console.print(f"sandbox up at {tgt.root}; Prometheus through the API server at {prometheus}")
    path = prometheus[prometheus.index("/api/v1/"):]
    console.print(f"  (KUBECONFIG=$(drillbook kubeconfig) kubectl get --raw {path}/api/v1/status/buildinfo)")
    console.print(f"kubeconfig: {tgt.kubeconfig}  (KUBECONFIG=$(drillbook kubeconfig) kubectl get pods -A)")


@app.command("kubeconfig")
def kubeconfig_path(sandbox: SandboxOpt = None) -> None:
    """Print the embedded cluster's kubeconfig path alone, for ``KUBECONFIG=$(drillbook kubeconfig)``."""
    tgt = _local(sandbox)
    if not tgt.kubeconfig.exists():
        _fail(DrillbookError(f"no embedded cluster at {tgt.root}: run `drillbook up` first"), 1)
    print(tgt.kubeconfig)


@app.command()
def down(sandbox: SandboxOpt = None, target: TargetOpt = "local", cluster: ClusterOpt = "drillbook") -> None:
    """Stop the embedded cluster (every pod process, cgroup and rule it made), or delete a kind cluster that
    drillbook created (--target kind; never one it did not create)."""
    if target == "kind":
        from drills.targets.kubernetes import KubernetesTarget

        kind = _target("kind", None, "fast", None, cluster, None)
        assert isinstance(kind, KubernetesTarget)
        try:
            kind.down()
        except DrillbookError as exc:
            _fail(exc, 2)
        console.print(f"kind cluster {cluster!r} deleted")
        return
    _local(sandbox).down()
    console.print("sandbox down")


@app.command()
def status(sandbox: SandboxOpt = None) -> None:
    """Pods of the embedded cluster: ``kubectl get pods -A -o wide`` through its API, with the real kubectl."""
    import subprocess

    tgt = _local(sandbox)
    if not tgt.kubeconfig.exists():
        _fail(DrillbookError(f"no embedded cluster at {tgt.root}: run `drillbook up` first"), 1)
    done = subprocess.run(["kubectl", "get", "pods", "-A", "-o", "wide"], env=tgt.step_environment(), check=False)
    raise typer.Exit(done.returncode)


@app.command()
def cleanup(sandbox: SandboxOpt = None) -> None:
    """Revert every fault the journal still holds (after a crash), then check the sandbox: stop what a dead
    control plane left running, and exit 1, saying what is wrong, unless it is steady."""
    from drills.cleanup import cleanup_journal, not_steady
    from drills.journal import Journal
    from drills.targets.local import sandbox as local_sandbox

    lines = cleanup_journal(Journal())
    for line in lines:
        console.print(escape(line))
    if not lines:
        console.print("journal empty: nothing to revert")
    problems = [line for line in lines if line.startswith("could not")]
    tgt = _local(sandbox)
    dead = local_sandbox.stop_if_dead(tgt.root)
    if dead is not None:
        problems.append(dead)
    elif local_sandbox.is_up(tgt.root):
        wrong = not_steady(tgt)
        if wrong is not None:
            problems.append(wrong)
        else:
            console.print(f"sandbox at {tgt.root} is steady")
    for problem in problems:
        console.print(f"[red]not steady:[/red] {escape(problem)}")
    if problems:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
