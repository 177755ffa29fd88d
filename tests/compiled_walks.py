"""The compiled model against the readable spec from each reachable state: the check that both
the raft.tla configurations and the membership ones go through."""

from __future__ import annotations

from collections import Counter

from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine.batch import StepViolation, delta_keys, parent_positions
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import State
from spec_walks import reachable


def broken_by_successors(model: RaftModel, s: State, steps: Counter) -> set[str] | None:
    """The properties some successor of ``s`` breaks (None: none), by the readable spec."""
    props = model.properties()
    names = {q.name for _label, t in steps for q in props.invariants if not q.holds(t)}
    names |= {q.name for label, t in steps for q in props.action_properties
              if not q.holds(s, label, t)}
    return names or None


def assert_same_state_by_state(p: Params, symmetry: bool, limit: int) -> None:
    """From each of the first ``limit`` reachable states: the same successors (labels and
    states, as multisets), bounds and verdict (the compiled form decides the invariants by
    parts: pairs, messages, logs with their places); the hot loop and its variants for
    --workers and XOR keys generate as many and keep exactly the in-bounds ones, with the right
    keys, actions and parts; keys equal exactly when the readable spec's canonical forms are."""
    c = FastRaftModel(p, symmetry).compiled
    ref = RaftModel(p, symmetry)
    keys_by_class: dict[object, int] = {}
    classes_by_key: dict[int, object] = {}
    for s in reachable(p, limit):
        st_ = c.from_spec(s)
        assert c.to_spec(st_) == s
        assert c.in_bounds(st_) == within_bounds(p, s)
        steps = Counter(next_steps(p, s))
        broken = broken_by_successors(ref, s, steps)
        try:
            got = Counter((label, c.to_spec(t)) for label, t in c.successors(st_))
        except StepViolation as v:
            assert broken is not None and v.name in broken
            continue
        assert broken is None
        assert got == steps
        keys, succs, acts, firsts = [], [], [], []
        generated = c.expand([st_], keys, succs, acts, firsts)
        assert generated == sum(steps.values())
        assert firsts == [0]
        assert Counter(
            (c.names[a], c.to_spec(t)) for a, t in zip(acts, succs, strict=True)
        ) == Counter(
            (label[0], t)
            for (label, t), n in steps.items()
            for _ in range(n)
            if within_bounds(p, t)
        )
        assert keys == [c.key(t) for t in succs]
        # The variant for --workers: the same successors, and beside each key the part that
        # routes it (without symmetry its own loop, whose keys and parts are XOR updates).
        parts_of = getattr(c, "expand_parts", None)
        if parts_of is not None:
            pkeys, psuccs, pacts, parts = [], [], [], []
            assert parts_of([st_], pkeys, psuccs, pacts, [], parts) == generated
            assert (pkeys, psuccs, pacts) == (keys, succs, acts)
            assert parts == [c.partition(t) for t in psuccs]
        # Without symmetry, the variant that appends XORs from per-state bases.
        delta = getattr(c, "expand_delta", None)
        if delta is not None:
            dkeys, dsuccs, dacts, dfirsts, bases = [], [], [], [], []
            assert delta([st_], dkeys, dsuccs, dacts, dfirsts, bases) == generated
            assert (dsuccs, dacts, dfirsts) == (succs, acts, firsts) and len(bases) == 1
            made = delta_keys(dkeys, bases, parent_positions(dfirsts, len(dkeys)))
            assert made.view("int64").tolist() == keys
            dkeys, dsuccs, parts, bases = [], [], [], []
            assert c.expand_parts_delta([st_], dkeys, dsuccs, [], [], parts, bases) == generated
            made = delta_keys(dkeys, bases, parent_positions([0], len(dkeys)))
            assert made.view("int64").tolist() == keys and dsuccs == succs
            assert parts == [c.partition(t) for t in dsuccs]
        # One key per class of the readable spec's canonical form, and one class per key.
        cls = ref.canonical(s)
        k = c.key(st_)
        assert keys_by_class.setdefault(cls, k) == k
        assert classes_by_key.setdefault(k, cls) == cls
