"""Symmetry reduction: one exact representative per class of states under renaming servers."""

from itertools import permutations

from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import init_state
from raftkit.spec.symmetry import (
    canonical,
    canonical_witness,
    compose,
    relabel,
    relabel_action,
)

from .strategies import states


def brute_force(s):
    """The least relabelling over all N! renamings: obviously exact, and slow."""
    return min(relabel(s, perm) for perm in permutations(range(len(s.servers))))


@settings(max_examples=150, deadline=None)
@given(states(), st.data())
def test_canonical_form_is_the_same_for_every_renaming(s, data):
    n = len(s.servers)
    perm = data.draw(st.permutations(range(n)).map(tuple))
    assert canonical(relabel(s, perm)) == canonical(s)


@settings(max_examples=150, deadline=None)
@given(states())
def test_canonical_form_is_a_renaming_of_the_state(s):
    c = canonical(s)
    assert any(relabel(s, perm) == c for perm in permutations(range(len(s.servers))))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(states(n=n), states(n=n))))
def test_canonical_forms_differ_exactly_across_classes(pair):
    s, t = pair
    assert (canonical(s) == canonical(t)) == (brute_force(s) == brute_force(t))


@settings(max_examples=100, deadline=None)
@given(states(), st.data())
def test_a_state_and_a_slightly_different_one_are_told_apart_as_brute_force_does(s, data):
    # Random pairs are almost always in different classes; pairs that differ in one server's
    # one variable are where a too-coarse canonical form would merge classes.
    n = len(s.servers)
    i = data.draw(st.integers(0, n - 1))
    srv = s.servers[i]
    changed = srv._replace(commitIndex=srv.commitIndex + 1)
    perm = data.draw(st.permutations(range(n)).map(tuple))
    t = relabel(s._replace(servers=s.servers[:i] + (changed,) + s.servers[i + 1 :]), perm)
    assert (canonical(s) == canonical(t)) == (brute_force(s) == brute_force(t))


def reachable(p, limit=3000):
    seen = {init_state(p)}
    frontier = list(seen)
    while frontier and len(seen) < limit:
        nxt = []
        for s in frontier:
            for _label, t in next_steps(p, s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return list(seen)


def test_renaming_commutes_with_every_action():
    # The reduction is sound only if renaming a state renames its successors: Next is symmetric.
    for p in (
        Params(servers=3, max_term=3, max_log=1, faults=True, history=True, ghost=True),
        Params(servers=3, max_term=3, max_log=2, values=2),
    ):
        for s in reachable(p, limit=1500)[::5]:
            for perm in permutations(range(p.servers)):
                renamed = sorted(relabel(t, perm) for _label, t in next_steps(p, s))
                assert renamed == sorted(t for _label, t in next_steps(p, relabel(s, perm)))


def test_renaming_a_state_renames_each_step_with_its_label():
    # What liveness under per-instance fairness relies on (engine/liveness/cover.py): the step
    # of s by label a, renamed, is the step of the renamed state by the renamed label.
    for p in (
        Params(servers=3, max_term=3, max_log=1, faults=True),
        Params(servers=3, max_term=3, max_log=2, values=2),
    ):
        for s in reachable(p, limit=1500)[::11]:
            for perm in permutations(range(p.servers)):
                renamed = sorted((relabel_action(a, perm), relabel(t, perm))
                                 for a, t in next_steps(p, s))
                assert renamed == sorted(next_steps(p, relabel(s, perm)))


@settings(max_examples=150, deadline=None)
@given(states(), st.data())
def test_the_witness_maps_the_state_onto_its_canonical_form(s, data):
    c, perm = canonical_witness(s)
    assert c == canonical(s) == relabel(s, perm)
    n = len(s.servers)
    g = data.draw(st.permutations(range(n)).map(tuple))
    h = data.draw(st.permutations(range(n)).map(tuple))
    assert relabel(relabel(s, h), g) == relabel(s, compose(g, h))
