"""Level-synchronous breadth-first search for models that offer the batch protocol.

The engine of :mod:`.engine` asks the model about one successor at a time; this one asks for a
batch (see :mod:`.batch`) and keeps what a very long search needs compact:

* seen fingerprints in a :class:`~.fpset.FingerprintSet` (10-16 bytes per state),
* the next level in a :class:`~.fpset.Frontier` that spills to disk beyond a budget,
* parent links in a :class:`~.fpset.ParentLog` on disk (16 bytes per state),

and it splits the fingerprint space between worker processes (``workers > 1``, see
:mod:`.workers`). Levels are searched one after the other: every state of level k is expanded
before any of level k+1, so the first violation found is in the shallowest level that has one
and its counterexample is a shortest one, with any number of workers.

Counts are TLC's, as in :mod:`.engine`: generated counts every successor, in bounds or not;
distinct counts in-bounds states with distinct keys; depth counts levels.
"""

from __future__ import annotations

import gc
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

from .batch import BatchModel, StepViolation, delta_keys, parent_positions
from .fpset import FingerprintSet, Frontier, ParentLog
from .model import Model
from .progress import Snapshot
from .result import Coverage, Result, Step, Violation
from .store import collision_probability, lookup_collision_probability
from .trace import ReplayError

#: States expanded per call of ``expand``: large enough that numpy's per-call cost vanishes,
#: small enough for a prompt progress line.
CHUNK = 2048
#: Default number of frontier states kept in memory before spilling to disk.
FRONTIER_BUDGET = 4_000_000

_MASK64 = (1 << 64) - 1


def fingerprint(key: int) -> int:
    """The unsigned 64-bit fingerprint stored for a key (zero marks empty slots, so 0 -> 1)."""
    return (key & _MASK64) or 1


class _Share:
    """The states one worker owns: its seen-set, its frontier and its parent log."""

    def __init__(self, n_actions: int, budget: int, spill_dir: str) -> None:
        self.seen = FingerprintSet()
        self.frontier = Frontier(budget, spill_dir)
        self.next = Frontier(budget, spill_dir)
        self.parents = ParentLog(spill_dir)
        self.produced = np.zeros(n_actions, dtype=np.int64)
        self.distinct = 0

    def absorb(
        self, keys: list[int], succs: list[Any], acts: list[int], parent_ids: np.ndarray
    ) -> int:
        """Keep the new states among a batch; returns how many were new."""
        if not keys:
            return 0
        fps = np.array(keys, dtype=np.int64).view(np.uint64)
        return self.absorb_arrays(fps, succs, np.asarray(acts, dtype=np.int64), parent_ids)

    def absorb_arrays(
        self, fps: np.ndarray, succs: list[Any], acts: np.ndarray, parent_ids: np.ndarray
    ) -> int:
        """:meth:`absorb` with fingerprints (uint64), actions and parents as arrays."""
        new = self.seen.add_batch(fps)
        idx = np.flatnonzero(new)
        n_new = idx.shape[0]
        if n_new:
            self.parents.append(fps[idx], parent_ids[idx])
            self.produced += np.bincount(acts[idx], minlength=self.produced.shape[0])
            if n_new == len(succs):
                self.next.extend(succs)
            else:
                self.next.extend([succs[k] for k in idx.tolist()])
            self.distinct += n_new
        return n_new

    def close(self) -> None:
        self.frontier.close()
        self.next.close()
        self.parents.close()


def check_batched(
    model: Model[Any],
    *,
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
    frontier_budget: int = FRONTIER_BUDGET,
    spill_dir: str | None = None,
    workers: int = 1,
) -> Result:
    """Search ``model`` (which must offer ``batch()``); see the module doc. Ctrl-C
    (KeyboardInterrupt) stops it with the figures so far (result ``incomplete``)."""
    if workers > 1:
        from .distributed.workers import check_parallel

        return check_parallel(
            model,
            workers=workers,
            max_states=max_states,
            max_seconds=max_seconds,
            progress=progress,
            progress_interval=progress_interval,
            frontier_budget=frontier_budget,
            spill_dir=spill_dir,
        )
    bm: BatchModel = model.batch()  # type: ignore[attr-defined]
    names = list(bm.names)
    start = perf_counter()
    with tempfile.TemporaryDirectory(prefix="raftmc-", dir=spill_dir) as tmp:
        run = _Run(
            bm,
            _Share(len(names), frontier_budget, tmp),
            limit=max_states if max_states is not None else math.inf,
            deadline=start + max_seconds if max_seconds is not None else math.inf,
            progress=progress,
            progress_interval=progress_interval,
            start=start,
        )
        with _cyclic_gc_off():
            try:
                run.seed()
                run.levels()
            except KeyboardInterrupt:
                run.stopped_by = "interrupted"
        seconds = perf_counter() - start
        share = run.share
        depth = run.level + 1 if len(share.next) else run.level
        violation = None
        found = run.found
        if found is not None:
            if found.label is None:
                depth = 1
            elif found.in_bounds and found.kind == "invariant":
                depth = run.level + 1
            trace = _rebuild(model, bm, share.parents, run.found_parent, found)
            violation = Violation(found.name, found.kind, trace)  # type: ignore[arg-type]
            outcome = "violation"
        elif run.stopped_by is not None:
            outcome = "incomplete"
        else:
            outcome = "ok"
        enabled = bm.enabled_counts()
        produced = share.produced.tolist()
        distinct = share.distinct
        seen_bytes = share.seen.nbytes
        share.close()

    coverage = {name: Coverage(enabled[k], int(produced[k])) for k, name in enumerate(names)}
    return Result(
        result=outcome,  # type: ignore[arg-type]
        distinct_states=distinct,
        states_generated=run.generated,
        depth=depth,
        seconds=seconds,
        coverage=coverage,
        sometimes=bm.sometimes(),
        violation=violation,
        collision_probability=collision_probability(distinct),
        lookup_collision_probability=lookup_collision_probability(distinct, run.generated),
        max_queue=run.max_queue,
        initial_states=run.n_initial,
        stopped_by=run.stopped_by,
        store="fingerprint",
        never_enabled=[name for k, name in enumerate(names) if not enabled[k]],
        seen_bytes=seen_bytes,
    )


@contextmanager
def _cyclic_gc_off() -> Iterator[None]:
    """States are acyclic; the cyclic collector would only walk an ever larger heap."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # Everything allocated during the search sits in the youngest generation: the
            # first collection after enable() would walk millions of tuples (0.1-0.3 s).
            # Moving them to the oldest unexamined leaves them to the next full collection.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@dataclass
class _Run:
    """Where the one-process search stands: its share of states, counts and limits."""

    bm: BatchModel
    share: _Share
    limit: float
    deadline: float
    progress: Callable[[Snapshot], None] | None
    progress_interval: float
    start: float
    generated: int = 0
    level: int = 0
    max_queue: int = 0
    n_initial: int = 1
    stopped_by: str | None = None
    found: StepViolation | None = None
    #: Index of the expanded state the violation came from.
    found_parent: int = -1

    def seed(self) -> None:
        """Check and keep the initial states (level 1)."""
        bm = self.bm
        try:
            initial = bm.initial()
        except StepViolation as exc:
            self.found, initial = exc, []
            self.generated += 1
        self.generated += len(initial)
        self.n_initial = len(initial)
        keys, succs = [], []
        for st in initial:
            if bm.in_bounds(st):
                keys.append(bm.key(st))
                succs.append(st)
        share = self.share
        share.absorb(keys, succs, [0] * len(keys), np.full(len(keys), -1, dtype=np.int64))
        share.produced[:] = 0

    def levels(self) -> None:
        """Expand level after level until none is left, a violation or a limit."""
        bm, share = self.bm, self.share
        expand_delta = getattr(bm, "expand_delta", None)
        next_report = self.start + self.progress_interval
        base = 0  # index of the first state of the level being expanded
        while self.found is None and len(share.next):
            share.frontier, share.next = share.next, share.frontier
            self.level += 1
            level_size = len(share.frontier)
            done = 0
            for chunk in share.frontier.chunks(CHUNK):
                keys, succs, acts, firsts, bases = [], [], [], [], []
                try:
                    if expand_delta is not None:
                        self.generated += expand_delta(chunk, keys, succs, acts, firsts, bases)
                    else:
                        self.generated += bm.expand(chunk, keys, succs, acts, firsts)
                except StepViolation as exc:
                    self.found = exc
                    self.found_parent = base + done + chunk.index(exc.before)
                    self.generated += len(keys) + 1  # an estimate: the run stops here
                    if exc.in_bounds and exc.kind == "invariant":
                        share.distinct += 1
                    break
                parents = parent_positions(firsts, len(keys))
                if expand_delta is not None and keys:
                    share.absorb_arrays(
                        delta_keys(keys, bases, parents), succs,
                        np.asarray(acts, dtype=np.int64), parents + (base + done),
                    )
                else:
                    share.absorb(keys, succs, acts, parents + (base + done))
                done += len(chunk)
                queue = level_size - done + len(share.next)
                if queue > self.max_queue:
                    self.max_queue = queue
                if share.distinct >= self.limit:
                    self.stopped_by = "max_states"
                    return
                now = perf_counter()
                if now >= self.deadline:
                    self.stopped_by = "max_seconds"
                    return
                if self.progress is not None and now >= next_report:
                    next_report = now + self.progress_interval
                    depth_now = self.level + 1 if len(share.next) else self.level
                    self.progress(
                        Snapshot(self.generated, share.distinct, queue, depth_now, now - self.start)
                    )
            base += level_size


def _rebuild(
    model: Model[Any], bm: BatchModel, log: ParentLog, parent: int, found: StepViolation
) -> list[Step]:
    """A shortest behaviour ending in the violating step, replayed through the plain protocol.

    The parent log gives the fingerprints from an initial state to the violation's parent;
    replaying the model from an initial state, each step takes a successor with the next
    fingerprint (with symmetry it may be a relabelling of the state the search stored: still a
    behaviour of the model). The last step is one that really breaks the property.
    """
    export = getattr(model, "export_state", lambda s: s)
    props = model.properties()
    if found.kind == "invariant":
        holds = next(p.holds for p in props.invariants if p.name == found.name)

        def breaks(before: Any, label: Any, after: Any) -> bool:
            return not holds(after)
    else:
        step_holds = next(p.holds for p in props.action_properties if p.name == found.name)

        def breaks(before: Any, label: Any, after: Any) -> bool:
            return not step_holds(before, label, after)

    target = fingerprint(bm.key(found.after))
    if found.label is None:
        for s in model.init_states():
            if fingerprint(bm.key(s)) == target and breaks(None, None, s):
                return [(None, export(s))]
        raise ReplayError("no initial state has the violating state's key")
    chain = log.chain(parent)
    current = None
    for s in model.init_states():
        if fingerprint(bm.key(s)) == chain[0]:
            current = s
            break
    if current is None:
        raise ReplayError("no initial state has the first key of the chain")
    trace: list[Step] = [(None, current)]
    for depth, fp in enumerate(chain[1:], start=2):
        for label, s in model.successors(current):
            if bm.in_bounds(s) and fingerprint(bm.key(s)) == fp:
                trace.append((label, s))
                current = s
                break
        else:
            raise ReplayError(f"state {depth} of the counterexample is not reachable")
    for label, s in model.successors(current):
        if fingerprint(bm.key(s)) == target and breaks(current, label, s):
            trace.append((label, s))
            return [(label, export(s)) for label, s in trace]
    raise ReplayError("the violating step is not reachable from the replayed prefix")
