"""A leader's work: replicating its log to each follower under flow control, committing what a
majority stored, and confirming ReadIndex reads.

Figure 2, rules for leaders: "upon election: send initial empty AppendEntries RPCs (heartbeat)
to each server; repeat during idle periods"; "if last log index >= nextIndex for a follower:
send AppendEntries RPC with log entries starting at nextIndex"; on success "update nextIndex and
matchIndex for follower", on a rejection "decrement nextIndex and retry"; "if there exists an N
such that N > commitIndex, a majority of matchIndex[i] >= N, and log[N].term == currentTerm: set
commitIndex = N". When a follower needs entries the leader has compacted, it sends its snapshot
instead (Figure 13).

``Replication`` is the leader's half of ``Node`` (``node.py``), kept in a module of its own as
etcd keeps its leader's flow control apart; the follower's half (accepting entries) is in
``node.py`` with the other message handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import CLIENT_REQUEST, READ_INDEX_CONFIRMED, Observer
from .log import RaftLog
from .messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    Message,
    NodeId,
    Snapshot,
)
from .read_only import ReadOnly
from .ready import Outbox, ReadState
from .role import Role
from .tracker import Progress, ProgressState, ProgressTracker

if TYPE_CHECKING:
    from .config import Config
    from .membership import Configurations


class Replication:
    """The leader's side of log replication; a base of ``Node``, whose state it uses."""

    if TYPE_CHECKING:
        id: NodeId
        config: Config
        term: int
        role: Role
        commit_index: int
        log: RaftLog
        tracker: ProgressTracker
        reads: ReadOnly
        _snapshot: Snapshot | None
        _observer: Observer | None
        _out: Outbox
        _election_elapsed: int
        _heartbeat_elapsed: int
        configs: Configurations

        def _send(self, msg: Message) -> None: ...
        def _next_id(self) -> str: ...
        def _emit(self, kind: str, msg: Message | None = None, **info: Any) -> None: ...
        def _set_commit(self, index: int) -> None: ...
        def _become_follower(
            self, term: int, leader: NodeId | None, removed: bool = False
        ) -> None: ...
        def _tick_changes(self) -> None: ...
        def _learner_answered(self, peer: NodeId, pr: Progress) -> None: ...

    def _tick_leader(self) -> None:
        self._tick_changes()
        self._heartbeat_elapsed += 1
        self._election_elapsed += 1
        if self._election_elapsed >= self.config.election_tick:
            self._election_elapsed = 0
            if self.config.check_quorum and not self.tracker.quorum_active():
                self._become_follower(self.term, None)
                return
        if self._heartbeat_elapsed >= self.config.heartbeat_tick:
            self._heartbeat_elapsed = 0
            self._broadcast_heartbeat()

    def _leader_append(self, entries: list[Entry]) -> None:
        for e in entries:
            # One at a time: the event of each entry shows the log holding it and not the next
            # ones yet (a trace of a batch shows the log growing by one at every event).
            self.log.append((e,))
            if self._observer is not None:
                self._emit(CLIENT_REQUEST, index=e.index, term=e.term, entry_kind=e.kind)
        self._out.entries.extend(entries)
        self._maybe_commit()
        for peer in list(self.tracker.progress):
            self._send_append(peer)

    def _broadcast_heartbeat(self) -> None:
        for peer, pr in self.tracker:
            if pr.state == ProgressState.SNAPSHOT:
                pr.snapshot_wait -= 1
                if pr.snapshot_wait > 0:
                    continue
                # No answer to the snapshot for a while: assume it was lost and probe again.
                pr.become_probe(pr.match + 1)
                self._send_append(peer)
            elif pr.state == ProgressState.PROBE:
                pr.paused = False
                self._send_append(peer, heartbeat=True)
            else:
                self._send_heartbeat(peer, pr)

    def _send_heartbeat(self, peer: NodeId, pr: Progress) -> None:
        # Anchor the heartbeat at the known match point, not at `next`: with entries in flight
        # a heartbeat that overtakes them would otherwise be rejected for a gap.
        prev = pr.match
        prev_term = self.log.term_at(prev)
        if prev_term is None:
            # The match point was compacted away; anchor at the snapshot instead. A follower that
            # lacks it rejects, which leads to probing and then to an InstallSnapshot.
            prev, prev_term = self.log.snapshot_index, self.log.snapshot_term
        self._send_append_entries(peer, prev, prev_term, (), min(self.commit_index, prev))

    def _send_append(self, peer: NodeId, heartbeat: bool = False) -> bool:
        """Send what ``peer`` needs next, if flow control allows. Returns True if sent."""
        pr = self.tracker[peer]
        if pr.is_paused(self.config.max_inflight, heartbeat):
            return False
        prev = pr.next - 1
        prev_term = self.log.term_at(prev)
        if prev_term is None:
            return self._send_snapshot(peer, pr)
        last = self.log.last_index
        if pr.state == ProgressState.REPLICATE and pr.next > last:
            return False  # nothing new; heartbeats keep the follower's timer reset
        entries: tuple[Entry, ...] = ()
        if pr.next <= last:
            entries = self.log.slice(
                pr.next, last, self.config.max_entries_per_msg, self.config.max_bytes_per_msg
            )
        self._send_append_entries(peer, prev, prev_term, entries, self.commit_index)
        pr.sent_entries(entries[-1].index if entries else None)
        return True

    def _send_append_entries(
        self, peer: NodeId, prev: int, prev_term: int, entries: tuple[Entry, ...], commit: int
    ) -> None:
        msg = AppendEntries(
            self.term, self.id, peer, self._next_id(), prev, prev_term, entries, commit,
            self.reads.round,
        )  # fmt: skip
        self._send(msg)

    def _send_snapshot(self, peer: NodeId, pr: Progress) -> bool:
        snap = self._snapshot
        if snap is None:  # cannot happen: entries are only compacted into a snapshot
            raise AssertionError("log compacted without a snapshot")
        pr.become_snapshot(snap.index, self.config.election_tick)
        self._send(
            InstallSnapshot(
                self.term,
                self.id,
                peer,
                self._next_id(),
                snap.index,
                snap.term,
                snap.data,
                self.reads.round,
                snap.membership,
            )
        )
        return True

    def _maybe_commit(self) -> None:
        # Figure 2, leaders: N is the largest index replicated on a majority (our own log counts
        # once it is persisted, which the Ready contract ensures before anyone hears about it).
        n = self.tracker.committed_index(self.log.last_index)
        # §5.4.2: only an entry of the current term is committed by counting replicas.
        if n > self.commit_index and self.log.term_at(n) == self.term:
            first_of_term = self.log.term_at(self.commit_index) != self.term
            self._set_commit(n)
            if first_of_term and self.reads.waiting_commit:
                self._register_reads(self.reads.take_waiting())
            if not self.tracker.is_voter and self.commit_index >= self.configs.latest_index:
                # §4.2.2: a leader that the committed configuration leaves out steps down.
                self._become_follower(self.term, None, removed=True)

    def _register_reads(self, requests: list[Any]) -> None:
        index = self.commit_index
        if self.tracker.alone:
            for r in requests:
                self._confirm_read(r, index)
            return
        self.reads.start_round(requests, index)
        for peer, pr in self.tracker:
            if pr.state == ProgressState.SNAPSHOT:
                self._send_snapshot(peer, pr)
            else:
                self._send_heartbeat(peer, pr)

    def _confirm_read(self, request: Any, index: int) -> None:
        # applied_index reaches commit_index (>= index) in the same Ready, so the caller can serve
        # the read after applying that Ready's committed entries.
        self._out.reads.append(ReadState(request, index))
        if self._observer is not None:
            self._emit(READ_INDEX_CONFIRMED, index=index)

    def _check_reads(self) -> None:
        for r in self.reads.confirmed(self.tracker.acknowledged):
            self._confirm_read(r.request, r.index)

    # ------------------------------------------------------------------ answers from followers

    def _handle_append_response(self, m: AppendEntriesResponse) -> None:
        if self.role != Role.LEADER:
            return
        pr = self.tracker.get(m.src)
        if pr is None:
            return  # a server this leader no longer replicates to (removed, or a dropped learner)
        pr.recent_active = True
        if m.round > pr.acked_round:
            pr.acked_round = m.round
            self._check_reads()
        if m.success:
            if pr.accepted(m.match_index):
                self._maybe_commit()
            if self.role != Role.LEADER:
                return  # the commit removed this leader
            self._learner_answered(m.src, pr)
            while m.src in self.tracker.progress and self._send_append(m.src):
                if pr.state != ProgressState.REPLICATE:
                    break
            return
        # Rejected. Ignore answers to messages older than what we already know.
        self._learner_answered(m.src, pr)
        if pr.is_stale_rejection(m.prev_log_index):
            return
        hint = m.conflict_index
        if m.conflict_term:
            last_of_term = self.log.last_index_of_term(m.conflict_term)
            if last_of_term > 0:
                hint = last_of_term + 1
        pr.rejected(m.prev_log_index, hint)
        self._send_append(m.src)

    def _handle_snapshot_response(self, m: InstallSnapshotResponse) -> None:
        if self.role != Role.LEADER:
            return
        pr = self.tracker.get(m.src)
        if pr is None:
            return
        pr.recent_active = True
        if m.round > pr.acked_round:
            pr.acked_round = m.round
            self._check_reads()
        if m.match_index > pr.match:
            pr.match = m.match_index
            self._maybe_commit()
            if self.role != Role.LEADER:
                return
        installed = pr.state == ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot
        if installed:
            pr.become_probe(pr.match + 1)
        self._learner_answered(m.src, pr)
        if installed and m.src in self.tracker.progress:
            self._send_append(m.src)
