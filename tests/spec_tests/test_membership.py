"""The membership option (spec/membership.py): single-server changes as in the dissertation's
§4.1 with the fix of 2015, each rule seen on a short run, then model-checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec.actions import NEXT
from raftkit.spec.configuration import (
    config_entry,
    configuration,
    initial_configuration,
    is_majority,
    members,
)
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.mutants import ALL_MUTANTS
from raftkit.spec.next import action_names, next_table
from raftkit.spec.params import Params
from raftkit.spec.properties import election_safety
from raftkit.spec.state import Role, init_state

from .membership_runs import commit, elect, enabled, replicate, step, story_2015

# Three servers, s1 and s2 in the initial configuration, s3 a spare.
P = Params(servers=3, membership=True, init_config=2, max_term=3, max_log=3)


def test_off_by_default_and_then_raft_tla_exactly():
    assert not Params().membership and not Params().extended
    assert next_table(Params(faults=True)) == NEXT
    assert "AddServer" not in action_names(Params())
    assert Params(membership=True).extended


def test_membership_flags_need_the_option():
    for bad in (dict(init_config=2), dict(max_changes=2), dict(candidates=2)):
        with pytest.raises(ValueError, match="needs --membership"):
            Params(**bad).validate()
    with pytest.raises(ValueError, match="--init-config"):
        Params(membership=True, servers=3, init_config=4).validate()


def test_a_configuration_entry_round_trips():
    e = config_entry(3, (0, 2, 3))
    assert e.term == 3 and e.value < 0 and members(e) == (0, 2, 3)
    assert configuration(P, ()) == initial_configuration(P) == (0, 1)
    assert configuration(P, (e,)) == (0, 2, 3)
    assert is_majority((0, 2), (0, 2, 3)) and not is_majority((0, 1), (0, 2, 3))


def _leader() -> object:
    """s1 leads term 2 with the votes of s1 and s2 (the whole initial configuration)."""
    return elect(P, init_state(P), 0, (0, 1))


def _committed_own_entry() -> object:
    s = step(P, _leader(), "ClientRequest", 0, 1)
    s = commit(P, replicate(P, s, 0, 1), 0)
    assert s.servers[0].commitIndex == 1
    return s


def test_a_spare_neither_starts_an_election_nor_is_asked_to_vote():
    s = init_state(P)
    assert not enabled(P, s, "Timeout", 2)
    s = step(P, s, "Timeout", 0)
    assert not enabled(P, s, "RequestVote", 0, 2)


def test_a_leader_changes_the_configuration_only_after_committing_an_entry_of_its_term():
    s = _leader()
    # The fix of 2015: no entry of term 2 is committed yet.
    assert not enabled(P, s, "AddServer", 0, 2)
    bug = Params(**{**P.describe(), "mutant": "config-change-before-noop-commit"})
    assert enabled(bug, s, "AddServer", 0, 2)
    s = _committed_own_entry()
    assert enabled(P, s, "AddServer", 0, 2)
    assert not enabled(P, s, "AddServer", 0, 1)  # already a member
    assert not enabled(P, s, "RemoveServer", 0, 2)  # not a member


def test_one_change_at_a_time():
    s = step(P, _committed_own_entry(), "AddServer", 0, 2)
    assert configuration(P, s.servers[0].log) == (0, 1, 2)
    assert not enabled(P, s, "RemoveServer", 0, 1)  # the previous change is not committed
    bug = Params(**{**P.describe(), "mutant": "concurrent-config-changes"})
    assert enabled(bug, s, "RemoveServer", 0, 1)


def test_the_new_configuration_counts_at_once_and_its_majority_commits():
    s = step(P, _committed_own_entry(), "AddServer", 0, 2)
    # s2 stores the configuration entry: 2 of {s1, s2, s3} is a majority of the new one.
    s = commit(P, replicate(P, s, 0, 1), 0)
    assert s.servers[0].commitIndex == 2
    # The new server gets AppendEntries, votes, and may now start elections.
    assert enabled(P, s, "AppendEntries", 0, 2)
    s = replicate(P, s, 0, 2)
    assert s.servers[2].log == s.servers[0].log
    assert enabled(P, s, "Timeout", 2)


def test_an_uncommitted_addition_already_raises_the_majority():
    s = step(P, _committed_own_entry(), "AddServer", 0, 2)
    s = step(P, s, "ClientRequest", 0, 1)
    # s1 alone is not a majority of {s1, s2, s3}: nothing new commits.
    assert commit(P, s, 0).servers[0].commitIndex == 1


def test_a_removed_leader_steps_down_once_its_removal_is_committed():
    s = step(P, _committed_own_entry(), "RemoveServer", 0, 0)
    assert configuration(P, s.servers[0].log) == (1,)
    s = commit(P, s, 0)
    assert s.servers[0].state == Role.Leader  # s2 does not have the entry yet
    s = commit(P, replicate(P, s, 0, 1), 0)
    # The majority of {s2} is s2 alone: the leader does not count itself, and steps down.
    assert s.servers[0].commitIndex == 2
    assert s.servers[0].state == Role.Follower
    assert not enabled(P, s, "Timeout", 0)  # it knows it was removed
    assert enabled(P, s, "Timeout", 1)


def test_a_candidate_needs_a_majority_of_its_configuration():
    s = step(P, _committed_own_entry(), "AddServer", 0, 2)
    s = replicate(P, s, 0, 1)
    # s2 has {s1, s2, s3}: its own vote is not enough.
    s = step(P, s, "Timeout", 1)
    from .membership_runs import deliver_all

    s = deliver_all(P, step(P, s, "RequestVote", 1, 1))
    assert not enabled(P, s, "BecomeLeader", 1)
    s = deliver_all(P, step(P, s, "RequestVote", 1, 2))  # the new server's empty log: a vote
    assert s.servers[2].votedFor == 1
    assert enabled(P, s, "BecomeLeader", 1)


def test_the_bound_on_changes():
    p = Params(servers=3, membership=True, max_changes=1, max_log=3)
    s = init_state(p)
    two = config_entry(2, (0, 1)), config_entry(2, (0,))
    srv = s.servers[0]._replace(log=two)
    assert not within_bounds(p, s._replace(servers=(srv, *s.servers[1:])))
    assert within_bounds(p, s._replace(servers=(srv._replace(log=two[:1]), *s.servers[1:])))


# --- model checking ---------------------------------------------------------------------------

HOLDS = {
    "a spare joins": dict(servers=3, membership=True, init_config=2, max_term=2, max_log=2),
    # The fix's own setting: the new leader's no-op is the entry of its term it commits first.
    "after the no-op": dict(servers=3, membership=True, init_config=2, noop=True, values=0,
                            max_term=2, max_log=2),
}


@pytest.mark.parametrize("name", sorted(HOLDS))
def test_properties_hold_and_changes_commit(name):
    result = check(RaftModel(Params(**HOLDS[name]), symmetry=True))
    assert result.result == "ok", result.violation and result.violation.property
    assert result.sometimes["LeaderElected"] and result.sometimes["ConfigurationCommitted"]


def test_concurrent_changes_are_caught_with_a_shortest_counterexample():
    m = ALL_MUTANTS["concurrent-config-changes"]
    model = RaftModel(Params(mutant=m.name, **m.bounds), symmetry=True)
    result = check(model)
    assert result.result == "violation"
    assert result.violation.property == m.breaks
    assert len(result.violation.trace) == 19
    replay(model, result.violation.trace)
    labels = [str(label) for label, _s in result.violation.trace[1:]]
    assert sum(label.startswith("RemoveServer") for label in labels) == 2


@given(st.sets(st.integers(0, 4), min_size=1), st.sets(st.integers(0, 4), min_size=1))
def test_different_configurations_hash_differently(a, b):
    # The checker keys a state by its hash: two configurations alike in hash would merge states.
    ea, eb = config_entry(2, a), config_entry(2, b)
    assert members(ea) == tuple(sorted(a))
    assert (hash(ea) == hash(eb)) == (a == b)


def test_the_2015_bug_by_hand_two_leaders_in_one_term():
    bug = Params(servers=4, membership=True, values=0, max_term=4, max_log=1,
                 mutant="config-change-before-noop-commit")
    trace = story_2015(bug)
    s = trace[-1][1]
    assert [(srv.state, srv.currentTerm) for srv in s.servers] == [
        (Role.Leader, 4), (Role.Follower, 4), (Role.Leader, 4), (Role.Follower, 4)
    ]
    assert not election_safety(s)
    assert all(election_safety(t) for _label, t in trace[:-1])
    # Every step is one the spec takes, and every state is within the bounds.
    model = RaftModel(bug, symmetry=False)
    replay(model, trace)
    assert all(within_bounds(bug, t) for _label, t in trace)
    # The fixed spec refuses both configuration changes where the story makes them.
    fixed = Params(**{**bug.describe(), "mutant": None})
    changes = [k for k, (label, _t) in enumerate(trace) if label and label.name == "RemoveServer"]
    assert len(changes) == 2
    for k in changes:
        assert not enabled(fixed, trace[k - 1][1], *trace[k][0])


@pytest.mark.slow
def test_the_2015_bug_is_found_by_breadth_first_search():
    # The figures of the README and docs/membership.md (`raftmc check --membership --mutant
    # config-change-before-noop-commit`, which checks the mutant's own INVARIANT line).
    from raftkit.modelcheck.compiled import FastRaftModel

    m = ALL_MUTANTS["config-change-before-noop-commit"]
    bug = Params(mutant=m.name, **m.bounds)
    assert m.checks == (m.breaks,) == ("ElectionSafety",)
    result = check(FastRaftModel(bug, symmetry=True, only=m.checks))
    assert result.result == "violation"
    assert result.violation.property == "ElectionSafety"
    assert (len(result.violation.trace), result.distinct_states) == (53, 8_782_000)
    trace = list(result.violation.trace)
    replay(RaftModel(bug, symmetry=False), trace)
    last = trace[-1][1]
    assert [(srv.state, srv.currentTerm) for srv in last.servers] == [
        (Role.Leader, 5), (Role.Leader, 5), (Role.Follower, 5), (Role.Follower, 5)
    ]
    labels = [str(label) for label, _s in trace[1:]]
    assert [label for label in labels if label.startswith("RemoveServer")] == [
        "RemoveServer(s1, s2)", "RemoveServer(s2, s1)"
    ]
    # The fixed spec at the same bounds, every property: it passes, and the run shows why that
    # says little (no configuration change is ever enabled).
    fixed = check(FastRaftModel(Params(**{**bug.describe(), "mutant": None}), symmetry=True))
    assert (fixed.result, fixed.distinct_states) == ("ok", 371_422)
    assert fixed.coverage["RemoveServer"].enabled == fixed.coverage["AddServer"].enabled == 0
    assert not fixed.sometimes["ConfigurationCommitted"]
