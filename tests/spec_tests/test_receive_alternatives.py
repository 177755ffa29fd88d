"""Receive(m) is a disjunction: every enabled alternative is a successor of its own.

raft.tla's ``Receive(m)`` offers UpdateTerm, DropStaleResponse and each handler (and each
branch of a handler) as alternatives with guards of their own, and TLC explores every enabled
one. The correct spec's guards happen to be disjoint; that is checked here on every reachable
state, not assumed by the control flow. A variant whose guards overlap must get every enabled
alternative, in the readable spec, the compiled model and the Z3 relation alike.
"""

from collections import Counter

import pytest
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.batch import StepViolation
from raftkit.spec import actions
from raftkit.spec.action import Kind, receiving
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.next import next_steps, next_table
from raftkit.spec.params import Params
from raftkit.spec.state import MType, State, set_add
from spec_walks import param_ids, reachable

CONFIGS = [
    Params(servers=3, max_term=2, max_log=1, max_inflight=1),
    Params(servers=2, max_term=3, max_log=2, max_inflight=2, values=2, faults=True),
    Params(servers=3, max_term=2, max_log=0, max_inflight=1, history=True, faults=True),
    Params(servers=2, max_term=3, max_log=1, max_inflight=1, prevote=True, stepdown=True),
    Params(servers=2, max_term=2, max_log=2, max_inflight=1, batch=2, noop=True),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, batch=1, snapshots=True,
           faults=True, prevote=True),
]




#: The one overlap the spec means: a server that could grant a pre-vote may refuse it anyway,
#: while it believes a leader is alive (leader stickiness, dissertation §9.6).
CHOICE = {"grant_prevote", "refuse_prevote"}


@pytest.mark.parametrize("p", CONFIGS, ids=param_ids)
def test_the_correct_specs_alternatives_are_disjoint(p):
    """At most one alternative of Receive is enabled for any message of any reachable state
    (raft.tla's, and each option's): this is why the counts equal TLC's without the checker
    relying on it."""
    rows = [d for d in next_table(p) if d.kind is Kind.RECEIVE]
    states = reachable(p, 6000)
    assert len(states) > 500
    messages = 0
    for s in states:
        for m, _count in s.messages:
            enabled = [
                d.fn.__name__ for d in rows
                if m.mtype in d.mtypes and d.fn(p, s, m.mdest, m.msource, m) is not None
            ]
            assert len(enabled) <= 1 or set(enabled) == CHOICE, (m, enabled)
            messages += 1
    assert messages > 1000


def _loose_vote_response(p, s, i, j, m):
    # The slip: a vote of an older term is counted too (raft.tla: m.mterm = currentTerm[i]).
    srv = s.servers[i]
    if m.mterm > srv.currentTerm:
        return None
    new = srv._replace(votesResponded=set_add(srv.votesResponded, j))
    if m.mvoteGranted:
        new = new._replace(votesGranted=set_add(srv.votesGranted, j))
    return actions._discard(actions._set_server(s, i, new), m)


@pytest.fixture
def loose(monkeypatch):
    """raft.tla with HandleRequestVoteResponse's guard loosened to ``m.mterm <= currentTerm``:
    for a stale vote both it and DropStaleResponse are enabled."""
    rows = tuple(
        receiving(d.name, _loose_vote_response, *d.mtypes)
        if d.name == "HandleRequestVoteResponse" else d
        for d in actions.NEXT
    )
    monkeypatch.setattr(actions, "NEXT", rows)


def _brute_force(p: Params, s: State) -> Counter:
    """The loosened spec's successors of ``s`` under the disjunction semantics, written out
    without ``next.py``: every handler offered for every message."""
    handlers = {
        MType.RequestVoteRequest: [actions.handle_request_vote_request],
        MType.RequestVoteResponse: [actions.drop_stale_response, _loose_vote_response],
        MType.AppendEntriesRequest: [
            actions.reject_append_entries_request,
            actions.return_to_follower_state,
            actions.already_done_with_request,
            actions.conflict_remove_one_entry,
            actions.no_conflict_append_entry,
        ],
        MType.AppendEntriesResponse: [
            actions.drop_stale_response, actions.handle_append_entries_response
        ],
    }
    out = []
    for i in range(p.servers):
        out.append(actions.timeout(p, s, i))
        out.append(actions.become_leader(p, s, i))
        out.append(actions.advance_commit_index(p, s, i))
        out += [actions.client_request(p, s, i, v) for v in range(1, p.values + 1)]
        for j in range(p.servers):
            out.append(actions.request_vote(p, s, i, j))
            out.append(actions.append_entries(p, s, i, j))
    for m, _c in s.messages:
        i, j = m.mdest, m.msource
        out.append(actions.update_term(p, s, i, j, m))
        out += [h(p, s, i, j, m) for h in handlers[m.mtype]]
    return Counter(t for t in out if t is not None)


def test_overlapping_guards_give_every_alternative_in_both_forms(loose):
    """From every reachable state of the loosened spec (below the depth where it breaks a
    property): the readable spec's successors are the disjunction's, and the compiled
    model's (its slow and cached loops) are the readable spec's."""
    p = Params(servers=2, max_term=3, max_log=1, max_inflight=1)
    c = FastRaftModel(p, symmetry=False).compiled
    both = 0
    for s in reachable(p, 8000):
        ref = Counter(next_steps(p, s))
        assert Counter(t for (_label, t), k in ref.items() for _ in range(k)) == _brute_force(
            p, s
        )
        st_ = c.from_spec(s)
        assert Counter((label, c.to_spec(t)) for label, t in c.successors(st_)) == ref
        keys, succs, acts, firsts = [], [], [], []
        try:
            generated = c.expand([st_], keys, succs, acts, firsts)
        except StepViolation as e:
            # The loop stops at a step that breaks a property, as the search would.
            assert e.name == "ElectionSafety"
            continue
        assert generated == sum(ref.values())
        assert Counter(c.to_spec(t) for t in succs) == Counter(
            t for (_label, t), k in ref.items() for _ in range(k) if within_bounds(p, t)
        )
        names = [label[0] for label, _t in ref]
        both += "DropStaleResponse" in names and "HandleRequestVoteResponse" in names
    assert both > 0  # the overlap was met


@pytest.mark.parametrize("form", ["reference", "compiled"])
def test_a_loosened_guard_is_found(loose, form):
    """Counting a stale vote elects two leaders in one term: found, with symmetry, at 3
    servers and max term 3 (a shortest behaviour of 19 states)."""
    p = Params(servers=3, max_term=3, max_log=0, max_inflight=1)
    model = RaftModel(p) if form == "reference" else FastRaftModel(p)
    r = check(model)
    assert r.result == "violation"
    assert r.violation.property == "ElectionSafety"
    assert len(r.violation.trace) == 19
    names = Counter(label[0] for label, _state in r.violation.trace[1:])
    assert names["HandleRequestVoteResponse"] >= 2
