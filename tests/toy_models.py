"""Small models whose state counts are known by hand, to test the engine without Raft."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from raftkit.modelcheck.engine.model import (
    ActionProperty,
    Invariant,
    Label,
    Properties,
    Sometimes,
    SometimesStep,
)


@dataclass
class Toy:
    """A model assembled from plain functions; implements the Model protocol."""

    inits: Sequence[Any]
    step: Callable[[Any], Iterable[tuple[Label, Any]]]
    bounds: Callable[[Any], bool] = lambda s: True
    canon: Callable[[Any], Hashable] = lambda s: s
    props: Properties = field(default_factory=Properties)
    names: Sequence[str] = ()

    def init_states(self):
        return list(self.inits)

    def successors(self, state):
        return list(self.step(state))

    def within_bounds(self, state):
        return self.bounds(state)

    def canonical(self, state):
        return self.canon(state)

    def properties(self):
        return self.props

    def describe(self, state):
        if isinstance(state, tuple):
            return {f"x[{i}]": v for i, v in enumerate(state)}
        return {"x": state}

    def action_names(self):
        return list(self.names)

    def format_label(self, label):
        return f"{label[0]}({', '.join(map(str, label[1:]))})"


def props(
    invariants: dict[str, Callable] | None = None,
    actions: dict[str, Callable] | None = None,
    sometimes: dict[str, Callable] | None = None,
    steps: dict[str, Callable] | None = None,
) -> Properties:
    return Properties(
        invariants=tuple(Invariant(n, f) for n, f in (invariants or {}).items()),
        action_properties=tuple(ActionProperty(n, f) for n, f in (actions or {}).items()),
        sometimes=tuple(Sometimes(n, f) for n, f in (sometimes or {}).items()),
        sometimes_steps=tuple(SometimesStep(n, f) for n, f in (steps or {}).items()),
    )


def dials(top_a: int, top_b: int, stay: bool = False, **properties: Any) -> Toy:
    """Two dials (a, b) from (0, 0); IncA and IncB are always enabled and never wrap, so the
    constraint a <= top_a and b <= top_b is what keeps the space finite.

    By hand: (top_a + 1)(top_b + 1) distinct states, each expanded into 2 successors (3 with the
    Stay self-loop), depth top_a + top_b + 1. "Never" is declared but never enabled.
    """

    def step(s):
        a, b = s
        yield ("IncA",), (a + 1, b)
        yield ("IncB",), (a, b + 1)
        if stay:
            yield ("Stay",), s

    return Toy(
        inits=[(0, 0)],
        step=step,
        bounds=lambda s: s[0] <= top_a and s[1] <= top_b,
        props=props(**properties),
        names=["IncA", "IncB", "Stay", "Never"] if stay else ["IncA", "IncB", "Never"],
    )


def tokens(count: int, top: int, symmetry: bool, wrap: bool = False, **properties: Any) -> Toy:
    """``count`` interchangeable tokens, each 0..top; Bump(i) raises token i while below top
    (with ``wrap``, Wrap(i) sends a token at top back to 0).

    Tokens are interchangeable, so symmetry reduction may sort the tuple: the reduced space is
    the multisets of size ``count`` over top + 1 values, C(top + count, count) of them.
    """

    def step(s):
        for i, v in enumerate(s):
            if v < top:
                yield ("Bump", i), s[:i] + (v + 1,) + s[i + 1 :]
            elif wrap:
                yield ("Wrap", i), s[:i] + (0,) + s[i + 1 :]

    return Toy(
        inits=[(0,) * count],
        step=step,
        canon=(lambda s: tuple(sorted(s))) if symmetry else (lambda s: s),
        props=props(**properties),
        names=["Bump", "Wrap"],
    )


def graph(
    nodes: int,
    edges: Sequence[tuple[int, int, int]],
    inits: Sequence[int],
    out_of_bounds: Iterable[int] = (),
    **properties: Any,
) -> Toy:
    """An explicit graph: edge (src, dst, k) is action ("E", k) from src to dst."""
    outgoing: dict[int, list[tuple[Label, int]]] = {n: [] for n in range(nodes)}
    for src, dst, k in edges:
        outgoing[src].append((("E", k), dst))
    oob = frozenset(out_of_bounds)
    return Toy(
        inits=list(inits),
        step=lambda s: outgoing[s],
        bounds=lambda s: s not in oob,
        props=props(**properties),
        names=["E"],
    )


def actions_graph(
    nodes: int,
    edges: Sequence[tuple[int, int, str, int]],
    inits: Sequence[int],
    out_of_bounds: Iterable[int] = (),
    properties: Properties | None = None,
) -> Toy:
    """An explicit graph with named actions: edge (src, dst, name, arg) is action (name, arg)
    from src to dst. An edge from a node to itself is a stuttering step (the state stays)."""
    outgoing: dict[int, list[tuple[Label, int]]] = {n: [] for n in range(nodes)}
    for src, dst, name, arg in edges:
        if ((name, arg), dst) not in outgoing[src]:
            outgoing[src].append(((name, arg), dst))
    oob = frozenset(out_of_bounds)
    return Toy(
        inits=list(inits),
        step=lambda s: outgoing[s],
        bounds=lambda s: s not in oob,
        props=properties or Properties(),
        names=sorted({name for _, _, name, _ in edges}),
    )


@dataclass
class Processes(Toy):
    """``count`` interchangeable processes, each with a local value; a state is the tuple of
    values, a label ``(name, i)`` names the process that steps. Renaming processes is a
    symmetry when the steps are (the caller's ``step`` must treat processes alike), and the
    model names it (the liveness engine's ``SymmetryWitness``): canonical form is the sorted
    tuple. ``witness`` False leaves the symmetry unnamed."""

    count: int = 2
    witness: bool = True

    def __post_init__(self) -> None:
        from itertools import permutations

        self.perms = list(permutations(range(self.count)))
        self.canon = lambda s: tuple(sorted(s))

    def symmetries(self):
        return self.perms if self.witness else None

    def compose_symmetries(self, g, h):
        return tuple(g[x] for x in h)

    def canonical_witness(self, state):
        order = sorted(range(self.count), key=state.__getitem__)
        perm = [0] * self.count
        for position, old in enumerate(order):
            perm[old] = position
        return tuple(sorted(state)), self.perms.index(tuple(perm))

    def rename_label(self, label, g):
        return (label[0], *(g[i] for i in label[1:]))
