"""The breadth-first search split between worker processes, level by level.

Each worker owns a share of the states: those whose ``partition`` hash (see :mod:`.batch`) is
equal to its number modulo the number of workers. It keeps their fingerprints, frontier and
parent links, expands its own frontier, keeps the successors it owns and sends the others to
their owners in batches (one pickled message per few thousand states, never a lock or a message
per state). The partition hash ignores the network, so the many steps that only move messages
keep a state with its worker.

Levels stay in step: a worker that has expanded its frontier tells every other worker so, and
the level ends when each has heard from all the others and absorbed what they sent. Only then
does the coordinator start the next level. So every state of level k is stored before any of
level k+1 is expanded: distinct, generated and depth are those of one process, and the first
level with a violation gives a shortest counterexample, rebuilt from the workers' parent logs.

The coordinator here talks to workers through multiprocessing queues. Each worker's state is
what a distributed engine would keep in one actor per share (seen-set, frontier, parent log),
and the messages are what it would send between actors.
"""

from __future__ import annotations

import gc
import math
import multiprocessing as mp
import queue as queue_mod
import tempfile
from collections.abc import Callable
from time import perf_counter
from typing import Any

import numpy as np

from ..batch import StepViolation, delta_keys, parent_positions
from ..batched import CHUNK, _rebuild, _Share
from ..fpset import FingerprintSet
from ..model import Model
from ..progress import Snapshot
from ..result import Coverage, Result, Violation
from ..store import collision_probability, lookup_collision_probability

#: States sent to another worker in one message.
BATCH = 4096


class _Chains:
    """Parent chains that cross workers: global id = local index * workers + worker."""

    def __init__(self, paths: list[tuple[str, str]]) -> None:
        self.paths = paths

    def chain(self, gid: int) -> list[int]:
        n = len(self.paths)
        fps = [np.fromfile(fp, dtype=np.uint64) for fp, _ in self.paths]
        parents = [np.fromfile(pp, dtype=np.int64) for _, pp in self.paths]
        out = []
        while gid >= 0:
            w, idx = gid % n, gid // n
            out.append(int(fps[w][idx]))
            gid = int(parents[w][idx])
        out.reverse()
        return out


def _worker(
    w: int,
    n: int,
    model: Model[Any],
    inboxes: list[Any],
    commands: Any,
    reports: Any,
    budget: int,
    tmp: str,
) -> None:
    gc.disable()  # states are acyclic; see engine.py
    bm = model.batch()  # type: ignore[attr-defined]
    names = list(bm.names)
    share = _Share(len(names), budget, tmp)
    inbox = inboxes[w]
    part = bm.partition
    expand_parts = getattr(bm, "expand_parts", None)
    parts_delta = getattr(bm, "expand_parts_delta", None)
    # A model may encode states for a given peer (ids plus what the peer has not seen yet).
    encode = getattr(bm, "encode", None) or (lambda states, _dest: bm.export_states(states))
    generated = 0
    try:
        found = None
        try:
            initial = bm.initial()
        except StepViolation as exc:
            initial = []
            if w == 0:
                found = _portable(bm, exc, -1)
        if w == 0:
            generated += len(initial) + (1 if found else 0)
        keys, succs = [], []
        for st in initial:
            if bm.in_bounds(st) and part(st) % n == w:
                keys.append(bm.key(st))
                succs.append(st)
        share.absorb(keys, succs, [0] * len(keys), np.full(len(keys), -1, dtype=np.int64))
        share.produced[:] = 0
        # Keys sent to other workers, over all levels: most successors owned elsewhere were
        # already sent in an earlier level (D, 2 workers: 387,000 states received per worker
        # with a set per level, 165,000 with this one). A cache, emptied when it outgrows
        # half the worker's own seen-set, so it adds at most half the seen-set's bytes.
        sent = FingerprintSet()
        base = 0  # local index of the first state of the level being expanded
        ended: dict[int, int] = {}  # level -> end markers heard
        early: list[Any] = []  # batches of a level that has not started here yet
        reports.put(("ready", w, generated, share.distinct, len(share.next), found))
        while True:
            cmd = commands.get()
            if cmd[0] == "stop":
                break
            level = cmd[1]
            share.frontier, share.next = share.next, share.frontier
            level_size = len(share.frontier)
            generated = 0
            found = None
            outgoing: list[list[Any]] = [[[], [], [], []] for _ in range(n)]
            for batch in early:
                _absorb_remote(bm, share, batch)
            early = []

            def flush(o: int, out: list[list[Any]] = outgoing, level: int = level) -> None:
                k, s, a, p = out[o]
                if s:
                    inboxes[o].put(
                        ("batch", level, np.concatenate(k), encode(s, o), np.concatenate(a),
                         np.concatenate(p), w)
                    )
                    out[o] = [[], [], [], []]

            done = 0
            for chunk in share.frontier.chunks(CHUNK):
                keys, succs, acts, firsts, parts, bases = [], [], [], [], [], []
                try:
                    if parts_delta is not None:
                        generated += parts_delta(chunk, keys, succs, acts, firsts, parts, bases)
                    elif expand_parts is not None:
                        generated += expand_parts(chunk, keys, succs, acts, firsts, parts)
                    else:
                        generated += bm.expand(chunk, keys, succs, acts, firsts)
                        parts = [part(st) for st in succs]
                except StepViolation as exc:
                    gid = (base + done + chunk.index(exc.before)) * n + w
                    found = _portable(bm, exc, gid)
                    generated += len(keys) + 1
                    break
                if keys:
                    # Routing by whole arrays: one numpy pass per chunk instead of Python work
                    # per successor.
                    parents = parent_positions(firsts, len(keys))
                    if parts_delta is not None:
                        k_arr = delta_keys(keys, bases, parents)
                    else:
                        k_arr = np.array(keys, dtype=np.int64).view(np.uint64)
                    owners = np.array(parts, dtype=np.int64) % n
                    a_arr = np.array(acts, dtype=np.int64)
                    g_arr = (parents + (base + done)) * n + w
                    for o in range(n):
                        idx = np.flatnonzero(owners == o)
                        if not idx.shape[0]:
                            continue
                        if o == w:
                            share.absorb_arrays(
                                k_arr[idx], [succs[q] for q in idx.tolist()], a_arr[idx],
                                g_arr[idx],
                            )
                            continue
                        # A key goes to its owner once: the owner keeps the first copy anyway,
                        # and sending costs more than this look-up.
                        if len(sent) > max(share.distinct // 2, 1 << 16):
                            sent = FingerprintSet()
                        idx = idx[sent.add_batch(k_arr[idx])]
                        if not idx.shape[0]:
                            continue
                        bucket = outgoing[o]
                        bucket[0].append(k_arr[idx])
                        bucket[1].extend([succs[q] for q in idx.tolist()])
                        bucket[2].append(a_arr[idx])
                        bucket[3].append(g_arr[idx])
                        if len(bucket[1]) >= BATCH:
                            flush(o)
                done += len(chunk)
                # Take in what others sent meanwhile, so queues stay short.
                while True:
                    try:
                        msg = inbox.get_nowait()
                    except queue_mod.Empty:
                        break
                    _handle(bm, share, msg, level, ended, early)
            for o in range(n):
                if o != w:
                    flush(o)
                    inboxes[o].put(("end", level))
            ended[level] = ended.get(level, 0) + 1
            while ended[level] < n:
                _handle(bm, share, inbox.get(), level, ended, early)
            del ended[level]
            base += level_size
            reports.put(("level", w, generated, share.distinct, len(share.next), found))
        share.parents._fps.flush()
        share.parents._parents.flush()
        reports.put(
            (
                "final",
                w,
                bm.enabled_counts(),
                share.produced.tolist(),
                bm.reached if hasattr(bm, "reached") else 0,
                (share.parents._fp_path, share.parents._parent_path),
                share.seen.nbytes,
            )
        )
        commands.get()  # wait until the coordinator has read the parent logs
    finally:
        share.close()


def _handle(
    bm: Any, share: _Share, msg: Any, level: int, ended: dict[int, int], early: list[Any]
) -> None:
    if msg[0] == "end":
        ended[msg[1]] = ended.get(msg[1], 0) + 1
    elif msg[1] == level:
        _absorb_remote(bm, share, msg)
    else:
        early.append(msg)


def _absorb_remote(bm: Any, share: _Share, msg: Any) -> None:
    _tag, _level, keys, values, acts, gids, source = msg
    decode = getattr(bm, "decode", None)
    states = decode(values, source) if decode else bm.import_states(values)
    share.absorb_arrays(keys, states, acts, gids)


def _portable(bm: Any, exc: StepViolation, gid: int) -> tuple[Any, ...]:
    before, after = bm.export_states([exc.before, exc.after])
    return (exc.name, exc.kind, before, exc.label, after, exc.in_bounds, gid)


def check_parallel(
    model: Model[Any],
    *,
    workers: int,
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
    frontier_budget: int,
    spill_dir: str | None = None,
) -> Result:
    """Search ``model`` with ``workers`` processes; counts and verdicts as with one."""
    n = workers
    ctx = mp.get_context("fork")
    # The workers fork with the model as it is here: tell it how many there will be.
    plan = getattr(model.batch(), "plan_workers", None)  # type: ignore[attr-defined]
    if plan is not None:
        plan(n)
    limit = max_states if max_states is not None else math.inf
    start = perf_counter()
    deadline = start + max_seconds if max_seconds is not None else math.inf
    next_report = start + progress_interval
    with tempfile.TemporaryDirectory(prefix="raftmc-", dir=spill_dir) as tmp:
        inboxes = [ctx.Queue() for _ in range(n)]
        commands = [ctx.Queue() for _ in range(n)]
        reports = ctx.Queue()
        procs = [
            ctx.Process(
                target=_worker,
                args=(w, n, model, inboxes, commands[w], reports, frontier_budget // n, tmp),
                daemon=True,
            )
            for w in range(n)
        ]
        for proc in procs:
            proc.start()
        generated = 0
        level = 0
        stopped_by = None
        found = None
        max_queue = 0
        try:
            rows = [reports.get() for _ in range(n)]
            generated = sum(r[2] for r in rows)
            distinct = sum(r[3] for r in rows)
            queue = sum(r[4] for r in rows)
            found = next((r[5] for r in rows if r[5] is not None), None)
            while found is None and queue:
                if distinct >= limit:
                    stopped_by = "max_states"
                    break
                now = perf_counter()
                if now >= deadline:
                    stopped_by = "max_seconds"
                    break
                level += 1
                max_queue = max(max_queue, queue)
                for c in commands:
                    c.put(("level", level))
                rows = [reports.get() for _ in range(n)]
                generated += sum(r[2] for r in rows)
                distinct = sum(r[3] for r in rows)
                queue = sum(r[4] for r in rows)
                found = next((r[5] for r in rows if r[5] is not None), None)
                now = perf_counter()
                if progress is not None and now >= next_report:
                    next_report = now + progress_interval
                    progress(Snapshot(generated, distinct, queue, level + 1, now - start))
        except KeyboardInterrupt:
            stopped_by = "interrupted"
        seconds = perf_counter() - start
        for c in commands:
            c.put(("stop",))
        finals = sorted((reports.get() for _ in range(n)), key=lambda r: r[1])
        names = list(model.batch().names)  # type: ignore[attr-defined]
        enabled = np.sum([f[2] for f in finals], axis=0).tolist()
        produced = np.sum([f[3] for f in finals], axis=0).tolist()
        reached = 0
        for f in finals:
            reached |= f[4]
        seen_bytes = sum(f[6] for f in finals)
        depth = level + 1 if queue else level
        violation = None
        if found is not None:
            name, kind, before, label, after, in_bounds, gid = found
            bm = model.batch()  # type: ignore[attr-defined]
            before_st, after_st = bm.import_states([before, after])
            exc = StepViolation(name, kind, before_st, label, after_st, in_bounds)
            if label is None:
                depth = 1
            elif in_bounds and kind == "invariant":
                depth = level + 1
                distinct += 1
            trace = _rebuild(model, bm, _Chains([f[5] for f in finals]), gid, exc)  # type: ignore[arg-type]
            violation = Violation(name, kind, trace)
            outcome = "violation"
        elif stopped_by is not None:
            outcome = "incomplete"
        else:
            outcome = "ok"
        for c in commands:
            c.put(("exit",))
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return shares_result(
        model, outcome, names, enabled, produced, reached, violation,
        distinct=distinct, generated=generated, depth=depth, seconds=seconds,
        max_queue=max_queue, initial=1, stopped_by=stopped_by, seen_bytes=seen_bytes,
    )


def shares_result(
    model: Model[Any],
    outcome: str,
    names: list[str],
    enabled: list[int],
    produced: list[int],
    reached: int,
    violation: Violation | None,
    *,
    distinct: int,
    generated: int,
    depth: int,
    seconds: float,
    max_queue: int,
    initial: int,
    stopped_by: str | None,
    seen_bytes: int,
) -> Result:
    """The result of a search split into shares, from the shares' summed counters."""
    sometimes_names = list(model.batch().sometimes())  # type: ignore[attr-defined]
    return Result(
        result=outcome,  # type: ignore[arg-type]
        distinct_states=distinct,
        states_generated=generated,
        depth=depth,
        seconds=seconds,
        coverage={name: Coverage(enabled[k], int(produced[k])) for k, name in enumerate(names)},
        sometimes={name: bool(reached >> k & 1) for k, name in enumerate(sometimes_names)},
        violation=violation,
        collision_probability=collision_probability(distinct),
        lookup_collision_probability=lookup_collision_probability(distinct, generated),
        max_queue=max_queue,
        initial_states=initial,
        stopped_by=stopped_by,
        store="fingerprint",
        never_enabled=[name for k, name in enumerate(names) if not enabled[k]],
        seen_bytes=seen_bytes,
    )


__all__ = ["check_parallel", "BATCH"]
