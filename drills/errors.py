"""One exception root for drillbook.

    DrillbookError
    ├── RunbookError        a runbook file that cannot be read as runbooks (file:line)
    ├── SpecError           a drill spec that does not validate (file:line)
    ├── TargetError         a target refused or failed an operation
    │   └── UnsupportedVerb the sandbox kubectl met a verb it does not implement
    ├── FaultError          a fault could not be injected, confirmed or reverted
    ├── PrerequisiteError   this machine lacks a privilege a fault needs (the drill is skipped, saying which)
    └── ReportError         a report could not be delivered (e.g. the Pushgateway is unreachable)

Every error carries the context a person needs to act: the file and line for input errors, the drill id
or the object for runtime errors. Raise them ``from`` their cause.
"""

from __future__ import annotations


class DrillbookError(Exception):
    """Root of every error drillbook raises on purpose."""


class _Located(DrillbookError):
    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class RunbookError(_Located):
    """A runbook Markdown file does not have the structure drillbook needs."""


class SpecError(_Located):
    """A drill spec (YAML) is malformed or refers to something that does not exist."""


class TargetError(DrillbookError):
    """A target could not do what was asked (object missing, refused by the allowlist, ...)."""


class UnsupportedVerb(TargetError):
    """The sandbox's kubectl does not implement this verb (it says which, instead of pretending)."""


class FaultError(DrillbookError):
    """A fault could not be injected, confirmed or reverted."""


class PrerequisiteError(DrillbookError):
    """This machine lacks what a fault needs (a writable cgroup, CAP_NET_ADMIN, ...)."""


class ReportError(DrillbookError):
    """A report could not be written or delivered (the Pushgateway refused or could not be reached, ...)."""
