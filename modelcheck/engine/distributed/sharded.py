"""The level-synchronous search as shares driven by a coordinator: checkpoints, resume, Ray.

:mod:`.workers` runs the partitioned search with processes that talk among themselves. This
module cuts the same search into calls a coordinator makes on each share, so that a share can
live in this process or in a Ray actor (:mod:`.raysearch`) and so that the coordinator knows
when every share is at a level boundary, the only moment a checkpoint is consistent.

A share (:class:`ShareWorker`) owns the states whose ``partition`` hash is its number modulo
the number of shares, exactly as in :mod:`.workers`: its seen fingerprints, frontier and parent
log (:class:`~.bfs._Share`). A level is a series of rounds; in a round each share expands up to
``ROUND`` states of its frontier, keeps the successors it owns and returns one batch per other
share, which the runtime hands to its owner. When no share has anything left to expand, the
level is over: every state of level k is stored before any of level k+1 is expanded, so counts
are those of one process and the first violation gives a shortest counterexample.

Global state ids are ``local index * shares + share``, as in :mod:`.workers`, so a
counterexample's chain of parents is followed across shares with one look-up per step.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any, Protocol

import numpy as np

from .. import checkpoint
from ..batch import StepViolation, parent_positions
from ..batched import CHUNK, FRONTIER_BUDGET, _rebuild, _Share
from ..model import Model
from ..progress import Snapshot
from ..result import Result, Violation
from .workers import shares_result

#: States a share expands per round: large enough that a round's fixed cost (one call per
#: share, one batch per pair of shares) is small next to the work, small enough that the
#: batches in flight stay a few megabytes.
ROUND = 16 * CHUNK

#: A violation carried between processes: name, kind, before and after as portable values,
#: label, whether ``after`` is in bounds, global id of the state expanded.
Found = tuple[str, str, Any, Any, Any, bool, int]


def _log_arrays(share: _Share) -> tuple[np.ndarray, np.ndarray]:
    """The parent log's fingerprints and parents (the log keeps them in two files)."""
    log = share.parents
    log._fps.flush()
    log._parents.flush()
    return (
        np.fromfile(log._fp_path, dtype=np.uint64),
        np.fromfile(log._parent_path, dtype=np.int64),
    )


class ShareWorker:
    """One share of the search; every method is a call the coordinator makes."""

    def __init__(
        self, model: Model[Any], w: int, n: int, budget: int, spill_dir: str | None
    ) -> None:
        # States are acyclic (see engine.py). A local runtime's shares live in the caller's
        # process, so close() gives the collector back as it found it.
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        self.w, self.n = w, n
        self.bm = model.batch()  # type: ignore[attr-defined]
        self._tmp = tempfile.TemporaryDirectory(prefix=f"raftmc-share{w}-", dir=spill_dir)
        self.share = _Share(len(self.bm.names), budget, self._tmp.name)
        # What a checkpoint carried over from the processes before this one.
        self.enabled_base = np.zeros(len(self.bm.names), dtype=np.int64)
        self.reached_base = 0
        self.base = 0  # local index of the first state of the level being expanded
        self.done = 0
        self.level = 0
        self._chunks: Any = iter(())
        self._sent: list[set[int]] = [set() for _ in range(n)]
        # Batches between two shares may use ids only the two know (translation tables kept
        # per sender), which works because a runtime delivers one sender's batches in order.
        self._encode = getattr(self.bm, "encode", None)
        self._decode = getattr(self.bm, "decode", None)

    # --- levels -----------------------------------------------------------------------------

    def seed(self) -> tuple[int, int, int, Found | None]:
        """Store the initial states this share owns: (generated, distinct, queued, found)."""
        bm, n, w = self.bm, self.n, self.w
        found = None
        try:
            initial = bm.initial()
        except StepViolation as exc:
            initial = []
            found = self._portable(exc, -1) if w == 0 else None
        generated = len(initial) + (1 if found else 0) if w == 0 else 0
        keys, states = [], []
        for st in initial:
            if bm.in_bounds(st) and (n == 1 or bm.partition(st) % n == w):
                keys.append(bm.key(st))
                states.append(st)
        self.share.absorb(keys, states, [0] * len(keys), np.full(len(keys), -1, dtype=np.int64))
        self.share.produced[:] = 0
        return generated, self.share.distinct, len(self.share.next), found

    def begin_level(self, level: int) -> None:
        share = self.share
        share.frontier, share.next = share.next, share.frontier
        self.level = level
        self.done = 0
        self._level_size = len(share.frontier)
        self._chunks = share.frontier.chunks(CHUNK)
        self._sent = [set() for _ in range(self.n)]

    def expand(self, budget: int) -> tuple[tuple[int, bool, Found | None], list[Any]]:
        """Expand up to ``budget`` states: ((generated, finished, found), batch per share)."""
        bm, share, n, w = self.bm, self.share, self.n, self.w
        part = bm.partition
        out: list[list[Any]] = [[[], [], [], []] for _ in range(n)]
        generated = 0
        expanded = 0
        finished = False
        found = None
        while expanded < budget:
            chunk = next(self._chunks, None)
            if chunk is None:
                finished = True
                break
            origin = self.base + self.done
            keys: list[int] = []
            succs: list[Any] = []
            acts: list[int] = []
            firsts: list[int] = []
            try:
                generated += bm.expand(chunk, keys, succs, acts, firsts)
            except StepViolation as exc:
                found = self._portable(exc, (origin + chunk.index(exc.before)) * n + w)
                generated += len(keys) + 1  # as bfs.py: the run stops here
                finished = True
                break
            gids = (parent_positions(firsts, len(keys)) + origin) * n + w
            if n == 1:
                share.absorb(keys, succs, acts, gids)
            else:
                mine = []
                for k, st in enumerate(succs):
                    o = part(st) % n
                    if o == w:
                        mine.append(k)
                    elif keys[k] not in self._sent[o]:
                        # The owner keeps the first copy of a key anyway; a set look-up is
                        # cheaper than sending the state again.
                        self._sent[o].add(keys[k])
                        bucket = out[o]
                        bucket[0].append(keys[k])
                        bucket[1].append(st)
                        bucket[2].append(acts[k])
                        bucket[3].append(int(gids[k]))
                share.absorb(
                    [keys[k] for k in mine],
                    [succs[k] for k in mine],
                    [acts[k] for k in mine],
                    gids[mine] if mine else np.zeros(0, dtype=np.int64),
                )
            self.done += len(chunk)
            expanded += len(chunk)
        batches: list[Any] = [None] * n
        for o, (k, s, a, p) in enumerate(out):
            if k:
                states = self._encode(s, o) if self._encode else bm.export_states(s)
                batches[o] = (w, k, states, a, p)
        return (generated, finished, found), batches

    def absorb(self, batches: Sequence[Any]) -> None:
        """Store the new states among batches other shares sent (None: nothing sent)."""
        for batch in batches:
            if batch is None:
                continue
            source, keys, values, acts, gids = batch
            states = self._decode(values, source) if self._decode else self.bm.import_states(values)
            self.share.absorb(keys, states, acts, np.asarray(gids, dtype=np.int64))

    def end_level(self) -> tuple[int, int]:
        """(distinct, queued) once every batch of the level has been absorbed."""
        self.base += self._level_size
        return self.share.distinct, len(self.share.next)

    # --- counterexamples and totals ---------------------------------------------------------

    def _portable(self, exc: StepViolation, gid: int) -> Found:
        before, after = self.bm.export_states([exc.before, exc.after])
        return (exc.name, exc.kind, before, exc.label, after, exc.in_bounds, gid)

    def lookup(self, index: int) -> tuple[int, int]:
        """Fingerprint and parent's global id of local state ``index``."""
        fps, parents = _log_arrays(self.share)
        return int(fps[index]), int(parents[index])

    def totals(self) -> tuple[list[int], list[int], int, int]:
        """(enabled per action, produced per action, sometimes bits, seen-set bytes)."""
        enabled = (self.enabled_base + np.asarray(self.bm.enabled_counts(), dtype=np.int64))
        reached = self.reached_base | int(getattr(self.bm, "reached", 0))
        return enabled.tolist(), self.share.produced.tolist(), reached, self.share.seen.nbytes

    # --- checkpoints --------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """This share at a level boundary, as one blob (the next frontier is re-queued)."""
        share = self.share
        fps, parents = _log_arrays(share)
        # Frontier states are ids interned by this process; another process needs their values.
        values: list[Any] = []
        kept: list[Any] = []
        for chunk in share.next.chunks(CHUNK):
            values.extend(self.bm.export_states(chunk))
            kept.extend(chunk)
        share.next.extend(kept)
        enabled, produced, reached, _ = self.totals()
        return pickle.dumps(
            {
                "fps": fps,
                "parents": parents,
                "frontier": values,
                "distinct": share.distinct,
                "produced": produced,
                "enabled": enabled,
                "reached": reached,
                "base": self.base,
            },
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    def restore(self, blob: bytes) -> tuple[int, int]:
        """Load a snapshot into this fresh share: (distinct, queued)."""
        data = pickle.loads(blob)
        share = self.share
        fps = np.asarray(data["fps"], dtype=np.uint64)
        if fps.shape[0]:
            # Every stored state is in the parent log, so the log is the seen-set too.
            share.seen.add_batch(fps)
            share.parents.append(fps, np.asarray(data["parents"], dtype=np.int64))
        states = self.bm.import_states(data["frontier"])
        for k in range(0, len(states), CHUNK):
            share.next.extend(states[k : k + CHUNK])
        share.distinct = int(data["distinct"])
        share.produced[:] = data["produced"]
        self.enabled_base = np.asarray(data["enabled"], dtype=np.int64)
        self.reached_base = int(data["reached"])
        if hasattr(self.bm, "reached"):
            # Properties already reached need not be evaluated again.
            self.bm.reached |= self.reached_base
        self.base = int(data["base"])
        return share.distinct, len(share.next)

    def close(self) -> None:
        self.share.close()
        self._tmp.cleanup()
        if self._gc_was_enabled and not gc.isenabled():
            gc.freeze()  # as bfs.py does: the next collection need not walk the whole search
            gc.unfreeze()
            gc.enable()


class Runtime(Protocol):
    """Where the shares live; the coordinator only calls these."""

    n: int

    def seed(self) -> list[tuple[int, int, int, Found | None]]: ...

    def begin_level(self, level: int) -> None: ...

    def round(self, budget: int, active: list[int]) -> list[tuple[int, bool, Found | None]]:
        """Each share in ``active`` expands; its batches are delivered to their owners."""
        ...

    def end_level(self) -> list[tuple[int, int]]: ...

    def snapshot(self) -> list[bytes]: ...

    def restore(self, blobs: list[bytes]) -> list[tuple[int, int]]: ...

    def lookup(self, w: int, index: int) -> tuple[int, int]: ...

    def totals(self) -> list[tuple[list[int], list[int], int, int]]: ...

    def close(self) -> None: ...


class LocalRuntime:
    """Shares as objects of this process (one share: the single-machine checkpointed run)."""

    def __init__(self, model: Model[Any], n: int, budget: int, spill_dir: str | None) -> None:
        self.n = n
        self.shares = [ShareWorker(model, w, n, budget // n, spill_dir) for w in range(n)]

    def seed(self) -> list[tuple[int, int, int, Found | None]]:
        return [s.seed() for s in self.shares]

    def begin_level(self, level: int) -> None:
        for s in self.shares:
            s.begin_level(level)

    def round(self, budget: int, active: list[int]) -> list[tuple[int, bool, Found | None]]:
        results = [self.shares[w].expand(budget) for w in active]
        for dest in range(self.n):
            self.shares[dest].absorb([batches[dest] for _, batches in results])
        return [stats for stats, _ in results]

    def end_level(self) -> list[tuple[int, int]]:
        return [s.end_level() for s in self.shares]

    def snapshot(self) -> list[bytes]:
        return [s.snapshot() for s in self.shares]

    def restore(self, blobs: list[bytes]) -> list[tuple[int, int]]:
        return [s.restore(b) for s, b in zip(self.shares, blobs, strict=True)]

    def lookup(self, w: int, index: int) -> tuple[int, int]:
        return self.shares[w].lookup(index)

    def totals(self) -> list[tuple[list[int], list[int], int, int]]:
        return [s.totals() for s in self.shares]

    def close(self) -> None:
        for s in self.shares:
            s.close()


class _Chains:
    """Parent chains across shares, one look-up per step (``bfs._rebuild`` asks for them)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def chain(self, gid: int) -> list[int]:
        n = self.runtime.n
        out = []
        while gid >= 0:
            fp, gid = self.runtime.lookup(gid % n, gid // n)
            out.append(fp)
        out.reverse()
        return out


def identity(model: Model[Any], shares: int) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by this run (JSON values)."""
    params = getattr(model, "params", None)
    # Flat, so that a refusal names the one parameter that differs.
    if dataclasses.is_dataclass(params):
        fields = dataclasses.asdict(params)  # type: ignore[arg-type]
    else:
        fields = {"params": repr(params)}
    return {
        "model": type(model).__name__,
        **fields,
        "symmetry": bool(getattr(model, "symmetry", False)),
        "shares": shares,
    }


class Recoverable(Exception):
    """A runtime lost a share; the search can go on from its last checkpoint."""


def search(
    model: Model[Any],
    make_runtime: Callable[[], Runtime],
    *,
    shares: int,
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
    checkpoint_dir: str | None = None,
    checkpoint_every: float = 60.0,
    resume: bool = False,
    retries: int = 5,
) -> Result:
    """Run the level-synchronous search on the shares ``make_runtime()`` creates.

    With ``checkpoint_dir``, a checkpoint is written at the first level boundary after each
    ``checkpoint_every`` seconds; with ``resume``, the search starts from the newest one there.
    If the runtime raises :class:`Recoverable` (a lost worker) and a checkpoint exists, the
    shares are created anew and the search goes on from it, up to ``retries`` times.
    """
    ident = identity(model, shares)
    loaded = checkpoint.load(checkpoint_dir, ident) if resume and checkpoint_dir else None
    start = perf_counter()
    attempts = 0
    while True:
        runtime: Runtime | None = None
        try:
            runtime = make_runtime()
            return _drive(
                model, runtime, ident, loaded, start,
                max_states=max_states, max_seconds=max_seconds, progress=progress,
                progress_interval=progress_interval, checkpoint_dir=checkpoint_dir,
                checkpoint_every=checkpoint_every,
            )
        except Recoverable as exc:
            attempts += 1
            stuck = not checkpoint_dir or checkpoint.latest(checkpoint_dir) is None
            if stuck or attempts > retries:
                raise RuntimeError(f"lost a share and cannot recover: {exc}") from exc
            loaded = checkpoint.load(checkpoint_dir, ident)
            # The cluster may take a few seconds to declare the lost node dead; until then new
            # actors can still be placed on it and die at once.
            time.sleep(2.0 * attempts)
        finally:
            if runtime is not None:
                runtime.close()


def _drive(
    model: Model[Any],
    runtime: Runtime,
    ident: dict[str, Any],
    loaded: checkpoint.Loaded | None,
    start: float,
    *,
    max_states: int | None,
    max_seconds: float | None,
    progress: Callable[[Snapshot], None] | None,
    progress_interval: float,
    checkpoint_dir: str | None,
    checkpoint_every: float,
) -> Result:
    limit = max_states if max_states is not None else math.inf
    deadline = start + max_seconds if max_seconds is not None else math.inf
    next_report = start + progress_interval
    n = runtime.n
    found: Found | None = None
    stopped_by: str | None = None
    if loaded is None:
        rows = runtime.seed()
        generated = sum(r[0] for r in rows)
        distinct = sum(r[1] for r in rows)
        queue = sum(r[2] for r in rows)
        found = next((r[3] for r in rows if r[3] is not None), None)
        level = 0
        max_queue = 0
        initial = generated
        prior_seconds = 0.0
    else:
        body = loaded.body
        counts = runtime.restore(loaded.shares)
        distinct = sum(c[0] for c in counts)
        queue = sum(c[1] for c in counts)
        generated, level = body["generated"], body["level"]
        max_queue, initial = body["max_queue"], body["initial"]
        prior_seconds = body["seconds"]
    next_checkpoint = perf_counter() + checkpoint_every
    try:
        while found is None and queue:
            if distinct >= limit:
                stopped_by = "max_states"
                break
            if perf_counter() >= deadline:
                stopped_by = "max_seconds"
                break
            level += 1
            max_queue = max(max_queue, queue)
            runtime.begin_level(level)
            active = list(range(n))
            while active and found is None:
                stats = runtime.round(ROUND, active)
                for w, (gen, finished, hit) in zip(list(active), stats, strict=True):
                    generated += gen
                    if finished:
                        active.remove(w)
                    if hit is not None and found is None:
                        found = hit
            if found is not None:
                break
            counts = runtime.end_level()
            distinct = sum(c[0] for c in counts)
            queue = sum(c[1] for c in counts)
            now = perf_counter()
            if checkpoint_dir and queue and now >= next_checkpoint:
                body = {
                    "identity": ident,
                    "generated": generated,
                    "max_queue": max_queue,
                    "initial": initial,
                    "distinct": distinct,
                    "queue": queue,
                    "seconds": prior_seconds + now - start,
                }
                checkpoint.write(checkpoint_dir, level, body, runtime.snapshot())
                next_checkpoint = perf_counter() + checkpoint_every
            if progress is not None and now >= next_report:
                next_report = now + progress_interval
                progress(Snapshot(generated, distinct, queue, level + 1, now - start))
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    seconds = perf_counter() - start

    names = list(model.batch().names)  # type: ignore[attr-defined]
    totals = runtime.totals()
    enabled = np.sum([t[0] for t in totals], axis=0).tolist()
    produced = np.sum([t[1] for t in totals], axis=0).tolist()
    reached = 0
    for t in totals:
        reached |= t[2]
    if found is None:
        depth = level + 1 if queue else level
    violation = None
    if found is not None:
        name, kind, before, label, after, in_bounds, gid = found
        bm = model.batch()  # type: ignore[attr-defined]
        before_st, after_st = bm.import_states([before, after])
        exc = StepViolation(name, kind, before_st, label, after_st, in_bounds)
        distinct = sum(runtime.end_level()[w][0] for w in range(n)) if level else distinct
        depth = level
        if label is None:
            depth = 1
        elif in_bounds and kind == "invariant":
            depth = level + 1
            distinct += 1
        trace = _rebuild(model, bm, _Chains(runtime), gid, exc)  # type: ignore[arg-type]
        violation = Violation(name, kind, trace)  # type: ignore[arg-type]
        outcome = "violation"
    elif stopped_by is not None:
        outcome = "incomplete"
    else:
        outcome = "ok"
    return shares_result(
        model, outcome, names, enabled, produced, reached, violation,
        distinct=distinct, generated=generated, depth=depth, seconds=seconds,
        max_queue=max_queue, initial=initial, stopped_by=stopped_by,
        seen_bytes=sum(t[3] for t in totals),
    )


def check_sharded(
    model: Model[Any],
    *,
    workers: int = 1,
    ray: str | None = None,
    frontier_budget: int | None = None,
    spill_dir: str | None = None,
    **options: Any,
) -> Result:
    """The search through ``workers`` shares: in this process, or Ray actors at ``ray``.

    Without Ray the shares take turns in this process, so ``workers`` above one only makes
    sense with Ray (the CLI refuses it); the point of the local form is checkpoints.
    """
    budget = frontier_budget or FRONTIER_BUDGET
    if ray is None:
        return search(
            model, lambda: LocalRuntime(model, workers, budget, spill_dir), shares=workers,
            **options,
        )
    if ray == "auto" or ray.split(":")[0] in ("127.0.0.1", "localhost"):
        # Ray takes a node's address from the route to the outside world unless told that the
        # cluster is local; on loopback it must be told before it is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from . import raysearch

    try:
        make = raysearch.ray_runtime_factory(model, ray, workers, budget, spill_dir)
        return search(model, make, shares=workers, **options)
    finally:
        raysearch.disconnect()
