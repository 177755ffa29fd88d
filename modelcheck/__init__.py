"""A generic explicit-state model checker: breadth-first search with TLC's counting.

Typical use::

    from raftkit.modelcheck import check
    result = check(model)            # any object implementing raftkit.modelcheck.model.Model
    if result.violation:
        for label, state in result.violation.trace: ...

The command line (``raftmc``) lives in :mod:`raftkit.modelcheck.cli`.
"""

from .engine import check
from .result import Coverage, Result, Violation
from .store import ExactStore, FingerprintStore, make_store
from .trace import ReplayError, replay

__all__ = [
    "check",
    "Coverage",
    "Result",
    "Violation",
    "ExactStore",
    "FingerprintStore",
    "make_store",
    "ReplayError",
    "replay",
]
