"""Which states can repeat forever in a fair behaviour: fairness conditions over a graph, and the
strongly connected components that satisfy them.

An infinite behaviour of a finite graph ends up looping, for ever, through a set of states and
steps that is strongly connected (a single state counts: every state may stutter). Whether the
behaviour is fair depends on that set alone. For a fairness condition ``c`` (one declaration, or
one instance of a per-instance one):

* weak: met when some step of the loop takes ``c`` or some state of it has ``c`` disabled;
* strong: met when some step of the loop takes ``c`` or no state of it has ``c`` enabled.

A component may host a fair loop only if it meets every condition with all its states and steps
(more states and steps only help weak fairness). When it fails a weak condition (enabled in all
its states, taken by none of its steps) no loop inside it can be fair either, since every loop
inside has the same defect: the component is discarded. When it fails a strong condition
(enabled somewhere, taken nowhere inside), a fair loop may still exist among the states where
that condition is disabled: those states are removed and the components of what is left are
examined again (the refinement of Emerson and Lei's algorithm for fair cycles). Every round
removes at least one state, and components that pass are final: what remains at the end is the
set of states that lie on some fair loop.

Strongly connected components come from SciPy's ``connected_components`` (Pearce's algorithm,
iterative, in compiled code: no recursion limit, a few hundred milliseconds for millions of
steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ..model import Fairness, Label
from .graph import BEYOND, StateGraph


@dataclass
class Conditions:
    """The fairness conditions of one property over the labels of one graph.

    Condition ``c`` is named ``names[c]``, strong when ``strong[c]``, and the steps whose label
    index is ``l`` are steps of the conditions ``members[starts[l]:starts[l + 1]]``.
    """

    names: list[str]
    strong: np.ndarray
    starts: np.ndarray
    members: np.ndarray

    @property
    def count(self) -> int:
        return len(self.names)

    def of_labels(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each label in ``labels``, one row per condition its steps belong to:
        (position in ``labels``, condition)."""
        lo = self.starts[labels]
        counts = self.starts[labels + 1] - lo
        return (
            np.repeat(np.arange(labels.shape[0], dtype=np.int64), counts),
            self.members[ranges(lo, counts)],
        )


def compile_conditions(
    fairness: Sequence[Fairness], labels: Sequence[Label], format_label: Callable[[Label], str]
) -> Conditions:
    """One condition per declaration, or per label of its actions seen in the graph when the
    declaration is per instance. Instances never seen in the graph are never enabled, so they
    need no condition."""
    names: list[str] = []
    strong: list[bool] = []
    pairs: list[tuple[int, int]] = []
    for f in fairness:
        matching = [i for i, label in enumerate(labels) if label[0] in f.actions]
        tag = "WF" if f.kind == "weak" else "SF"
        if f.per_instance:
            for i in matching:
                pairs.append((i, len(names)))
                names.append(f"{tag}({format_label(labels[i])})")
                strong.append(f.kind == "strong")
        else:
            pairs.extend((i, len(names)) for i in matching)
            names.append(f.name)
            strong.append(f.kind == "strong")
    pairs.sort()
    by_label = np.array([p[0] for p in pairs], dtype=np.int64)
    starts = np.searchsorted(by_label, np.arange(len(labels) + 1)).astype(np.int64)
    return Conditions(
        names=names,
        strong=np.array(strong, dtype=bool),
        starts=starts,
        members=np.array([p[1] for p in pairs], dtype=np.int64),
    )


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without the loop."""
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(starts.astype(np.int64) - (ends - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


def strong_components(nodes: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Component of each of ``nodes`` (sorted state numbers) in the graph of the steps
    ``src -> dst`` (both among ``nodes``, sorted by ``src``): numbers 0..k-1."""
    k = nodes.shape[0]
    local_src = np.searchsorted(nodes, src)
    local_dst = np.searchsorted(nodes, dst).astype(np.int32)
    index = np.int32 if local_dst.shape[0] < 2**31 else np.int64
    indptr = np.searchsorted(local_src, np.arange(k + 1)).astype(index)
    matrix = csr_matrix((np.ones(local_dst.shape[0], dtype=np.int8), local_dst, indptr), (k, k))
    _count, component = connected_components(matrix, directed=True, connection="strong")
    return component.astype(np.int64)


def fair_states(
    graph: StateGraph,
    sources: np.ndarray,
    allowed: np.ndarray,
    conditions: Conditions,
    beyond_enables: bool = True,
) -> np.ndarray:
    """For each state: the number of the fair component (among ``allowed`` states) it belongs to,
    or -1 if it lies on no fair loop that stays within ``allowed``.

    A step is possible (enables its conditions) wherever it is stored: every stored step changes
    the state. Steps beyond the bounds enable too when ``beyond_enables`` (TLC's ``ENABLED``
    ignores the state constraint); loops only follow steps between ``allowed`` states.
    """
    n = graph.states
    cond = conditions.count
    result = np.full(n, -1, dtype=np.int64)
    active = allowed.copy()
    if not active.any():
        return result
    target = graph.target
    label = graph.label

    outgoing = np.flatnonzero(active[sources])
    enabling = outgoing if beyond_enables else outgoing[target[outgoing] != BEYOND]
    # (state, condition) pairs, each once: the conditions a state enables.
    rows, members = conditions.of_labels(np.asarray(label[enabling]))
    pair = np.unique(sources[enabling][rows].astype(np.int64) * cond + members)
    en_state = pair // cond if cond else pair
    en_cond = pair % cond if cond else pair

    inner = outgoing[np.asarray(target[outgoing]) != BEYOND]
    inner = inner[active[np.asarray(target[inner])]]
    e_src = sources[inner].astype(np.int64)
    e_dst = np.asarray(target[inner]).astype(np.int64)
    e_label = np.asarray(label[inner])

    found = 0
    while True:
        nodes = np.flatnonzero(active)
        if not nodes.shape[0]:
            return result
        keep = active[e_src] & active[e_dst]
        e_src, e_dst, e_label = e_src[keep], e_dst[keep], e_label[keep]
        keep = active[en_state]
        en_state, en_cond = en_state[keep], en_cond[keep]

        local = strong_components(nodes, e_src, e_dst)
        comp = np.full(n, -1, dtype=np.int64)
        comp[nodes] = local
        size = np.bincount(local)
        ncomp = size.shape[0]

        inside = comp[e_src] == comp[e_dst]
        rows, members = conditions.of_labels(e_label[inside])
        taken = np.unique(comp[e_src[inside]][rows] * cond + members)

        key, enabled_in = np.unique(comp[en_state] * cond + en_cond, return_counts=True)
        key_comp = key // cond if cond else key
        key_cond = key % cond if cond else key
        untaken = ~np.isin(key, taken)
        weak_bad = untaken & ~conditions.strong[key_cond] & (enabled_in == size[key_comp])
        strong_bad = untaken & conditions.strong[key_cond]

        dead = np.zeros(ncomp, dtype=bool)
        dead[key_comp[weak_bad]] = True
        split = np.zeros(ncomp, dtype=bool)
        split[key_comp[strong_bad]] = True
        split &= ~dead

        final = ~dead & ~split
        done = nodes[final[local]]
        result[done] = found + local[final[local]]
        found += ncomp
        active[done] = False
        active[nodes[dead[local]]] = False
        if not split.any():
            return result
        # In a component kept for refinement, the states enabling a condition it fails
        # strongly cannot be on a fair loop inside it.
        bad_keys = key[strong_bad & split[key_comp]]
        drop = np.isin(comp[en_state] * cond + en_cond, bad_keys)
        active[en_state[drop]] = False
