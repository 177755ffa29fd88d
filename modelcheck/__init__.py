"""raftmc: a generic model checker (:mod:`.engine`) and the tools that apply it to Raft.

Beside the engine, each a package named for its job: the compiled form of the spec that the
checker runs by default (:mod:`.compiled`), Z3 proofs and bounded model checking
(:mod:`.symbolic`), pictures and trace exports (:mod:`.pictures`), conformance of an
implementation's traces, and the ``raftmc`` command line (:mod:`.cli`). Typical use::

    from raftkit.modelcheck import check
    result = check(model)        # any object implementing raftkit.modelcheck.engine.Model
    if result.violation:
        for label, state in result.violation.trace: ...
"""

from .engine import (
    Coverage,
    ExactStore,
    FingerprintStore,
    Options,
    OptionsError,
    ReplayError,
    Result,
    Violation,
    WorkerFailed,
    check,
    make_store,
    replay,
)

__all__ = [
    "check",
    "Options",
    "OptionsError",
    "WorkerFailed",
    "Coverage",
    "Result",
    "Violation",
    "ExactStore",
    "FingerprintStore",
    "make_store",
    "ReplayError",
    "replay",
]
