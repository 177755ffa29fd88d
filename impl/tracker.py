"""What a leader knows of its followers, and what a candidate knows of its votes.

``Progress`` is Figure 2's nextIndex and matchIndex for one follower, plus the flow control a
production leader needs (probing one message at a time, pipelining up to a window, waiting for a
snapshot). ``ProgressTracker`` holds one per follower, the votes of an election, and the voters
whose majorities count (``quorum``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum

from .messages import NodeId
from .quorum import VoteOutcome, committed_index, majority, vote_outcome


class ProgressState(Enum):
    """Replication progress of one follower, as seen by the leader."""

    PROBE = "probe"  # one AppendEntries at a time until we find where the logs match
    REPLICATE = "replicate"  # logs match: stream entries, up to max_inflight messages ahead
    SNAPSHOT = "snapshot"  # the entries it needs are compacted: an InstallSnapshot is on its way


class Progress:
    """The leader's view of one follower (Figure 2's nextIndex and matchIndex, plus flow
    control)."""

    __slots__ = (
        "match",
        "next",
        "state",
        "paused",
        "inflight",
        "pending_snapshot",
        "snapshot_wait",
        "recent_active",
        "acked_round",
    )

    def __init__(self, next_index: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.paused = False
        self.inflight: list[int] = []  # last index of each unacknowledged AppendEntries
        self.pending_snapshot = 0
        self.snapshot_wait = 0
        self.recent_active = False
        self.acked_round = 0

    def __repr__(self) -> str:
        return f"Progress(match={self.match}, next={self.next}, state={self.state})"

    def become_probe(self, next_index: int) -> None:
        """Send one AppendEntries at a time from ``next_index`` until the logs are found to
        match."""
        self.state = ProgressState.PROBE
        self.paused = False
        self.next = next_index
        self.inflight.clear()

    def become_replicate(self) -> None:
        """The logs agree up to ``match``: stream from there on."""
        self.state = ProgressState.REPLICATE
        self.next = self.match + 1
        self.inflight.clear()

    def become_snapshot(self, index: int, wait: int) -> None:
        """A snapshot up to ``index`` is on its way; give up on it after ``wait`` heartbeats."""
        self.state = ProgressState.SNAPSHOT
        self.pending_snapshot = index
        self.snapshot_wait = wait
        self.inflight.clear()

    def is_paused(self, max_inflight: int, heartbeat: bool) -> bool:
        """True if flow control forbids sending entries now (a heartbeat may unpause a probe)."""
        if self.state == ProgressState.SNAPSHOT:
            return True
        if self.state == ProgressState.PROBE:
            return self.paused and not heartbeat
        return len(self.inflight) >= max_inflight

    def sent_entries(self, last: int | None) -> None:
        """An AppendEntries left, ending at ``last`` (None for no entries)."""
        if self.state == ProgressState.PROBE:
            self.paused = True
        elif last is not None:
            # Pipelining: assume the batch arrives; a rejection sends us back to probing.
            self.next = last + 1
            self.inflight.append(last)

    def accepted(self, match_index: int) -> bool:
        """The follower accepted an AppendEntries up to ``match_index``. Returns True if its
        match index moved."""
        progressed = match_index > self.match
        if progressed:
            self.match = match_index
        if self.state == ProgressState.PROBE:
            self.become_replicate()
        elif self.state == ProgressState.REPLICATE:
            if progressed:
                self.next = max(self.next, self.match + 1)
                self.inflight = [i for i in self.inflight if i > self.match]
            elif self.inflight:
                # A heartbeat answer with no progress: if messages were lost the window would
                # stay full forever; free a slot so replication resumes (a gap is then rejected
                # and we fall back to probing).
                self.inflight.pop(0)
            elif self.next > self.match + 1:
                # Nothing is in flight any more, yet the follower is behind what we sent: the
                # last batches were lost. Send them again.
                self.next = self.match + 1
        elif self.match >= self.pending_snapshot:
            self.become_replicate()
        return progressed

    def is_stale_rejection(self, prev_log_index: int) -> bool:
        """True if a rejection of the AppendEntries at ``prev_log_index`` answers a message
        older than what we already know (so it must be ignored)."""
        if self.state == ProgressState.REPLICATE:
            return prev_log_index <= self.match
        if self.state == ProgressState.PROBE:
            return prev_log_index != self.next - 1
        return True

    def rejected(self, prev_log_index: int, hint: int) -> None:
        """The follower rejected the AppendEntries at ``prev_log_index``; ``hint`` is where its
        answer says to retry. Probe from there (never below what it already matched)."""
        self.become_probe(max(self.match + 1, min(hint, prev_log_index)))


class ProgressTracker:
    """The followers' progress (on a leader), the votes (on a (pre-)candidate) and the voters
    whose majorities decide both: the members of the node's configuration (§4.1: "majorities
    counted in the configuration"). A leader also tracks learners, servers it replicates to
    that do not count until a configuration names them."""

    __slots__ = ("id", "voters", "progress", "votes")

    def __init__(self, node_id: NodeId, voters: tuple[NodeId, ...]) -> None:
        self.id = node_id
        self.voters = voters
        self.progress: dict[NodeId, Progress] = {}
        self.votes: dict[NodeId, bool] = {}

    @property
    def quorum(self) -> int:
        """Size of a majority of the voters."""
        return majority(len(self.voters))

    @property
    def is_voter(self) -> bool:
        """True if this node is one of the voters."""
        return self.id in self.voters

    @property
    def alone(self) -> bool:
        """True if this node alone is a majority (a configuration of one: itself)."""
        return self.voters == (self.id,)

    def __iter__(self) -> Iterator[tuple[NodeId, Progress]]:
        return iter(self.progress.items())

    def __getitem__(self, peer: NodeId) -> Progress:
        return self.progress[peer]

    def get(self, peer: NodeId) -> Progress | None:
        """The progress of ``peer``; None if this node does not replicate to it."""
        return self.progress.get(peer)

    def peers(self) -> tuple[NodeId, ...]:
        """The voters other than this node (whom a candidate asks, and a leader replicates to)."""
        return tuple(p for p in self.voters if p != self.id)

    def reset_progress(self, next_index: int) -> None:
        """A new leader: every other voter starts probing at ``next_index``."""
        self.progress = {p: Progress(next_index) for p in self.peers()}

    def clear_progress(self) -> None:
        """No longer the leader."""
        self.progress = {}

    def sync_progress(self, next_index: int, learner: NodeId | None) -> None:
        """On a leader whose configuration changed: a new voter starts probing at
        ``next_index``; a server that is neither a voter nor ``learner`` is dropped."""
        for p in self.peers():
            if p not in self.progress:
                self.progress[p] = Progress(next_index)
        for p in [p for p in self.progress if p not in self.voters and p != learner]:
            del self.progress[p]

    def add_learner(self, peer: NodeId, next_index: int) -> Progress:
        """Start replicating to ``peer``, which does not count in majorities."""
        pr = self.progress[peer] = Progress(next_index)
        return pr

    def committed_index(self, own_last: int) -> int:
        """The largest index a majority of the voters has stored (this node's own log counts with
        ``own_last`` if it is a voter)."""
        indices = []
        for v in self.voters:
            if v == self.id:
                indices.append(own_last)
            else:
                pr = self.progress.get(v)
                indices.append(pr.match if pr is not None else 0)
        return committed_index(indices)

    def reset_votes(self) -> None:
        """A new election: this node votes for itself."""
        self.votes = {self.id: True}

    def record_vote(self, voter: NodeId, granted: bool) -> None:
        """An answer to this node's (pre-)vote request."""
        self.votes[voter] = granted

    def tally(self) -> VoteOutcome:
        """Where the election stands."""
        return vote_outcome(self.votes, self.voters)

    def granted(self) -> list[NodeId]:
        """The voters who granted their vote, sorted."""
        return sorted(p for p, ok in self.votes.items() if ok)

    def _count(self, heard: Callable[[Progress], bool]) -> int:
        # The voters that ``heard`` says answered, this node included if it is one.
        n = 0
        for v in self.voters:
            if v == self.id:
                n += 1
            else:
                pr = self.progress.get(v)
                if pr is not None and heard(pr):
                    n += 1
        return n

    def quorum_active(self) -> bool:
        """True if a majority of the voters was heard from since the last check; starts the next
        check."""
        if self._count(lambda pr: pr.recent_active) < self.quorum:
            return False
        for pr in self.progress.values():
            pr.recent_active = False
        return True

    def acknowledged(self, round_: int) -> bool:
        """True if a majority of the voters acknowledged a message of ``round_`` or later."""
        return self._count(lambda pr: pr.acked_round >= round_) >= self.quorum
