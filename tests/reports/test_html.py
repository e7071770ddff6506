"""report.html: one self-contained page, a timeline per drill, a chart per series, everything escaped."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from drills.model import DrillResult, PhaseBudget, StepResult, TimelineEvent, Verdict
from drills.reports.html import axis_for, place_labels, render_html, text_width, write_html
from tests.reports.conftest import T0, sample

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source", "area", "base", "embed"}


@dataclass
class Section:
    """What the parser saw inside one drill's <section>."""

    classes: list[str] = field(default_factory=list)  # class of every element, for 'budget-over' etc.
    svgs: list[str] = field(default_factory=list)  # class of each <svg>
    timeline_text: list[str] = field(default_factory=list)  # text of each <text> in the timeline SVG
    chart_text: list[str] = field(default_factory=list)  # all text in the series charts
    text: list[str] = field(default_factory=list)


class Page(HTMLParser):
    """Parses the report strictly: every non-void element closed, in order; collects what the tests check."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []  # values of every src= and href=
        self.sections: dict[str, Section] = {}
        self.current: Section | None = None
        self.svg: str | None = None
        self.in_text = False
        self.in_title = False  # an SVG <title> (tooltip) inside a <text>: not part of the visible label
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.links += [v for k, v in a.items() if k in ("src", "href", "xlink:href")]
        if tag == "section" and "drill" in a.get("class", "").split():
            self.current = self.sections[a["id"]] = Section()
        if self.current is not None:
            self.current.classes += a.get("class", "").split()
        if tag == "svg":
            self.svg = a.get("class", "")
            if self.current is not None:
                self.current.svgs.append(self.svg)
        if tag == "text" and self.svg == "timeline":
            self.in_text, self.text = True, []
        if tag == "title" and self.in_text:
            self.in_title = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        open_tag = self.stack[-1] if self.stack else None
        assert open_tag == tag, f"</{tag}> closes <{open_tag}>"
        self.stack.pop()
        if tag == "title":
            self.in_title = False
        if tag == "text" and self.in_text and self.current is not None:
            self.current.timeline_text.append(" ".join("".join(self.text).split()))
            self.in_text = False
        if tag == "svg":
            self.svg = None
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.in_text and not self.in_title:
            self.text.append(data)
        if self.current is not None:
            self.current.text.append(data)
            if self.svg == "series-chart":
                self.current.chart_text.append(data)


def parse(results: list[DrillResult]) -> tuple[str, Page]:
    html = render_html(results)
    page = Page()
    page.feed(html)
    page.close()
    assert page.stack == [], f"unclosed elements: {page.stack}"
    return html, page


def no_fault(drill_id: str = "agent-down/config-error") -> DrillResult:
    r = sample(Verdict.ERROR, drill_id)
    r.fault, r.alerts, r.series, r.ttd_s = None, [], [], None
    r.reason = "steady state not reached: 0/2 replicas ready before the fault"
    return r


def test_page_parses_with_one_timeline_per_drill_labelling_every_event(
        passed_result: DrillResult, failed_result: DrillResult) -> None:
    html, page = parse([passed_result, failed_result])
    assert html.startswith("<!DOCTYPE html>") and page.tags.count("section") == 3  # summary + 2 drills
    assert list(page.sections) == ["drill-agent-down--oom", "drill-agent-down--oom-withheld"]
    for result, section in zip([passed_result, failed_result], page.sections.values(), strict=True):
        assert section.svgs.count("timeline") == 1
        events = result.timeline()
        assert len(events) >= 7  # fault, confirmed, 2-3 alert events, step, (recovered,) reverted
        labels = " | ".join(section.timeline_text)
        for e in events:
            assert e.label in labels, e.label
        assert "+19.7s AgentDown firing" in section.timeline_text  # time relative to the injection
        assert "+0.0s fault injected: oom" in section.timeline_text
    passed = page.sections["drill-agent-down--oom"]
    assert "+24.1s service recovered (and held stable)" in passed.timeline_text


def test_one_chart_per_series_with_name_unit_and_range(passed_result: DrillResult) -> None:
    passed_result.series[1].points = []
    _, page = parse([passed_result])
    (section,) = page.sections.values()
    assert section.svgs == ["timeline", "series-chart", "series-chart", "series-chart"]
    text = " ".join(section.chart_text)
    for name in ("error rate", "p95 latency", "up"):
        assert name in text
    assert "unit: ratio" in text and "max 1 ratio" in text and "min 0 ratio" in text
    assert "max 2" in text and "min 0" in text
    assert "no samples" in text  # the emptied p95 series
    assert section.classes.count("mark-fault") == 1 + 3 and section.classes.count("mark-recovered") == 1 + 3


def test_over_budget_rows_are_marked(passed_result: DrillResult, failed_result: DrillResult) -> None:
    failed_result.budgets.append(PhaseBudget(phase="mitigate", budget_s=20, source="checklist Phase 2",
                                             actual_s=32.5, over_s=12.5, ok=False))
    html, page = parse([passed_result, failed_result])
    passed, failed = page.sections.values()
    assert "budget-over" not in passed.classes and passed.classes.count("budget-ok") == 2
    assert failed.classes.count("budget-over") == 2 and failed.classes.count("budget-ok") == 1
    assert "not reached (over budget)" in html  # recover: never recovered
    assert "over budget by 12.5s" in html
    assert "under by 280s" in html  # detect: 19.7s of 300s


def test_everything_from_results_is_escaped(passed_result: DrillResult) -> None:
    passed_result.steps.append(StepResult(command="echo '<script>alert(1)</script>' && kubectl get pods",
                                          cls="mutating", line=120, status="ran", exit_code=0, duration_s=0.1,
                                          output="<b>bold</b> & <img src=x onerror=alert(2)>",
                                          started_at=T0 + 21.0))
    passed_result.findings.append("runbook line 7: <iframe> in a note")
    html, page = parse([passed_result])
    for tag in ("<script", "<img", "<iframe", "<b>"):
        assert tag not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in html
    assert "script" not in page.tags and "img" not in page.tags
    (section,) = page.sections.values()
    assert any("echo '<script>alert(1)</script>'" in t for t in section.timeline_text)  # the step's label


def test_self_contained_no_external_resources(passed_result: DrillResult, failed_result: DrillResult) -> None:
    html, page = parse([passed_result, failed_result, no_fault()])
    assert page.links and all(link.startswith("#drill-") for link in page.links)
    assert not [link for link in page.links if link.startswith(("http://", "https://", "//"))]
    assert not {"script", "link", "img", "iframe", "object"} & set(page.tags)
    assert "@import" not in html and "url(" not in html


def test_a_drill_without_fault_says_so(passed_result: DrillResult) -> None:
    html, page = parse([passed_result, no_fault()])
    assert "no timeline: the fault was not injected" in html
    sections = page.sections
    assert sections["drill-agent-down--config-error"].svgs == []
    assert sections["drill-agent-down--oom"].svgs[0] == "timeline"
    assert html.count("no timeline: the fault was not injected") == 1


def test_injection_that_never_happened_with_series_kept(passed_result: DrillResult) -> None:
    r = sample(Verdict.ERROR, "agent-down/half")
    assert r.fault is not None
    r.fault.injected_at = r.fault.confirmed_at = r.fault.reverted_at = None
    r.alerts, r.ttr_s = [], None
    html, page = parse([r])
    (section,) = page.sections.values()
    assert "no timeline: the fault was not injected" in html
    assert section.svgs == ["series-chart"] * 3  # drawn from the drill's start instead
    assert "seconds after the drill started" in html


def test_summary_table_has_verdicts_timings_and_failed_checks(
        passed_result: DrillResult, failed_result: DrillResult) -> None:
    html, _ = parse([passed_result, failed_result, no_fault()])
    summary = html[html.index('<table class="summary">'):html.index("</table>")]
    assert summary.count('class="badge v-passed"') == 1 and summary.count('class="badge v-failed"') == 1
    assert summary.count('class="badge v-error"') == 1
    assert "24.1s" in summary and "21.0s" in summary and "300s" in summary
    for name in failed_result.failed_checks:
        assert name in summary
    assert 'href="#drill-agent-down--oom-withheld"' in summary


def test_step_rows_and_output_in_details(failed_result: DrillResult) -> None:
    html, _ = parse([failed_result])
    output = "deployment.apps/agent-deployment patched"
    assert f"<details><summary>output</summary><pre>{output}</pre></details>" in html
    for status in ("ran", "not-selected", "skipped-external"):
        assert f">{status}</span>" in html
    assert 'class="badge bad-badge">ran' in html  # exit 1
    assert 'class="badge warn-badge">skipped-external' in html
    assert "runbooks/production-agent.md:140: skipped-external" in html


def test_labels_of_close_events_are_staggered_without_overlap(passed_result: DrillResult) -> None:
    axis = axis_for(passed_result)
    assert axis is not None
    close = [TimelineEvent(at=T0 + 20 + i * 0.2, kind="step", label=f"runbook line {100 + i}: kubectl apply")
             for i in range(6)]
    events = close + passed_result.timeline()
    placed = place_labels(sorted(events, key=lambda e: e.at), axis)
    assert max(p.row for p in placed) >= 5
    rows: dict[int, list[tuple[float, float]]] = {}
    for p in placed:
        width = text_width(f"{p.when}  {p.text}")
        assert 0 <= p.text_x and p.text_x + width <= 1100
        for start, end in rows.get(p.row, []):
            assert p.text_x >= end or p.text_x + width <= start, f"{p.text} overlaps on row {p.row}"
        rows.setdefault(p.row, []).append((p.text_x, p.text_x + width))


def test_write_html_creates_the_directory(tmp_path: Path, passed_result: DrillResult) -> None:
    path = write_html([passed_result], tmp_path / "out" / "run-1")
    assert path == tmp_path / "out" / "run-1" / "report.html"
    assert path.read_text(encoding="utf-8") == render_html([passed_result])
