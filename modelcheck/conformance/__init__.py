"""Conformance: replay an implementation's trace (JSON Lines, docs/conformance.md) against the
spec and name every event no interpretation of the spec explains.

:mod:`.traceformat` reads and checks the trace format; :mod:`.validator` follows, per node, the
set of spec states consistent with the trace so far; :mod:`.rules` names the rule of Figure 2
each deviation breaks and whether it threatens safety or only liveness.
"""

from .explain import failure_text
from .records import (
    DEFAULT_MAX_INTERPRETATIONS,
    IMPL_OPTIONS,
    Failure,
    Outcome,
    TooManyInterpretations,
)
from .validator import conform_files, conform_lines, validate

__all__ = [
    "conform_files",
    "conform_lines",
    "validate",
    "failure_text",
    "Failure",
    "Outcome",
    "TooManyInterpretations",
    "IMPL_OPTIONS",
    "DEFAULT_MAX_INTERPRETATIONS",
]
