"""Linearizable reads without a log entry: ReadIndex (dissertation §6.4).

A leader that gets a read records its commit index as the read index, then confirms it is still
the leader by hearing from a majority in a *round* of heartbeats sent after the read arrived
(messages carry the round, answers echo it). Once confirmed, the read may be served as soon as
the state machine has applied the read index. A leader whose own term has not committed an
entry yet does not know the real commit index: its reads wait until it does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class PendingRead:
    """A read waiting for its round to be acknowledged by a majority."""

    __slots__ = ("request", "index", "round")

    def __init__(self, request: Any, index: int, round_: int) -> None:
        self.request = request
        self.index = index
        self.round = round_


class ReadOnly:
    """The reads of one leader: waiting for a commit of its term, or for their round."""

    __slots__ = ("round", "pending", "waiting_commit")

    def __init__(self) -> None:
        self.round = 0  # the current heartbeat round; stamped on AppendEntries and snapshots
        self.pending: list[PendingRead] = []
        self.waiting_commit: list[Any] = []

    def start_round(self, requests: list[Any], index: int) -> None:
        """Begin a new round for ``requests`` at read index ``index``: only acknowledgements of
        messages sent from now on prove that this node was still the leader after they
        arrived."""
        self.round += 1
        for r in requests:
            self.pending.append(PendingRead(r, index, self.round))

    def take_waiting(self) -> list[Any]:
        """The reads that waited for the first commit of the leader's term (now due)."""
        waiting, self.waiting_commit = self.waiting_commit, []
        return waiting

    def confirmed(self, acknowledged: Callable[[int], bool]) -> list[PendingRead]:
        """Remove and return, in arrival order, the reads whose round ``acknowledged`` says a
        majority has answered."""
        done: list[PendingRead] = []
        while self.pending and acknowledged(self.pending[0].round):
            done.append(self.pending.pop(0))
        return done

    def drop_all(self) -> list[Any]:
        """Leadership is lost: every read, pending or waiting, to be retried elsewhere."""
        dropped = [r.request for r in self.pending] + self.waiting_commit
        self.pending = []
        self.waiting_commit = []
        return dropped
