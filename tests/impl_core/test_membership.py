"""Membership changes in the core, named after the sections of Ongaro's dissertation they test:
one server at a time (§4.1) with the fix of 2015, catching a new server up as a learner
(§4.2.1), removing the leader (§4.2.2), leadership transfer (§3.10); the configuration through
restarts and snapshots; and the wire form of configurations."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from raftkit.impl.kv import Command
from raftkit.impl.membership import Configurations, Membership, config_entry, initial_membership
from raftkit.impl.membership_changes import ConfigChangeRefused
from raftkit.impl.messages import (
    AppendEntries,
    Entry,
    InstallSnapshot,
    RequestVote,
    RequestVoteResponse,
    TimeoutNow,
    WireError,
    message_from_wire,
)
from raftkit.impl.node import Node, NotLeader, Role
from raftkit.impl.testing.scenarios import before_2015_fix, config_change_before_noop_commit
from raftkit.impl.testing.sim import SimConfig, Simulation

from .harness import Net, msgs_of
from .test_stateful import QUIET, Cluster


def put(key: str, value: int, seq: int) -> bytes:
    return Command("put", key, value, client_id="c", seq=seq).encode()


def elect(net: Net, nid: str = "n1") -> Node:
    """Elect ``nid`` and commit its no-op everywhere."""
    net.campaign(nid)
    net.tick(nid)
    net.deliver()
    node = net.nodes[nid]
    assert node.is_leader and node.commit_index == node.last_index
    return node


def run(net: Net, ticks: int) -> None:
    """Let ``ticks`` ticks pass on every node that is up, delivering everything in between."""
    net.tick_all(ticks)


# ---------------------------------------------------------------- the configuration itself


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=30), min_size=1, max_size=9)
)
def test_membership_round_trips_through_its_encoding(members):
    m = Membership.of(members.items())
    assert Membership.decode(m.encode()) == m
    assert m.ids == tuple(sorted(members))


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x90", b"\x91\x01", b"\x91\x92\xa1a\x01",
                                  b"\x92\x92\xa1a\xa0\x92\xa1a\xa0"])  # fmt: skip
def test_a_malformed_configuration_is_a_wire_error(data):
    with pytest.raises(WireError):
        Membership.decode(data)


def test_append_entries_carrying_a_malformed_configuration_is_refused_on_the_wire():
    good = AppendEntries(2, "n1", "n2", "x", 0, 0, (Entry(2, 1, b"\x90", "config"),), 0)
    with pytest.raises(WireError, match=r"entries\[0\]\.data"):
        message_from_wire(good.to_wire())
    snap = InstallSnapshot(2, "n1", "n2", "y", 3, 2, b"", 0, b"\xc1")
    with pytest.raises(WireError, match="membership"):
        message_from_wire(snap.to_wire())


def test_configurations_follow_appends_truncations_compaction_and_snapshots():
    """§4.1: the latest configuration in the log, committed or not; a truncated configuration
    entry takes the node back to the one before it."""
    c0 = initial_membership(("n1", "n2", "n3"))
    c1, c2 = c0.adding("n4", "a4"), c0.adding("n4", "a4").removing("n1")
    confs = Configurations(0, c0)
    assert confs.latest == c0 and confs.latest_index == 0 and confs.previous is None
    assert confs.appended([Entry(1, 1, b""), config_entry(1, 2, c1), config_entry(1, 3, c2)])
    assert confs.latest == c2 and confs.previous == c1 and confs.at(2) == c1 and confs.at(1) == c0
    assert confs.truncated(3) and confs.latest == c1 and confs.latest_index == 2
    assert not confs.truncated(5)
    confs.compacted(2)
    assert confs.latest == c1 and confs.entry_index == 0 and confs.previous is None
    assert confs.installed(9, c2, keeps_suffix=False) and confs.latest == c2
    assert confs.latest_index == 9


# ---------------------------------------------------------------- §4.1 and §4.2.1: adding


def test_4_2_1_a_new_server_catches_up_as_a_learner_then_counts():
    net = Net(3, spares=1)
    leader = elect(net)
    for k in range(6):
        net.propose("n1", put("k", k, k + 1))
    net.deliver()
    r = net.handle("n1", leader.add_node("n4", "addr-4", "req"))
    assert leader.learner == "n4" and leader.configuration.ids == ("n1", "n2", "n3")
    assert {m.dst for m in msgs_of(r, AppendEntries)} == {"n4"}
    run(net, 3)
    assert leader.learner is None
    assert leader.configuration.ids == ("n1", "n2", "n3", "n4")
    assert leader.configuration.address("n4") == "addr-4"
    (result,) = net.changes["n1"]
    assert result.request == "req" and result.error is None
    assert leader.log.entry(result.index).kind == "config"
    assert leader.configuration_committed and leader.commit_index >= result.index
    assert net.nodes["n4"].configuration == leader.configuration
    assert net.kv["n4"].data == net.kv["n1"].data
    # The new server counts: with n2 and n3 down, n1 and n4 are two of four, not a majority.
    net.crash("n2")
    net.crash("n3")
    net.propose("n1", put("k", 99, 99))
    run(net, 2)
    assert net.kv["n1"].get("k") != 99


def test_4_2_1_a_new_server_catches_up_by_snapshot_when_the_log_is_compacted():
    net = Net(3, spares=1)
    leader = elect(net)
    for k in range(8):
        net.propose("n1", put("k", k, k + 1))
    net.deliver()
    kv = net.kv["n1"]
    net.handle("n1", leader.compact(kv.applied_index, kv.snapshot()))
    seen: list[str] = []
    net.handle("n1", leader.add_node("n4", "a4", "r"))
    for _ in range(4):
        for i in net.ids:
            net.handle(i, net.nodes[i].tick())
        net.deliver(filt=lambda m: seen.append(type(m).__name__) or True)
    assert "InstallSnapshot" in seen
    assert "n4" in leader.configuration and net.changes["n1"][0].error is None
    assert net.nodes["n4"].log.snapshot_index == leader.log.snapshot_index
    assert net.kv["n4"].data == kv.data


def test_4_2_1_a_server_that_does_not_answer_is_not_added():
    """ "If the new server is unavailable ... the leader should abort the change": the change
    fails and the configuration stays as it was."""
    net = Net(3, spares=1, catch_up_stall=15)
    leader = elect(net)
    net.crash("n4")
    net.handle("n1", leader.add_node("n4", "a4", "r"))
    run(net, 16)
    assert leader.learner is None and "n4" not in leader.configuration
    (result,) = net.changes["n1"]
    assert result.index == 0 and "no answer from n4" in (result.error or "")
    assert "n4" not in leader.progress


def test_4_1_one_change_at_a_time():
    """Figure 4.3: a leader starts a change only once the previous one is committed."""
    net = Net(3, spares=1)
    leader = elect(net)
    net.handle("n1", leader.add_node("n4", "a4", "r"))
    with pytest.raises(ConfigChangeRefused, match="n4 is being added") as exc:
        leader.remove_node("n3")
    assert exc.value.retry
    run(net, 3)
    net.isolate("n1")
    net.handle("n1", leader.remove_node("n3"))
    with pytest.raises(ConfigChangeRefused, match="not committed yet"):
        leader.remove_node("n2")
    with pytest.raises(ConfigChangeRefused, match="already a member") as exc:
        leader.add_node("n2", "")
    assert not exc.value.retry


def test_membership_changes_on_a_follower_raise_not_leader_with_a_hint():
    net = Net(3, spares=1)
    elect(net)
    for call in (lambda n: n.add_node("n4", ""), lambda n: n.remove_node("n3"),
                 lambda n: n.transfer_leadership("n3")):  # fmt: skip
        with pytest.raises(NotLeader) as exc:
            call(net.nodes["n2"])
        assert exc.value.leader_id == "n1"


def test_2015_fix_a_new_leader_changes_nothing_before_its_noop_commits():
    net = Net(3, spares=1)
    leader = net.nodes["n1"]
    net.handle("n1", leader.campaign())
    net.deliver(filt=lambda m: isinstance(m, RequestVote | RequestVoteResponse))
    assert leader.is_leader and leader.commit_index == 0  # its no-op was lost
    with pytest.raises(ConfigChangeRefused, match="an entry of its term") as exc:
        leader.add_node("n4", "")
    assert exc.value.retry
    run(net, 1)
    assert leader.commit_index == 1
    net.handle("n1", leader.add_node("n4", ""))  # the no-op is committed now


def test_2015_counterexample_needs_the_fix():
    """Ongaro's raft-dev counterexample (2015), played on the core: with the rule, the first
    change of a leader whose no-op is not committed is refused and the schedule stops."""
    out = config_change_before_noop_commit()
    assert out.refused == "the leader has not committed an entry of its term yet"
    assert all(len(leaders) == 1 for leaders in out.leaders.values())


def test_2015_bug_planted_gives_two_leaders_in_one_term(monkeypatch):
    """The same schedule with the bug planted (the dissertation's rule before the fix): leaders
    of terms 1 and 2 each remove a server from the configuration they hold, and in term 3 each of
    the two resulting configurations elects its own leader (Election Safety broken)."""
    monkeypatch.setattr(
        Node, "_may_change_configuration", before_2015_fix(Node._may_change_configuration)
    )
    out = config_change_before_noop_commit()
    assert out.refused is None
    assert out.leaders[3] == {"n1", "n2"}


# ---------------------------------------------------------------- §4.2.2: removing


def test_4_2_2_a_removed_leader_leads_without_counting_itself_then_steps_down():
    net = Net(3)
    leader = elect(net)
    net.cut.add(("n1", "n3"))
    net.handle("n1", leader.remove_node("n1", "r"))
    assert leader.configuration.ids == ("n2", "n3") and leader.is_leader
    entry = net.changes["n1"][0].index
    net.deliver()
    # n2 alone has the entry: a majority of {n2, n3} needs n3 too, and n1 does not count.
    assert leader.commit_index < entry and leader.is_leader
    net.cut.clear()
    for _ in range(5):
        if not leader.is_leader:
            break
        run(net, 1)
    assert leader.role == Role.FOLLOWER and leader.commit_index >= entry
    run(net, 60)
    new = net.leader()
    assert new is not None and new.id in ("n2", "n3") and new.term > leader.term - 1
    assert leader.role == Role.FOLLOWER  # a removed server does not campaign once it knows


def test_4_2_2_a_removed_server_still_campaigns_until_its_removal_is_committed():
    """Figure 4.6: n1 removes itself from {n1, n2}; until n2 has the entry, n2 needs n1's vote,
    which n1 refuses for n2's shorter log, so only n1 can lead (without counting itself)."""
    net = Net(2)
    leader = elect(net)
    net.isolate("n1")
    net.handle("n1", leader.remove_node("n1"))
    net.crash("n1")
    node = net.restart("n1")  # a crash: the entry is in its log, not known to be committed
    assert node.configuration.ids == ("n2",) and not node.configuration_committed
    net.heal()
    run(net, 80)
    assert net.nodes["n2"].is_leader and net.nodes["n2"].configuration.ids == ("n2",)
    assert net.nodes["n2"].configuration_committed
    assert not node.is_leader and node.configuration_committed


def test_a_spare_never_campaigns():
    net = Net(3, spares=1)
    spare = net.nodes["n4"]
    r = net.handle("n4", spare.campaign())
    assert spare.role == Role.FOLLOWER and spare.term == 0 and r.messages == ()
    for _ in range(100):
        net.handle("n4", spare.tick())
    assert spare.role == Role.FOLLOWER and spare.term == 0 and not net.queue


# ---------------------------------------------------------------- §3.10: leadership transfer


def test_3_10_transfer_to_an_up_to_date_follower():
    net = Net(3)
    leader = elect(net)
    r = net.handle("n1", leader.transfer_leadership("n3"))
    (tn,) = msgs_of(r, TimeoutNow)
    assert tn.dst == "n3" and tn.term == leader.term
    with pytest.raises(NotLeader):
        leader.propose(put("k", 1, 1))  # no commands while leadership is handed over
    net.deliver()
    assert net.nodes["n3"].is_leader and net.nodes["n3"].term == 2
    assert leader.role == Role.FOLLOWER and leader.leader_id in ("n3", None)


def test_3_10_transfer_first_brings_a_lagging_target_up_to_date():
    net = Net(3)
    leader = elect(net)
    net.isolate("n3")
    for k in range(5):
        net.propose("n1", put("k", k, k + 1))
    net.deliver()
    net.heal()
    r = net.handle("n1", leader.transfer_leadership("n3"))
    assert msgs_of(r, TimeoutNow) == []
    # The lost entries are sent again once the heartbeats find n3 behind (within an election
    # timeout, after which the transfer would be abandoned); then n1 sends TimeoutNow.
    for _ in range(9):
        run(net, 1)
        if net.nodes["n3"].is_leader:
            break
    assert net.nodes["n3"].is_leader and net.nodes["n3"].term == 2
    assert net.nodes["n3"].log.terms()[:7] == leader.log.terms()[:7]


def test_3_10_a_transfer_that_does_not_complete_is_abandoned():
    net = Net(3, election_tick=5)
    leader = elect(net)
    net.crash("n3")
    net.handle("n1", leader.transfer_leadership("n3"))
    assert leader.transferring_to == "n3"
    run(net, 5)
    assert leader.is_leader and leader.transferring_to is None
    net.propose("n1", put("k", 1, 1))  # accepted again


def test_3_10_transfer_to_a_non_member_is_refused():
    net = Net(3, spares=1)
    leader = elect(net)
    with pytest.raises(ConfigChangeRefused, match="not a member") as exc:
        leader.transfer_leadership("n4")
    assert not exc.value.retry
    assert leader.transfer_leadership("n1").messages == ()  # to itself: nothing to do


# ---------------------------------------------------------------- restarts


def test_the_configuration_survives_a_restart_from_the_log_and_from_a_snapshot():
    net = Net(3, spares=1)
    leader = elect(net)
    net.handle("n1", leader.add_node("n4", "a4"))
    run(net, 3)
    net.handle("n1", leader.remove_node("n2"))
    run(net, 2)
    want = ("n1", "n3", "n4")
    assert leader.configuration.ids == want
    net.crash("n3")
    assert net.restart("n3").configuration.ids == want  # from the log
    kv = net.kv["n4"]
    net.handle("n4", net.nodes["n4"].compact(kv.applied_index, kv.snapshot()))
    assert net.storage["n4"].entries == []
    net.crash("n4")
    n4 = net.restart("n4")  # from the snapshot alone
    assert n4.configuration.ids == want and n4.configuration.address("n4") == "a4"


# ---------------------------------------------------------------- simulated clusters

# (name, config, seeds in the default run): an operator adds servers (spares, or servers
# removed earlier), removes them and transfers leadership while clients write and read, under
# the simulation's faults. Every run checks the five properties as it goes, linearizable
# reads, and at the end that every acknowledged write ran exactly once.
MEMBERSHIP_PROFILES = [
    ("3+2-spares", SimConfig(spares=2, change_rate=0.05), 8),
    (
        "lossy",
        SimConfig(spares=2, change_rate=0.08, drop_rate=0.1, duplicate_rate=0.2, max_delay=6),
        8,
    ),  # fmt: skip
    (
        "crashes-partitions",
        SimConfig(spares=2, change_rate=0.05, crash_rate=0.02, partition_rate=0.03),
        8,
    ),  # fmt: skip
    (
        "5+2-spares",
        SimConfig(nodes=5, spares=2, change_rate=0.08, crash_rate=0.01, partition_rate=0.01),
        6,
    ),  # fmt: skip
    ("1+3-spares", SimConfig(nodes=1, spares=3, change_rate=0.1, crash_rate=0.01), 8),
    ("snapshots", SimConfig(spares=2, change_rate=0.05, snapshot_every=5, crash_rate=0.01), 8),
]


def run_membership_seeds(cfg: SimConfig, seeds: range) -> dict[str, int]:
    totals: dict[str, int] = {"acked": 0, "crashes": 0}
    for seed in seeds:
        sim = Simulation(cfg, seed)
        r = sim.run()
        totals["acked"] += r.acked_writes
        totals["crashes"] += r.crashes
        for k, v in sim.operator.stats.items():
            totals[k] = totals.get(k, 0) + v
    return totals


@pytest.mark.parametrize(
    ("cfg", "seeds"),
    [pytest.param(cfg, n, id=name) for name, cfg, n in MEMBERSHIP_PROFILES],
)
def test_simulated_clusters_change_membership_under_faults(cfg, seeds):
    totals = run_membership_seeds(cfg, range(seeds))
    # Not vacuous: servers were added and removed, and clients were answered.
    assert totals["added"] > 0 and totals["removed"] > 0 and totals["acked"] > 0
    if cfg.crash_rate:
        assert totals["crashes"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cfg", "seeds"),
    [pytest.param(cfg, n, id=name) for name, cfg, n in MEMBERSHIP_PROFILES],
)
def test_simulated_clusters_change_membership_under_faults_slow(cfg, seeds):
    run_membership_seeds(cfg, range(seeds, seeds + 150))


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    nodes=st.integers(1, 5),
    spares=st.integers(0, 3),
    change_rate=st.floats(0.01, 0.2),
    drop=st.floats(0, 0.2),
    dup=st.floats(0, 0.2),
    crash=st.floats(0, 0.03),
    partition=st.floats(0, 0.03),
    snapshot_every=st.sampled_from([0, 4, 25]),
    max_inflight=st.integers(1, 8),
)
def test_random_membership_configurations(
    seed, nodes, spares, change_rate, drop, dup, crash, partition, snapshot_every, max_inflight
):
    cfg = SimConfig(
        nodes=nodes,
        spares=spares,
        change_rate=change_rate,
        ticks=200,
        settle_ticks=600,
        drop_rate=drop,
        duplicate_rate=dup,
        crash_rate=crash,
        partition_rate=partition,
        snapshot_every=snapshot_every,
        max_inflight=max_inflight,
    )
    Simulation(cfg, seed).run()


# ---------------------------------------------------------------- schedules chosen by hypothesis


class MembershipSchedules(Cluster):
    """test_stateful's machine (hypothesis picks every step: ticks, which message arrives, is
    lost or duplicated, crashes and restarts, client requests) with two spares and one more
    rule: membership changes asked of the leader. The simulation's checks run on every step;
    teardown heals the cluster and checks the acknowledged writes."""

    CONFIG = replace(QUIET, spares=2)

    @rule(kind=st.sampled_from(["add", "remove", "transfer"]), k=st.integers(0, 4))
    def change(self, kind, k):
        # The k-th server that the change fits: a non-member to add, a member otherwise.
        leaders = [s.node for s in self.sim.servers.values() if s and s.node.is_leader]
        members = max(leaders, key=lambda n: n.term).configuration if leaders else ()
        fits = [i for i in self.ids if (i in members) != (kind == "add")] or list(self.ids)
        ok = self.sim.change_membership(kind, fits[k % len(fits)])
        event(f"{kind}: {'asked' if ok else 'no leader, or refused'}")


MembershipSchedules.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_membership_schedules = MembershipSchedules.TestCase
