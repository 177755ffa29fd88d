"""The sans-IO Raft protocol core: one deterministic state machine per node.

A ``Node`` owns no socket, clock, thread or file. The caller feeds it inputs:

- ``step(msg)``: a message from a peer,
- ``tick()``: one unit of logical time (elections and heartbeats count ticks),
- ``propose(data)`` / ``propose_many(datas)``: a client command (leader only),
- ``read_index(request)``: a linearizable read (leader only),
- ``compact(index, data)``: the application took a snapshot of its state machine,

and every call returns a ``Ready``: the IO the caller must now perform, persisting before sending
(``ready.py`` states the contract). Given the same config, RNG seed and inputs, a node produces
the same outputs (tests and traces rely on this).

The node's parts are kept apart as etcd/raft keeps them: the log (``log.py``), the followers'
progress and the votes (``tracker.py``), majorities (``quorum.py``), ReadIndex reads
(``read_only.py``) and the Ready with the IO a call accumulates (``ready.py``). This module holds
the roles and the handling of every input and message.

The protocol follows Figure 2 of the Raft paper and chapter 3 of Ongaro's dissertation, with
PreVote and leader stickiness (§9.6), the leader's no-op entry (§6.4), ReadIndex (§6.4),
snapshots and InstallSnapshot (§5 / Figure 13), fast log back-off, batching and pipelining.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .config import Config
from .events import (
    ADVANCE_COMMIT_INDEX,
    BECOME_CANDIDATE,
    BECOME_FOLLOWER,
    BECOME_LEADER,
    BECOME_PRECANDIDATE,
    COMPACTED,
    CONFIGURATION_CHANGED,
    CONFIGURATION_COMMITTED,
    ENTRIES_APPENDED,
    LOG_TRUNCATED,
    RECEIVE,
    RESTART,
    SEND,
    SNAPSHOT_INSTALLED,
    Event,
    NodeState,
    Observer,
)
from .log import RaftLog
from .membership import Configurations, Membership, initial_membership
from .membership_changes import MembershipChanges
from .messages import (
    ENTRY_NOOP,
    ENTRY_NORMAL,
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    NodeId,
    PreVote,
    PreVoteResponse,
    RequestVote,
    RequestVoteResponse,
    Snapshot,
    TimeoutNow,
)
from .quorum import VoteOutcome
from .read_only import ReadOnly
from .ready import HardState, Outbox, Ready
from .replication import Replication
from .role import NotLeader, Role
from .tracker import Progress, ProgressTracker

# Messages only a leader sends: their sender is the leader of their term.
_FROM_LEADER = (AppendEntries, InstallSnapshot, TimeoutNow)


class Node(Replication, MembershipChanges):
    """One Raft server's protocol state machine. See the module docstring for the contract."""

    def __init__(
        self,
        config: Config,
        rng: random.Random,
        *,
        hard_state: HardState | None = None,
        snapshot: Snapshot | None = None,
        entries: Sequence[Entry] = (),
        boot: int = 0,
        observer: Observer | None = None,
    ) -> None:
        """Build a node from what storage holds (nothing, for a brand-new node).

        ``boot`` must differ between starts of the same node (e.g. a persisted start counter):
        it makes message ids unique across restarts. ``rng`` drives the randomized election
        timeouts; seed it for reproducible runs.
        """
        self.config = config
        self.id: NodeId = config.id
        self._rng = rng
        self._observer = observer
        self._boot = boot
        self._msg_counter = 0
        hs = hard_state or HardState()
        self.term = hs.term
        self.vote: NodeId | None = hs.vote
        self._persisted_hs = hs
        self._snapshot = snapshot
        if snapshot is not None:
            self.log = RaftLog(snapshot.index, snapshot.term, tuple(entries))
        else:
            self.log = RaftLog(0, 0, tuple(entries))
        self.commit_index = self.log.snapshot_index
        self.applied_index = self.log.snapshot_index
        self.role = Role.FOLLOWER
        self.leader_id: NodeId | None = None
        self._election_elapsed = 0
        self._heartbeat_elapsed = 0
        self._randomized_timeout = self._new_timeout()
        self._initial = initial_membership(config.peers, config.addresses)
        base = self._initial
        if snapshot is not None and snapshot.membership:
            base = Membership.decode(snapshot.membership, "snapshot")
        self.configs = Configurations(self.log.snapshot_index, base, self.log.entries())
        self.tracker = ProgressTracker(self.id, self.configs.latest.ids)
        self._catch_up = None
        self._transfer = None
        self.reads = ReadOnly()
        self._started = False
        # Output accumulated during one call, returned (and emptied) by _take_ready.
        self._out = Outbox()

    # ------------------------------------------------------------------ public inputs

    def start(self) -> Ready:
        """First call after construction: reports the restart and asks the caller to restore the
        state machine from the snapshot it was built with (if any)."""
        self._ensure_started()
        return self._take_ready()

    def tick(self) -> Ready:
        """Advance logical time by one tick: may start an election or send heartbeats."""
        self._ensure_started()
        if self.role == Role.LEADER:
            self._tick_leader()
        else:
            self._election_elapsed += 1
            if self._election_elapsed >= self._randomized_timeout and self._may_campaign():
                self._campaign()
        return self._take_ready()

    def campaign(self) -> Ready:
        """Start an election now, as if the election timeout had fired (PreVote first if on)."""
        self._ensure_started()
        if self.role != Role.LEADER and self._may_campaign():
            self._campaign()
        return self._take_ready()

    def step(self, msg: Message) -> Ready:
        """Handle a message from a peer. Messages for another node are ignored; stale ones are
        answered or dropped as Figure 2 says. The sender's membership is not consulted (§4.1:
        "servers process incoming RPC requests without consulting their current
        configurations"): a new server must answer a leader it has never been told of."""
        self._ensure_started()
        if self._observer is not None:
            self._emit(RECEIVE, msg)
        if msg.dst != self.id or msg.src == self.id:
            return self._take_ready()
        self._step(msg)
        return self._take_ready()

    def propose(self, data: bytes) -> Ready:
        """Append a client command to the leader's log and start replicating it. The new entry
        is ``ready.entries[-1]``. Raises ``NotLeader`` on other roles."""
        return self.propose_many([data])

    def propose_many(self, datas: Sequence[bytes]) -> Ready:
        """Append several commands at once (one Ready, one fsync): the new entries are the last
        ``len(datas)`` of ``ready.entries``."""
        self._ensure_started()
        if self.role != Role.LEADER:
            raise NotLeader(self.leader_id)
        if self._transfer is not None:
            raise NotLeader(None)  # §3.10: no new commands while leadership is handed over
        base = self.log.last_index
        self._leader_append(
            [Entry(self.term, base + i + 1, bytes(d), ENTRY_NORMAL) for i, d in enumerate(datas)]
        )
        return self._take_ready()

    def read_index(self, request: Any) -> Ready:
        """Ask for a linearizable read (dissertation §6.4). ``request`` is an opaque token that
        comes back in ``Ready.read_states`` once a majority has confirmed this node is still the
        leader, or in ``Ready.dropped_reads`` if it loses leadership first. Raises ``NotLeader``
        on other roles."""
        self._ensure_started()
        if self.role != Role.LEADER:
            raise NotLeader(self.leader_id)
        if self.log.term_at(self.commit_index) != self.term:
            # Until an entry of its own term commits, a new leader's commit index may lag behind
            # what earlier leaders committed, so it cannot be a read index yet.
            self.reads.waiting_commit.append(request)
        else:
            self._register_reads([request])
        return self._take_ready()

    def compact(self, index: int, data: bytes) -> Ready:
        """The application snapshotted its state machine after applying entries up to
        ``index``; ``data`` is that snapshot. The log up to ``index`` is dropped and the snapshot
        is what lagging followers will be sent. The Ready asks to save it."""
        self._ensure_started()
        if index > self.applied_index:
            raise ValueError(f"compact: index {index} is beyond applied index {self.applied_index}")
        if index <= self.log.snapshot_index:
            return self._take_ready()
        term = self.log.term_at(index)
        assert term is not None
        membership = self.configs.at(index).encode()
        self.log.compact(index, term)
        self.configs.compacted(index)
        self._snapshot = Snapshot(index, term, bytes(data), membership)
        self._out.snapshot = self._snapshot
        if self._observer is not None:
            self._emit(COMPACTED, index=index, term=term)
        return self._take_ready()

    # ------------------------------------------------------------------ read-only views

    @property
    def progress(self) -> dict[NodeId, Progress]:
        """The leader's view of each follower (empty on other roles)."""
        return self.tracker.progress

    @property
    def is_leader(self) -> bool:
        """True if this node is the leader of its current term."""
        return self.role == Role.LEADER

    @property
    def last_index(self) -> int:
        """Index of the last log entry."""
        return self.log.last_index

    @property
    def last_term(self) -> int:
        """Term of the last log entry."""
        return self.log.last_term

    @property
    def hard_state(self) -> HardState:
        """Current term and vote (what the next Ready persists if it changed)."""
        return HardState(self.term, self.vote)

    @property
    def latest_snapshot(self) -> Snapshot | None:
        """The newest snapshot this node holds (taken locally or installed)."""
        return self._snapshot

    def state(self) -> NodeState:
        """The node's protocol state, as reported with every observer event."""
        log = self.log
        return NodeState(
            self.term,
            self.vote,
            self.role,
            self.commit_index,
            log.last_index,
            log.last_term,
            log.snapshot_index,
            log.snapshot_term,
        )

    def protocol_state(self) -> dict[str, Any]:
        """Every protocol variable in the spec's terms (raft.tla): for comparing the core with
        the spec step by step. ``log`` lists ``(term, kind)`` of the entries after the snapshot;
        ``votes_granted`` is meaningful for (pre)candidates, ``next_index`` and ``match_index`` for
        leaders (both include this node's own last index for uniformity)."""
        granted = self.tracker.granted()
        out: dict[str, Any] = {
            "term": self.term,
            "vote": self.vote,
            "role": self.role,
            "commit_index": self.commit_index,
            "snapshot_index": self.log.snapshot_index,
            "snapshot_term": self.log.snapshot_term,
            "log": [(e.term, e.kind) for e in self.log.entries()],
            "votes_granted": granted if self.role in (Role.CANDIDATE, Role.PRECANDIDATE) else [],
            "next_index": {},
            "match_index": {},
        }
        if self.role == Role.LEADER:
            out["next_index"] = {p: pr.next for p, pr in self.progress.items()}
            out["match_index"] = {p: pr.match for p, pr in self.progress.items()}
            out["next_index"][self.id] = self.log.last_index + 1
            out["match_index"][self.id] = self.log.last_index
        return out

    def status(self) -> dict[str, Any]:
        """A summary for operators (``raftkv status``)."""
        out: dict[str, Any] = {
            "id": self.id,
            "role": self.role.value,
            "term": self.term,
            "vote": self.vote,
            "leader": self.leader_id,
            "commit_index": self.commit_index,
            "applied_index": self.applied_index,
            "last_index": self.log.last_index,
            "last_term": self.log.last_term,
            "snapshot_index": self.log.snapshot_index,
            "configuration": list(self.configs.latest.ids),
            "configuration_index": self.configs.latest_index,
            "configuration_committed": self.configuration_committed,
        }
        if self.role == Role.LEADER:
            out["progress"] = {
                p: {"match": pr.match, "next": pr.next, "state": pr.state.value}
                for p, pr in self.progress.items()
            }
            out["learner"] = self.learner
            out["transferring_to"] = self.transferring_to
        return out

    # ------------------------------------------------------------------ output plumbing

    def _ensure_started(self) -> None:
        if self._started:
            return
        self._started = True
        if self._snapshot is not None:
            self._out.restore = self._snapshot
        if self._observer is not None:
            # The peers tell a trace validator the initial configuration (and so the quorum) from
            # the trace alone; a log that changed it says so next.
            self._emit(RESTART, boot=self._boot, peers=list(self.config.peers))
            if self.configs.latest != self._initial:
                self._emit(
                    CONFIGURATION_CHANGED,
                    members=list(self.configs.latest.ids),
                    index=self.configs.latest_index,
                    cause="restart",
                )

    def _emit(self, kind: str, msg: Message | None = None, **info: Any) -> None:
        # Callers guard with `if self._observer is not None` so that an unobserved node does not
        # even build the keyword dict.
        self._observer(Event(self.id, kind, self.state(), msg, info))  # type: ignore[misc]

    def _next_id(self) -> str:
        self._msg_counter += 1
        return f"{self.id}.{self._boot}.{self._msg_counter}"

    def _send(self, msg: Message) -> None:
        self._out.messages.append(msg)
        if self._observer is not None:
            self._emit(SEND, msg)

    def _take_ready(self) -> Ready:
        committed: tuple[Entry, ...] = ()
        if self.commit_index > self.applied_index:
            committed = self.log.slice(self.applied_index + 1, self.commit_index)
            self.applied_index = self.commit_index
        hs: HardState | None = None
        if self.term != self._persisted_hs.term or self.vote != self._persisted_hs.vote:
            hs = HardState(self.term, self.vote)
            self._persisted_hs = hs
        return self._out.take(hs, committed)

    def _record_truncate(self, index: int) -> None:
        self._out.truncate(index)

    # ------------------------------------------------------------------ roles

    def _new_timeout(self) -> int:
        et = self.config.election_tick
        return et + self._rng.randrange(et)

    def _reset_election_timer(self) -> None:
        self._election_elapsed = 0
        self._randomized_timeout = self._new_timeout()

    def _become_follower(self, term: int, leader: NodeId | None, removed: bool = False) -> None:
        was_leader = self.role == Role.LEADER
        changed = term != self.term or self.role != Role.FOLLOWER or leader != self.leader_id
        if term != self.term:
            self.term = term
            self.vote = None
        self.role = Role.FOLLOWER
        self.leader_id = leader
        self._reset_election_timer()
        if was_leader:
            self._leadership_lost()
            self.tracker.clear_progress()
            self._out.dropped.extend(self.reads.drop_all())
        if changed and self._observer is not None:
            if removed:
                self._emit(BECOME_FOLLOWER, leader=leader, removed=True)
            else:
                self._emit(BECOME_FOLLOWER, leader=leader)

    def _may_campaign(self) -> bool:
        """Whether this node may start an election: it is in its configuration, or it was in
        the one before and the entry that left it out is not known to be committed (§4.2.2:
        such a server "should still start new elections, as it might still be needed until the
        Cnew entry is committed"; its own vote does not count). A spare never campaigns."""
        if self.tracker.is_voter:
            return True
        before = self.configs.previous
        return (
            before is not None
            and self.id in before
            and self.commit_index < self.configs.latest_index
        )

    def _campaign(self) -> None:
        if self.config.pre_vote:
            self._become_precandidate()
        else:
            self._become_candidate()

    def _become_precandidate(self) -> None:
        # Neither term nor vote changes: a PreVote round that fails leaves no trace on anyone.
        self.role = Role.PRECANDIDATE
        self.leader_id = None
        self._reset_election_timer()
        self.tracker.reset_votes()
        if self._observer is not None:
            self._emit(BECOME_PRECANDIDATE)
        if self.tracker.tally() is VoteOutcome.WON:
            self._become_candidate()
            return
        for peer in self.tracker.peers():
            self._send(
                PreVote(
                    self.term + 1,
                    self.id,
                    peer,
                    self._next_id(),
                    self.log.last_index,
                    self.log.last_term,
                )
            )

    def _become_candidate(self, transfer: bool = False) -> None:
        # §5.2: increment currentTerm, vote for self, reset the election timer, ask everyone.
        self.role = Role.CANDIDATE
        self.term += 1
        self.vote = self.id
        self.leader_id = None
        self._reset_election_timer()
        self.tracker.reset_votes()
        if self._observer is not None:
            if transfer:
                self._emit(BECOME_CANDIDATE, transfer=True)
            else:
                self._emit(BECOME_CANDIDATE)
        if self.tracker.tally() is VoteOutcome.WON:
            self._become_leader()
            return
        for peer in self.tracker.peers():
            self._send(
                RequestVote(
                    self.term,
                    self.id,
                    peer,
                    self._next_id(),
                    self.log.last_index,
                    self.log.last_term,
                )
            )

    def _become_leader(self) -> None:
        self.role = Role.LEADER
        self.leader_id = self.id
        self._heartbeat_elapsed = 0
        self._election_elapsed = 0
        nxt = self.log.last_index + 1
        self.tracker.reset_progress(nxt)
        if self._observer is not None:
            self._emit(BECOME_LEADER)
        # §6.4 / §5.4.2: the leader cannot count replicas of earlier terms' entries; committing
        # a no-op of its own term commits them, and also tells it its real commit index.
        self._leader_append([Entry(self.term, nxt, b"", ENTRY_NOOP)])

    def _set_commit(self, index: int) -> None:
        old = self.commit_index
        self.commit_index = index
        if self._observer is not None:
            self._emit(ADVANCE_COMMIT_INDEX, old=old, new=index)
            if old < self.configs.entry_index <= index:
                self._emit(
                    CONFIGURATION_COMMITTED,
                    members=list(self.configs.latest.ids),
                    index=self.configs.entry_index,
                )

    # ------------------------------------------------------------------ message handling

    def _step(self, m: Message) -> None:
        if m.term > self.term:
            if isinstance(m, PreVote) or (isinstance(m, PreVoteResponse) and m.vote_granted):
                # A PreVote carries the term the sender *would* use; adopting it would defeat the
                # point of PreVote. A granted answer echoes that term back.
                pass
            else:
                # Figure 2, all servers: a higher term makes us a follower of that term.
                leader = (
                    m.src if isinstance(m, AppendEntries | InstallSnapshot | TimeoutNow) else None
                )
                self._become_follower(m.term, leader)
        elif m.term < self.term:
            # Stale sender. Answer requests so that an old leader or candidate learns the newer
            # term and steps down; drop stale responses.
            if isinstance(m, AppendEntries):
                self._send(
                    AppendEntriesResponse(
                        self.term, self.id, m.src, self._next_id(), False, 0, m.prev_log_index
                    )
                )
            elif isinstance(m, InstallSnapshot):
                self._send(InstallSnapshotResponse(self.term, self.id, m.src, self._next_id(), 0))
            elif isinstance(m, RequestVote):
                self._send(RequestVoteResponse(self.term, self.id, m.src, self._next_id(), False))
            elif isinstance(m, PreVote):
                self._send(PreVoteResponse(self.term, self.id, m.src, self._next_id(), False))
            return

        if isinstance(m, AppendEntries):
            self._handle_append_entries(m)
        elif isinstance(m, AppendEntriesResponse):
            self._handle_append_response(m)
        elif isinstance(m, RequestVote):
            self._handle_request_vote(m)
        elif isinstance(m, RequestVoteResponse):
            if self.role == Role.CANDIDATE and m.term == self.term:
                self.tracker.record_vote(m.src, m.vote_granted)
                outcome = self.tracker.tally()
                if outcome is VoteOutcome.WON:
                    self._become_leader()
                elif outcome is VoteOutcome.LOST:
                    self._become_follower(self.term, None)
        elif isinstance(m, PreVote):
            self._handle_pre_vote(m)
        elif isinstance(m, PreVoteResponse):
            # Refusals carry the responder's term, which may equal ours.
            if self.role == Role.PRECANDIDATE and (
                m.term == self.term + 1 or (m.term == self.term and not m.vote_granted)
            ):
                self.tracker.record_vote(m.src, m.vote_granted)
                outcome = self.tracker.tally()
                if outcome is VoteOutcome.WON:
                    self._become_candidate()
                elif outcome is VoteOutcome.LOST:
                    self._become_follower(self.term, None)
        elif isinstance(m, InstallSnapshot):
            self._handle_install_snapshot(m)
        elif isinstance(m, InstallSnapshotResponse):
            self._handle_snapshot_response(m)
        elif isinstance(m, TimeoutNow):
            self._handle_timeout_now(m)

    def _log_up_to_date(self, last_index: int, last_term: int) -> bool:
        # §5.4.1: compare last terms; with equal terms the longer log is more up to date.
        my_term = self.log.last_term
        return last_term > my_term or (last_term == my_term and last_index >= self.log.last_index)

    def _handle_request_vote(self, m: RequestVote) -> None:
        grant = (self.vote is None or self.vote == m.src) and self._log_up_to_date(
            m.last_log_index, m.last_log_term
        )
        if grant:
            self.vote = m.src
            # Figure 2, followers: granting a vote resets the election timer.
            self._reset_election_timer()
        self._send(RequestVoteResponse(self.term, self.id, m.src, self._next_id(), grant))

    def _handle_pre_vote(self, m: PreVote) -> None:
        # Leader stickiness (§9.6): while we hear from a leader, refuse to help depose it.
        in_lease = self.role == Role.LEADER or (
            self.leader_id is not None and self._election_elapsed < self.config.election_tick
        )
        grant = (
            m.term > self.term
            and not in_lease
            and self._log_up_to_date(m.last_log_index, m.last_log_term)
        )
        term = m.term if grant else self.term
        self._send(PreVoteResponse(term, self.id, m.src, self._next_id(), grant))

    def _handle_append_entries(self, m: AppendEntries) -> None:
        ents = m.entries
        if ents and (
            ents[0].index != m.prev_log_index + 1 or ents[-1].index != m.prev_log_index + len(ents)
        ):
            return  # malformed (message_from_wire refuses these); never let it touch the log
        # Same term: the sender is this term's leader (Election Safety); candidates give way.
        if self.role != Role.FOLLOWER or self.leader_id != m.src:
            self._become_follower(self.term, m.src)
        else:
            self._election_elapsed = 0
        prev, prev_term, entries = m.prev_log_index, m.prev_log_term, m.entries
        if prev < self.commit_index:
            # Our committed prefix is in every later leader's log (Leader Completeness), so skip
            # the part of the message it covers; this also handles a prefix we have compacted.
            skip = self.commit_index - prev
            entries = entries[skip:]
            prev = self.commit_index
            prev_term = self.log.term_at(prev)  # type: ignore[assignment]
        elif not self.log.matches(prev, prev_term):
            # Figure 2, receiver rule 2, with hints for the leader to skip a whole term at once.
            if prev > self.log.last_index:
                c_index, c_term = self.log.last_index + 1, 0
            else:
                c_term = self.log.term_at(prev) or 0
                c_index = self.log.first_index_of_term(prev)
            self._send(
                AppendEntriesResponse(
                    self.term,
                    self.id,
                    m.src,
                    self._next_id(),
                    False,
                    0,
                    m.prev_log_index,
                    c_index,
                    c_term,
                    m.round,
                )
            )
            return
        # Receiver rules 3 and 4: drop a conflicting suffix, append what is new. Entries that
        # already match are kept, so a duplicated or reordered message never truncates them.
        # Configuration entries take effect as they are appended (or removed), committed or not.
        new: list[Entry] = []
        truncated = False
        for i, e in enumerate(entries):
            t = self.log.term_at(e.index)
            if t is None:
                new = list(entries[i:])
                break
            if t != e.term:
                if e.index <= self.commit_index:
                    raise AssertionError(
                        f"{self.id}: leader {m.src} conflicts with committed entry {e.index}"
                    )
                self.log.truncate_from(e.index)
                self._record_truncate(e.index)
                if self._observer is not None:
                    self._emit(LOG_TRUNCATED, from_index=e.index)
                truncated = self.configs.truncated(e.index)
                new = list(entries[i:])
                break
        if new:
            self.log.append(new)
            self._out.entries.extend(new)
            if self._observer is not None:
                self._emit(ENTRIES_APPENDED, first=new[0].index, last=new[-1].index)
        appended = self.configs.appended(new)
        if truncated or appended:
            self._config_changed("append" if appended else "truncate")
        last_new = prev + len(entries)
        # Receiver rule 5: commitIndex = min(leaderCommit, index of last new entry).
        if m.leader_commit > self.commit_index:
            c = min(m.leader_commit, last_new)
            if c > self.commit_index:
                self._set_commit(c)
        self._send(
            AppendEntriesResponse(
                self.term,
                self.id,
                m.src,
                self._next_id(),
                True,
                last_new,
                m.prev_log_index,
                0,
                0,
                m.round,
            )
        )

    def _handle_install_snapshot(self, m: InstallSnapshot) -> None:
        if self.role != Role.FOLLOWER or self.leader_id != m.src:
            self._become_follower(self.term, m.src)
        else:
            self._election_elapsed = 0
        idx, term = m.last_included_index, m.last_included_term
        if idx > self.commit_index:
            keeps_suffix = self.log.matches(idx, term)
            had_last = self.log.last_index
            self.log.compact(idx, term)
            membership = self._initial
            if m.membership:
                membership = Membership.decode(m.membership, "InstallSnapshot.membership")
            changed = self.configs.installed(idx, membership, keeps_suffix)
            snap = Snapshot(idx, term, bytes(m.data), m.membership)
            self._snapshot = snap
            self._out.snapshot = snap
            self._out.restore = snap
            if not keeps_suffix:
                # Figure 13 rule 7: the log disagrees with the snapshot, so discard all of it.
                self._out.entries = []
                if had_last > idx:
                    self._record_truncate(idx + 1)
            else:
                self._out.entries = [e for e in self._out.entries if e.index > idx]
            self._set_commit(idx)
            self.applied_index = idx
            if self._observer is not None:
                self._emit(SNAPSHOT_INSTALLED, index=idx, term=term)
            if changed:
                self._config_changed("snapshot")
        self._send(
            InstallSnapshotResponse(
                self.term, self.id, m.src, self._next_id(), self.commit_index, m.round
            )
        )
