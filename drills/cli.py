"""The ``drillbook`` command line (typer + rich). Thin: every command calls into the engine."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from drills.errors import DrillbookError
from drills.journal import Journal
from drills.model import DrillResult, Verdict
from drills.reports import write_reports
from drills.runbook import CommandClass, parse_runbook_file
from drills.specs import CATALOG_DIR, RUNBOOK_LEVEL, load_catalog, resolve, select

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Prove incident runbooks work: inject each cause, run the runbook, verify recovery.")
console = Console(stderr=True)
out = Console(soft_wrap=True) if sys.stdout.isatty() else Console(soft_wrap=True, width=160)

SandboxOpt = Annotated[Optional[Path], typer.Option("--sandbox", help="sandbox directory (default: "
                                                    "$DRILLBOOK_SANDBOX or ~/.local/state/drillbook/sandbox)")]
ProfileOpt = Annotated[str, typer.Option("--profile", help="sandbox timing profile: fast | realistic")]
CatalogOpt = Annotated[Path, typer.Option("--catalog", help="directory of drill specs")]


if TYPE_CHECKING:
    from drills.targets.local import LocalTarget


def _local(sandbox: Path | None, profile: str = "fast") -> LocalTarget:
    from drills.targets.local import LocalTarget

    return LocalTarget(sandbox, profile=profile)


def _fail(exc: Exception, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code)


@app.command()
def parse(file: Path, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Parse a runbook file: runbooks, severities, expected alerts, causes, steps with line and class."""
    try:
        document = parse_runbook_file(file)
    except DrillbookError as exc:
        _fail(exc)
    if as_json:
        out.print_json(document.model_dump_json())
        return
    for rb in document.runbooks:
        out.print(f"[bold]{rb.heading}[/bold]  {rb.priority} ({rb.severity})  alerts: {', '.join(rb.expected_alerts)}")
        for cause in rb.causes:
            out.print(f"  {cause.heading}  [dim]line {cause.line}[/dim]")
            for cmd in cause.steps:
                out.print(f"    {cmd.line:4d} [{_style(cmd.cls)}]{cmd.cls.value:9s}[/] {cmd.text[:100]}")


def _style(cls: CommandClass) -> str:
    return {"read-only": "green", "mutating": "yellow", "manual": "magenta", "external": "cyan"}[cls.value]


@app.command("list")
def list_drills(catalog: CatalogOpt = CATALOG_DIR) -> None:
    """Show the drill catalog and the runbook causes that have no drill yet."""
    try:
        specs = load_catalog(catalog)
        resolved = [resolve(s) for s in specs]
    except DrillbookError as exc:
        _fail(exc)
    table = Table("drill", "runbook", "cause", "fault", "severity")
    covered: set[tuple[str, str, str]] = set()
    for d in resolved:
        table.add_row(d.spec.id, d.runbook.title, d.cause_title, d.spec.fault.kind, d.runbook.priority or "?")
        covered.add((d.document.path, d.runbook.title, d.cause_title))
    out.print(table)
    for document in {d.document.path: d.document for d in resolved}.values():
        missing = [(rb.title, c.title) for rb in document.runbooks for c in rb.causes
                   if (document.path, rb.title, c.title) not in covered]
        missing += [(rb.title, RUNBOOK_LEVEL) for rb in document.runbooks
                    if not rb.causes and (document.path, rb.title, RUNBOOK_LEVEL) not in covered]
        if missing:
            out.print(f"\n[bold]{len(missing)} runbook cause(s) in {document.path} without a drill:[/bold]")
            for rb_title, cause in missing:
                out.print(f"  {rb_title} / {cause}")


@app.command()
def plan(drill_id: str, catalog: CatalogOpt = CATALOG_DIR, profile: ProfileOpt = "fast") -> None:
    """Print what a drill would do (fault, steps, bindings, budgets, guards), without touching anything."""
    from drills import budgets, registry, steps
    from drills.secrets import credential_bindings

    try:
        (spec,) = select(load_catalog(catalog), [drill_id], [])
        d = resolve(spec)
        plugin = registry.fault(spec.fault.kind)
        params = plugin.params.model_validate(spec.fault.params)
        _, chosen = budgets.for_drill(spec, d.document, d.runbook.priority, profile)
    except (DrillbookError, ValueError) as exc:
        _fail(exc)
    out.print(f"[bold]{spec.id}[/bold]: {d.runbook.title} / {d.cause_title} ({d.runbook.priority})")
    out.print(f"fault: {plugin.kind} — {plugin.summary}\n  params: {json.dumps(params.model_dump(mode='json'))}")
    alerts = [e.name for e in spec.expect_alerts] if spec.expect_alerts is not None else d.runbook.expected_alerts
    out.print(f"expected alerts: {alerts}")
    out.print("budgets (from the fault's injection):")
    for b in chosen.values():
        out.print(f"  {b.phase:9s} {b.seconds:7.0f}s  {b.source}")
    for guard in spec.abort:
        out.print(f"abort when: {guard.expr} (for {guard.for_s:.0f}s) {guard.description}")
    secret = credential_bindings(spec.bind)
    shown = {name: ("***" if value in secret else value) for name, value in spec.bind.items()}
    bindings = {**{name: f"<chosen by the fault: {name}>" for name in plugin.binds}, **shown}
    if bindings:
        out.print("bindings: " + ", ".join(f"${{{k}}}={v}" for k, v in bindings.items()))
    selected = steps.select(d.commands, spec.steps)
    out.print(f"runbook steps ({d.document.path}):")
    for cmd in d.commands:
        action = "run" if cmd in selected else "skip"
        bound = steps.bind(cmd, bindings)
        note = "" if not cmd.placeholders else (" (bound)" if bound else f" (unbound: {cmd.placeholders})")
        out.print(f"  {action:4s} {cmd.line:4d} {cmd.cls.value:9s} {cmd.text[:90]}{note}")


@app.command()
def run(
    drill_ids: Annotated[Optional[list[str]], typer.Argument(help="drill ids (or prefixes like agent-down/)")] = None,
    runbook: Annotated[Optional[list[str]], typer.Option("--runbook", help="all drills of this runbook")] = None,
    target: Annotated[str, typer.Option("--target", help="where to run: local | kind")] = "local",
    context: Annotated[Optional[str], typer.Option("--context", help="kubeconfig context (kind target)")] = None,
    allow_context: Annotated[Optional[list[str]], typer.Option(
        "--allow-context", help="also allow contexts matching this pattern (default: only kind-*)")] = None,
    report_dir: Annotated[Path, typer.Option("--report-dir")] = Path("drill-reports"),
    sandbox: SandboxOpt = None,
    profile: ProfileOpt = "fast",
    catalog: CatalogOpt = CATALOG_DIR,
    pushgateway: Annotated[Optional[str], typer.Option(
        "--pushgateway", envvar="DRILLBOOK_PUSHGATEWAY",
        help="also push drillbook_drill_success / time-to-detect / time-to-recover to this Pushgateway URL")] = None,
) -> None:
    """Run drills; write results.json, junit.xml, report.html and postmortems into --report-dir."""
    from drills.cleanup import cleanup_journal
    from drills.runner import Interrupted, RunContext, run_drill

    if target == "kind":
        from drills.targets.allowlist import kube_context

        try:  # the allowlist is checked before anything else, so a wrong context is never touched
            chosen = kube_context(None, context, allow_context or [])
        except DrillbookError as exc:
            _fail(exc)
        _fail(DrillbookError(f"context {chosen!r} is allowed, but the kind target is not built yet "
                             "(see README: Targets); use --target local"))
    if target != "local":
        _fail(DrillbookError(f"unknown target {target!r}: local | kind"))
    try:
        specs = select(load_catalog(catalog), list(drill_ids or []), list(runbook or []))
        drills = [resolve(s) for s in specs]
    except DrillbookError as exc:
        _fail(exc)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # SIGINT may be ignored when started in the background (`drillbook run &`): Ctrl-C and the abort guards
    # both rely on it raising KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    tgt = _local(sandbox, profile)
    journal = Journal()
    results: list[DrillResult] = []
    ctx = RunContext(target=tgt, journal=journal,
                     events=lambda phase, msg: console.print(f"  [dim]{phase:9s}[/dim] {msg}"))
    try:
        for d in drills:
            # before every drill, not only the first: a drill that lost its target left its fault here
            for line in cleanup_journal(journal):
                console.print(f"[yellow]cleanup:[/yellow] {line}")
            console.print(f"[bold]▶ {d.spec.id}[/bold]  {d.runbook.title} / {d.cause_title}")
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
    if any(r.verdict in (Verdict.FAILED, Verdict.ERROR) for r in results):
        raise typer.Exit(1)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _write(results: list[DrillResult], report_dir: Path, pushgateway: str | None) -> None:
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
        console.print(f"    [red]✗ {name}[/red]: {detail}")
    if r.reason:
        console.print(f"    {r.reason}")
    for finding in r.findings:
        console.print(f"    [cyan]finding[/cyan]: {finding}")


@app.command()
def up(sandbox: SandboxOpt = None, profile: ProfileOpt = "fast") -> None:
    """Start the local sandbox and wait until it is steady."""
    tgt = _local(sandbox, profile)
    try:
        tgt.ensure_up()
        tgt.wait_steady(180)
    except DrillbookError as exc:
        _fail(exc, 1)
    console.print(f"sandbox up at {tgt.root}; Prometheus {tgt.prometheus_url()}")
    console.print(f"kubeconfig: {tgt.kubeconfig}  (KUBECONFIG=$(drillbook kubeconfig) kubectl get pods -A)")


@app.command("kubeconfig")
def kubeconfig_path(sandbox: SandboxOpt = None) -> None:
    """Print the embedded cluster's kubeconfig path alone, for ``KUBECONFIG=$(drillbook kubeconfig)``."""
    tgt = _local(sandbox)
    if not tgt.kubeconfig.exists():
        _fail(DrillbookError(f"no embedded cluster at {tgt.root}: run `drillbook up` first"), 1)
    print(tgt.kubeconfig)


@app.command()
def down(sandbox: SandboxOpt = None) -> None:
    """Stop the local sandbox (every pod process, cgroup and rule it made)."""
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
    from drills.targets.local import sandbox as local_sandbox

    lines = cleanup_journal(Journal())
    for line in lines:
        console.print(line)
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
        console.print(f"[red]not steady:[/red] {problem}")
    if problems:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
