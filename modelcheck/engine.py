"""Breadth-first explicit-state search over any :class:`~raftkit.modelcheck.model.Model`.

The search counts as TLC counts, so its figures can be compared with TLC's on the same bounds:

* *generated*: every initial state, plus one per ``(label, successor)`` pair of every expanded
  state, self-loops, duplicates and out-of-bounds successors included;
* *distinct*: distinct in-bounds states, two states being the same when their canonical forms
  have the same key in the store (a 64-bit fingerprint by default);
* *depth*: the number of breadth-first levels, the initial states being level 1.

A successor outside the model's bounds (TLC's ``CONSTRAINT``) is checked against the invariants
and the action properties, then dropped: it is neither stored, counted as distinct, nor expanded.

Checks, in the order they run for a successor ``t`` of ``s`` by action ``a``:

1. if ``t`` is in bounds and new: it is stored, then the invariants and the sometimes (state)
   properties still unreached are evaluated on it; if ``t`` is out of bounds: the invariants;
2. the action properties on ``(s, a, t)``;
3. if ``t`` is in bounds: the sometimes-step properties still unreached on ``(s, a, t)``.

The first failure stops the search. Breadth-first order makes its counterexample a shortest one,
which :func:`raftkit.modelcheck.trace.rebuild` then replays from the parent links.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from collections.abc import Callable, Hashable
from time import perf_counter
from typing import Any

from .model import Model
from .progress import Snapshot
from .result import Coverage, Result, Violation, ViolationKind
from .store import ROOT, Store, collision_probability, lookup_collision_probability, make_store
from .trace import StepPredicate, rebuild

# Expanded states between two looks at the clock: often enough for a 0.5 s progress line and a
# prompt time limit, rarely enough that perf_counter() costs nothing measurable.
_TICK = 128


class _Found(Exception):
    """Carries a violation out of the nested search loops (raised once per run at most)."""

    def __init__(
        self,
        name: str,
        kind: ViolationKind,
        parent_key: Hashable,
        target_key: Hashable,
        predicate: StepPredicate,
        stored: bool = False,
    ) -> None:
        super().__init__(name)
        self.stored = stored  # the violating state is in the store (a new in-bounds state)
        self.name = name
        self.kind = kind
        self.parent_key = parent_key
        self.target_key = target_key
        self.predicate = predicate


def _breaks_invariant(holds: Callable[[Any], bool]) -> StepPredicate:
    return lambda before, label, after: not holds(after)


def _breaks_action(holds: Callable[[Any, Any, Any], bool]) -> StepPredicate:
    return lambda before, label, after: not holds(before, label, after)


def check(
    model: Model[Any],
    *,
    store: Store | str = "fingerprint",
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
    workers: int = 1,
    frontier_budget: int | None = None,
    spill_dir: str | None = None,
    checkpoint: str | None = None,
    checkpoint_every: float = 60.0,
    resume: bool = False,
    ray: str | None = None,
) -> Result:
    """Explore every state of ``model`` reachable within its bounds and check its properties.

    ``store`` is a :class:`~raftkit.modelcheck.store.Store` or its name (``"fingerprint"``,
    ``"exact"``). The search stops early, with result ``"incomplete"``, once it has found at
    least ``max_states`` distinct states or run for ``max_seconds``, or on Ctrl-C. ``progress``
    is called with a :class:`~raftkit.modelcheck.progress.Snapshot` every ``progress_interval``
    seconds or so.

    A model that offers the batch protocol (``model.batch()``, see :mod:`.batch`) is searched
    by :mod:`.bfs` with the fingerprint store: compact seen-set, frontier spilled to disk beyond
    ``frontier_budget`` states (in ``spill_dir``), and ``workers`` processes.

    ``checkpoint`` (a directory), ``resume`` and ``ray`` (a cluster address or ``"auto"``) run
    that search through :mod:`.sharded` instead: see there and :mod:`.raysearch`.
    """
    if max_states is not None and max_states < 1:
        raise ValueError(f"max_states must be at least 1 (got {max_states})")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive (got {max_seconds})")
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    if (checkpoint or resume or ray) and store == "fingerprint" and hasattr(model, "batch"):
        from .sharded import check_sharded

        return check_sharded(
            model,
            workers=workers,
            ray=ray,
            checkpoint_dir=checkpoint,
            checkpoint_every=checkpoint_every,
            resume=resume,
            max_states=max_states,
            max_seconds=max_seconds,
            progress=progress,
            progress_interval=progress_interval,
            frontier_budget=frontier_budget,
            spill_dir=spill_dir,
        )
    if store == "fingerprint" and hasattr(model, "batch"):
        from .bfs import FRONTIER_BUDGET, check_batched

        return check_batched(
            model,
            max_states=max_states,
            max_seconds=max_seconds,
            progress=progress,
            progress_interval=progress_interval,
            frontier_budget=frontier_budget or FRONTIER_BUDGET,
            spill_dir=spill_dir,
            workers=workers,
        )
    if workers != 1:
        raise ValueError("workers > 1 needs a model with the batch protocol")
    if isinstance(store, str):
        store = make_store(store)

    props = model.properties()
    invariants = tuple((p.name, p.holds) for p in props.invariants)
    action_props = tuple((p.name, p.holds) for p in props.action_properties)
    pending_states = [(p.name, p.reached) for p in props.sometimes]
    pending_steps = [(p.name, p.reached) for p in props.sometimes_steps]
    sometimes = {name: False for name, _ in (*pending_states, *pending_steps)}
    names = list(model.action_names())
    enabled: dict[str, int] = dict.fromkeys(names, 0)
    produced: dict[str, int] = dict.fromkeys(names, 0)

    # The hot loop reads everything through locals: attribute and global look-ups per state
    # add up over millions of states.
    parents = store.parents
    keyof = store.key
    canonical = model.canonical
    within = model.within_bounds
    successors = model.successors
    queue: deque[tuple[Any, Hashable]] = deque()
    append = queue.append
    popleft = queue.popleft
    limit = max_states if max_states is not None else math.inf

    generated = 0
    distinct = 0
    initial = 0
    level = 0
    remaining = 0  # states of the current level still in the queue
    max_queue = 0
    stopped_by: str | None = None
    found: _Found | None = None

    start = perf_counter()
    deadline = start + max_seconds if max_seconds is not None else math.inf
    next_report = start + progress_interval
    tick = _TICK

    gc_was_enabled = gc.isenabled()
    # States are acyclic tuples, so the cyclic collector only burns time walking the ever
    # larger heap of stored states (18-59 % of a run, see PERFORMANCE-NOTES).
    gc.disable()
    try:
        for state in model.init_states():
            generated += 1
            initial += 1
            if within(state):
                key = keyof(canonical(state))
                if key in parents:
                    continue
                parents[key] = ROOT
                distinct += 1
                for name, holds in invariants:
                    if not holds(state):
                        raise _Found(name, "invariant", ROOT, key, _breaks_invariant(holds), True)
                if pending_states:
                    hit = False
                    for name, reached in pending_states:
                        if reached(state):
                            sometimes[name] = hit = True
                    if hit:
                        pending_states = [e for e in pending_states if not sometimes[e[0]]]
                append((state, key))
            else:
                for name, holds in invariants:
                    if not holds(state):
                        key = keyof(canonical(state))
                        raise _Found(name, "invariant", ROOT, key, _breaks_invariant(holds))
        max_queue = len(queue)
        if queue:
            level = 1
            remaining = len(queue)

        while queue:
            if distinct >= limit:
                stopped_by = "max_states"
                break
            tick -= 1
            if not tick:
                tick = _TICK
                now = perf_counter()
                if now >= deadline:
                    stopped_by = "max_seconds"
                    break
                if progress is not None and now >= next_report:
                    next_report = now + progress_interval
                    deepest = level + 1 if len(queue) > remaining else level
                    progress(Snapshot(generated, distinct, len(queue), deepest, now - start))
            if not remaining:
                level += 1
                remaining = len(queue)
            state, key = popleft()
            remaining -= 1

            for label, succ in successors(state):
                generated += 1
                action = label[0]
                try:
                    enabled[action] += 1
                except KeyError:  # a name the model did not declare in action_names()
                    enabled[action] = 1
                    produced[action] = 0
                if within(succ):
                    skey = keyof(canonical(succ))
                    if skey not in parents:
                        parents[skey] = key
                        distinct += 1
                        produced[action] += 1
                        for name, holds in invariants:
                            if not holds(succ):
                                raise _Found(
                                    name, "invariant", key, skey, _breaks_invariant(holds), True
                                )
                        if pending_states:
                            hit = False
                            for name, reached in pending_states:
                                if reached(succ):
                                    sometimes[name] = hit = True
                            if hit:
                                pending_states = [e for e in pending_states if not sometimes[e[0]]]
                        append((succ, skey))
                        if len(queue) > max_queue:
                            max_queue = len(queue)
                    for name, holds in action_props:
                        if not holds(state, label, succ):
                            raise _Found(name, "action", key, skey, _breaks_action(holds))
                    if pending_steps:
                        hit = False
                        for name, reached in pending_steps:
                            if reached(state, label, succ):
                                sometimes[name] = hit = True
                        if hit:
                            pending_steps = [e for e in pending_steps if not sometimes[e[0]]]
                else:
                    for name, holds in invariants:
                        if not holds(succ):
                            skey = keyof(canonical(succ))
                            raise _Found(name, "invariant", key, skey, _breaks_invariant(holds))
                    for name, holds in action_props:
                        if not holds(state, label, succ):
                            skey = keyof(canonical(succ))
                            raise _Found(name, "action", key, skey, _breaks_action(holds))
    except _Found as exc:
        found = exc
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    finally:
        if gc_was_enabled:
            gc.enable()
    seconds = perf_counter() - start

    # Levels present: the one being expanded, plus the next if any of its states are queued.
    depth = level + 1 if len(queue) > remaining else level
    violation = None
    if found is not None:
        if found.stored:
            # The violating state is counted as distinct, one level below the one expanded,
            # but was never queued.
            depth = level + 1
        trace = rebuild(model, store, found.parent_key, found.target_key, found.predicate)
        violation = Violation(found.name, found.kind, trace)
        outcome = "violation"
    elif stopped_by is not None:
        outcome = "incomplete"
    else:
        outcome = "ok"

    coverage = {name: Coverage(enabled[name], produced.get(name, 0)) for name in enabled}
    return Result(
        result=outcome,
        distinct_states=distinct,
        states_generated=generated,
        depth=depth,
        seconds=seconds,
        coverage=coverage,
        sometimes=sometimes,
        violation=violation,
        collision_probability=0.0 if store.exact else collision_probability(distinct),
        lookup_collision_probability=(
            0.0 if store.exact else lookup_collision_probability(distinct, generated)
        ),
        max_queue=max_queue,
        initial_states=initial,
        stopped_by=stopped_by,
        store=store.name,
        never_enabled=[name for name in names if not enabled[name]],
    )
