"""Breadth-first explicit-state search over any :class:`~raftkit.modelcheck.engine.model.Model`.

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
which :func:`raftkit.modelcheck.engine.trace.rebuild` then replays from the parent links.
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
from .store import ROOT, Store, collision_probability, lookup_collision_probability
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


def search(
    model: Model[Any],
    store: Store,
    *,
    max_states: int | None = None,
    max_seconds: float | None = None,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
) -> Result:
    """The plain breadth-first search: any model, through its successors, one state at a time
    (``checker.check`` chooses it for models without the batch protocol, or the exact store).
    """
    run = _Search(model, store)
    gc_was_enabled = gc.isenabled()
    # States are acyclic tuples, so the cyclic collector only burns time walking the ever
    # larger heap of stored states (18-59 % of a run on 10 million states).
    gc.disable()
    try:
        run.start()
        run.loop(max_states, max_seconds, progress, progress_interval)
    except _Found as exc:
        run.found = exc
    except KeyboardInterrupt:
        run.stopped_by = "interrupted"
    finally:
        if gc_was_enabled:
            gc.enable()
    return run.result()


class _Search:
    """The state of one plain search: counts, coverage, the queue and what was found."""

    def __init__(self, model: Model[Any], store: Store) -> None:
        self.model = model
        self.store = store
        props = model.properties()
        self.invariants = tuple((p.name, p.holds) for p in props.invariants)
        self.action_props = tuple((p.name, p.holds) for p in props.action_properties)
        self.pending_states = [(p.name, p.reached) for p in props.sometimes]
        self.pending_steps = [(p.name, p.reached) for p in props.sometimes_steps]
        self.sometimes = {
            name: False for name, _ in (*self.pending_states, *self.pending_steps)
        }
        self.names = list(model.action_names())
        self.enabled: dict[str, int] = dict.fromkeys(self.names, 0)
        self.produced: dict[str, int] = dict.fromkeys(self.names, 0)
        self.queue: deque[tuple[Any, Hashable]] = deque()
        self.generated = 0
        self.distinct = 0
        self.initial = 0
        self.level = 0
        self.remaining = 0  # states of the current level still in the queue
        self.max_queue = 0
        self.stopped_by: str | None = None
        self.found: _Found | None = None
        self.started = perf_counter()
        self.seconds = 0.0

    def _note_state(self, state: Any) -> None:
        """The sometimes properties still unreached, on a new in-bounds state."""
        hit = False
        for name, reached in self.pending_states:
            if reached(state):
                self.sometimes[name] = hit = True
        if hit:
            self.pending_states = [e for e in self.pending_states if not self.sometimes[e[0]]]

    def start(self) -> None:
        """Store and check the initial states."""
        keyof, parents, canonical = self.store.key, self.store.parents, self.model.canonical
        for state in self.model.init_states():
            self.generated += 1
            self.initial += 1
            if self.model.within_bounds(state):
                key = keyof(canonical(state))
                if key in parents:
                    continue
                parents[key] = ROOT
                self.distinct += 1
                for name, holds in self.invariants:
                    if not holds(state):
                        raise _Found(name, "invariant", ROOT, key, _breaks_invariant(holds), True)
                if self.pending_states:
                    self._note_state(state)
                self.queue.append((state, key))
            else:
                for name, holds in self.invariants:
                    if not holds(state):
                        key = keyof(canonical(state))
                        raise _Found(name, "invariant", ROOT, key, _breaks_invariant(holds))
        self.max_queue = len(self.queue)
        if self.queue:
            self.level = 1
            self.remaining = len(self.queue)

    def loop(
        self,
        max_states: int | None,
        max_seconds: float | None,
        progress: Callable[[Snapshot], None] | None,
        progress_interval: float,
    ) -> None:
        """Expand states level by level until the queue is empty or a limit is hit."""
        queue = self.queue
        popleft = queue.popleft
        expand = self._expand
        limit = max_states if max_states is not None else math.inf
        deadline = self.started + max_seconds if max_seconds is not None else math.inf
        next_report = self.started + progress_interval
        tick = _TICK
        while queue:
            if self.distinct >= limit:
                self.stopped_by = "max_states"
                return
            tick -= 1
            if not tick:
                tick = _TICK
                now = perf_counter()
                if now >= deadline:
                    self.stopped_by = "max_seconds"
                    return
                if progress is not None and now >= next_report:
                    next_report = now + progress_interval
                    progress(Snapshot(self.generated, self.distinct, len(queue), self._depth(),
                                      now - self.started))
            if not self.remaining:
                self.level += 1
                self.remaining = len(queue)
            state, key = popleft()
            self.remaining -= 1
            expand(state, key)

    def _expand(self, state: Any, key: Hashable) -> None:
        """Every successor of ``state``: count, check, store and queue the new ones."""
        # The loop reads everything through locals: attribute look-ups per successor add up
        # over millions of states.
        parents = self.store.parents
        keyof = self.store.key
        canonical = self.model.canonical
        within = self.model.within_bounds
        invariants = self.invariants
        action_props = self.action_props
        enabled, produced = self.enabled, self.produced
        queue = self.queue
        for label, succ in self.model.successors(state):
            self.generated += 1
            action = label[0]
            try:
                enabled[action] += 1
            except KeyError:  # a name the model did not declare in action_names()
                enabled[action] = 1
                produced[action] = 0
            if not within(succ):
                for name, holds in invariants:
                    if not holds(succ):
                        skey = keyof(canonical(succ))
                        raise _Found(name, "invariant", key, skey, _breaks_invariant(holds))
                for name, holds in action_props:
                    if not holds(state, label, succ):
                        skey = keyof(canonical(succ))
                        raise _Found(name, "action", key, skey, _breaks_action(holds))
                continue
            skey = keyof(canonical(succ))
            if skey not in parents:
                parents[skey] = key
                self.distinct += 1
                produced[action] += 1
                for name, holds in invariants:
                    if not holds(succ):
                        raise _Found(name, "invariant", key, skey, _breaks_invariant(holds), True)
                if self.pending_states:
                    self._note_state(succ)
                queue.append((succ, skey))
                if len(queue) > self.max_queue:
                    self.max_queue = len(queue)
            for name, holds in action_props:
                if not holds(state, label, succ):
                    raise _Found(name, "action", key, skey, _breaks_action(holds))
            if self.pending_steps:
                hit = False
                for name, reached in self.pending_steps:
                    if reached(state, label, succ):
                        self.sometimes[name] = hit = True
                if hit:
                    self.pending_steps = [
                        e for e in self.pending_steps if not self.sometimes[e[0]]
                    ]

    def _depth(self) -> int:
        # Levels present: the one being expanded, plus the next if any of its states are queued.
        return self.level + 1 if len(self.queue) > self.remaining else self.level

    def result(self) -> Result:
        """What the search found, as counts, coverage and any violation."""
        seconds = perf_counter() - self.started
        depth = self._depth()
        violation = None
        found = self.found
        if found is not None:
            if found.stored:
                # The violating state is counted as distinct, one level below the one
                # expanded, but was never queued.
                depth = self.level + 1
            trace = rebuild(
                self.model, self.store, found.parent_key, found.target_key, found.predicate
            )
            violation = Violation(found.name, found.kind, trace)
            outcome = "violation"
        elif self.stopped_by is not None:
            outcome = "incomplete"
        else:
            outcome = "ok"
        exact = self.store.exact
        distinct, generated = self.distinct, self.generated
        return Result(
            result=outcome,
            distinct_states=distinct,
            states_generated=generated,
            depth=depth,
            seconds=seconds,
            coverage={
                name: Coverage(n, self.produced.get(name, 0))
                for name, n in self.enabled.items()
            },
            sometimes=self.sometimes,
            violation=violation,
            collision_probability=0.0 if exact else collision_probability(distinct),
            lookup_collision_probability=(
                0.0 if exact else lookup_collision_probability(distinct, generated)
            ),
            max_queue=self.max_queue,
            initial_states=self.initial,
            stopped_by=self.stopped_by,
            store=self.store.name,
            never_enabled=[name for name in self.names if not self.enabled[name]],
        )
