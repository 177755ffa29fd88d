"""An in-process simulated cluster for the protocol core, driven entirely by one seed.

The network delays, drops, duplicates and reorders messages, partitions the cluster and heals
it; nodes crash and restart from simulated durable storage that holds exactly what their Readys
asked to persist (nothing else survives a crash: not the volatile state, not the state machine,
not unsent messages). Clients write through the leader with sessions, retry on timeouts, and read
through ReadIndex. Everything is deterministic for a given seed, so a failing seed replays.

While it runs, the simulation records a history and checks it:

- the Ready contract: every message leaving a node is backed by its durable state (a granted vote
  by the persisted vote, an AppendEntries success by persisted entries, and so on);
- Election Safety, Leader Append-Only, Log Matching, Leader Completeness and State Machine
  Safety (Raft paper, Figure 3), checked from the events and the persisted logs;
- reads: a read returns at least every write to its key acknowledged before the read started
  (each key has a single writer whose values increase, so this is linearizability per key);
- at the end, after healing everything: every acknowledged write was executed exactly once in the
  committed log, with the result the client saw, and every replica's state machine equals the
  replay of that log.

A broken property raises ``SafetyViolation`` naming the seed, tick and property.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import events as ev
from ..config import Config
from ..events import Event
from ..kv import Command, KVStore, Result
from ..messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    Message,
    NodeId,
    PreVote,
    PreVoteResponse,
    RequestVote,
    RequestVoteResponse,
    Snapshot,
)
from ..node import Node, NotLeader
from ..ready import HardState, Ready
from ..role import Role
from .admin import Operator


class SafetyViolation(AssertionError):
    """A Raft safety property or a simulation check failed."""


@dataclass(frozen=True)
class SimConfig:
    """Shape of one simulated run. Rates are per tick (per node or per client where it says)."""

    nodes: int = 3
    ticks: int = 300  # length of the faulty phase
    settle_ticks: int = 400  # fault-free tail in which the cluster must converge
    min_delay: int = 0
    max_delay: int = 3
    drop_rate: float = 0.03
    duplicate_rate: float = 0.03
    crash_rate: float = 0.004  # per node per tick
    down_ticks: tuple[int, int] = (5, 60)
    partition_rate: float = 0.01
    heal_rate: float = 0.05
    clients: int = 3
    write_rate: float = 0.5  # per idle client per tick
    read_rate: float = 0.2
    client_timeout: int = 25
    snapshot_every: int = 25  # compact once this many entries are applied past the snapshot
    pre_vote: bool = True
    check_quorum: bool = True
    election_tick: int = 10
    heartbeat_tick: int = 1
    max_entries_per_msg: int = 4
    max_inflight: int = 4
    # Test-only fault: write the Ready's persistent state *after* sending, and lose it if the
    # node crashes in between. Breaks the caller's contract; used to show the contract matters.
    lazy_persist: bool = False
    # Membership: spare nodes outside the initial configuration, and how often (per tick) an
    # operator adds a server, removes one or transfers leadership (testing/admin.py).
    spares: int = 0
    change_rate: float = 0.0

    def faulty(self) -> bool:
        """True if any fault is enabled."""
        return bool(self.drop_rate or self.duplicate_rate or self.crash_rate or self.partition_rate)


class MemoryStorage:
    """Durable state of one simulated node: survives crashes; written only via Readys."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []  # entries after the snapshot, consecutive
        self.boots = 0

    @property
    def first_index(self) -> int:
        return (self.snapshot.index if self.snapshot else 0) + 1

    def term_at(self, index: int) -> int | None:
        if self.snapshot is not None and index == self.snapshot.index:
            return self.snapshot.term
        if index == 0:
            return 0
        pos = index - self.first_index
        if 0 <= pos < len(self.entries):
            return self.entries[pos].term
        return None

    def last_index(self) -> int:
        return self.first_index - 1 + len(self.entries)

    def save(self, ready: Ready) -> None:
        """Steps 1-2 of the Ready contract."""
        if ready.snapshot is not None:
            snap = ready.snapshot
            self.entries = [e for e in self.entries if e.index > snap.index]
            self.snapshot = snap
        if ready.truncate_from is not None:
            keep = ready.truncate_from - self.first_index
            del self.entries[max(keep, 0) :]
        for e in ready.entries:
            if e.index != self.last_index() + 1:
                raise SafetyViolation(
                    f"storage: entry {e.index} does not follow stored {self.last_index()}"
                )
            self.entries.append(e)
        if ready.hard_state is not None:
            self.hard_state = ready.hard_state


@dataclass
class _Request:
    client: int
    kind: str  # "write" | "read"
    cmd: Command | None
    key: str
    issued_at: int
    sent_at: int
    target: NodeId
    token: int = 0
    redirected: bool = False
    # For reads: the highest value acknowledged for `key` when the read started.
    floor: int = 0


@dataclass
class SimResult:
    """Summary of a run."""

    seed: int
    ticks: int
    acked_writes: int
    reads: int
    leaders: dict[int, NodeId]
    crashes: int
    messages: int
    committed: int
    snapshots_installed: int
    stats: dict[str, int] = field(default_factory=dict)


class _Server:
    """A node plus its state machine and request bookkeeping (what dies in a crash)."""

    def __init__(self, node: Node, kv: KVStore) -> None:
        self.node = node
        self.kv = kv
        self.pending_writes: dict[tuple[str, int], _Request] = {}
        self.pending_reads: dict[int, _Request] = {}
        self.lazy: list[Ready] = []


class Simulation:
    """One seeded run. ``run()`` executes the faulty phase and the settle phase, then checks."""

    def __init__(
        self,
        config: SimConfig | None = None,
        seed: int = 0,
        observer: Callable[[Event], None] | None = None,
    ) -> None:
        self.cfg = config or SimConfig()
        self.seed = seed
        self.rng = random.Random(seed)
        self.ids: tuple[NodeId, ...] = tuple(
            f"n{i + 1}" for i in range(self.cfg.nodes + self.cfg.spares)
        )
        self.initial = self.ids[: self.cfg.nodes]
        self.user_observer = observer
        self.now = 0
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.servers: dict[NodeId, _Server | None] = {i: None for i in self.ids}
        self.down_until: dict[NodeId, int] = {}
        self.group: dict[NodeId, int] = {i: 0 for i in self.ids}
        self.queue: list[tuple[int, float, int, Message]] = []
        self._qseq = 0
        self.faults_on = True
        # History for the safety checks.
        self.leaders: dict[int, NodeId] = {}
        self.leader_logs: list[tuple[int, NodeId, int, list[int]]] = []
        self.entry_by_pos: dict[tuple[int, int], tuple[bytes, str, int]] = {}
        self.committed: dict[int, tuple[int, int]] = {}  # index -> (entry term, observer term)
        self.applied: dict[int, Entry] = {}
        # Clients.
        self.client_ids = [f"c{k}" for k in range(self.cfg.clients)]
        self.client_seq = [0] * self.cfg.clients
        self.client_value = [0] * self.cfg.clients
        self.client_req: list[_Request | None] = [None] * self.cfg.clients
        self.client_leader: list[NodeId] = [self.ids[0]] * self.cfg.clients
        self.acked: dict[tuple[str, int], tuple[Command, Result]] = {}
        self.acked_value: dict[str, int] = {}  # key -> highest acknowledged value
        self.invoked_value: dict[str, int] = {}  # key -> highest value ever sent
        self.reads_done = 0
        self._token = 0
        self.stats = {
            "crashes": 0,
            "messages": 0,
            "dropped": 0,
            "duplicated": 0,
            "partitions": 0,
            "snapshots_installed": 0,
            "compactions": 0,
        }
        self.operator = Operator(
            self.ids, self.rng, self._running, self._handle, 4 * self.cfg.client_timeout
        )
        for i in self.ids:
            self._boot(i)

    # ------------------------------------------------------------------ plumbing

    def _running(self, i: NodeId) -> Node | None:
        srv = self.servers[i]
        return srv.node if srv is not None else None

    def _fail(self, what: str) -> None:
        raise SafetyViolation(f"seed {self.seed}, tick {self.now}: {what}")

    def _node_config(self, i: NodeId) -> Config:
        c = self.cfg
        return Config(
            i,
            self.initial,
            election_tick=c.election_tick,
            heartbeat_tick=c.heartbeat_tick,
            pre_vote=c.pre_vote,
            check_quorum=c.check_quorum,
            max_entries_per_msg=c.max_entries_per_msg,
            max_inflight=c.max_inflight,
        )

    def _boot(self, i: NodeId) -> None:
        st = self.storage[i]
        st.boots += 1
        node = Node(
            self._node_config(i),
            random.Random(f"{self.seed}/{i}/{st.boots}"),
            hard_state=st.hard_state,
            snapshot=st.snapshot,
            entries=tuple(st.entries),
            boot=st.boots,
            observer=self._make_observer(i),
        )
        server = _Server(node, KVStore())
        self.servers[i] = server
        self._handle(i, node.start())

    def _make_observer(self, i: NodeId) -> Callable[[Event], None]:
        user = self.user_observer

        def observe(e: Event) -> None:
            if e.kind == ev.BECOME_LEADER:
                prev = self.leaders.get(e.state.term)
                if prev is not None and prev != i:
                    self._fail(f"Election Safety: {prev} and {i} both lead term {e.state.term}")
                self.leaders[e.state.term] = i
                srv = self.servers[i]
                node = srv.node if srv is not None else None
                if node is not None:
                    self.leader_logs.append(
                        (e.state.term, i, node.log.snapshot_index, node.log.terms())
                    )
            elif e.kind == ev.LOG_TRUNCATED and e.state.role is Role.LEADER:
                self._fail(f"Leader Append-Only: leader {i} truncated its log")
            elif e.kind == ev.ADVANCE_COMMIT_INDEX:
                srv = self.servers[i]
                if srv is not None:
                    log = srv.node.log
                    for idx in range(e.info["old"] + 1, e.info["new"] + 1):
                        t = log.term_at(idx)
                        if t is None:
                            continue  # covered by a snapshot being installed
                        prev_c = self.committed.get(idx)
                        if prev_c is None:
                            self.committed[idx] = (t, e.state.term)
                        elif prev_c[0] != t:
                            self._fail(
                                f"State Machine Safety: index {idx} committed with terms "
                                f"{prev_c[0]} and {t}"
                            )
                        elif e.state.term < prev_c[1]:
                            self.committed[idx] = (t, e.state.term)
            if user is not None:
                user(e)

        return observe

    def _check_durable(self, i: NodeId, m: Message) -> None:
        """The persist-before-send contract, checked on every message leaving a node."""
        st = self.storage[i]
        hs = st.hard_state
        exempt = isinstance(m, PreVote) or (isinstance(m, PreVoteResponse) and m.vote_granted)
        if not exempt and m.term > hs.term:
            self._fail(f"persist-before-send: {i} sent term {m.term}, persisted {hs.term}")
        if isinstance(m, RequestVote) and hs.vote != i:
            self._fail(f"persist-before-send: {i} asked for votes before persisting its own")
        if (
            isinstance(m, RequestVoteResponse)
            and m.vote_granted
            and (hs.term != m.term or hs.vote != m.dst)
        ):
            self._fail(f"persist-before-send: {i} granted a vote it has not persisted")
        if isinstance(m, AppendEntries):
            for e in m.entries:
                if st.term_at(e.index) != e.term:
                    self._fail(f"persist-before-send: {i} sent entry {e.index} not persisted")
        if isinstance(m, AppendEntriesResponse) and m.success:
            srv = self.servers[i]
            assert srv is not None
            if m.match_index > st.last_index() or (
                m.match_index >= st.first_index
                and st.term_at(m.match_index) != srv.node.log.term_at(m.match_index)
            ):
                self._fail(f"persist-before-send: {i} acked index {m.match_index} not persisted")

    def _handle(self, i: NodeId, ready: Ready) -> None:
        srv = self.servers[i]
        assert srv is not None
        if self.cfg.lazy_persist:
            srv.lazy.append(ready)
        else:
            self._persist(i, ready)
            for m in ready.messages:
                self._check_durable(i, m)
        for m in ready.messages:
            self._send(m)
        if ready.restore_snapshot is not None:
            srv.kv.restore_snapshot(ready.restore_snapshot)
            self.stats["snapshots_installed"] += 1
        for e in ready.committed_entries:
            self._apply(i, srv, e)
        for rs in ready.read_states:
            req = srv.pending_reads.pop(rs.request, None)
            if req is not None:
                if srv.kv.applied_index < rs.index:
                    self._fail(f"read served at applied {srv.kv.applied_index} < {rs.index}")
                self._complete_read(req, srv.kv.get(req.key))
        for tok in ready.dropped_reads:
            srv.pending_reads.pop(tok, None)
        if ready.changes:
            self.operator.results(ready.changes)

    def _persist(self, i: NodeId, ready: Ready) -> None:
        st = self.storage[i]
        st.save(ready)
        # Log Matching, checked on everything that reaches durable storage: one (index, term)
        # position always holds the same command with the same predecessor term.
        for e in ready.entries:
            prev_term = st.term_at(e.index - 1)
            key = (e.index, e.term)
            val = (e.data, e.kind, prev_term if prev_term is not None else -1)
            old = self.entry_by_pos.get(key)
            if old is None:
                self.entry_by_pos[key] = val
            elif (
                old[0] != val[0]
                or old[1] != val[1]
                or (old[2] != val[2] and -1 not in (old[2], val[2]))
            ):
                self._fail(f"Log Matching: two different entries at index {e.index} term {e.term}")

    def _flush_lazy(self, probability: float = 1.0) -> None:
        for i, srv in self.servers.items():
            if srv is not None and srv.lazy and self.rng.random() < probability:
                for r in srv.lazy:
                    self._persist(i, r)
                srv.lazy = []

    def _apply(self, i: NodeId, srv: _Server, e: Entry) -> None:
        prev = self.applied.get(e.index)
        if prev is None:
            self.applied[e.index] = e
        elif prev.term != e.term or prev.data != e.data:
            self._fail(f"State Machine Safety: {i} applied a different entry at index {e.index}")
        result = srv.kv.apply(e)
        if result is None or not e.data:
            return
        cmd = Command.decode(e.data)
        if cmd.client_id is None:
            return
        req = srv.pending_writes.pop((cmd.client_id, cmd.seq), None)
        if req is not None:
            self._complete_write(req, cmd, result)

    def _send(self, m: Message) -> None:
        self.stats["messages"] += 1
        if self.faults_on:
            if self.group[m.src] != self.group[m.dst]:
                self.stats["dropped"] += 1
                return
            if self.rng.random() < self.cfg.drop_rate:
                self.stats["dropped"] += 1
                return
        copies = 1
        if self.faults_on and self.rng.random() < self.cfg.duplicate_rate:
            copies = 2
            self.stats["duplicated"] += 1
        for _ in range(copies):
            at = self.now + self.rng.randint(self.cfg.min_delay, self.cfg.max_delay)
            self._qseq += 1
            heapq.heappush(self.queue, (at, self.rng.random(), self._qseq, m))

    # ------------------------------------------------------------------ clients

    def _client_target(self, c: int) -> NodeId:
        return self.client_leader[c]

    def _client_act(self, c: int) -> None:
        req = self.client_req[c]
        if req is not None:
            if req.redirected or self.now - req.sent_at >= self.cfg.client_timeout:
                # Redirected, or timed out (then try another node). A write keeps its sequence
                # number, so if an earlier attempt did commit, the session makes this a no-op.
                if not req.redirected:
                    self.client_leader[c] = self.rng.choice(self.ids)
                req.redirected = False
                req.sent_at = self.now
                req.target = self.client_leader[c]
                self._submit(req)
            return
        r = self.rng.random()
        key = f"k{c}"
        if r < self.cfg.write_rate:
            self.client_seq[c] += 1
            self.client_value[c] += 1
            cmd = Command(
                "put", key, self.client_value[c], client_id=self.client_ids[c],
                seq=self.client_seq[c],
            )  # fmt: skip
            self.invoked_value[key] = self.client_value[c]
            req = _Request(c, "write", cmd, key, self.now, self.now, self._client_target(c))
        elif r < self.cfg.write_rate + self.cfg.read_rate:
            rkey = f"k{self.rng.randrange(self.cfg.clients)}"
            req = _Request(c, "read", None, rkey, self.now, self.now, self._client_target(c))
            req.floor = self.acked_value.get(rkey, 0)
        else:
            return
        self.client_req[c] = req
        self._submit(req)

    def _submit(self, req: _Request) -> None:
        srv = self.servers[req.target]
        if srv is None:
            return  # node down: the request is lost, the client times out
        try:
            if req.kind == "write":
                assert req.cmd is not None
                srv.pending_writes[(req.cmd.client_id or "", req.cmd.seq)] = req
                ready = srv.node.propose(req.cmd.encode())
            else:
                self._token += 1
                req.token = self._token
                srv.pending_reads[req.token] = req
                ready = srv.node.read_index(req.token)
        except NotLeader as exc:
            if req.cmd is not None:
                srv.pending_writes.pop((req.cmd.client_id or "", req.cmd.seq), None)
            srv.pending_reads.pop(req.token, None)
            hint = exc.leader_id
            self.client_leader[req.client] = hint if hint else self.rng.choice(self.ids)
            req.redirected = True  # retry at the next tick
            return
        self._handle(req.target, ready)

    def _complete_write(self, req: _Request, cmd: Command, result: Result) -> None:
        c = req.client
        if self.client_req[c] is not req:
            return
        self.client_req[c] = None
        self.acked[(cmd.client_id or "", cmd.seq)] = (cmd, result)
        assert isinstance(cmd.value, int)
        self.acked_value[cmd.key] = max(self.acked_value.get(cmd.key, 0), cmd.value)

    def _complete_read(self, req: _Request, value: Any) -> None:
        c = req.client
        if self.client_req[c] is not req:
            return
        self.client_req[c] = None
        got = value if isinstance(value, int) else 0
        if got < req.floor:
            self._fail(
                f"linearizability: read of {req.key} returned {got}, but {req.floor} was "
                "acknowledged before the read started"
            )
        if got > self.invoked_value.get(req.key, 0):
            self._fail(f"read of {req.key} returned {got}, a value never written")
        self.reads_done += 1

    # ------------------------------------------------------------------ faults

    def _faults(self) -> None:
        rng, cfg = self.rng, self.cfg
        for i in self.ids:
            srv = self.servers[i]
            if srv is None:
                if self.now >= self.down_until[i]:
                    self._boot(i)
            elif rng.random() < cfg.crash_rate:
                self._crash(i)
        if rng.random() < cfg.partition_rate:
            self.stats["partitions"] += 1
            for i in self.ids:
                self.group[i] = rng.randrange(2)
        elif rng.random() < cfg.heal_rate:
            for i in self.ids:
                self.group[i] = 0

    def _crash(self, i: NodeId) -> None:
        self.stats["crashes"] += 1
        srv = self.servers[i]
        assert srv is not None
        # Lazy persistence: some unsynced Readys may be lost with the process.
        if srv.lazy:
            keep = self.rng.randrange(len(srv.lazy) + 1)
            for r in srv.lazy[:keep]:
                self._persist(i, r)
        self.servers[i] = None
        self.down_until[i] = self.now + self.rng.randint(*self.cfg.down_ticks)

    # ------------------------------------------------------------------ main loop

    def _deliver_due(self) -> None:
        while self.queue and self.queue[0][0] <= self.now:
            _, _, _, m = heapq.heappop(self.queue)
            if self.faults_on and self.group[m.src] != self.group[m.dst]:
                continue
            srv = self.servers[m.dst]
            if srv is None:
                continue
            self._handle(m.dst, srv.node.step(m))

    def _maybe_compact(self) -> None:
        every = self.cfg.snapshot_every
        if not every:
            return
        for i, srv in self.servers.items():
            if srv is None:
                continue
            node = srv.node
            if srv.kv.applied_index - node.log.snapshot_index >= every:
                self.stats["compactions"] += 1
                self._handle(i, node.compact(srv.kv.applied_index, srv.kv.snapshot()))

    def step(self) -> None:
        """One tick of simulated time."""
        self.now += 1
        if self.faults_on:
            self._faults()
        self._deliver_due()
        for i in self.ids:
            srv = self.servers[i]
            if srv is not None:
                self._handle(i, srv.node.tick())
        for c in range(self.cfg.clients):
            self._client_act(c)
        if self.cfg.change_rate:
            self.operator.act(self.now, self.rng.random() < self.cfg.change_rate)
        self._maybe_compact()
        if self.cfg.lazy_persist:
            # A lazy node syncs now and then, so a crash can lose what it already sent.
            self._flush_lazy(0.3)

    def _settled(self) -> bool:
        if any(r is not None for r in self.client_req):
            return False
        alive = [s for s in self.servers.values() if s is not None]
        leaders = [s.node for s in alive if s.node.is_leader]
        if len(alive) != len(self.ids) or len(leaders) != 1:
            return False
        leader = leaders[0]
        if leader.learner is not None or not leader.configuration_committed:
            return False
        # Every member has applied the leader's whole log; a server outside the configuration
        # no longer hears from the leader, so it is not waited for.
        target = leader.log.last_index
        members = [self.servers[m] for m in leader.configuration.ids]
        return all(s is not None and s.kv.applied_index == target for s in members)

    # ------------------------------------------------------------------ manual control
    # Used by stateful tests that choose every step themselves (faults stay off in the config).

    def pending(self) -> int:
        """Number of messages in flight."""
        return len(self.queue)

    def _take_nth(self, k: int) -> Message:
        order = sorted(self.queue)
        item = order[k % len(order)]
        self.queue.remove(item)
        heapq.heapify(self.queue)
        return item[3]

    def deliver_nth(self, k: int) -> None:
        """Deliver the k-th message in flight now, whatever its scheduled time."""
        m = self._take_nth(k)
        srv = self.servers[m.dst]
        if srv is not None and self.group[m.src] == self.group[m.dst]:
            self._handle(m.dst, srv.node.step(m))

    def drop_nth(self, k: int) -> None:
        """Lose the k-th message in flight."""
        self._take_nth(k)

    def duplicate_nth(self, k: int) -> None:
        """Send the k-th message in flight a second time."""
        m = sorted(self.queue)[k % len(self.queue)][3]
        self._qseq += 1
        heapq.heappush(self.queue, (self.now, self.rng.random(), self._qseq, m))

    def tick_node(self, i: NodeId) -> None:
        """One tick for one node (if it is up)."""
        srv = self.servers[i]
        if srv is not None:
            self._handle(i, srv.node.tick())

    def crash_node(self, i: NodeId) -> None:
        """Crash a node now (no-op if it is down)."""
        if self.servers[i] is not None:
            self._crash(i)

    def restart_node(self, i: NodeId) -> None:
        """Restart a crashed node from its storage (no-op if it is up)."""
        if self.servers[i] is None:
            self._boot(i)

    def client_step(self, c: int) -> None:
        """Let client ``c`` act once (start a write or read, or retry one that timed out)."""
        self._client_act(c % self.cfg.clients)

    def change_membership(self, kind: str, server: NodeId) -> bool:
        """Ask the leader of the highest term now up to add (``"add"``), remove (``"remove"``)
        or hand leadership to (``"transfer"``) ``server``; False if there is no leader or it
        refuses."""
        leaders = [s.node for s in self.servers.values() if s is not None and s.node.is_leader]
        if not leaders:
            return False
        node = max(leaders, key=lambda n: n.term)
        return self.operator.ask(node, kind, server)

    def run(self) -> SimResult:
        """Faulty phase, then heal and settle, then the end-of-run checks."""
        for _ in range(self.cfg.ticks):
            self.step()
        return self.finish()

    def finish(self) -> SimResult:
        """Heal everything, let the cluster converge without faults, run the end checks."""
        # Settle: no more faults; everyone comes back; clients finish what they started.
        self.faults_on = False
        self._flush_lazy()
        for i in self.ids:
            self.group[i] = 0
            if self.servers[i] is None:
                self._boot(i)
        saved = self.cfg
        self.cfg = replace(saved, write_rate=0.0, read_rate=0.0, change_rate=0.0)
        for _ in range(self.cfg.settle_ticks):
            self.step()
            if self._settled():
                break
        else:
            self._fail(
                "liveness: the cluster did not converge in the fault-free tail "
                f"({[s.node.status() if s else None for s in self.servers.values()]})"
            )
        self.cfg = saved
        self.check_final()
        return SimResult(
            seed=self.seed,
            ticks=self.now,
            acked_writes=len(self.acked),
            reads=self.reads_done,
            leaders=dict(self.leaders),
            crashes=self.stats["crashes"],
            messages=self.stats["messages"],
            committed=max(self.applied) if self.applied else 0,
            snapshots_installed=self.stats["snapshots_installed"],
            stats=dict(self.stats),
        )

    # ------------------------------------------------------------------ end-of-run checks

    def check_final(self) -> None:
        """Leader Completeness, Log Matching on the final logs, and acknowledged writes."""
        # Leader Completeness: an entry committed while its observer was in term t is in the log
        # of every leader of a term > t (or covered by that leader's snapshot).
        for term, lid, snap_index, terms in self.leader_logs:
            for idx, (eterm, obs_term) in self.committed.items():
                if obs_term < term and idx > snap_index:
                    have = terms[idx - 1] if idx <= len(terms) else None
                    if have != eterm:
                        self._fail(
                            f"Leader Completeness: leader {lid} of term {term} lacks entry "
                            f"{idx} (term {eterm}) committed in term {obs_term}"
                        )
        # Log Matching on the final persisted logs, pairwise.
        logs = {i: {e.index: e for e in self.storage[i].entries} for i in self.ids}
        for a in self.ids:
            for b in self.ids:
                if a >= b:
                    continue
                common = sorted(set(logs[a]) & set(logs[b]), reverse=True)
                agreed = False
                for idx in common:
                    ea, eb = logs[a][idx], logs[b][idx]
                    if agreed or ea.term == eb.term:
                        agreed = True
                        if ea != eb:
                            self._fail(f"Log Matching: {a} and {b} differ at {idx}")
        # The committed log, replayed: each acknowledged write ran exactly once, with the
        # result the client saw, and every replica ends in the replayed state.
        if self.applied and sorted(self.applied) != list(range(1, max(self.applied) + 1)):
            self._fail("some committed index was never applied anywhere")
        replay = KVStore()
        executed: dict[tuple[str, int], int] = {}
        results: dict[tuple[str, int], Result] = {}
        for idx in sorted(self.applied):
            e = self.applied[idx]
            res = replay.apply(e)
            if res is not None and e.data:
                cmd = Command.decode(e.data)
                key = (cmd.client_id or "", cmd.seq)
                if not res.duplicate:
                    executed[key] = executed.get(key, 0) + 1
                    results[key] = res
        for key, n in executed.items():
            if n > 1:
                self._fail(f"command {key} executed {n} times: sessions failed")
        for key, (cmd, res) in self.acked.items():
            n = executed.get(key, 0)
            if n != 1:
                self._fail(f"acknowledged write {cmd} executed {n} times in the committed log")
            if results[key].to_dict() != res.to_dict():
                self._fail(f"acknowledged write {cmd}: client saw {res}, log says {results[key]}")
            if replay.data.get(cmd.key, 0) < cmd.value:  # type: ignore[operator]
                self._fail(f"acknowledged write {cmd} lost from the final state")
        self._check_replicas(replay)

    def _check_replicas(self, final: KVStore) -> None:
        """Every member of the final configuration holds the state of the whole committed log;
        a server outside it holds the state of the committed log up to where it applied."""
        leader = next(s.node for s in self.servers.values() if s is not None and s.node.is_leader)
        members = set(leader.configuration.ids)
        others = sorted(
            (srv.kv.applied_index, i)
            for i, srv in self.servers.items()
            if srv is not None and i not in members
        )
        replay = KVStore()
        for idx in sorted(self.applied):
            while others and others[0][0] < idx:
                self._check_replica(others.pop(0)[1], replay)
            replay.apply(self.applied[idx])
        for _, i in others:
            self._check_replica(i, replay)
        for i in members:
            self._check_replica(i, final)

    def _check_replica(self, i: NodeId, expected: KVStore) -> None:
        srv = self.servers[i]
        assert srv is not None
        if srv.kv.data != expected.data:
            self._fail(f"replica {i} state differs from the committed log's")


def run_seed(seed: int, config: SimConfig | None = None) -> SimResult:
    """Run one seeded simulation and its checks (raises ``SafetyViolation``)."""
    return Simulation(config, seed).run()
