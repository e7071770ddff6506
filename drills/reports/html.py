"""``report.html``: one self-contained page per run, for a human reading what each drill proved.

The page must open from a CI artifact or a mail attachment with no network, so everything is inline: the CSS
sits in the template, and the charts are SVG drawn here in Python (no JavaScript, no CDN, no web fonts).
Every string taken from a result (commands, outputs, details) can contain ``<`` or ``&``; the template
autoescapes, and the SVG is built with ``Markup.format``, which escapes each argument it is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from drills.model import (
    AlertTiming,
    DrillResult,
    FaultRecord,
    PhaseBudget,
    Series,
    StepResult,
    TimelineEvent,
    Verdict,
)

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE = "report.html.j2"

# Chart geometry, in SVG user units (the SVG scales to the page width; these keep the proportions).
WIDTH = 1100.0
GUTTER = 190.0  # left column: lane names on the timeline, series name/unit/min/max on the series charts
RIGHT = 24.0
LANE_H = 16.0
LANE_GAP = 5.0
ROW_H = 17.0  # one row of staggered event labels
CHAR_W = 5.8  # estimated width of one character at font-size 11 (measured: DejaVu Sans ~5.7, the widest)
LABEL_GAP = 14.0  # horizontal room kept between two labels on the same row
MAX_LABEL = 120  # characters: a step label (line, exit code, 80 characters of command) fits; longer is cut
SERIES_H = 78.0
SERIES_TOP = 10.0
SERIES_PLOT_H = 54.0
TICK_H = 18.0

KIND_COLOURS = {
    "fault": "#c0392b",
    "alert-pending": "#d68910",
    "alert-firing": "#e0533d",
    "alert-resolved": "#1e8449",
    "step": "#2e6da4",
    "recovered": "#1e8449",
    "reverted": "#6b7280",
    "abort": "#7d3c98",
}
KIND_NAMES = {
    "fault": "fault", "alert-pending": "alert pending", "alert-firing": "alert firing",
    "alert-resolved": "alert resolved", "step": "runbook step", "recovered": "recovered",
    "reverted": "fault reverted", "abort": "abort",
}
NICE_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


# -- the shared time axis ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """Seconds relative to the fault injection, shared by the timeline and every series chart of a drill, so
    a spike in a series lines up with the event above it that caused it."""

    origin: float  # unix time of t=0
    lo: float  # relative seconds at the left edge of the plot
    hi: float  # relative seconds at the right edge
    caption: str

    def x(self, rel: float) -> float:
        """Map relative seconds to an SVG x inside the plot area (right of the gutter)."""
        return GUTTER + (rel - self.lo) / (self.hi - self.lo) * (WIDTH - GUTTER - RIGHT)

    def rel(self, at: float) -> float:
        """Seconds from t=0 to a unix time: the unit every label on the page uses."""
        return at - self.origin

    def ticks(self) -> list[float]:
        """Round tick positions (about ten), so that the labels read as 0, +10s, +20s... not +13.7s."""
        span = self.hi - self.lo
        step = next((s for s in NICE_STEPS if span / s <= 10), NICE_STEPS[-1])
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) // step) + 1)]


def axis_for(result: DrillResult) -> Axis | None:
    """The drill's time axis: t=0 at the injection, wide enough for every event and every sample.

    Without an injection there is no t=0 worth the name; series (if any were kept) are then drawn from
    the drill's start, and the caption says so.
    """
    origin = result.injected_at
    caption = "seconds after the fault injection"
    samples = [t for s in result.series for t, _ in s.points]
    if origin is None:
        origin = result.started_at if result.started_at is not None else min(samples, default=None)
        caption = "seconds after the drill started"
        if origin is None:
            return None
    times = [0.0] + [e.at - origin for e in result.timeline()] + [t - origin for t in samples]
    lo, hi = min(times), max(times)
    if hi - lo < 10:
        hi = lo + 10
    pad = (hi - lo) * 0.02
    return Axis(origin=origin, lo=lo - pad, hi=hi + pad, caption=caption)


# -- small formatting helpers -------------------------------------------------------------------------
def secs(value: float | None) -> str:
    """A duration as people read it in a report: one decimal below 100s, whole seconds above; — if unknown."""
    if value is None:
        return "—"
    return f"{value:.1f}s" if abs(value) < 100 else f"{value:.0f}s"


def signed(value: float) -> str:
    """A time relative to the fault: always signed, so events before the injection stand out."""
    return f"{value:+.1f}s"


def tick_label(value: float) -> str:
    """Axis tick text: minutes once the ticks are whole minutes apart, else seconds."""
    if value == 0:
        return "0"
    if value % 60 == 0 and abs(value) >= 120:
        return f"{value / 60:+g}m"
    return f"{value:+g}s"


def number(value: float, unit: str) -> str:
    """A series value with its unit, three significant digits (enough to tell 0.2s from 0.25s); bytes in
    binary multiples and other large values with an SI prefix, since 1.57e+09 reads badly on a chart."""
    if unit.lower() in ("bytes", "byte", "b"):
        for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
            if abs(value) < 1024 or prefix == "Ti":
                return f"{value:.3g} {prefix}B"
            value /= 1024
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= factor:
            return f"{value / (1e3 if prefix == 'k' else factor):.3g}{prefix} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def cut(text: str, limit: int) -> str:
    """Cut a label that would not fit; the caller keeps the full text in a tooltip."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_width(text: str, size: float = 11.0) -> float:
    """Estimated rendered width: SVG cannot measure text without a browser, and labels must not overlap."""
    return len(text) * CHAR_W * size / 11.0


def slug(drill_id: str) -> str:
    """An HTML id for a drill's section (ids contain '/')."""
    return "drill-" + drill_id.replace("/", "--")


# -- the timeline chart ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PlacedLabel:
    """An event label once placed: its text row, and where its text starts."""

    event: TimelineEvent
    x: float  # the event's marker
    text_x: float
    row: int
    when: str  # "+19.7s", drawn in the event's colour
    text: str


def place_labels(events: list[TimelineEvent], axis: Axis) -> list[PlacedLabel]:
    """Stagger the event labels on rows so none overlaps another.

    Events often come seconds apart (pending, firing, a step), which on a one-minute axis is a few pixels:
    each label goes on the first row whose last label ends before this one starts. A label reads to the
    right of its marker, or to its left near the right edge.
    """
    row_ends: list[float] = []
    placed: list[PlacedLabel] = []
    for e in events:
        rel = axis.rel(e.at)
        when, text = signed(rel), cut(e.label, MAX_LABEL)
        x, width = axis.x(rel), text_width(f"{when}  {text}")
        if x + 5 + width <= WIDTH - 2:
            start = x + 5
        elif x - 5 - width >= 2:
            start = x - 5 - width
        else:
            start = WIDTH - 2 - width
        row = next((i for i, end in enumerate(row_ends) if end + LABEL_GAP <= start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(start + width)
        else:
            row_ends[row] = start + width
        placed.append(PlacedLabel(event=e, x=x, text_x=start, row=row, when=when, text=text))
    return placed


def grid(axis: Axis, top: float, bottom: float, labels_at: float | None) -> Markup:
    """Faint vertical lines at the ticks, with the tick labels at ``labels_at`` (a y) when given."""
    parts = []
    for t in axis.ticks():
        x = axis.x(t)
        parts.append(Markup('<line class="grid{}" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            " zero" if t == 0 else "", f"{x:.1f}", f"{top:.1f}", f"{x:.1f}", f"{bottom:.1f}"))
        if labels_at is not None:
            parts.append(Markup('<text class="tick" x="{}" y="{}" text-anchor="middle">{}</text>').format(
                f"{x:.1f}", f"{labels_at:.1f}", tick_label(t)))
    return Markup("").join(parts)


def vline(axis: Axis, rel: float | None, top: float, bottom: float, css: str, title: str) -> Markup:
    """A dashed vertical marker (fault injected, recovered) through a chart; nothing if the time is unknown
    or off the axis."""
    if rel is None or not axis.lo <= rel <= axis.hi:
        return Markup("")
    x = axis.x(rel)
    return Markup('<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}"><title>{}</title></line>').format(
        css, f"{x:.1f}", f"{top:.1f}", f"{x:.1f}", f"{bottom:.1f}", title)


def span(axis: Axis, start: float, end: float, y: float, css: str, title: str, text: str = "") -> Markup:
    """One shaded bar of a lane (fault in, alert pending, alert firing), with its name inside when it fits."""
    x0, x1 = axis.x(max(start, axis.lo)), axis.x(min(end, axis.hi))
    rect = Markup('<rect class="{}" x="{}" y="{}" width="{}" height="{}" rx="3"><title>{}</title></rect>')
    bar = rect.format(css, f"{x0:.1f}", f"{y:.1f}", f"{max(x1 - x0, 1.5):.1f}", f"{LANE_H:.1f}", title)
    if text and x1 - x0 > text_width(text, 10) + 8:
        bar += Markup('<text class="span-text" x="{}" y="{}">{}</text>').format(
            f"{x0 + 4:.1f}", f"{y + LANE_H - 4.5:.1f}", text)
    return bar


def lane_name(y: float, name: str, title: str) -> Markup:
    """A lane's name in the gutter, right-aligned against the plot."""
    text = Markup('<text class="lane-name" x="{}" y="{}" text-anchor="end">{}<title>{}</title></text>')
    return text.format(f"{GUTTER - 8:.1f}", f"{y + LANE_H - 4:.1f}", cut(name, 28), title)


def fault_lane(fault: FaultRecord, axis: Axis, y: float) -> Markup:
    """Fault injected → reverted (to the edge of the chart if it never was)."""
    reverted = fault.reverted_at
    end = axis.rel(reverted) if reverted is not None else axis.hi
    title = f"fault {fault.kind}: injected at 0s, " + (
        f"reverted at {signed(end)}" if reverted is not None else "never reverted")
    inside = "fault in" if reverted is not None else "fault in (not reverted)"
    return lane_name(y, f"fault: {fault.kind}", title) + span(axis, 0.0, end, y, "span-fault", title, inside)


def alert_lane(alert: AlertTiming, axis: Axis, y: float) -> Markup:
    """Alert pending → firing → resolved; an alert still firing at the end runs to the chart's edge."""
    pending, firing, resolved = (axis.rel(at) if at is not None else None
                                 for at in (alert.pending_at, alert.firing_at, alert.resolved_at))
    expected = "expected" if alert.expected else "not expected"
    detail = (f"{alert.name} ({expected}, severity {alert.severity or '?'}): pending {secs(pending)}, "
              f"firing {secs(firing)}, resolved {secs(resolved)}")
    end = resolved if resolved is not None else axis.hi
    out = lane_name(y, alert.name, detail)
    if pending is not None:
        until = firing if firing is not None else end
        out += span(axis, pending, until, y, "span-pending", detail, "pending")
    if firing is not None:
        out += span(axis, firing, end, y, "span-firing", detail,
                    "firing" if resolved is not None else "firing (not resolved)")
    return out


def event_marks(placed: list[PlacedLabel], axis_y: float, rows_top: float) -> Markup:
    """Markers on the event axis, each with a leader line down to its label's row."""
    leaders, dots, texts = [], [], []
    for p in placed:
        colour = KIND_COLOURS.get(p.event.kind, "#374151")
        row_y = rows_top + p.row * ROW_H
        leaders.append(Markup('<line class="leader" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
            f"{p.x:.1f}", f"{axis_y:.1f}", f"{p.x:.1f}", f"{row_y - 4:.1f}"))
        dots.append(Markup('<circle cx="{}" cy="{}" r="5" fill="{}"><title>{}</title></circle>').format(
            f"{p.x:.1f}", f"{axis_y:.1f}", colour, p.event.label))
        texts.append(Markup('<text class="event" x="{}" y="{}"><tspan class="when" fill="{}">{}</tspan> {}'
                            '<title>{}</title></text>').format(
            f"{p.text_x:.1f}", f"{row_y + 4:.1f}", colour, p.when, p.text, p.event.label))
    return Markup("").join(leaders + dots + texts)


def lanes(result: DrillResult, axis: Axis, top: float) -> tuple[Markup, float]:
    """The shaded spans, one lane each: the fault, then every alert that got as far as pending.
    Returns them with the y where they end."""
    out, y = Markup(""), top
    if result.fault is not None:
        out += fault_lane(result.fault, axis, y)
        y += LANE_H + LANE_GAP
    for alert in result.alerts:
        if alert.pending_at is not None or alert.firing_at is not None:
            out += alert_lane(alert, axis, y)
            y += LANE_H + LANE_GAP
    return out, y


def timeline_svg(result: DrillResult, axis: Axis) -> Markup:
    """The drill's story on one axis: lanes for the fault and each alert, then every event with its label."""
    events = result.timeline()
    spans, lanes_bottom = lanes(result, axis, top=26.0)
    axis_y = lanes_bottom + 12
    placed = place_labels(events, axis)
    rows = max((p.row for p in placed), default=-1) + 1
    rows_top = axis_y + 22
    height = rows_top + rows * ROW_H + 4
    body = grid(axis, 18, axis_y, labels_at=12) + spans
    body += Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(
        f"{GUTTER:.1f}", f"{axis_y:.1f}", f"{WIDTH - RIGHT:.1f}", f"{axis_y:.1f}")
    body += Markup('<text class="lane-name" x="{}" y="{}" text-anchor="end">events</text>').format(
        f"{GUTTER - 8:.1f}", f"{axis_y + 4:.1f}")
    body += vline(axis, 0.0, 18, axis_y, "mark-fault", "fault injected (t=0)")
    body += vline(axis, result.ttr_s, 18, axis_y, "mark-recovered", f"recovered at {secs(result.ttr_s)}")
    body += event_marks(placed, axis_y, rows_top)
    return Markup('<svg class="timeline" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>').format(
        f"{WIDTH:.0f}", f"{height:.0f}", f"timeline of {result.id}, {len(events)} events", body)


# -- the series charts -----------------------------------------------------------------------------
def series_path(series: Series, axis: Axis, lo: float, hi: float) -> Markup:
    """The series as a line with a light fill under it, scaled to its own min..max (each series has its own
    unit, so they cannot share a y axis)."""
    bottom = SERIES_TOP + SERIES_PLOT_H
    pad = (hi - lo) * 0.08 if hi > lo else max(abs(hi), 1.0)
    y_lo, y_hi = lo - pad, hi + pad

    def y(v: float) -> float:
        return bottom - (v - y_lo) / (y_hi - y_lo) * SERIES_PLOT_H

    coords = [(axis.x(axis.rel(t)), y(v)) for t, v in sorted(series.points)]
    if len(coords) == 1:  # a lone sample draws no line: show it as a dot
        (cx, cy), = coords
        return Markup('<circle class="dot" cx="{}" cy="{}" r="3"/>').format(f"{cx:.1f}", f"{cy:.1f}")
    line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
    area = f"{coords[0][0]:.1f},{bottom:.1f} {line} {coords[-1][0]:.1f},{bottom:.1f}"
    shapes = Markup('<polygon class="area" points="{}"/><polyline class="line" points="{}"/>')
    return shapes.format(area, line)


def series_gutter(series: Series, lo: float | None, hi: float | None) -> Markup:
    """Name, unit and the min/max the line is scaled to, in the left column."""
    bottom = SERIES_TOP + SERIES_PLOT_H
    out = Markup('<text class="series-name" x="0" y="{}">{}<title>{}</title></text>').format(
        f"{SERIES_TOP + 24:.1f}", cut(series.name, 22), f"{series.name}: {series.query}")
    out += Markup('<text class="series-unit" x="0" y="{}">{}</text>').format(
        f"{SERIES_TOP + 39:.1f}", f"unit: {series.unit}" if series.unit else "no unit")
    if lo is not None and hi is not None:
        out += Markup('<text class="minmax" x="{}" y="{}" text-anchor="end">max {}</text>').format(
            f"{GUTTER - 8:.1f}", f"{SERIES_TOP + 8:.1f}", number(hi, series.unit))
        out += Markup('<text class="minmax" x="{}" y="{}" text-anchor="end">min {}</text>').format(
            f"{GUTTER - 8:.1f}", f"{bottom:.1f}", number(lo, series.unit))
    return out


def series_svg(series: Series, result: DrillResult, axis: Axis, last: bool) -> Markup:
    """One small chart per Prometheus series, on the drill's time axis, with the fault and recovery marked.
    The last chart of a drill carries the tick labels (the timeline above carries them too)."""
    bottom = SERIES_TOP + SERIES_PLOT_H
    height = SERIES_H + (TICK_H if last else 0)
    values = [v for _, v in series.points]
    lo, hi = (min(values), max(values)) if values else (None, None)
    body = grid(axis, SERIES_TOP, bottom, labels_at=bottom + 16 if last else None)
    body += Markup('<rect class="plot" x="{}" y="{}" width="{}" height="{}"/>').format(
        f"{GUTTER:.1f}", f"{SERIES_TOP:.1f}", f"{WIDTH - GUTTER - RIGHT:.1f}", f"{SERIES_PLOT_H:.1f}")
    if lo is not None and hi is not None:
        body += series_path(series, axis, lo, hi)
    else:
        body += Markup('<text class="empty" x="{}" y="{}" text-anchor="middle">no samples</text>').format(
            f"{GUTTER + (WIDTH - GUTTER - RIGHT) / 2:.1f}", f"{SERIES_TOP + SERIES_PLOT_H / 2 + 4:.1f}")
    body += series_gutter(series, lo, hi)
    if result.injected_at is not None:
        body += vline(axis, 0.0, SERIES_TOP, bottom, "mark-fault", "fault injected (t=0)")
        body += vline(axis, result.ttr_s, SERIES_TOP, bottom, "mark-recovered",
                      f"recovered at {secs(result.ttr_s)}")
    return Markup('<svg class="series-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{}</svg>').format(
        f"{WIDTH:.0f}", f"{height:.0f}", f"{series.name} ({series.unit})", body)


# -- what the template gets -------------------------------------------------------------------------
@dataclass(frozen=True)
class BudgetRow:
    """A budget with its verdict spelled out: over by how much, under by how much, or never reached."""

    budget: PhaseBudget
    over: bool
    margin: str


def budget_row(b: PhaseBudget) -> BudgetRow:
    """A phase that never reached its end (actual None) missed its budget as surely as one that was late."""
    if b.actual_s is None:
        return BudgetRow(b, over=True, margin="not reached (over budget)")
    over_s = b.over_s if b.over_s is not None else b.actual_s - b.budget_s
    if over_s > 0 or not b.ok:
        return BudgetRow(b, over=True, margin=f"over budget by {secs(over_s)}")
    return BudgetRow(b, over=False, margin=f"under by {secs(-over_s)}")


def step_css(step: StepResult) -> str:
    """Colour a step by what happened to it: failed red, skipped amber, left out grey."""
    if step.status == "ran":
        return "ok" if step.exit_code == 0 else "bad"
    if step.status == "interrupted":
        return "bad"
    if step.status.startswith("skipped") or step.status == "unbound":
        return "warn"
    return "muted"


def alert_rows(result: DrillResult, axis: Axis | None) -> list[dict[str, str]]:
    """Alert timings relative to the fault, as the table shows them."""
    def rel(at: float | None) -> str:
        return signed(axis.rel(at)) if at is not None and axis is not None else "—"
    return [{"name": a.name, "expected": "expected" if a.expected else "not expected",
             "severity": a.severity or "—", "pending": rel(a.pending_at), "firing": rel(a.firing_at),
             "resolved": rel(a.resolved_at)} for a in result.alerts]


@dataclass(frozen=True)
class DrillView:
    """One drill with its charts already drawn: the template only lays things out."""

    r: DrillResult
    anchor: str
    timeline: Markup | None
    charts: list[Markup]
    caption: str
    budgets: list[BudgetRow]
    alerts: list[dict[str, str]]
    legend: list[tuple[str, str]]  # (name, colour) of each kind of event on this drill's timeline


def legend(result: DrillResult) -> list[tuple[str, str]]:
    """The colour key, limited to the kinds of event this drill had (an 'abort' entry on a drill that never
    aborted would only make the reader look for one)."""
    kinds = {e.kind for e in result.timeline()}
    return [(KIND_NAMES[k], colour) for k, colour in KIND_COLOURS.items() if k in kinds]


def drill_view(result: DrillResult) -> DrillView:
    """Draw a drill's charts; a drill whose fault never went in gets no timeline (and says why)."""
    axis = axis_for(result)
    timeline = timeline_svg(result, axis) if axis is not None and result.injected_at is not None else None
    charts = [series_svg(s, result, axis, last=i == len(result.series) - 1)
              for i, s in enumerate(result.series)] if axis is not None else []
    return DrillView(r=result, anchor=slug(result.id), timeline=timeline, charts=charts,
                     caption=axis.caption if axis else "", budgets=[budget_row(b) for b in result.budgets],
                     alerts=alert_rows(result, axis), legend=legend(result))


def run_window(results: list[DrillResult]) -> str:
    """When the drills ran, from the results themselves (the report stays a pure function of them)."""
    starts = [r.started_at for r in results if r.started_at is not None]
    ends = [r.finished_at for r in results if r.finished_at is not None] or starts
    if not starts:
        return ""
    fmt = "%Y-%m-%d %H:%M:%S"
    return (f"{datetime.fromtimestamp(min(starts), UTC).strftime(fmt)} to "
            f"{datetime.fromtimestamp(max(ends), UTC).strftime(fmt)} UTC")


def environment() -> Environment:
    """Autoescaping on for everything (not only *.html): results carry commands and command output."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["secs"] = secs
    env.globals["step_css"] = step_css
    return env


def render_html(results: list[DrillResult]) -> str:
    """The whole report as one HTML string: summary table first, then one section per drill."""
    counts = {v.value: sum(r.verdict == v for r in results) for v in Verdict}
    return environment().get_template(TEMPLATE).render(
        drills=[drill_view(r) for r in results], counts=counts, window=run_window(results))


def write_html(results: list[DrillResult], directory: Path) -> Path:
    """Write ``directory/report.html`` next to results.json and junit.xml."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.html"
    path.write_text(render_html(results), encoding="utf-8")
    return path
