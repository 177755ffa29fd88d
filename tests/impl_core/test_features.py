"""PreVote, snapshots and InstallSnapshot, ReadIndex, the persist-before-send contract and the
observer hook."""

from __future__ import annotations

import pytest
from raftkit.impl.events import BECOME_LEADER, RECEIVE, SEND, Event
from raftkit.impl.kv import Command
from raftkit.impl.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    PreVote,
    PreVoteResponse,
    RequestVote,
    RequestVoteResponse,
)
from raftkit.impl.node import HardState, Node, NotLeader, Role
from raftkit.impl.testing.sim import MemoryStorage, SafetyViolation, SimConfig, Simulation

from .harness import Net, ids, make_node, msgs_of

P3 = ids(3)


def settle_leader(net: Net, max_ticks: int = 300) -> Node:
    for _ in range(max_ticks):
        ldr = net.leader()
        if ldr is not None and all(
            n.leader_id == ldr.id for i, n in net.nodes.items() if i not in net.down
        ):
            return ldr
        net.tick_all()
    raise AssertionError("no leader")


def put(key: str, value, client: str = "c1", seq: int = 1) -> bytes:
    return Command("put", key, value, client_id=client, seq=seq).encode()


# ---------------------------------------------------------------- PreVote


@pytest.mark.parametrize("pre_vote", [True, False])
def test_pre_vote_partitioned_node_does_not_disrupt_on_return(pre_vote):
    """With PreVote a node cut off from the cluster keeps its term while it fails to win
    pre-elections, so when it returns the leader keeps leading. Without PreVote its inflated term
    deposes the leader: the test shows the difference."""
    net = Net(3, pre_vote=pre_vote, check_quorum=True)
    leader = settle_leader(net)
    term = leader.term
    loner = next(i for i in net.ids if i != leader.id)
    net.isolate(loner)
    net.tick_all(100)
    if pre_vote:
        assert net.nodes[loner].term == term
        assert net.nodes[loner].role == Role.PRECANDIDATE
    else:
        assert net.nodes[loner].term > term + 3
    net.heal()
    net.tick_all(30)
    if pre_vote:
        assert leader.is_leader and leader.term == term
    else:
        assert leader.term > term  # it was forced into a new term


def test_pre_vote_changes_no_state_on_the_receiver():
    n = make_node("n1", P3, term=2, log_terms=[1, 2])
    r = n.step(PreVote(3, "n2", "n1", "t", 2, 2))
    [resp] = msgs_of(r, PreVoteResponse)
    assert resp.vote_granted and resp.term == 3
    assert (n.term, n.vote) == (2, None) and r.hard_state is None


def test_pre_vote_refused_while_the_leader_is_heard():
    """Leader stickiness (dissertation §9.6): a follower that heard from its leader within the
    minimum election timeout refuses to help depose it."""
    n = make_node("n1", P3, term=2, log_terms=[1, 2], pre_vote=True)
    n.step(AppendEntries(2, "n3", "n1", "t", 2, 2, (), 0))
    r = n.step(PreVote(3, "n2", "n1", "t", 2, 2))
    assert not msgs_of(r, PreVoteResponse)[0].vote_granted
    for _ in range(n.config.election_tick):
        n.tick()  # a minimum election timeout passes without word from the leader
    r = n.step(PreVote(3, "n2", "n1", "t", 2, 2))
    assert msgs_of(r, PreVoteResponse)[0].vote_granted


def test_pre_candidate_becomes_candidate_only_after_a_majority_of_pre_votes():
    n = make_node("n1", ids(5), term=4, pre_vote=True)
    r = n.campaign()
    assert n.role == Role.PRECANDIDATE and n.term == 4 and r.hard_state is None
    assert {m.term for m in msgs_of(r, PreVote)} == {5}
    n.step(PreVoteResponse(5, "n2", "n1", "t", True))
    assert n.role == Role.PRECANDIDATE
    r = n.step(PreVoteResponse(5, "n3", "n1", "t", True))
    assert n.role == Role.CANDIDATE and n.term == 5 and n.vote == "n1"
    assert r.hard_state == HardState(5, "n1")
    assert {m.dst for m in msgs_of(r, RequestVote)} == {"n2", "n3", "n4", "n5"}


# ---------------------------------------------------------------- snapshots


def test_compact_saves_snapshot_and_drops_the_log():
    net = Net(3)
    net.campaign("n1")
    for k in range(5):
        net.propose("n1", put(f"k{k}", k, seq=k + 1))
    net.deliver()
    kv = net.kv["n1"]
    r = net.handle("n1", net.nodes["n1"].compact(kv.applied_index, kv.snapshot()))
    assert r.snapshot is not None and r.snapshot.index == 6 and r.snapshot.term == 1
    assert net.nodes["n1"].log.snapshot_index == 6 and net.nodes["n1"].log.entries() == ()
    assert net.storage["n1"].entries == [] and net.storage["n1"].snapshot == r.snapshot
    with pytest.raises(ValueError):
        net.nodes["n1"].compact(99, b"")


def test_lagging_follower_is_caught_up_with_install_snapshot():
    net = Net(3)
    net.campaign("n1")
    net.isolate("n3")
    for k in range(10):
        net.propose("n1", put(f"k{k}", k, seq=k + 1))
    net.deliver()
    kv = net.kv["n1"]
    net.handle("n1", net.nodes["n1"].compact(kv.applied_index, kv.snapshot()))
    net.heal()
    seen = []
    for _ in range(5):
        net.tick("n1")
        net.deliver(filt=lambda m: seen.append(type(m).__name__) or True)
    assert "InstallSnapshot" in seen
    assert net.kv["n3"].data == net.kv["n1"].data
    assert net.nodes["n3"].log.snapshot_index == 11
    net.propose("n1", put("after", 1, seq=99))
    net.deliver()
    net.tick("n1")
    net.deliver()
    assert net.kv["n3"].get("after") == 1


def test_install_snapshot_keeps_a_matching_suffix():
    """Figure 13 rule 6: if the log has the snapshot's last entry, keep the entries after it."""
    n = make_node("n1", P3, term=1, log_terms=[1, 1, 1, 1, 1])
    r = n.step(InstallSnapshot(1, "n2", "n1", "t", 3, 1, b"state"))
    assert n.log.snapshot_index == 3 and n.last_index == 5
    assert r.snapshot.index == 3 and r.truncate_from is None
    assert r.restore_snapshot == r.snapshot and n.commit_index == 3
    assert msgs_of(r, InstallSnapshotResponse)[0].match_index == 3


def test_install_snapshot_discards_a_conflicting_log():
    """Figure 13 rule 7: otherwise discard the entire log."""
    n = make_node("n1", P3, term=3, log_terms=[1, 1, 2, 2])
    r = n.step(InstallSnapshot(3, "n2", "n1", "t", 3, 3, b"state"))
    assert n.log.snapshot_index == 3 and n.last_index == 3 and n.log.entries() == ()
    assert r.truncate_from == 4


def test_install_snapshot_older_than_commit_is_ignored():
    n = make_node("n1", P3, term=1, log_terms=[1, 1, 1])
    n.step(AppendEntries(1, "n2", "n1", "t", 3, 1, (), 3))
    r = n.step(InstallSnapshot(1, "n2", "n1", "t", 2, 1, b"old"))
    assert r.snapshot is None and r.restore_snapshot is None and n.commit_index == 3


def test_restart_from_snapshot_restores_the_state_machine():
    net = Net(3)
    net.campaign("n1")
    for k in range(4):
        net.propose("n1", put(f"k{k}", k, seq=k + 1))
    net.deliver()
    net.tick("n1")
    net.deliver()
    kv2 = net.kv["n2"]
    net.handle("n2", net.nodes["n2"].compact(kv2.applied_index, kv2.snapshot()))
    data = dict(kv2.data)
    net.crash("n2")
    node = net.restart("n2")
    assert node.applied_index == 5 and net.kv["n2"].data == data
    assert node.term == net.nodes["n1"].term


# ---------------------------------------------------------------- ReadIndex


def test_read_index_is_served_after_a_heartbeat_round():
    net = Net(3)
    net.campaign("n1")
    net.tick("n1")
    net.deliver()
    leader = net.nodes["n1"]
    r = net.handle("n1", leader.read_index("r1"))
    assert r.read_states == ()
    beats = msgs_of(r, AppendEntries)
    assert {m.dst for m in beats} == {"n2", "n3"} and all(m.round > 0 for m in beats)
    net.deliver()
    [rs] = net.read_states["n1"]
    assert (rs.request, rs.index) == ("r1", leader.commit_index)


def test_read_index_waits_for_an_entry_of_the_current_term_to_commit():
    n = make_node("n1", P3, term=1, log_terms=[1, 1])
    n.campaign()
    n.step(RequestVoteResponse(2, "n2", "n1", "t", True))
    assert n.is_leader and n.commit_index == 0
    r = n.read_index("r")
    assert r.messages == () and r.read_states == ()
    r = n.step(AppendEntriesResponse(2, "n2", "n1", "t", True, 3, 2, 0, 0, 0))
    assert n.commit_index == 3 and r.read_states == ()
    beats = msgs_of(r, AppendEntries)
    rnd = beats[0].round
    r = n.step(AppendEntriesResponse(2, "n3", "n1", "t", True, 0, 0, 0, 0, rnd - 1))
    assert r.read_states == ()  # an acknowledgement of an older round proves nothing
    r = n.step(AppendEntriesResponse(2, "n2", "n1", "t", True, 3, 3, 0, 0, rnd))
    assert [(s.request, s.index) for s in r.read_states] == [("r", 3)]


def test_read_index_on_a_follower_raises_not_leader_with_a_hint():
    net = Net(3)
    net.campaign("n1")
    with pytest.raises(NotLeader) as exc:
        net.nodes["n2"].read_index("r")
    assert exc.value.leader_id == "n1"
    with pytest.raises(NotLeader):
        net.nodes["n2"].propose(b"x")


def test_deposed_leader_cannot_confirm_reads():
    """A leader cut off from the majority cannot serve a read (the others may have moved on); it
    reports the read as dropped when it learns of the new term."""
    net = Net(3)
    net.campaign("n1")
    net.tick_all(2)
    net.isolate("n1")
    net.handle("n1", net.nodes["n1"].read_index("stale"))
    for _ in range(60):
        for i in ("n2", "n3"):
            net.tick(i)
        net.deliver()
        if net.nodes["n2"].is_leader or net.nodes["n3"].is_leader:
            break
    assert net.read_states["n1"] == []
    net.heal()
    net.tick_all(5)
    assert not net.nodes["n1"].is_leader
    assert net.dropped_reads["n1"] == ["stale"] and net.read_states["n1"] == []


def test_single_node_reads_are_immediate():
    net = Net(1)
    net.campaign("n1")
    r = net.handle("n1", net.nodes["n1"].read_index("r"))
    assert [s.request for s in r.read_states] == ["r"]


# ---------------------------------------------------------------- sessions through the cluster


def test_retry_through_a_new_leader_is_applied_once():
    """A client's write commits, but the reply is lost with the leader; it retries the same
    (client, seq) at the new leader. The log holds it twice, the state machine runs it once."""
    net = Net(3)
    net.campaign("n1")
    net.propose("n1", Command("put", "x", 1, client_id="c", seq=1).encode())
    net.deliver()
    net.tick("n1")
    net.deliver()
    net.crash("n1")
    # Someone else writes x meanwhile; re-running the retried put would clobber it.
    net.campaign("n2")
    assert net.nodes["n2"].is_leader
    net.propose("n2", Command("put", "x", 2, client_id="d", seq=1).encode())
    net.propose("n2", Command("put", "x", 1, client_id="c", seq=1).encode())
    net.deliver()
    net.tick("n2")
    net.deliver()
    puts = [e for e in net.applied["n2"] if e.data]
    assert len(puts) == 3  # the retry is in the log ...
    assert net.kv["n2"].get("x") == 2  # ... but did not execute again
    assert net.kv["n3"].get("x") == 2


# ---------------------------------------------------------------- persist before send


def _vote_twice_scenario(persist_vote: bool) -> list[str]:
    """n2 asks n1 for a vote in term 1 and wins; n1 crashes; n3 asks n1 for a vote in term 1.
    Returns the leaders of term 1."""
    net = Net(3)
    net.isolate("n3")
    net.campaign("n2")
    assert net.nodes["n2"].is_leader and net.nodes["n2"].term == 1
    if not persist_vote:
        # As if n1 had sent its vote (and acks) before fsyncing, then lost the writes in a crash.
        net.storage["n1"] = MemoryStorage()
    net.crash("n1")
    net.restart("n1")
    net.heal()
    net.isolate("n2")
    net.handle("n3", net.nodes["n3"].campaign())
    net.deliver()
    return sorted(i for i, n in net.nodes.items() if n.is_leader and n.term == 1)


def test_persist_before_send_prevents_double_votes():
    assert _vote_twice_scenario(persist_vote=True) == ["n2"]


def test_sending_before_persisting_breaks_election_safety():
    assert _vote_twice_scenario(persist_vote=False) == ["n2", "n3"]


def test_every_ready_carries_the_state_its_messages_depend_on():
    """A vote is granted in the same Ready that persists it; an AppendEntries success comes with
    the entries it acknowledges; a candidate's RequestVotes come with its new term and vote."""
    n = make_node("n1", P3)
    r = n.step(RequestVote(1, "n2", "n1", "t", 0, 0))
    assert msgs_of(r, RequestVoteResponse)[0].vote_granted and r.hard_state == HardState(1, "n2")
    e = Entry(1, 1, b"x")
    r = n.step(AppendEntries(1, "n2", "n1", "t", 0, 0, (e,), 0))
    assert r.entries == (e,) and msgs_of(r, AppendEntriesResponse)[0].match_index == 1
    r = n.campaign()
    assert r.hard_state == HardState(2, "n1") and msgs_of(r, RequestVote)


def test_sim_catches_send_before_persist():
    """With the contract broken (state written after the messages go out, and lost in a crash),
    the simulation soon finds a safety violation."""
    cfg = SimConfig(lazy_persist=True, crash_rate=0.03)
    found = None
    for seed in range(100):
        try:
            Simulation(cfg, seed).run()
        except SafetyViolation as exc:
            if "liveness" not in str(exc):
                found = str(exc)
                break
    assert found is not None


# ---------------------------------------------------------------- observer


def test_observer_reports_events_with_state_and_unique_message_ids():
    events: list[Event] = []
    sim = Simulation(SimConfig(ticks=150, crash_rate=0.01), seed=3, observer=events.append)
    sim.run()
    kinds = {e.kind for e in events}
    assert {BECOME_LEADER, SEND, RECEIVE, "ClientRequest", "AdvanceCommitIndex"} <= kinds
    sent = [e.msg.id for e in events if e.kind == SEND]
    assert len(sent) == len(set(sent))  # unique across restarts too
    sent_ids = set(sent)
    assert all(e.msg.id in sent_ids for e in events if e.kind == RECEIVE)
    lead = next(e for e in events if e.kind == BECOME_LEADER)
    assert lead.state.role == Role.LEADER and lead.state.vote == lead.node


def test_observer_costs_nothing_when_unused(monkeypatch):
    def boom(self):
        raise AssertionError("state() computed with no observer")

    monkeypatch.setattr(Node, "state", boom)
    net = Net(3)
    net.campaign("n1")
    net.propose("n1", b"x")
    net.tick_all(3)
    assert net.nodes["n1"].commit_index == 2


def test_protocol_state_exposes_the_spec_variables():
    net = Net(3)
    net.campaign("n1")
    st = net.nodes["n1"].protocol_state()
    assert st["role"] == Role.LEADER and st["term"] == 1 and st["log"] == [(1, "noop")]
    assert st["match_index"] == {"n1": 1, "n2": 1, "n3": 1}
    n = make_node("n1", P3)
    n.campaign()
    assert n.protocol_state()["votes_granted"] == ["n1"]
