"""A breadth-first explicit-state model checker for any model: no Raft in it.

A model implements the small protocol of :mod:`.model` (initial states, successors labelled by
action, properties, a state constraint, a canonical form); ``check(model, Options(...))``
(:mod:`.checker`) explores every reachable state and returns a :class:`.result.Result`, with a
shortest counterexample when a property fails. The counts are TLC's (generated, distinct,
depth), so they can be compared with TLC's on the same model.
"""

from .checker import Options, OptionsError, WorkerFailed, check
from .model import CheckingOnly, Label, Model, Properties, only_properties
from .result import Coverage, Result, Violation
from .store import ExactStore, FingerprintStore, make_store
from .trace import ReplayError, replay

__all__ = [
    "check",
    "Options",
    "OptionsError",
    "WorkerFailed",
    "Model",
    "Properties",
    "CheckingOnly",
    "only_properties",
    "Label",
    "Result",
    "Coverage",
    "Violation",
    "ExactStore",
    "FingerprintStore",
    "make_store",
    "ReplayError",
    "replay",
]
