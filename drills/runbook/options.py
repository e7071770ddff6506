"""What the parser takes a heading, a label or a severity word to mean, and the alert rules it checks against.

Teams name the same things differently ("Diagnosis", "Triage", "Investigation"; "Mitigation", "Fix",
"Resolution"), so the vocabulary is data a team can extend: a ``drillbook-style.yaml`` next to its
runbooks (or ``--style`` on ``drillbook parse``). Alert rule files (Prometheus rule groups or a
PrometheusRule object) give the severity of a runbook that states none and the list of alerts that exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from drills.errors import RunbookError
from drills.runbook.model import SEVERITY_WORDS, SectionKind

STYLE_FILE = "drillbook-style.yaml"
_NUMBERING = re.compile(
    r"^(?:(?:step|phase|part|section)\s*)?(?:\d+|[ivx]+|[a-z])[.):]\s+|^\d+\s+", re.IGNORECASE
)
_WORD = re.compile(r"[a-z][a-z0-9]*")


@dataclass(frozen=True)
class ParseOptions:
    """Section vocabulary (matched as whole leading words of a heading, case-insensitive) and switches.

    ``label_priority`` maps an alert rule's ``severity`` label to a P-level, for runbooks that state no
    severity themselves. ``indented_code`` reads indented code blocks as steps (off: they are as often
    output as commands).
    """

    symptoms: tuple[str, ...] = (
        "symptoms",
        "symptom",
        "signs",
        "alerts",
        "alert",
        "detection",
        "how to detect",
        "what you see",
    )
    impact: tuple[str, ...] = ("impact", "severity", "priority", "business impact", "user impact")
    investigation: tuple[str, ...] = (
        "investigation",
        "investigate",
        "diagnosis",
        "diagnose",
        "diagnostics",
        "triage",
        "troubleshooting",
        "troubleshoot",
        "debugging",
        "debug",
        "checks",
        "check",
        "verification",
        "verify",
        "validation",
        "identify",
        "inspect",
        "analysis",
        "confirm",
        "how to confirm",
        "investigation steps",
    )
    remediation: tuple[str, ...] = (
        "resolution",
        "resolve",
        "remediation",
        "remediate",
        "mitigation",
        "mitigate",
        "mitigations",
        "fix",
        "fixes",
        "how to fix",
        "recovery",
        "recover",
        "workaround",
        "workarounds",
        "actions",
        "action",
        "remedy",
        "response",
        "solution",
        "solutions",
        "restore",
        "rollback",
    )
    procedure: tuple[str, ...] = ("steps", "procedure", "procedures", "instructions", "playbook", "runbook",
                                  "what to do")  # remediation only as a heading's first words
    causes: tuple[str, ...] = (
        "causes",
        "cause",
        "common causes",
        "possible causes",
        "root causes",
        "likely causes",
        "potential causes",
        "common issues",
        "known issues",
        "failure modes",
        "scenarios",
        "common causes & resolutions",
    )
    severity_words: Mapping[str, str] = field(default_factory=lambda: dict(SEVERITY_WORDS))
    label_priority: Mapping[str, str] = field(
        default_factory=lambda: {
            "critical": "P0",
            "page": "P1",
            "high": "P1",
            "error": "P1",
            "major": "P1",
            "warning": "P2",
            "medium": "P2",
            "minor": "P2",
            "info": "P3",
            "low": "P3",
            "none": "P3",
        }
    )
    indented_code: bool = False
    alert_rules: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # alert -> its labels

    _cache: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def kind(self, title: str) -> SectionKind:
        """The kind of a section heading or bold label; "Investigation & Resolution" is a kind of its own.

        Phrases match as whole words: at the start of the title, or (for causes, investigation and
        remediation) anywhere in it. Results are cached per title: a big file repeats its section names.
        """
        cached = self._cache.get(title)
        if cached is None:
            cached = self._cache[title] = self._kind(title)
        return cached  # type: ignore[return-value]  # only _kind's results are stored

    def _says(self, vocabulary: str, text: str, anywhere: bool = False) -> bool:
        key = f"re:{vocabulary}:{anywhere}"
        pattern = self._cache.get(key)
        if pattern is None:
            phrases = sorted((" ".join(_WORD.findall(p.casefold())) for p in getattr(self, vocabulary)), key=len)
            alternatives = "|".join(re.escape(p) for p in reversed(phrases) if p)
            pattern = self._cache[key] = re.compile(rf"{'(?:^| )' if anywhere else '^'}(?:{alternatives})(?: |$)")
        return pattern.search(text) is not None  # type: ignore[attr-defined]  # a compiled pattern

    def _kind(self, title: str) -> SectionKind:
        text = _NUMBERING.sub("", title.strip().strip("*_#:` ").strip()).casefold().replace("&", " and ")
        words = " ".join(_WORD.findall(text))
        if not words:
            return "other"
        if self._says("causes", words) or (self._says("causes", words, True) and not self._says("symptoms", words)):
            return "causes"
        inv, fix = self._says("investigation", words, True), self._says("remediation", words, True)
        if inv and fix:
            return "investigation-resolution"
        kinds: tuple[tuple[SectionKind, str], ...] = (
            ("symptoms", "symptoms"), ("impact", "impact"), ("investigation", "investigation"),
            ("resolution", "remediation"))
        for kind, vocabulary in kinds:
            if self._says(vocabulary, words):
                return kind
        if self._says("procedure", words):
            return "resolution"
        return "investigation" if inv else "resolution" if fix else "other"

    def with_rules(self, paths: Iterable[Path]) -> ParseOptions:
        """These options plus the alerts (and their labels) defined in Prometheus rule files."""
        rules = dict(self.alert_rules)
        for path in paths:
            rules.update(load_alert_rules(path))
        return replace(self, alert_rules=rules)


def load_style(path: Path, base: ParseOptions | None = None) -> ParseOptions:
    """Options from a YAML style file; unknown keys are errors (a typo must not silently do nothing)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RunbookError(f"cannot read style file: {exc}", file=str(path)) from exc
    if not isinstance(data, dict):
        raise RunbookError("a style file must be a YAML mapping", file=str(path), line=1)
    known = {f.name for f in fields(ParseOptions) if not f.name.startswith("_")} - {"alert_rules"}
    options = base or ParseOptions()
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "rules":
            options = options.with_rules(path.parent / str(p) for p in _as_list(value))
        elif key not in known:
            raise RunbookError(
                f"unknown style key {key!r}; known: rules, {', '.join(sorted(known))}", file=str(path)
            )
        elif key == "indented_code":
            changes[key] = bool(value)
        elif key in ("severity_words", "label_priority"):
            changes[key] = {str(k): str(v) for k, v in dict(value).items()}
        else:  # a vocabulary list extends the built-in one
            changes[key] = tuple(dict.fromkeys([*getattr(options, key), *(str(v) for v in _as_list(value))]))
    return replace(options, **changes)


def options_for(runbook_file: Path) -> ParseOptions:
    """The options for a runbook file: its directory's ``drillbook-style.yaml`` if there is one."""
    style = runbook_file.parent / STYLE_FILE
    return load_style(style) if style.is_file() else ParseOptions()


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def load_alert_rules(path: Path) -> dict[str, dict[str, str]]:
    """Alert name -> labels from a Prometheus rule file or a PrometheusRule object (``spec.groups``)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RunbookError(f"cannot read alert rules: {exc}", file=str(path)) from exc
    if isinstance(data, dict) and isinstance(data.get("spec"), dict):
        data = data["spec"]
    groups = data.get("groups") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise RunbookError("not a Prometheus rule file: no 'groups' list", file=str(path), line=1)
    found: dict[str, dict[str, str]] = {}
    for group in groups:
        for rule in (group or {}).get("rules") or []:
            if isinstance(rule, dict) and "alert" in rule:
                labels = rule.get("labels") or {}
                found[str(rule["alert"])] = {str(k): str(v) for k, v in labels.items()}
    return found
