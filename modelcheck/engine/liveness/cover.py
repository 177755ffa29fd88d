"""Fair loops of a symmetric model found on its quotient graph, under per-instance fairness.

The quotient graph has one state per symmetry class, which a per-instance fairness cannot be
judged on: a loop of the quotient may come back to its class at a renamed member, so the
instances it takes and leaves enabled are not those of any one concrete loop, and a naive
verdict on the quotient can be wrong either way. What is kept instead (Emerson and Sistla's
annotated quotient) is, on every stored step ``r -> t`` (``r`` the member of its class the
search expanded), the group element ``p`` with ``t = p(r')``, ``r'`` being the member expanded
for ``t``'s class. Then for every group element ``g`` the concrete state ``g(r)`` steps to
``(g p)(r')`` by the renamed label ``g(a)``.

The *cover* has a node ``(r, g)`` for every state of the quotient and every group element, and
those steps. It maps onto the concrete graph step for step (a node to the state ``g(r)``, every
step of that state once), so each of its strongly connected components maps onto a strongly
connected component of the concrete graph with the same labels taken and the same instances
enabled: the fairness of its loops, per instance, is exactly that of concrete loops, and the
fair-loop search of :mod:`.fair` runs on it unchanged. Only states that lie on a loop of the
quotient among the allowed states get a cover (``|group|`` nodes each); a state on none can only
stop there, which is fair when nothing fair is possible, whatever its renaming. Renaming maps
fair components of the cover onto fair components (the fairness conditions are all instances,
which renaming permutes), so a class lies on a fair loop exactly when its node with the
identity does, and every path of the quotient lifts to a concrete path of the same length: the
shortest prefix is found on the quotient as without symmetry.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from ..model import Fairness, Label, Model
from .fair import Conditions, compile_conditions, fair_states, ranges, strong_components
from .graph import BEYOND, StateGraph
from .lasso import fair_loop


class Group:
    """A model's symmetry group as indexes: ``compose[g, h]`` is g after h, 0 the identity."""

    def __init__(self, model: Any, elements: Sequence[Hashable]) -> None:
        self.elements = list(elements)
        index = {g: k for k, g in enumerate(self.elements)}
        self.compose = np.array(
            [[index[model.compose_symmetries(g, h)] for h in self.elements] for g in self.elements],
            dtype=np.int64,
        )
        if not (self.compose[0] == np.arange(len(self.elements))).all():
            raise ValueError("the first element of symmetries() is not the identity")
        self.inverse = np.argmax(self.compose == 0, axis=1)

    @property
    def size(self) -> int:
        return len(self.elements)


def group_of(model: Model[Any]) -> Group | None:
    """The model's symmetry group if it offers a witness of its canonical forms, else None."""
    symmetries = getattr(model, "symmetries", None)
    if symmetries is None or not hasattr(model, "canonical_witness"):
        return None
    elements = symmetries()
    if elements is None or len(elements) < 2:
        return None
    return Group(model, elements)


class Cover:
    """The quotient graph with what is needed to judge per-instance fairness on it."""

    def __init__(self, model: Model[Any], graph: StateGraph, group: Group) -> None:
        assert graph.step_witness is not None and graph.node_witness is not None
        self.graph = graph
        self.group = group
        k = group.size
        rename: Callable[[Label, Hashable], Label] = model.rename_label  # type: ignore[attr-defined]
        # Every label renamed by every element: labels[rename_table[l, g]] is g(labels[l]).
        self.labels: list[Label] = list(graph.labels)
        ids = {label: i for i, label in enumerate(self.labels)}
        table = np.zeros((len(graph.labels), k), dtype=np.int32)
        for i, label in enumerate(graph.labels):
            for g, element in enumerate(group.elements):
                renamed = rename(label, element) if g else label
                j = ids.get(renamed)
                if j is None:
                    j = ids[renamed] = len(self.labels)
                    self.labels.append(renamed)
                table[i, g] = j
        self.rename_table = table
        # The element p of each step: t = p(r') where t = w_t^-1(canonical), r' likewise.
        target = np.asarray(graph.target)
        inside = target != BEYOND
        step = np.zeros(target.shape[0], dtype=np.int64)
        node_w = graph.node_witness.astype(np.int64)
        step_w = np.asarray(graph.step_witness).astype(np.int64)
        step[inside] = group.compose[group.inverse[step_w[inside]], node_w[target[inside]]]
        self.step_element = step
        # The looping states, their cover and its fair components, of the last fair_states.
        self._last: tuple[np.ndarray, StateGraph, np.ndarray] | None = None

    def conditions(
        self, fairness: Sequence[Fairness], format_label: Callable[[Label], str]
    ) -> Conditions:
        """The fairness conditions over every renamed label."""
        return compile_conditions(fairness, self.labels, format_label)

    def fair_states(
        self,
        sources: np.ndarray,
        allowed: np.ndarray,
        conditions: Conditions,
        beyond_enables: bool = True,
    ) -> np.ndarray:
        """As :func:`.fair.fair_states`, for each state of the quotient: >= 0 when its class
        lies on a fair loop among ``allowed`` states (or may stop fairly), else -1."""
        graph = self.graph
        target = np.asarray(graph.target)
        inner = np.flatnonzero(allowed[sources] & (target != BEYOND))
        inner = inner[allowed[target[inner]]]
        nodes = np.flatnonzero(allowed)
        component = np.full(graph.states, -1, dtype=np.int64)
        component[nodes] = strong_components(nodes, sources[inner], target[inner])
        size = np.bincount(component[nodes]) if nodes.shape[0] else np.zeros(0, np.int64)
        looping = np.zeros(graph.states, dtype=bool)
        looping[nodes] = size[component[nodes]] > 1
        looping[sources[inner][sources[inner] == target[inner]]] = True

        # States on no loop: decided on the quotient, where they are trivial components too.
        fair = fair_states(graph, sources, allowed & ~looping, conditions_on(self, conditions),
                           beyond_enables)
        on_loops = np.flatnonzero(looping)
        if not on_loops.shape[0]:
            self._last = None
            return fair
        cover = self._cover(on_loops, sources)
        k = self.group.size
        cover_allowed = np.ones(cover.states, dtype=bool)
        cover_allowed[-1] = False  # the sink: every step that leaves the looping states
        cover_fair = fair_states(cover, cover.sources(), cover_allowed, conditions, beyond_enables)
        offset = int(fair.max()) + 1
        identity = cover_fair[np.arange(on_loops.shape[0]) * k]
        fair[on_loops] = np.where(identity >= 0, identity + offset, -1)
        self._last = (on_loops, cover, cover_fair)
        return fair

    def _cover(self, on_loops: np.ndarray, sources: np.ndarray) -> StateGraph:
        """The cover of the states ``on_loops`` (sorted): node ``position * k + g`` for the
        state ``on_loops[position]`` renamed by ``g``; one more node, the last, stands for every
        state off the loops (its steps enable, never followed)."""
        graph = self.graph
        group = self.group
        k = group.size
        count = on_loops.shape[0]
        sink = count * k
        position = np.full(graph.states, -1, dtype=np.int64)
        position[on_loops] = np.arange(count)
        lo = graph.offsets[on_loops]
        counts = graph.offsets[on_loops + 1] - lo
        steps = ranges(lo, counts)
        src_pos = np.repeat(np.arange(count, dtype=np.int64), counts)
        target = np.asarray(graph.target)[steps].astype(np.int64)
        label = np.asarray(graph.label)[steps].astype(np.int64)
        element = self.step_element[steps]
        to_pos = np.where(target != BEYOND, position[np.maximum(target, 0)], -1)
        g = np.arange(k, dtype=np.int64)
        # Rows are steps, columns elements: the order (source, element) needs a transpose
        # within each source's block, which a stable sort on the cover source does.
        cover_src = (src_pos[:, None] * k + g[None, :]).ravel()
        cover_dst = np.where(
            (target == BEYOND)[:, None],
            BEYOND,
            np.where(
                (to_pos >= 0)[:, None],
                to_pos[:, None] * k + group.compose[g[None, :], element[:, None]],
                sink,
            ),
        ).ravel()
        cover_label = self.rename_table[label[:, None], g[None, :]].ravel()
        order = np.argsort(cover_src, kind="stable")
        cover_src = cover_src[order]
        offsets = np.searchsorted(cover_src, np.arange(sink + 2)).astype(np.int64)
        empty = np.zeros(0, dtype=np.int32)
        return StateGraph(
            keys=range(sink + 1),  # type: ignore[arg-type]
            initial=empty,
            parent=np.full(sink + 1, -1, dtype=np.int32),
            depth=np.zeros(sink + 1, dtype=np.int32),
            offsets=offsets,
            target=cover_dst[order].astype(np.int32),
            label=cover_label[order].astype(np.int32),
            labels=self.labels,
            values=np.zeros((0, sink + 1), dtype=bool),
        )

    def loop(
        self, state: int, element: int, conditions: Conditions, beyond_enables: bool = True
    ) -> list[tuple[int, Label]]:
        """A fair loop from ``state`` renamed by ``element`` (a class on a fair loop, in the
        last :meth:`fair_states`), as (quotient state, concrete label) steps; empty when the
        state may stop there."""
        if self._last is None:
            return []
        on_loops, cover, cover_fair = self._last
        position = int(np.searchsorted(on_loops, state))
        if position == on_loops.shape[0] or on_loops[position] != state:
            return []
        k = self.group.size
        start = position * k + element
        steps = fair_loop(cover, cover_fair, start, conditions, beyond_enables)
        return [(int(on_loops[node // k]), self.labels[label]) for node, label in steps]

    def element_of(self, state: int, witness: int) -> int:
        """The element ``h`` with ``x = h(r)``, for a concrete member ``x`` of the class of
        quotient state ``state`` (expanded as ``r``) whose witness is ``witness``."""
        node = int(self.graph.node_witness[state])  # type: ignore[index]
        return int(self.group.compose[self.group.inverse[witness], node])


def conditions_on(cover: Cover, conditions: Conditions) -> Conditions:
    """``conditions`` (over the cover's labels) seen from the quotient's own labels, which
    are the first of the cover's: enough to tell whether any condition is enabled."""
    n = len(cover.graph.labels)
    return Conditions(
        names=conditions.names,
        strong=conditions.strong,
        starts=conditions.starts[: n + 1],
        members=conditions.members,
    )
