"""The Raft paper's rules (§5.1-5.4), one test per rule, plus the Figure 7 and Figure 8 scenarios.

In the spirit of etcd/raft's raft_paper_test.go. PreVote is off here unless a test says otherwise:
these tests check the algorithm exactly as the paper states it.
"""

from __future__ import annotations

import pytest
from raftkit.impl.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    RequestVote,
    RequestVoteResponse,
)
from raftkit.impl.node import HardState, Role

from .harness import Net, ids, make_node, msgs_of

P3 = ids(3)


def elect(node, granted_by=("n2",)) -> None:
    """Make ``node`` leader by feeding it votes."""
    node.campaign()
    for v in granted_by:
        node.step(RequestVoteResponse(node.term, v, node.id, "t", True))
    assert node.role == Role.LEADER


# ---------------------------------------------------------------- §5.1 basics


def test_5_1_servers_start_as_followers():
    n = make_node("n1", P3)
    assert (n.role, n.term, n.vote, n.leader_id) == (Role.FOLLOWER, 0, None, None)


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
def test_5_1_update_term_from_message(role):
    """ "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
    follower" (Figure 2, all servers)."""
    n = make_node("n1", P3)
    if role == Role.CANDIDATE:
        n.campaign()
    elif role == Role.LEADER:
        elect(n)
    assert n.role == role
    r = n.step(AppendEntries(5, "n3", "n1", "t", 0, 0, (), 0))
    assert (n.role, n.term, n.vote, n.leader_id) == (Role.FOLLOWER, 5, None, "n3")
    assert r.hard_state == HardState(5, None)


def test_5_1_reject_stale_term_message():
    """A request with a stale term is refused and the reply carries the newer term, so the stale
    sender steps down; stale responses are ignored."""
    n = make_node("n1", P3, term=3, log_terms=[1])
    r = n.step(AppendEntries(2, "n2", "n1", "t", 1, 1, (Entry(2, 2, b"x"),), 1))
    [resp] = msgs_of(r, AppendEntriesResponse)
    assert (resp.term, resp.success) == (3, False)
    assert n.last_index == 1 and n.commit_index == 0
    r = n.step(RequestVote(2, "n2", "n1", "t", 5, 2))
    [vresp] = msgs_of(r, RequestVoteResponse)
    assert (vresp.term, vresp.vote_granted) == (3, False)
    assert n.vote is None
    r = n.step(RequestVoteResponse(2, "n2", "n1", "t", True))
    assert r.messages == () and n.role == Role.FOLLOWER


# ---------------------------------------------------------------- §5.2 leader election


def test_5_2_leader_sends_heartbeats():
    net = Net(3)
    net.campaign("n1")
    leader = net.nodes["n1"]
    assert leader.role == Role.LEADER
    r = net.handle("n1", leader.tick())
    beats = msgs_of(r, AppendEntries)
    assert {m.dst for m in beats} == {"n2", "n3"}
    assert all(m.entries == () and m.term == leader.term for m in beats)


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE])
def test_5_2_start_election_on_timeout(role):
    """A follower (or a candidate whose election failed) that hears nothing for an election
    timeout increments its term, votes for itself and asks every other server for its vote."""
    n = make_node("n1", P3, log_terms=[1, 1])
    if role == Role.CANDIDATE:
        n.campaign()
    term0 = n.term
    readies = [n.tick() for _ in range(2 * n.config.election_tick)]
    assert n.role == Role.CANDIDATE and n.term == term0 + 1 and n.vote == "n1"
    votes = [m for r in readies for m in msgs_of(r, RequestVote)]
    assert {m.dst for m in votes} == {"n2", "n3"}
    assert all((m.term, m.last_log_index, m.last_log_term) == (n.term, 2, 1) for m in votes)
    first = next(r for r in readies if r.messages)
    assert first.hard_state == HardState(n.term, "n1")


def test_5_2_election_timeout_is_randomized():
    """Timeouts are drawn from [election_tick, 2 * election_tick), so servers rarely collide."""
    fired = set()
    for seed in range(50):
        n = make_node("n1", P3, seed=seed)
        ticks = 0
        while n.role == Role.FOLLOWER:
            n.tick()
            ticks += 1
        fired.add(ticks)
    et = n.config.election_tick
    assert min(fired) >= et and max(fired) < 2 * et
    assert len(fired) > et // 2


@pytest.mark.parametrize(
    ("size", "votes", "role"),
    [
        (1, {}, Role.LEADER),
        (3, {"n2": True}, Role.LEADER),
        (3, {"n2": True, "n3": False}, Role.LEADER),
        (3, {"n2": False, "n3": False}, Role.FOLLOWER),
        (3, {}, Role.CANDIDATE),
        (5, {"n2": True, "n3": True}, Role.LEADER),
        (5, {"n2": True, "n3": False, "n4": False}, Role.CANDIDATE),
        (5, {"n2": True, "n3": False, "n4": False, "n5": False}, Role.FOLLOWER),
    ],
)
def test_5_2_leader_election_in_one_round(size, votes, role):
    """A candidate wins with votes from a majority, loses once a majority refused, else waits."""
    n = make_node("n1", ids(size))
    n.campaign()
    for voter, granted in votes.items():
        n.step(RequestVoteResponse(n.term, voter, "n1", "t", granted))
    assert n.role == role


def test_5_2_follower_votes_once_per_term():
    """First come, first served: one vote per term (a retransmission gets the same answer)."""
    n = make_node("n1", ids(3))
    r1 = n.step(RequestVote(1, "n2", "n1", "t", 0, 0))
    r2 = n.step(RequestVote(1, "n3", "n1", "t", 0, 0))
    r3 = n.step(RequestVote(1, "n2", "n1", "t", 0, 0))
    got = [msgs_of(r, RequestVoteResponse)[0].vote_granted for r in (r1, r2, r3)]
    assert got == [True, False, True]
    assert r1.hard_state == HardState(1, "n2")


def test_5_2_candidate_falls_back_on_append_from_leader():
    """A candidate that hears AppendEntries from a leader of its own term becomes a follower."""
    n = make_node("n1", ids(3))
    n.campaign()
    n.step(AppendEntries(n.term, "n3", "n1", "t", 0, 0, (), 0))
    assert (n.role, n.leader_id, n.term) == (Role.FOLLOWER, "n3", 1)


def test_5_2_split_votes_resolve():
    """Everybody times out at once; randomized timeouts still produce exactly one leader per
    term, and soon."""
    for seed in range(10):
        net = Net(5, seed=seed)
        for i in net.ids:
            net.handle(i, net.nodes[i].campaign())
        net.deliver()
        for _ in range(100):
            if net.leader() is not None:
                break
            net.tick_all()
        leader = net.leader()
        assert leader is not None
        same_term = [n for n in net.nodes.values() if n.is_leader and n.term == leader.term]
        assert len(same_term) == 1


# ---------------------------------------------------------------- §5.3 log replication


def test_5_3_leader_appends_proposal_and_replicates():
    net = Net(3)
    net.campaign("n1")
    leader = net.nodes["n1"]
    r = net.propose("n1", b"cmd")
    [e] = r.entries
    assert (e.term, e.index, e.data) == (leader.term, 2, b"cmd")  # index 1 is the no-op
    sent = msgs_of(r, AppendEntries)
    assert {m.dst for m in sent} == {"n2", "n3"}
    assert all(m.entries == (e,) and (m.prev_log_index, m.prev_log_term) == (1, 1) for m in sent)


@pytest.mark.parametrize(("size", "acks", "committed"), [(3, 1, True), (5, 1, False), (5, 2, True)])
def test_5_3_leader_commits_once_a_majority_has_it(size, acks, committed):
    net = Net(size)
    net.campaign("n1")
    leader = net.nodes["n1"]
    for j in net.ids[1 + acks :]:
        net.isolate(j)
    net.propose("n1", b"cmd")
    net.deliver()
    assert (leader.commit_index == 2) == committed
    assert any(e.data == b"cmd" for e in net.applied["n1"]) == committed


def test_5_3_leader_commits_preceding_entries():
    """Committing an entry of the current term commits every entry before it, including entries
    of earlier terms (and they are applied in order)."""
    net = Net(3, logs={"n1": [1, 1, 2], "n2": [1], "n3": []}, terms={"n1": 2, "n2": 2, "n3": 2})
    net.campaign("n1")
    leader = net.nodes["n1"]
    assert leader.role == Role.LEADER and leader.commit_index == 4
    assert [(e.index, e.term) for e in net.applied["n1"]] == [(1, 1), (2, 1), (3, 2), (4, 3)]


def test_5_3_followers_learn_commit_from_leader_commit():
    net = Net(3)
    net.campaign("n1")
    net.propose("n1", b"cmd")
    net.deliver()
    net.tick("n1")  # a heartbeat carries the new leaderCommit
    net.deliver()
    for i in net.ids:
        assert net.nodes[i].commit_index == 2
        assert [e.data for e in net.applied[i]] == [b"", b"cmd"]


@pytest.mark.parametrize(
    ("prev", "success", "hint"),
    [
        ((0, 0), True, None),
        ((3, 2), True, None),
        ((3, 3), False, (2, 2)),  # term mismatch: skip all of follower's term 2
        ((4, 2), False, (4, 0)),  # follower's log too short
        ((1, 2), False, (1, 1)),
    ],
)
def test_5_3_follower_rejects_mismatched_prev(prev, success, hint):
    """Receiver rule 2: reply false if the log has no entry at prevLogIndex with prevLogTerm; the
    rejection says where the follower's conflicting term starts (fast back-off)."""
    n = make_node("n1", P3, term=3, log_terms=[1, 2, 2])
    r = n.step(AppendEntries(3, "n2", "n1", "t", prev[0], prev[1], (), 0))
    [resp] = msgs_of(r, AppendEntriesResponse)
    assert resp.success == success
    if hint:
        assert (resp.conflict_index, resp.conflict_term) == hint
        assert n.log.terms() == [1, 2, 2]


def test_5_3_follower_truncates_conflicting_suffix():
    """Receiver rule 3: an existing entry that conflicts with a new one (same index, different
    term) is deleted with all that follow it; the Ready says to truncate then append."""
    n = make_node("n1", P3, term=3, log_terms=[1, 1, 2, 2])
    new = Entry(3, 3, b"new")
    r = n.step(AppendEntries(3, "n2", "n1", "t", 2, 1, (new,), 0))
    assert n.log.terms() == [1, 1, 3]
    assert r.truncate_from == 3 and r.entries == (new,)
    [resp] = msgs_of(r, AppendEntriesResponse)
    assert resp.success and resp.match_index == 3


def test_5_3_duplicate_append_never_truncates_matching_entries():
    """A delayed duplicate AppendEntries whose entries all match must not cut the log back."""
    n = make_node("n1", P3, term=1, log_terms=[1, 1, 1, 1])
    r = n.step(AppendEntries(1, "n2", "n1", "t", 1, 1, (Entry(1, 2, b"2"),), 0))
    assert n.log.terms() == [1, 1, 1, 1]
    assert r.truncate_from is None and r.entries == ()
    assert msgs_of(r, AppendEntriesResponse)[0].match_index == 2


def test_5_3_follower_commit_is_min_of_leader_commit_and_last_new_entry():
    """Receiver rule 5: commitIndex = min(leaderCommit, index of last new entry)."""
    n = make_node("n1", P3, term=1, log_terms=[1, 1, 1, 1])
    n.step(AppendEntries(1, "n2", "n1", "t", 1, 1, (Entry(1, 2, b"2"),), 4))
    assert n.commit_index == 2  # entries 3 and 4 are not known to match the leader's log


def test_5_3_fast_backoff_skips_whole_terms():
    """With conflict hints the leader needs one round trip per conflicting term, not per entry:
    Figure 7's follower (f) is brought into line after two rejections instead of eight."""
    logs = {"n1": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6], "n2": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]}
    net = Net(2, logs=logs, terms={"n1": 7, "n2": 7})
    rejections = []

    def rec(m):
        if isinstance(m, AppendEntriesResponse) and not m.success:
            rejections.append((m.prev_log_index, m.conflict_index, m.conflict_term))
        return True

    net.handle("n1", net.nodes["n1"].campaign())
    net.deliver(filt=rec)
    assert net.nodes["n1"].is_leader
    assert net.nodes["n2"].log.terms() == [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8]
    assert rejections == [(10, 7, 3), (6, 4, 2)]


def test_5_3_batching_bounds_entries_per_message():
    net = Net(2, max_entries_per_msg=3, max_inflight=2)
    net.campaign("n1")
    seen = []
    net.isolate("n2")
    for k in range(10):
        net.propose("n1", f"{k}".encode() * 10)
    net.heal()
    net.tick("n1")

    def rec(m):
        if isinstance(m, AppendEntries):
            seen.append(len(m.entries))
        return True

    for _ in range(20):
        net.deliver(filt=rec)
        net.tick("n1")
    assert max(seen) == 3
    assert net.nodes["n2"].log.terms() == net.nodes["n1"].log.terms()

    # Byte bound: each entry is ~56 bytes on the wire, so 120 bytes carry at most two.
    byte_net = Net(2, max_bytes_per_msg=120)
    byte_net.campaign("n1")
    byte_net.isolate("n2")
    byte_net.handle("n1", byte_net.nodes["n1"].propose_many([b"y" * 40] * 5))
    byte_net.heal()
    sizes = []

    def rec_bytes(m):
        if isinstance(m, AppendEntries) and m.entries:
            sizes.append(len(m.entries))
        return True

    for _ in range(10):
        byte_net.tick("n1")
        byte_net.deliver(filt=rec_bytes)
    assert sizes and max(sizes) == 2
    assert byte_net.nodes["n2"].log.terms() == byte_net.nodes["n1"].log.terms()


def test_figure_7_followers_with_divergent_logs_are_brought_into_line():
    """Figure 7: the leader of term 8 and followers (a)-(f) with missing, extra and conflicting
    entries. After replication every log equals the leader's."""
    logs = {
        "n1": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6],  # leader
        "n2": [1, 1, 1, 4, 4, 5, 5, 6, 6],  # (a)
        "n3": [1, 1, 1, 4],  # (b)
        "n4": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],  # (c)
        "n5": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],  # (d)
        "n6": [1, 1, 1, 4, 4, 4, 4],  # (e)
        "n7": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],  # (f)
    }
    net = Net(7, logs=logs, terms=dict.fromkeys(logs, 7))
    net.campaign("n1")
    leader = net.nodes["n1"]
    assert leader.role == Role.LEADER and leader.term == 8
    net.tick_all(5)
    want = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8]
    for i, node in net.nodes.items():
        assert node.log.terms() == want, i
        assert node.commit_index == 11, i
        assert [e.term for e in net.storage[i].entries] == want, i


# ---------------------------------------------------------------- §5.4 safety


@pytest.mark.parametrize(
    ("last_term", "last_index", "granted"),
    [(1, 5, False), (2, 2, False), (2, 3, True), (2, 4, True), (3, 1, True)],
)
def test_5_4_1_vote_only_for_up_to_date_log(last_term, last_index, granted):
    """§5.4.1: grant only if the candidate's log is at least as up-to-date: a later last term, or
    the same last term and at least as long."""
    n = make_node("n1", P3, term=2, log_terms=[1, 2, 2])
    r = n.step(RequestVote(3, "n2", "n1", "t", last_index, last_term))
    assert msgs_of(r, RequestVoteResponse)[0].vote_granted == granted
    assert n.vote == ("n2" if granted else None)


def test_5_4_1_candidate_missing_committed_entries_cannot_win():
    net = Net(3, logs={"n1": [1], "n2": [1, 2], "n3": [1, 2]}, terms=dict.fromkeys(P3, 2))
    net.campaign("n1")
    assert net.nodes["n1"].role != Role.LEADER


def test_5_4_2_leader_only_commits_current_term_by_counting():
    """§5.4.2: an entry of an earlier term is not committed by counting replicas, even on a
    majority; it is committed indirectly once an entry of the current term is."""
    n = make_node("n1", P3, term=2, log_terms=[1, 2])
    elect(n, granted_by=("n2",))
    assert n.term == 3 and n.log.terms() == [1, 2, 3]  # the no-op
    r = n.step(AppendEntriesResponse(3, "n2", "n1", "t", True, 2, 1))
    assert n.commit_index == 0 and r.committed_entries == ()
    r = n.step(AppendEntriesResponse(3, "n2", "n1", "t", True, 3, 2))
    assert n.commit_index == 3
    assert [e.index for e in r.committed_entries] == [1, 2, 3]


def _figure_8_setup() -> Net:
    # (b) -> (c): S1 had index 2 in term 2 (S2 has it too); S5 has index 2 in term 3.
    logs = {"n1": [1, 2], "n2": [1, 2], "n3": [1], "n4": [1], "n5": [1, 3]}
    return Net(5, logs=logs, terms=dict.fromkeys(logs, 3), max_entries_per_msg=1)


def test_figure_8_old_term_entry_on_majority_can_still_be_overwritten():
    """Figure 8 (c)-(d): S1 (term 4) gets its term-2 entry onto a majority without committing it;
    S5 can then be elected and overwrite it. That is why it must not count as committed."""
    net = _figure_8_setup()
    net.isolate("n2")  # S2 already holds the entry
    net.isolate("n5")  # S5 is down in (c)
    net.handle("n1", net.nodes["n1"].campaign())

    def no_op_lost(m) -> bool:
        # S1's own-term entry (its no-op) never arrives where it would be accepted: only index 2
        # gets replicated, to S3 and S4.
        if isinstance(m, AppendEntries) and any(e.term == 4 for e in m.entries):
            return net.nodes[m.dst].log.term_at(m.prev_log_index) != m.prev_log_term
        return True

    net.deliver(filt=no_op_lost)
    s1 = net.nodes["n1"]
    assert s1.role == Role.LEADER and s1.term == 4
    on_majority = [i for i in net.ids if net.nodes[i].log.term_at(2) == 2]
    assert sorted(on_majority) == ["n1", "n2", "n3", "n4"]
    assert s1.commit_index == 0  # not committed although a majority stores it
    # (d) S1 crashes; S5 is elected with votes from S2, S3, S4 and overwrites index 2.
    net.crash("n1")
    net.heal()
    for _ in range(3):
        if net.nodes["n5"].is_leader:
            break
        net.campaign("n5")
    s5 = net.nodes["n5"]
    assert s5.is_leader
    net.tick("n5", 3)
    net.deliver()
    for i in ("n2", "n3", "n4"):
        assert net.nodes[i].log.term_at(2) == 3
    assert all(e.term != 2 for i in net.ids for e in net.applied[i])


def test_figure_8_entry_of_current_term_on_majority_is_safe():
    """Figure 8 (e): once S1 replicates an entry of its own term to a majority, that entry and the
    term-2 entry before it are committed, and S5 can no longer win an election."""
    net = _figure_8_setup()
    net.isolate("n4")
    net.isolate("n5")
    net.campaign("n1")  # S2 and S3 vote; the no-op reaches both
    s1 = net.nodes["n1"]
    assert s1.is_leader and s1.commit_index == 3
    net.crash("n1")
    net.heal()
    for _ in range(3):
        net.campaign("n5")
        assert not net.nodes["n5"].is_leader
    for _ in range(200):
        if (ldr := net.leader()) is not None and ldr.id != "n1":
            break
        net.tick_all()
    ldr = net.leader()
    assert ldr is not None and ldr.id in ("n2", "n3")
    assert ldr.log.terms()[:3] == [1, 2, 4]
