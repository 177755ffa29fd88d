"""The front door: ``check(model, Options(...))`` picks the search that fits and runs it.

As Stateright's ``CheckerBuilder``, one entry point over one search interface, with the options
checked here, in the library, so that every caller (the command line, a test, a notebook) gets
the same one-line refusals. Which search runs:

* a model with the batch protocol (``model.batch()``, :mod:`.batch`) and the fingerprint store:
  :mod:`.batched` (one process or ``workers`` processes, :mod:`.distributed.workers`), or, with a
  checkpoint, a resume or Ray, :mod:`.distributed.sharded`;
* any other model, or the exact store: the plain search of :mod:`.search`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .model import Model
from .progress import Snapshot
from .result import Result
from .store import Store, make_store

MAX_WORKERS = 64
#: Below this many states the frontier would spill to disk every few states: never what a
#: search wants, and most likely a typo.
MIN_FRONTIER_BUDGET = 100


class OptionsError(ValueError):
    """Options that cannot run together, or a value out of range: one line naming the option.

    ``option`` is the field of :class:`Options` at fault; the command line shows it as its flag.
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option} {message}")
        self.option = option
        self.message = message


class WorkerFailed(RuntimeError):
    """A worker process of the search died or failed: its share of the states is lost, so the
    search cannot go on. ``worker`` is its number, ``pid`` its process id."""

    def __init__(self, worker: int, pid: int | None, reason: str) -> None:
        where = f"worker {worker}" + (f" (pid {pid})" if pid is not None else "")
        super().__init__(f"{where} {reason}; the search stopped: that worker's share of the "
                         "states is lost")
        self.worker = worker
        self.pid = pid
        self.reason = reason


@dataclass(frozen=True)
class Options:
    """How to search. Every field has the default a plain ``check(model)`` runs with."""

    #: ``"fingerprint"`` (64-bit keys in a compact table) or ``"exact"`` (whole canonical
    #: forms, for debugging: more memory, no collisions), or a :class:`.store.Store`.
    store: str | Store = "fingerprint"
    #: Stop, with result ``"incomplete"``, once this many distinct states are found.
    max_states: int | None = None
    #: Stop, with result ``"incomplete"``, after this many seconds.
    max_seconds: float | None = None
    #: Worker processes, each owning a share of the fingerprint space (batch models).
    workers: int = 1
    #: States of the next level kept in memory before spilling to ``spill_dir``.
    frontier_budget: int | None = None
    spill_dir: str | None = None
    #: A directory to write checkpoints into at level boundaries, every ``checkpoint_every``
    #: seconds (0: every level).
    checkpoint: str | None = None
    checkpoint_every: float = 60.0
    #: Carry on from the newest checkpoint in ``checkpoint``.
    resume: bool = False
    #: Run the shares as actors on the Ray cluster at this address (``"auto"``: a local one).
    ray: str | None = None
    #: Seconds between two calls of the progress callback.
    progress_interval: float = 0.5

    @property
    def sharded(self) -> bool:
        """Whether the search runs as shares that can checkpoint (:mod:`.distributed.sharded`)."""
        return bool(self.checkpoint or self.resume or self.ray)

    def validate(self, model: Model[Any] | None = None) -> None:
        """Raise :class:`OptionsError` for a value out of range or options that cannot run
        together (for ``model``, when given: some need the batch protocol)."""
        if self.max_states is not None and self.max_states < 1:
            raise OptionsError("max_states", f"must be at least 1 (got {self.max_states})")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise OptionsError("max_seconds", f"must be positive (got {self.max_seconds})")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise OptionsError(
                "workers", f"must be between 1 and {MAX_WORKERS} (got {self.workers})"
            )
        if self.frontier_budget is not None and self.frontier_budget < MIN_FRONTIER_BUDGET:
            raise OptionsError(
                "frontier_budget",
                f"must be at least {MIN_FRONTIER_BUDGET} (got {self.frontier_budget})",
            )
        if self.checkpoint_every < 0:
            raise OptionsError(
                "checkpoint_every", f"must not be negative (got {self.checkpoint_every})"
            )
        if self.resume and not self.checkpoint:
            raise OptionsError("resume", "needs the checkpoint directory to resume from")
        if self.checkpoint and self.workers > 1 and not self.ray:
            raise OptionsError("checkpoint", "with more than one worker needs ray")
        if self.store not in ("fingerprint", "exact") and not hasattr(self.store, "parents"):
            raise OptionsError(
                "store", f"is an unknown store {self.store!r} (expected 'fingerprint' or 'exact')"
            )
        if model is None:
            return
        batch = hasattr(model, "batch") and self.store == "fingerprint"
        if self.workers > 1 and not batch:
            raise OptionsError("workers", "above 1 need a model with the batch protocol "
                               "and the fingerprint store")
        if self.sharded and not batch:
            raise OptionsError(
                "checkpoint" if self.checkpoint else "ray",
                "needs a model with the batch protocol and the fingerprint store",
            )

    def describe(self) -> dict[str, Any]:
        """The options as a JSON object."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "store"} | {
            "store": self.store if isinstance(self.store, str) else self.store.name
        }


def check(
    model: Model[Any],
    options: Options | None = None,
    *,
    progress: Callable[[Snapshot], None] | None = None,
    **kwargs: Any,
) -> Result:
    """Explore every state of ``model`` reachable within its bounds and check its properties.

    ``options`` says how (an :class:`Options`; keyword arguments build one, e.g.
    ``check(model, max_states=10_000)``); ``progress`` is called with a
    :class:`~.progress.Snapshot` every ``options.progress_interval`` seconds or so. Raises
    :class:`OptionsError` before searching when the options cannot run.
    """
    if options is None:
        options = Options(**kwargs)
    elif kwargs:
        raise TypeError("give either options or keyword arguments, not both")
    options.validate(model)
    o = options
    if o.spill_dir:
        # The spill files go into a temporary directory made inside it, which needs it to exist.
        os.makedirs(o.spill_dir, exist_ok=True)
    batch = hasattr(model, "batch") and o.store == "fingerprint"
    if batch and o.sharded:
        from .distributed.sharded import check_sharded

        return check_sharded(
            model,
            workers=o.workers,
            ray=o.ray,
            checkpoint_dir=o.checkpoint,
            checkpoint_every=o.checkpoint_every,
            resume=o.resume,
            max_states=o.max_states,
            max_seconds=o.max_seconds,
            progress=progress,
            progress_interval=o.progress_interval,
            frontier_budget=o.frontier_budget,
            spill_dir=o.spill_dir,
        )
    if batch:
        from .batched import FRONTIER_BUDGET, check_batched

        return check_batched(
            model,
            max_states=o.max_states,
            max_seconds=o.max_seconds,
            progress=progress,
            progress_interval=o.progress_interval,
            frontier_budget=o.frontier_budget or FRONTIER_BUDGET,
            spill_dir=o.spill_dir,
            workers=o.workers,
        )
    from .search import search

    store = make_store(o.store) if isinstance(o.store, str) else o.store
    return search(
        model,
        store,
        max_states=o.max_states,
        max_seconds=o.max_seconds,
        progress=progress,
        progress_interval=o.progress_interval,
    )
