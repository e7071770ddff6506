"""drillbook: prove incident runbooks work.

The engine package. It knows drills, runbooks, targets and verdicts; it does not know concrete faults or
verifiers, which it finds through the registry (:mod:`drills.registry`).
"""

__version__ = "0.1.0"
