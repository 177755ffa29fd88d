"""A hypothesis state machine that schedules a cluster step by step: which node ticks, which
message is delivered, dropped or duplicated, who crashes and restarts, which client acts. The
simulation's checks run on every step (Election Safety, Leader Append-Only, Log Matching, State
Machine Safety, persist-before-send, read linearizability); teardown heals the cluster and checks
Leader Completeness and the acknowledged writes. Hypothesis shrinks a failure to a short
schedule."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from raftkit.impl.node import Role
from raftkit.impl.testing.sim import SimConfig, Simulation

NODES = 3
QUIET = SimConfig(
    nodes=NODES,
    drop_rate=0.0,
    duplicate_rate=0.0,
    crash_rate=0.0,
    partition_rate=0.0,
    clients=2,
    write_rate=0.7,
    read_rate=0.3,
    client_timeout=15,
    snapshot_every=4,
    max_entries_per_msg=2,
    max_inflight=2,
    election_tick=4,
)
# Taken modulo the number of servers: uniform for 3 servers here and for the 3 + 2 spares of the
# membership schedules (test_membership.py), which add their rule to this machine.
node_ix = st.integers(0, 14)
msg_ix = st.integers(0, 10_000)


class Cluster(RuleBasedStateMachine):
    CONFIG = QUIET

    def __init__(self) -> None:
        super().__init__()
        self.sim = Simulation(self.CONFIG, seed=0)
        self.ids = self.sim.ids

    def node(self, i: int) -> str:
        return self.ids[i % len(self.ids)]

    @rule(n=st.integers(1, 15))
    def advance(self, n):
        """Let time pass normally: every node ticks, due messages arrive, clients act."""
        for _ in range(n):
            self.sim.step()

    @rule(i=node_ix, n=st.integers(1, 10))
    def tick(self, i, n):
        for _ in range(n):
            self.sim.tick_node(self.node(i))

    @precondition(lambda self: self.sim.pending() > 0)
    @rule(k=msg_ix)
    def deliver(self, k):
        self.sim.deliver_nth(k)

    @precondition(lambda self: self.sim.pending() > 0)
    @rule(k=msg_ix, n=st.integers(1, 20))
    def deliver_many(self, k, n):
        for j in range(n):
            if not self.sim.pending():
                break
            self.sim.deliver_nth(k + j)

    @precondition(lambda self: self.sim.pending() > 0)
    @rule(k=msg_ix)
    def drop(self, k):
        self.sim.drop_nth(k)

    @precondition(lambda self: self.sim.pending() > 0)
    @rule(k=msg_ix)
    def duplicate(self, k):
        self.sim.duplicate_nth(k)

    @rule(i=node_ix)
    def crash(self, i):
        self.sim.crash_node(self.node(i))

    @rule(i=node_ix)
    def restart(self, i):
        self.sim.restart_node(self.node(i))

    @rule(c=st.integers(0, 1))
    def client(self, c):
        self.sim.now += 1  # client timeouts count simulated time
        self.sim.client_step(c)

    @invariant()
    def one_leader_per_term(self):
        seen = {}
        for srv in self.sim.servers.values():
            if srv is not None and srv.node.role == Role.LEADER:
                assert seen.setdefault(srv.node.term, srv.node.id) == srv.node.id

    def teardown(self):
        self.sim.finish()


Cluster.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_cluster_schedules = Cluster.TestCase
