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

Nobody waits without looking around: the coordinator, waiting for reports, notices a worker
that has died within a tenth of a second and ends the others (a worker's share cannot be
rebuilt); a worker, between two chunks and while it waits, notices a request to stop (Ctrl-C,
the time limit), and a coordinator that has gone. Ctrl-C reaches the coordinator only (the
workers ignore it, whether a terminal sent it to the whole process group or someone to the
coordinator alone), which stops the workers where they are and reports the figures so far.
"""

from __future__ import annotations

import gc
import math
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from ..batch import StepViolation, delta_keys, parent_positions
from ..batched import CHUNK, _rebuild, _Share
from ..checker import WorkerFailed
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


#: Seconds between two looks at the workers' health, the stop flag and the deadline while
#: someone waits: the coordinator for reports, a worker for its peers or its next command.
POLL = 0.1
#: Seconds the workers get to answer a request to stop before the coordinator gives up on them.
STOP_GRACE = 3.0


class _Stopped(Exception):
    """The coordinator asked every worker to stop: leave the level where it is."""


@dataclass(frozen=True)
class _Links:
    """What every worker shares with the others and the coordinator."""

    inboxes: list[Any]
    reports: Any
    #: Set by the coordinator to stop every worker mid-level (an interrupt, a deadline).
    stop: Any
    #: The coordinator's process id: a worker whose parent changed was orphaned and quits.
    parent: int


class _Worker:
    """One worker process: its share of the states and its ends of the queues."""

    def __init__(
        self, w: int, n: int, model: Model[Any], links: _Links, commands: Any, budget: int,
        tmp: str,
    ) -> None:
        self.w, self.n = w, n
        self.links = links
        self.commands = commands
        self.inbox = links.inboxes[w]
        self.bm = bm = model.batch()  # type: ignore[attr-defined]
        self.share = _Share(len(bm.names), budget, tmp)
        self.expand_parts = getattr(bm, "expand_parts", None)
        self.parts_delta = getattr(bm, "expand_parts_delta", None)
        # A model may encode states for a given peer (ids plus what the peer has not seen yet).
        self.encode = getattr(bm, "encode", None) or (
            lambda states, _dest: bm.export_states(states)
        )
        #: Generated over the whole run, so that a run stopped mid-level has its figures.
        self.generated = 0
        # Keys sent to other workers, over all levels: most successors owned elsewhere were
        # already sent in an earlier level (D, 2 workers: 387,000 states received per worker
        # with a set per level, 165,000 with this one). A cache, emptied when it outgrows
        # half the worker's own seen-set, so it adds at most half the seen-set's bytes.
        self.sent = FingerprintSet()
        self.base = 0  # local index of the first state of the level being expanded
        self.ended: dict[int, int] = {}  # level -> end markers heard
        self.early: list[Any] = []  # batches of a level that has not started here yet

    def run(self) -> None:
        """Seed, expand a level per command, report the totals and wait for the exit."""
        try:
            self.links.reports.put(("ready", self.w, *self.seed()))
            while True:
                cmd = self.wait(self.commands)
                if cmd[0] == "stop":
                    break
                self.links.reports.put(("level", self.w, *self.expand_level(cmd[1])))
        except _Stopped:
            # Peers may have stopped reading: what is still queued for them must not keep
            # this process from exiting.
            for inbox in self.links.inboxes:
                inbox.cancel_join_thread()
        self.links.reports.put(self.final())
        self.wait_for_exit()

    def check_stop(self) -> None:
        """Raise :class:`_Stopped` if asked to stop; quit at once if the coordinator is gone."""
        if self.links.stop.is_set():
            raise _Stopped
        if os.getppid() != self.links.parent:
            os._exit(1)  # orphaned: nobody is left to report to

    def wait(self, q: Any) -> Any:
        """The next message on ``q``, watching for a request to stop while it does not come."""
        while True:
            try:
                return q.get(timeout=POLL)
            except queue_mod.Empty:
                self.check_stop()

    def wait_for_exit(self) -> None:
        """Keep the parent log until the coordinator has read it (its ``exit``)."""
        while True:
            try:
                if self.commands.get(timeout=POLL)[0] == "exit":
                    return
            except queue_mod.Empty:
                if os.getppid() != self.links.parent:
                    return

    def seed(self) -> tuple[int, int, int, Any]:
        """Keep the initial states this worker owns; worker 0 counts and checks them."""
        bm, w, n = self.bm, self.w, self.n
        found = None
        try:
            initial = bm.initial()
        except StepViolation as exc:
            initial = []
            if w == 0:
                found = _portable(bm, exc, -1)
        if w == 0:
            self.generated += len(initial) + (1 if found else 0)
        keys, succs = [], []
        for st in initial:
            if bm.in_bounds(st) and bm.partition(st) % n == w:
                keys.append(bm.key(st))
                succs.append(st)
        share = self.share
        share.absorb(keys, succs, [0] * len(keys), np.full(len(keys), -1, dtype=np.int64))
        share.produced[:] = 0
        return self.generated, share.distinct, len(share.next), found

    def expand_level(self, level: int) -> tuple[int, int, int, Any]:
        """Expand this worker's part of ``level``, route the successors to their owners and
        wait until every worker is done with it."""
        bm, share, n, w = self.bm, self.share, self.n, self.w
        share.frontier, share.next = share.next, share.frontier
        level_size = len(share.frontier)
        found = None
        self.outgoing: list[list[Any]] = [[[], [], [], []] for _ in range(n)]
        for batch in self.early:
            _absorb_remote(bm, share, batch)
        self.early = []
        parts_delta, expand_parts = self.parts_delta, self.expand_parts
        done = 0
        for chunk in share.frontier.chunks(CHUNK):
            self.check_stop()
            keys, succs, acts, firsts, parts, bases = [], [], [], [], [], []
            try:
                if parts_delta is not None:
                    self.generated += parts_delta(chunk, keys, succs, acts, firsts, parts, bases)
                elif expand_parts is not None:
                    self.generated += expand_parts(chunk, keys, succs, acts, firsts, parts)
                else:
                    self.generated += bm.expand(chunk, keys, succs, acts, firsts)
                    parts = [bm.partition(st) for st in succs]
            except StepViolation as exc:
                gid = (self.base + done + chunk.index(exc.before)) * n + w
                found = _portable(bm, exc, gid)
                self.generated += len(keys) + 1
                break
            if keys:
                self.route(level, keys, succs, acts, firsts, parts, bases, self.base + done)
            done += len(chunk)
            # Take in what others sent meanwhile, so queues stay short.
            while True:
                try:
                    msg = self.inbox.get_nowait()
                except queue_mod.Empty:
                    break
                _handle(bm, share, msg, level, self.ended, self.early)
        self.end_level(level)
        self.base += level_size
        return self.generated, share.distinct, len(share.next), found

    def route(
        self, level: int, keys: list[int], succs: list[Any], acts: list[int], firsts: list[int],
        parts: list[int], bases: list[int], first: int,
    ) -> None:
        """Keep the successors this worker owns; queue the others for their owners. By whole
        arrays: one numpy pass per chunk instead of Python work per successor."""
        n, w, share = self.n, self.w, self.share
        parents = parent_positions(firsts, len(keys))
        if self.parts_delta is not None:
            k_arr = delta_keys(keys, bases, parents)
        else:
            k_arr = np.array(keys, dtype=np.int64).view(np.uint64)
        owners = np.array(parts, dtype=np.int64) % n
        a_arr = np.array(acts, dtype=np.int64)
        g_arr = (parents + first) * n + w
        for o in range(n):
            idx = np.flatnonzero(owners == o)
            if not idx.shape[0]:
                continue
            if o == w:
                share.absorb_arrays(
                    k_arr[idx], [succs[q] for q in idx.tolist()], a_arr[idx], g_arr[idx]
                )
                continue
            # A key goes to its owner once: the owner keeps the first copy anyway, and
            # sending costs more than this look-up.
            if len(self.sent) > max(share.distinct // 2, 1 << 16):
                self.sent = FingerprintSet()
            idx = idx[self.sent.add_batch(k_arr[idx])]
            if not idx.shape[0]:
                continue
            bucket = self.outgoing[o]
            bucket[0].append(k_arr[idx])
            bucket[1].extend([succs[q] for q in idx.tolist()])
            bucket[2].append(a_arr[idx])
            bucket[3].append(g_arr[idx])
            if len(bucket[1]) >= BATCH:
                self.flush(o, level)

    def flush(self, o: int, level: int) -> None:
        """Send worker ``o`` the successors queued for it."""
        k, s, a, p = self.outgoing[o]
        if s:
            self.links.inboxes[o].put(
                ("batch", level, np.concatenate(k), self.encode(s, o), np.concatenate(a),
                 np.concatenate(p), self.w)
            )
            self.outgoing[o] = [[], [], [], []]

    def end_level(self, level: int) -> None:
        """Tell every other worker this one is done with ``level``; wait until all are."""
        for o in range(self.n):
            if o != self.w:
                self.flush(o, level)
                self.links.inboxes[o].put(("end", level))
        ended = self.ended
        ended[level] = ended.get(level, 0) + 1
        while ended[level] < self.n:
            _handle(self.bm, self.share, self.wait(self.inbox), level, ended, self.early)
        del ended[level]

    def final(self) -> tuple[Any, ...]:
        """The totals the coordinator sums, with the paths of this worker's parent log."""
        share, bm = self.share, self.bm
        share.parents._fps.flush()
        share.parents._parents.flush()
        return (
            "final",
            self.w,
            bm.enabled_counts(),
            share.produced.tolist(),
            bm.reached if hasattr(bm, "reached") else 0,
            (share.parents._fp_path, share.parents._parent_path),
            share.seen.nbytes,
            self.generated,
            share.distinct,
            len(share.next),
        )


def _worker_main(
    w: int, n: int, model: Model[Any], links: _Links, commands: Any, budget: int, tmp: str
) -> None:
    """A worker process: ignores Ctrl-C (the coordinator stops the workers), reports a failure
    in one line, and leaves without freeing its states one by one."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    gc.disable()  # states are acyclic; see batched.py
    status = 0
    try:
        _Worker(w, n, model, links, commands, budget, tmp).run()
    except Exception as exc:
        status = 1
        links.reports.put(("error", w, _failure_text(exc)))
    # What was put on the reports queue must reach the coordinator before the process ends;
    # the rest (the states, the spill files in the coordinator's temporary directory) needs no
    # tidying: freeing millions of states one by one would delay the exit by seconds.
    links.reports.close()
    links.reports.join_thread()
    os._exit(status)


def _failure_text(exc: BaseException) -> str:
    """``failed: TypeError: ... (at file.py:123)``: the exception and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"failed: {type(exc).__name__}: {exc}{where}"


def _exit_text(code: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with status {code}"


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


class _Abort(Exception):
    """Stop the search before it is done: ``reason`` is ``interrupted`` or ``max_seconds``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Interrupts:
    """Ctrl-C while the workers search: the first asks for a stop with the figures so far
    (:attr:`requested`, which the coordinator polls), a second one gives up at once
    (KeyboardInterrupt). Only the main thread receives signals; elsewhere, nothing changes."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handle(self, _signum: int, _frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Team:
    """The coordinator's side of the worker processes: start them, send them commands, gather
    their reports while watching that each is alive, and end them."""

    def __init__(self, model: Model[Any], n: int, budget: int, tmp: str) -> None:
        ctx = mp.get_context("fork")
        self.n = n
        self.commands = [ctx.Queue() for _ in range(n)]
        self.links = _Links(
            [ctx.Queue() for _ in range(n)], ctx.Queue(), ctx.Event(), os.getpid()
        )
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(w, n, model, self.links, self.commands[w], budget, tmp),
                daemon=True,
                name=f"raftmc-worker-{w}",
            )
            for w in range(n)
        ]

    def __enter__(self) -> _Team:
        # Ctrl-C is held back across the forks: a worker ignores it once it runs (the
        # coordinator stops the workers), and one arriving before would kill it mid-start.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for proc in self.procs:
                proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return self

    def __exit__(self, exc_type: Any, *_exc: object) -> None:
        if exc_type is None:
            self.send(("exit",))
            deadline = perf_counter() + STOP_GRACE
            for proc in self.procs:
                proc.join(timeout=max(deadline - perf_counter(), 0))
        # Whatever is still running after an error, an interrupt or the grace period goes now:
        # its share is in the temporary directory, which is removed next.
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join(timeout=STOP_GRACE)

    def send(self, cmd: tuple[Any, ...]) -> None:
        for c in self.commands:
            c.put(cmd)

    def gather(self, kind: str, watch: Callable[[], None]) -> list[tuple[Any, ...]]:
        """One report of ``kind`` from every worker, in worker order; others are dropped.

        While none comes, ``watch`` is called (it raises to stop waiting) and the workers are
        checked: a dead one raises :class:`WorkerFailed` at once.
        """
        rows: dict[int, tuple[Any, ...]] = {}
        while len(rows) < self.n:
            try:
                row = self.links.reports.get(timeout=POLL)
            except queue_mod.Empty:
                self.check_alive()
                watch()
                continue
            if row[0] == "error":
                raise WorkerFailed(row[1], self.procs[row[1]].pid, row[2])
            if row[0] == kind:
                rows[row[1]] = row
        return [rows[w] for w in range(self.n)]

    def check_alive(self) -> None:
        """Raise :class:`WorkerFailed` for a worker that has ended: none ends before ``exit``."""
        for w, proc in enumerate(self.procs):
            if proc.exitcode is None:
                continue
            # A worker that raised said why before it ended; that says more than its status.
            try:
                while True:
                    row = self.links.reports.get(timeout=POLL)
                    if row[0] == "error":
                        raise WorkerFailed(row[1], self.procs[row[1]].pid, row[2])
            except queue_mod.Empty:
                pass
            raise WorkerFailed(w, proc.pid, _exit_text(proc.exitcode))

    def stop(self, reason: str) -> list[tuple[Any, ...]]:
        """Stop every worker where it is; their totals (``final`` reports)."""
        self.links.stop.set()
        give_up = perf_counter() + STOP_GRACE

        def late() -> None:
            if perf_counter() > give_up:
                # Not knowing which one is stuck, name the first still running.
                running = [w for w, p in enumerate(self.procs) if p.is_alive()]
                w = running[0] if running else 0
                raise WorkerFailed(w, self.procs[w].pid, f"did not stop within {STOP_GRACE:g} s")

        return self.gather("final", late)


@dataclass
class _Levels:
    """Where the coordinator's level loop stands."""

    generated: int = 0
    distinct: int = 0
    queue: int = 0
    level: int = 0
    max_queue: int = 0
    found: Any = None
    stopped_by: str | None = None

    def take(self, rows: list[tuple[Any, ...]]) -> None:
        """Sum a ``ready`` or ``level`` report of every worker."""
        self.generated = sum(r[2] for r in rows)
        self.distinct = sum(r[3] for r in rows)
        self.queue = sum(r[4] for r in rows)
        self.found = next((r[5] for r in rows if r[5] is not None), None)


def _search_levels(
    team: _Team,
    at: _Levels,
    limit: float,
    deadline: float,
    interrupts: _Interrupts,
    progress: Callable[[Snapshot], None] | None,
    progress_interval: float,
    start: float,
) -> None:
    """Run levels until the frontier is empty, a violation is found or a limit is hit."""

    def watch() -> None:
        if interrupts.requested:
            raise _Abort("interrupted")
        if perf_counter() >= deadline:
            raise _Abort("max_seconds")

    next_report = start + progress_interval
    at.take(team.gather("ready", watch))
    while at.found is None and at.queue:
        if interrupts.requested:
            raise _Abort("interrupted")
        if at.distinct >= limit:
            at.stopped_by = "max_states"
            return
        now = perf_counter()
        if now >= deadline:
            at.stopped_by = "max_seconds"
            return
        at.level += 1
        at.max_queue = max(at.max_queue, at.queue)
        team.send(("level", at.level))
        at.take(team.gather("level", watch))
        now = perf_counter()
        if progress is not None and now >= next_report:
            next_report = now + progress_interval
            progress(Snapshot(at.generated, at.distinct, at.queue, at.level + 1, now - start))


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
    """Search ``model`` with ``workers`` processes; counts and verdicts as with one.

    Ctrl-C (SIGINT) stops every worker mid-level and gives the figures so far (result
    ``incomplete``, stopped by ``interrupted``); a second one gives up at once. A worker that
    dies or fails raises :class:`WorkerFailed` naming it, and the others are stopped.
    """
    n = workers
    # The workers fork with the model as it is here: tell it how many there will be.
    plan = getattr(model.batch(), "plan_workers", None)  # type: ignore[attr-defined]
    if plan is not None:
        plan(n)
    limit = max_states if max_states is not None else math.inf
    start = perf_counter()
    deadline = start + max_seconds if max_seconds is not None else math.inf
    at = _Levels()
    with (
        tempfile.TemporaryDirectory(prefix="raftmc-", dir=spill_dir) as tmp,
        _Interrupts() as interrupts,
        _Team(model, n, frontier_budget // n, tmp) as team,
    ):
        try:
            _search_levels(
                team, at, limit, deadline, interrupts, progress, progress_interval, start
            )
        except _Abort as stop:
            at.stopped_by = stop.reason
            finals = team.stop(stop.reason)
            at.found = None
            # Every worker's own totals: the level it was in is partly expanded.
            at.generated = sum(f[7] for f in finals)
            at.distinct = sum(f[8] for f in finals)
            at.queue = sum(f[9] for f in finals)
        else:
            team.send(("stop",))
            finals = team.gather("final", lambda: None)
        seconds = perf_counter() - start
        return _shares_outcome(model, at, finals, seconds)


def _shares_outcome(
    model: Model[Any], at: _Levels, finals: list[tuple[Any, ...]], seconds: float
) -> Result:
    """The result from the workers' totals, with a counterexample rebuilt from their parent
    logs (still on disk: the workers keep them until told to exit)."""
    names = list(model.batch().names)  # type: ignore[attr-defined]
    enabled = np.sum([f[2] for f in finals], axis=0).tolist()
    produced = np.sum([f[3] for f in finals], axis=0).tolist()
    reached = 0
    for f in finals:
        reached |= f[4]
    seen_bytes = sum(f[6] for f in finals)
    depth = at.level + 1 if at.queue else at.level
    distinct = at.distinct
    violation = None
    if at.found is not None:
        name, kind, before, label, after, in_bounds, gid = at.found
        bm = model.batch()  # type: ignore[attr-defined]
        before_st, after_st = bm.import_states([before, after])
        exc = StepViolation(name, kind, before_st, label, after_st, in_bounds)
        if label is None:
            depth = 1
        elif in_bounds and kind == "invariant":
            depth = at.level + 1
            distinct += 1
        trace = _rebuild(model, bm, _Chains([f[5] for f in finals]), gid, exc)  # type: ignore[arg-type]
        violation = Violation(name, kind, trace)
        outcome = "violation"
    elif at.stopped_by is not None:
        outcome = "incomplete"
    else:
        outcome = "ok"
    return shares_result(
        model, outcome, names, enabled, produced, reached, violation,
        distinct=distinct, generated=at.generated, depth=depth, seconds=seconds,
        max_queue=at.max_queue, initial=1, stopped_by=at.stopped_by, seen_bytes=seen_bytes,
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
