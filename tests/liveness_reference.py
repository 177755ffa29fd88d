"""A brute-force liveness reference for small explicit graphs, sharing nothing with the checker.

It needs no strongly connected components, no refinement and no breadth-first search: it
enumerates every candidate loop (every non-empty set of steps that is strongly connected on its
own states, and every single state, which may stutter), judges each by the definitions of weak
and strong fairness, and measures prefixes by relaxation to a fixpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from raftkit.modelcheck.engine.model import Fairness

Edge = tuple[int, int, str, int]  # src, dst, action name, argument
INF = 10**9


def reachable(edges: Sequence[Edge], inits: Iterable[int], oob: frozenset[int]) -> set[int]:
    reach = {n for n in inits if n not in oob}
    while True:
        more = {d for s, d, _, _ in edges if s in reach and d not in oob} - reach
        if not more:
            return reach
        reach |= more


def conditions(fairness: Sequence[Fairness], edges: Sequence[Edge]) -> list[tuple[str, set]]:
    """(kind, set of labels) for every fairness condition, instances separately."""
    out = []
    labels = {(name, arg) for _, _, name, arg in edges}
    for f in fairness:
        mine = {label for label in labels if label[0] in f.actions}
        if f.per_instance:
            out.extend((f.kind, {label}) for label in mine)
        else:
            out.append((f.kind, mine))
    return out


def enabled_labels(
    state: int, edges: Sequence[Edge], oob: frozenset[int], beyond_enables: bool
) -> set:
    """Labels of the changing steps possible in ``state``."""
    return {
        (name, arg)
        for s, d, name, arg in edges
        if s == state and d != s and (beyond_enables or d not in oob)
    }


def is_fair(
    states: set[int],
    steps: Iterable[Edge],
    conds: list[tuple[str, set]],
    edges: Sequence[Edge],
    oob: frozenset[int],
    beyond_enables: bool = True,
) -> bool:
    """A loop visiting exactly ``states`` and taking exactly ``steps``, repeated forever."""
    taken = {(name, arg) for s, d, name, arg in steps if s != d}
    enabled = [enabled_labels(v, edges, oob, beyond_enables) for v in states]
    for kind, labels in conds:
        if taken & labels:
            continue
        hits = [bool(e & labels) for e in enabled]
        if kind == "weak" and all(hits):
            return False
        if kind == "strong" and any(hits):
            return False
    return True


def _strongly_connected(steps: Sequence[Edge]) -> bool:
    nodes = {s for s, _, _, _ in steps} | {d for _, d, _, _ in steps}
    for a in nodes:
        seen = {a}
        while True:
            more = {d for s, d, _, _ in steps if s in seen} - seen
            if not more:
                break
            seen |= more
        if seen != nodes:
            return False
    return True


def fair_loop_states(
    allowed: set[int],
    edges: Sequence[Edge],
    conds: list[tuple[str, set]],
    oob: frozenset[int],
    beyond_enables: bool = True,
) -> set[int]:
    """States that lie on some fair loop of ``allowed`` states."""
    inner = sorted(
        {e for e in edges if e[0] in allowed and e[1] in allowed and e[0] != e[1]}
    )
    found = {v for v in allowed if is_fair({v}, (), conds, edges, oob, beyond_enables)}
    for size in range(1, len(inner) + 1):
        for steps in combinations(inner, size):
            if not _strongly_connected(steps):
                continue
            states = {s for s, _, _, _ in steps}
            if states <= found:
                continue
            if is_fair(states, steps, conds, edges, oob, beyond_enables):
                found |= states
    return found


def distances(
    sources: dict[int, int], edges: Sequence[Edge], allowed: set[int]
) -> dict[int, int]:
    """Least (start distance + steps) to each allowed state, by relaxation to a fixpoint."""
    dist = dict(sources)
    changed = True
    while changed:
        changed = False
        for s, d, _, _ in edges:
            if s in dist and d in allowed and d != s and dist[s] + 1 < dist.get(d, INF):
                dist[d] = dist[s] + 1
                changed = True
    return dist


def verdict(
    nodes: int,
    edges: Sequence[Edge],
    inits: Sequence[int],
    oob: Iterable[int],
    trigger: set[int] | None,
    goal: set[int],
    fairness: Sequence[Fairness],
    beyond_enables: bool = True,
) -> int | None:
    """None if the property holds; else the number of steps of a shortest prefix of a
    counterexample (from an initial state to the first state of its loop)."""
    oob = frozenset(oob)
    reach = reachable(edges, inits, oob)
    depth = distances({n: 0 for n in inits if n in reach}, edges, reach)
    allowed = reach - goal
    starts = (set(inits) if trigger is None else trigger) & allowed
    conds = conditions(fairness, edges)
    fair = fair_loop_states(allowed, edges, conds, oob, beyond_enables)
    dist = distances({t: depth[t] for t in starts}, edges, allowed)
    lengths = [dist[v] for v in fair if v in dist]
    return min(lengths) if lengths else None
