"""Counterexamples to a temporal property: a shortest prefix to a fair loop, the loop, and the
same lasso replayed through the model as a real behaviour.

On the graph, a violation of ``P ~> Q`` is a path from an initial state to a state where P holds
and Q does not (the *trigger*), then on through states where Q does not hold to a state that
lies on a fair loop of such states (see :mod:`.fair`), then the loop. :func:`shortest_prefix`
finds the shortest such path by a breadth-first search that starts at each trigger at the
trigger's own distance from the initial states (its depth in the graph's breadth-first tree):
the first fair state it meets ends a shortest prefix. ``<>P`` is ``Init ~> P``: its triggers are
the initial states where P does not hold.

:func:`fair_loop` then walks, from that state, through its fair component until every fairness
condition is met, and back: the nearest step or state that meets an unmet condition first, so
that the loop stays short. The loop is empty when no condition is enabled in the state: the
behaviour stops there (stutters) and is fair.

:func:`replay_lasso` turns the path of state numbers into states of the model, as the engine's
counterexamples are rebuilt: from an initial state with the first key, a successor with the next
key (and the step's label) at a time. Under symmetry the loop, replayed from a member of its
class, may end at another member of the class; it is replayed again from there until a state
repeats, which the finite class guarantees, and the lasso then loops over those rounds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..model import Fairness, Label, Model
from ..result import FairnessNote, Step
from ..trace import ReplayError
from .fair import Conditions, ranges
from .graph import BEYOND, StateGraph

#: Replays of a loop under symmetry before giving up (a class has at most |group| members).
MAX_ROUNDS = 10_000


@dataclass
class GraphLasso:
    """A lasso as state numbers: ``prefix`` from an initial state to the loop's first state,
    the trigger at ``prefix[trigger]``, then ``loop`` steps back to it as (state, label index).
    ``prefix_labels[k]`` is the label index of the step into ``prefix[k + 1]``, or -1 where
    any step between the two states will do."""

    prefix: list[int]
    prefix_labels: list[int]
    trigger: int
    loop: list[tuple[int, int]]


def shortest_prefix(
    graph: StateGraph,
    triggers: np.ndarray,
    allowed: np.ndarray,
    fair: np.ndarray,
) -> tuple[list[int], list[int], int] | None:
    """The shortest path from an initial state through a trigger (one of ``triggers``, a state
    number array) and then only ``allowed`` states to a state with ``fair >= 0``, as
    (states, label indexes, position of the trigger); None if there is none."""
    if not triggers.shape[0]:
        return None
    n = graph.states
    offsets = graph.offsets
    target = graph.target
    seen = np.zeros(n, dtype=bool)
    via = np.full(n, -1, dtype=np.int64)  # the step into a state; -1 for a trigger
    order = np.argsort(graph.depth[triggers], kind="stable")
    triggers = triggers[order]
    trigger_depth = graph.depth[triggers]
    next_trigger = 0
    frontier = np.zeros(0, dtype=np.int64)
    level = int(trigger_depth[0])
    while True:
        # Triggers join at their own distance from the initial states.
        upto = int(np.searchsorted(trigger_depth, level, side="right"))
        joining = triggers[next_trigger:upto].astype(np.int64)
        next_trigger = upto
        joining = joining[~seen[joining]]
        seen[joining] = True
        frontier = np.concatenate((frontier, joining))
        if not frontier.shape[0]:
            if next_trigger == triggers.shape[0]:
                return None
            level = int(trigger_depth[next_trigger])
            continue
        hits = frontier[fair[frontier] >= 0]
        if hits.shape[0]:
            return _path(graph, via, int(hits.min()))
        lo = offsets[frontier]
        steps = ranges(lo, offsets[frontier + 1] - lo)
        to = np.asarray(target[steps]).astype(np.int64)
        ok = to != BEYOND
        steps, to = steps[ok], to[ok]
        ok = allowed[to] & ~seen[to]
        steps, to = steps[ok], to[ok]
        to, first = np.unique(to, return_index=True)
        seen[to] = True
        via[to] = steps[first]
        frontier = to
        level += 1


def _path(graph: StateGraph, via: np.ndarray, end: int) -> tuple[list[int], list[int], int]:
    states = [end]
    labels: list[int] = []
    while via[states[-1]] >= 0:
        step = int(via[states[-1]])
        # The source of a step: the last state whose range of steps starts at or before it.
        source = int(np.searchsorted(graph.offsets, step, side="right")) - 1
        labels.append(int(graph.label[step]))
        states.append(source)
    trigger = states[-1]
    while graph.parent[states[-1]] >= 0:
        states.append(int(graph.parent[states[-1]]))
        labels.append(-1)
    states.reverse()
    labels.reverse()
    return states, labels, int(graph.depth[trigger])


class _Component:
    """Look-ups over one fair component: its steps, and the conditions of states and steps."""

    def __init__(
        self,
        graph: StateGraph,
        fair: np.ndarray,
        number: int,
        conditions: Conditions,
        beyond_enables: bool,
    ) -> None:
        self.graph = graph
        self.fair = fair
        self.number = number
        self.conditions = conditions
        self.beyond_enables = beyond_enables
        self._enabled: dict[int, frozenset[int]] = {}
        self._of_label: dict[int, frozenset[int]] = {}

    def of_label(self, label: int) -> frozenset[int]:
        cached = self._of_label.get(label)
        if cached is None:
            c = self.conditions
            members = c.members[c.starts[label] : c.starts[label + 1]]
            cached = self._of_label[label] = frozenset(int(m) for m in members)
        return cached

    def enabled(self, state: int) -> frozenset[int]:
        cached = self._enabled.get(state)
        if cached is None:
            g = self.graph
            lo, hi = int(g.offsets[state]), int(g.offsets[state + 1])
            found: set[int] = set()
            for step in range(lo, hi):
                if self.beyond_enables or int(g.target[step]) != BEYOND:
                    found |= self.of_label(int(g.label[step]))
            cached = self._enabled[state] = frozenset(found)
        return cached

    def steps(self, state: int) -> list[tuple[int, int]]:
        """(target, label) of the steps from ``state`` that stay in the component."""
        g = self.graph
        lo, hi = int(g.offsets[state]), int(g.offsets[state + 1])
        out = []
        for step in range(lo, hi):
            to = int(g.target[step])
            if to != BEYOND and self.fair[to] == self.number:
                out.append((to, int(g.label[step])))
        return out

    def walk(
        self, start: int, goal_state: Callable[[int], bool], goal_step: Callable[[int], bool]
    ) -> list[tuple[int, int]]:
        """The shortest walk inside the component from ``start`` (excluded) that ends at a state
        meeting ``goal_state`` or with a step meeting ``goal_step`` (label index)."""
        back: dict[int, tuple[int, int] | None] = {start: None}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            if state != start and goal_state(state):
                return _unwind(back, state)
            for to, label in self.steps(state):
                if goal_step(label):
                    return [*_unwind(back, state), (to, label)]
                if to not in back:
                    back[to] = (state, label)
                    queue.append(to)
        raise AssertionError("a fair component lacks the step or state its check relied on")


def _unwind(back: dict[int, tuple[int, int] | None], state: int) -> list[tuple[int, int]]:
    walk = []
    while (entry := back[state]) is not None:
        source, label = entry
        walk.append((state, label))
        state = source
    walk.reverse()
    return walk


def fair_loop(
    graph: StateGraph,
    fair: np.ndarray,
    start: int,
    conditions: Conditions,
    beyond_enables: bool = True,
) -> list[tuple[int, int]]:
    """A loop from ``start`` back to it inside its fair component that meets every fairness
    condition, as (state, label index) steps; empty when ``start`` may stutter forever."""
    comp = _Component(graph, fair, int(fair[start]), conditions, beyond_enables)
    strong = conditions.strong
    loop: list[tuple[int, int]] = []
    taken: set[int] = set()
    # Weak conditions enabled in every state visited so far and not yet taken; strong ones
    # enabled in some state visited and not yet taken.
    weak_open = {c for c in comp.enabled(start) if not strong[c]}
    strong_open = {c for c in comp.enabled(start) if strong[c]}
    here = start

    def visit(steps: list[tuple[int, int]]) -> None:
        nonlocal weak_open, strong_open
        for state, label in steps:
            took = comp.of_label(label)
            taken.update(took)
            enabled = comp.enabled(state)
            weak_open = (weak_open & enabled) - took
            strong_open = (strong_open | {c for c in enabled if strong[c]}) - taken
            weak_open -= taken
        loop.extend(steps)

    # Each walk to a goal meets one more condition for good; a walk home may open strong
    # conditions that the next rounds meet. So this ends within twice the conditions.
    for _ in range(2 * conditions.count + 2):
        open_ = weak_open | strong_open
        if not open_:
            if here == start:
                return loop
            steps = comp.walk(here, lambda s: s == start, lambda label: False)
        else:
            steps = comp.walk(
                here,
                lambda s, w=frozenset(weak_open): bool(w - comp.enabled(s)),
                lambda label, o=frozenset(open_): bool(comp.of_label(label) & o),
            )
        visit(steps)
        here = steps[-1][0]
    raise AssertionError("no fair loop found in a component the check found fair")


def graph_lasso(
    graph: StateGraph,
    triggers: np.ndarray,
    allowed: np.ndarray,
    fair: np.ndarray,
    conditions: Conditions,
    beyond_enables: bool = True,
) -> GraphLasso | None:
    """A lasso with a shortest prefix, or None when no trigger reaches a fair loop."""
    found = shortest_prefix(graph, triggers, allowed, fair)
    if found is None:
        return None
    prefix, labels, trigger = found
    loop = fair_loop(graph, fair, prefix[-1], conditions, beyond_enables)
    return GraphLasso(prefix, labels, trigger, loop)


# --- the lasso as a behaviour of the model --------------------------------------------------


def _step(
    model: Model[Any],
    key: Callable[[Any], Hashable],
    state: Any,
    want: Hashable,
    label: Label | None,
    number: int,
) -> tuple[Label, Any]:
    """A successor of ``state`` with key ``want``, by the step ``label`` if given: the same
    label, or under symmetry one of the same action."""
    # Every step the graph keeps changes the state, so a stuttering successor never matches.
    same_key = [
        (lbl, succ)
        for lbl, succ in model.successors(state)
        if succ != state and key(succ) == want
    ]
    if label is not None:
        exact = [(lbl, s) for lbl, s in same_key if lbl == label]
        same_key = exact or [(lbl, s) for lbl, s in same_key if lbl[0] == label[0]]
    if not same_key:
        raise ReplayError(
            f"state {number} of the lasso is not reachable from state {number - 1}: "
            "is canonical() a symmetry of successors()?"
        )
    return same_key[0]


def replay_lasso(
    model: Model[Any],
    graph: StateGraph,
    lasso: GraphLasso,
    exact: bool = False,
    keyed_by_canonical: bool = True,
    loop_of: Callable[[Any], list[tuple[int, Label]]] | None = None,
) -> tuple[list[Step], int]:
    """The lasso as a real behaviour: (steps, index of the state where the loop starts). The
    steps end with the loop's last step back to that state (none when it stutters). States
    are keyed as the graph keyed them: by canonical form unless ``keyed_by_canonical`` is
    False, by hash unless ``exact``. ``loop_of``, when given, makes the loop from the last
    state of the replayed prefix (as (state number, label) steps) in place of ``lasso.loop``."""
    canonical = model.canonical if keyed_by_canonical else (lambda s: s)
    hasher: Callable[[Hashable], Hashable] = (lambda c: c) if exact else hash

    def key(state: Any) -> Hashable:
        return hasher(canonical(state))

    keys = graph.keys
    first = keys[lasso.prefix[0]]
    current = next((s for s in model.init_states() if key(s) == first), None)
    if current is None:
        raise ReplayError("no initial state has the first key of the lasso")
    trace: list[Step] = [(None, current)]
    for number, (state, label) in enumerate(
        zip(lasso.prefix[1:], lasso.prefix_labels, strict=True), start=2
    ):
        wanted = graph.labels[label] if label >= 0 else None
        step = _step(model, key, current, keys[state], wanted, number)
        trace.append(step)
        current = step[1]
    if loop_of is not None:
        loop = loop_of(current)
    else:
        loop = [(state, graph.labels[label]) for state, label in lasso.loop]
    if not loop:
        return trace, len(trace) - 1
    # Replay the loop round after round until a round starts where an earlier one did.
    starts: dict[Any, int] = {}
    for _ in range(MAX_ROUNDS):
        if current in starts:
            return trace, starts[current]
        starts[current] = len(trace) - 1
        for state, wanted in loop:
            step = _step(model, key, current, keys[state], wanted, len(trace) + 1)
            trace.append(step)
            current = step[1]
    raise ReplayError(f"the loop did not come back to a state within {MAX_ROUNDS} rounds")


def fairness_notes(
    model: Model[Any],
    fairness: Sequence[Fairness],
    trace: Sequence[Step],
    loop: int,
    beyond_enables: bool = True,
) -> list[FairnessNote]:
    """How each fairness condition is met on the replayed loop, judged on the model's own
    successors: what is possible in each state of the loop (within the bounds, and beyond
    them), and which steps take what."""
    states = [state for _, state in trace[loop:-1]] if len(trace) > loop + 1 else [trace[loop][1]]
    cycle = list(enumerate(trace[loop + 1 :], start=loop + 2))
    within: list[set[Label]] = []
    beyond: list[set[Label]] = []
    for state in states:
        inside, outside = set(), set()
        for label, succ in model.successors(state):
            if succ != state:
                (inside if model.within_bounds(succ) else outside).add(label)
        within.append(inside)
        beyond.append(outside - inside)

    def count(match: Callable[[Label], bool]) -> tuple[int, int]:
        """(states where possible, as the check counts; states where possible only beyond)"""
        only_beyond = sum(
            not any(map(match, w)) and any(map(match, b))
            for w, b in zip(within, beyond, strict=True)
        )
        inside = sum(any(map(match, w)) for w in within)
        return (inside + only_beyond if beyond_enables else inside), only_beyond

    notes = []
    for f in fairness:
        tag = "WF" if f.kind == "weak" else "SF"
        takes = [
            (number, label)
            for number, (label, succ) in cycle
            if label[0] in f.actions and succ != trace[number - 2][1]
        ]
        if f.per_instance:
            instances = {
                label
                for labels in (*within, *beyond)
                for label in labels
                if label[0] in f.actions
            }
            instances |= {label for _, label in takes}
            for inst in sorted(instances, key=repr):
                enabled, only_beyond = count(lambda label, inst=inst: label == inst)
                notes.append(
                    FairnessNote(
                        f"{tag}({model.format_label(inst)})",
                        f.kind,
                        enabled,
                        len(states),
                        [number for number, label in takes if label == inst],
                        only_beyond,
                    )
                )
            if not instances:
                notes.append(FairnessNote(f.name, f.kind, 0, len(states)))
        else:
            enabled, only_beyond = count(lambda label, f=f: label[0] in f.actions)
            notes.append(
                FairnessNote(
                    f.name,
                    f.kind,
                    enabled,
                    len(states),
                    [number for number, _ in takes],
                    only_beyond,
                )
            )
    return notes
