"""Symmetry with membership is exact: servers of the initial configuration, spares, and servers
the ``candidates`` bound keeps from elections are three kinds of server, and only renamings
within a kind keep behaviours.

Everything is compared with brute force on every reachable state of small bounds: the canonical
form is a renaming within the classes shared by the whole orbit, the checker's count with
symmetry is the number of orbits (least renaming over the whole group) of the states it finds
without, and renaming within the classes commutes with
``Next`` (renaming across them does not, which is why the classes are needed)."""

from __future__ import annotations

from collections import defaultdict
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.engine import check
from raftkit.spec.configuration import server_classes
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.mutants import ALL_MUTANTS
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import init_state
from raftkit.spec.symmetry import (
    canonical,
    canonical_members,
    member_permutations,
    relabel_members,
)

from .membership_runs import commit, elect, replicate, step

CASES = {
    # s1 founds the cluster; s2 and s3 are spares that may join (and are alike).
    "spares": Params(servers=3, membership=True, init_config=1, max_term=2, max_log=3),
    # s1 and s2 in the initial configuration, s3 a spare.
    "spare": Params(servers=3, membership=True, init_config=2, max_term=2, max_log=2),
    # Both servers in the initial configuration; either may remove the other or itself.
    "all-members": Params(servers=2, membership=True, max_term=2, max_log=2),
    # s2 and s3 are members the bound keeps from starting elections.
    "candidates": Params(servers=3, membership=True, candidates=1, max_term=2, max_log=2),
}


def reachable(p: Params) -> set:
    """Every state the checker stores without symmetry: the states within the bounds (one
    outside them is checked but neither stored nor expanded, as TLC does with a constraint)."""
    seen = {init_state(p)}
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for _label, t in next_steps(p, s):
                if t not in seen and within_bounds(p, t):
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return seen


_REACHABLE: dict[str, set] = {}


def states_of(name: str) -> set:
    if name not in _REACHABLE:
        _REACHABLE[name] = reachable(CASES[name])
    return _REACHABLE[name]


def brute_force(s, group):
    return min(relabel_members(s, perm) for perm in group)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_canonical_form_per_orbit(name):
    # The canonical form of a state is one of its renamings within the classes, and every such
    # renaming has the same canonical form: one representative per orbit, exactly.
    classes = server_classes(CASES[name])
    group = list(member_permutations(classes))
    assert 1 < len(group) < len(list(permutations(range(len(classes))))) or name == "all-members"
    moved = 0
    for s in states_of(name):
        c = canonical_members(s, classes)
        renamings = [relabel_members(s, perm) for perm in group]
        assert c in renamings
        assert all(canonical_members(r, classes) == c for r in renamings)
        moved += c != s
    assert moved


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_count_with_symmetry_is_the_number_of_orbits(name):
    p = CASES[name]
    states = states_of(name)
    group = list(member_permutations(server_classes(p)))
    orbits = {brute_force(s, group) for s in states}
    plain = check(RaftModel(p, symmetry=False))
    reduced = check(RaftModel(p, symmetry=True))
    assert plain.distinct_states == len(states)
    assert reduced.distinct_states == len(orbits) < len(states)
    assert plain.result == reduced.result == "ok"
    assert plain.sometimes == reduced.sometimes
    assert reduced.sometimes["ConfigurationCommitted"]


@pytest.mark.parametrize("name", ["spare", "candidates"])
def test_raft_tla_canonical_form_would_merge_different_orbits(name):
    # raft.tla's symmetry takes every renaming alike (and leaves configuration entries as they
    # are): it gives one key to reachable states of different orbits, whose futures differ, so
    # the checker would explore one of them only.
    group = list(member_permutations(server_classes(CASES[name])))
    orbits_by_key = defaultdict(set)
    for s in states_of(name):
        orbits_by_key[canonical(s)].add(brute_force(s, group))
    assert any(len(orbits) > 1 for orbits in orbits_by_key.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_renaming_within_the_classes_commutes_with_every_action(name):
    p = CASES[name]
    group = list(member_permutations(server_classes(p)))
    for s in sorted(states_of(name))[::7]:
        for perm in group:
            renamed = sorted(relabel_members(t, perm) for _label, t in next_steps(p, s))
            assert renamed == sorted(t for _label, t in next_steps(p, relabel_members(s, perm)))


@pytest.mark.parametrize("name", ["spares", "candidates"])
def test_renaming_across_the_classes_does_not(name):
    p = CASES[name]
    swap = (1, 0, 2)  # s1 <-> s2: a member and a spare, or a candidate and a voter
    assert swap not in set(member_permutations(server_classes(p)))
    broken = 0
    for s in sorted(states_of(name))[::7]:
        renamed = sorted(relabel_members(t, swap) for _label, t in next_steps(p, s))
        broken += renamed != sorted(t for _label, t in next_steps(p, relabel_members(s, swap)))
    assert broken


def test_a_mutant_has_the_same_verdict_and_length_with_and_without_symmetry():
    m = ALL_MUTANTS["concurrent-config-changes"]
    p = Params(mutant=m.name, **m.bounds)
    with_sym = check(RaftModel(p, symmetry=True))
    without = check(RaftModel(p, symmetry=False))
    assert with_sym.violation.property == without.violation.property == m.breaks
    assert len(with_sym.violation.trace) == len(without.violation.trace)


WALK = Params(servers=4, membership=True, init_config=3, max_changes=2, max_term=4, max_log=3,
              max_inflight=2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=60), st.data())
def test_random_walks_keep_the_properties_and_one_canonical_form(choices, data):
    # Beyond what the exhaustive runs reach (four servers, two changes): from a state where s1
    # leads and has just added s4, every state of a random walk satisfies every invariant, and
    # all its renamings within the classes share its canonical form.
    model = RaftModel(WALK, symmetry=True)
    invariants = model.properties().invariants
    classes = server_classes(WALK)
    group = list(member_permutations(classes))
    s = step(WALK, elect(WALK, init_state(WALK), 0, (0, 1)), "ClientRequest", 0, 1)
    s = step(WALK, commit(WALK, replicate(WALK, s, 0, 1), 0), "AddServer", 0, 3)
    for c in choices:
        steps = [t for _label, t in next_steps(WALK, s) if within_bounds(WALK, t)]
        if not steps:
            break
        s = steps[c % len(steps)]
        for inv in invariants:
            assert inv.holds(s), inv.name
    perm = data.draw(st.sampled_from(group))
    assert canonical_members(relabel_members(s, perm), classes) == canonical_members(s, classes)
