"""The five properties on hand-made states: each can fail, and none fails where Raft allows."""

import pytest
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.spec.model import RaftModel
from raftkit.spec.params import Params
from raftkit.spec.properties import (
    append_entries_prev_log_term_matches,
    election_safety,
    leader_append_only,
    leader_completeness,
    log_matching,
    state_machine_safety,
)
from raftkit.spec.state import (
    AppendEntriesRequest,
    Entry,
    Ghost,
    MType,
    Role,
    State,
    init_state,
)

F, C, L = Role.Follower, Role.Candidate, Role.Leader


def cluster(*servers, ghost=False, messages=()):
    """servers: (term, role, log, commitIndex) per server."""
    s = init_state(Params(servers=len(servers), ghost=ghost))
    srvs = tuple(
        srv._replace(currentTerm=term, state=role, log=tuple(log), commitIndex=commit)
        for srv, (term, role, log, commit) in zip(s.servers, servers, strict=True)
    )
    return s._replace(servers=srvs, messages=tuple(messages))


e = Entry


def test_election_safety():
    assert election_safety(cluster((2, L, [], 0), (3, L, [], 0), (3, F, [], 0)))
    assert not election_safety(cluster((3, L, [], 0), (3, L, [], 0), (3, F, [], 0)))


def test_election_safety_with_ghost_sees_leaders_that_are_gone():
    s = cluster((3, F, [], 0), (3, L, [], 0), (3, F, [], 0), ghost=True)
    assert election_safety(s)
    two = s._replace(ghost=Ghost(elected=((3, 0), (3, 1)), committed=()))
    assert not election_safety(two)


def test_leader_append_only():
    before = cluster((2, L, [e(1, 1)], 0), (2, F, [], 0), (2, F, [], 0))
    grown = cluster((2, L, [e(1, 1), e(2, 1)], 0), (2, F, [], 0), (2, F, [], 0))
    cut = cluster((2, L, [], 0), (2, F, [], 0), (2, F, [], 0))
    assert leader_append_only(before, ("ClientRequest", 0, 1), grown)
    assert not leader_append_only(before, ("X",), cut)
    # A new term may bring a different log: only a leader of the same term is bound.
    new_term = cluster((3, L, [], 0), (2, F, [], 0), (2, F, [], 0))
    assert leader_append_only(before, ("X",), new_term)


def test_log_matching():
    ok = cluster((2, F, [e(1, 1), e(2, 1)], 0), (2, F, [e(1, 1), e(2, 2)], 0), (2, F, [], 0))
    # Same term at index 2 is what matters: here terms differ at 2? no: both 2. values differ.
    assert not log_matching(ok)
    fine = cluster((2, F, [e(1, 1), e(2, 1)], 0), (2, F, [e(1, 1), e(3, 1)], 0), (2, F, [], 0))
    assert log_matching(fine)
    prefix_differs = cluster(
        (3, F, [e(1, 1), e(3, 1)], 0), (3, F, [e(2, 1), e(3, 1)], 0), (3, F, [], 0)
    )
    assert not log_matching(prefix_differs)


def test_leader_completeness_state_form():
    committed = [e(2, 1)]
    # A leader of a later term must hold what a server of an earlier term has committed.
    assert leader_completeness(cluster((2, F, committed, 1), (3, L, committed, 0), (3, F, [], 0)))
    assert not leader_completeness(cluster((2, F, committed, 1), (3, L, [], 0), (3, F, [], 0)))
    # A stale leader (older term) may lack an entry a newer server has committed: no alarm.
    assert leader_completeness(cluster((3, F, committed, 1), (2, L, [], 0), (3, F, [], 0)))


def test_leader_completeness_with_ghost_remembers_commits():
    s = cluster((4, F, [], 0), (3, L, [], 0), (4, F, [], 0), ghost=True)
    assert leader_completeness(s)
    remembered = s._replace(ghost=Ghost(elected=(), committed=((1, e(2, 1), 2),)))
    assert not leader_completeness(remembered)
    later = s._replace(ghost=Ghost(elected=(), committed=((1, e(2, 1), 4),)))
    assert leader_completeness(later)


def test_state_machine_safety():
    assert state_machine_safety(cluster((2, F, [e(2, 1)], 1), (3, F, [e(2, 1), e(3, 1)], 2)))
    assert not state_machine_safety(cluster((2, F, [e(2, 1)], 1), (3, F, [e(3, 1)], 1)))
    # Uncommitted differences are allowed.
    assert state_machine_safety(cluster((2, F, [e(2, 1)], 0), (3, F, [e(3, 1)], 1)))


def test_prev_log_term_lemma():
    leader = (3, L, [e(2, 1)], 0)
    good = AppendEntriesRequest(MType.AppendEntriesRequest, 3, 1, 2, (), (), 0, 0, 1)
    bad = good._replace(mprevLogTerm=3)
    assert append_entries_prev_log_term_matches(
        cluster(leader, (3, F, [], 0), messages=[(good, 1)])
    )
    assert not append_entries_prev_log_term_matches(
        cluster(leader, (3, F, [], 0), messages=[(bad, 1)])
    )
    # Once the sender no longer leads that term, its old requests say nothing about its log.
    assert append_entries_prev_log_term_matches(
        cluster((4, F, [e(2, 1)], 0), (3, F, [], 0), messages=[(bad, 1)])
    )


def test_ghost_raises_no_false_alarm_and_changes_the_count():
    # With restarts a leader can lose its role and a follower its commitIndex; the ghost
    # remembers both, so states that differ only in that past are told apart.
    bounds = dict(servers=2, max_term=3, max_log=1, max_inflight=1, faults=True)
    plain = check(RaftModel(Params(**bounds)))
    ghost = check(RaftModel(Params(**bounds, ghost=True)))
    assert plain.result == ghost.result == "ok"
    assert (plain.distinct_states, ghost.distinct_states) == (9_313, 14_924)
    assert plain.depth == ghost.depth == 41


@pytest.mark.slow
def test_ghost_raises_no_false_alarm_at_the_default_bounds():
    assert check(RaftModel(Params(ghost=True))).result == "ok"


def test_ghost_catches_a_double_vote():
    bounds = dict(servers=3, max_term=2, max_log=0, max_inflight=1, faults=True)
    p = Params(**bounds, ghost=True, mutant="forget-vote-on-restart")
    result = check(RaftModel(p))
    assert result.result == "violation"
    assert result.violation.property == "ElectionSafety"
    # The compiled form (the one `raftmc check --ghost` runs) finds it too, with a shortest
    # trace of the same length: it rebuilds the trace through the very step that breaks the
    # property, which its expansion refuses to cache.
    fast = check(FastRaftModel(p))
    assert (fast.violation.property, len(fast.violation.trace)) == (
        "ElectionSafety", len(result.violation.trace))


def test_state_is_a_value():
    s = init_state(Params(history=True, ghost=True))
    assert isinstance(s, State)
    assert hash(s) == hash(init_state(Params(history=True, ghost=True)))
