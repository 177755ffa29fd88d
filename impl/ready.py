"""What a call into the core asks its caller to do: a ``Ready``, and how to carry it out.

The caller's contract (persist before send)
--------------------------------------------
For each ``Ready``, **in order**:

1. ``snapshot``: if set, save it durably. Log entries with index <= ``snapshot.index`` may then be
   discarded from storage.
2. ``truncate_from``: if set, delete stored log entries with index >= it; then append
   ``entries``; then save ``hard_state`` if set. Make all of this durable (fsync) **before step 3**.
3. Send ``messages``. They may depend on step 2: a granted vote on the persisted vote, an
   AppendEntries success on the persisted entries, a leader's entries on its own durable copy.
   Sending first and crashing before the fsync lets a node vote twice in a term or forget entries
   a leader counted as replicated — the safety properties break (see the tests).
4. If ``restore_snapshot`` is set, replace the state machine's state with it; then apply
   ``committed_entries`` in order.
5. Serve ``read_states``: each says "request may be answered from the state machine now"
   (step 4 already brought it up to the read's index). ``dropped_reads`` must be retried elsewhere.
   Each of ``changes`` answers a membership change asked with ``add_node``/``remove_node``:
   its configuration entry was appended at ``index`` (the change is done once an entry of that
   ``term`` is applied there, as a write is), or it failed with ``error``.

Readys must be handled in the order they were returned, before the next is handled (a caller that
batches several Readys into one fsync performs steps 1-2 of each, one fsync, then steps 3-5 of
each). Restart a node from what was persisted: ``Node(config, rng, hard_state=..., snapshot=...,
entries=..., boot=n)`` and handle ``start()``'s Ready first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages import Entry, Message, NodeId, Snapshot


@dataclass(frozen=True, slots=True)
class HardState:
    """What Figure 2 calls persistent state, apart from the log: currentTerm and votedFor."""

    term: int = 0
    vote: NodeId | None = None


@dataclass(frozen=True, slots=True)
class ReadState:
    """A confirmed ReadIndex read: ``request`` may be answered once entries up to ``index`` are
    applied (which the Ready that carries it guarantees after its step 4)."""

    request: Any
    index: int


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What became of a membership change: ``request`` is the token it was asked with; its
    configuration entry is at ``index`` with ``term`` (0 if it failed, and then ``error`` says
    why, and ``retry`` whether asking again, of the new leader, may succeed)."""

    request: Any
    index: int
    term: int = 0
    error: str | None = None
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Ready:
    """The IO a call asks for. See the module docstring for the order the caller must follow."""

    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    truncate_from: int | None = None
    entries: tuple[Entry, ...] = ()
    messages: tuple[Message, ...] = ()
    restore_snapshot: Snapshot | None = None
    committed_entries: tuple[Entry, ...] = ()
    read_states: tuple[ReadState, ...] = ()
    dropped_reads: tuple[Any, ...] = ()
    changes: tuple[ChangeResult, ...] = ()

    @property
    def must_persist(self) -> bool:
        """True if steps 1-2 have something to write (and fsync) before sending."""
        return bool(
            self.hard_state is not None
            or self.snapshot is not None
            or self.truncate_from is not None
            or self.entries
        )

    def is_empty(self) -> bool:
        """True if there is nothing at all to do."""
        return not (
            self.must_persist
            or self.messages
            or self.restore_snapshot is not None
            or self.committed_entries
            or self.read_states
            or self.dropped_reads
            or self.changes
        )


class Outbox:
    """The IO one call into the core accumulates, turned into a ``Ready`` (and emptied) by
    ``take``."""

    __slots__ = (
        "messages", "entries", "truncate_from", "snapshot", "restore", "reads", "dropped",
        "changes",
    )  # fmt: skip

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.entries: list[Entry] = []
        self.truncate_from: int | None = None
        self.snapshot: Snapshot | None = None
        self.restore: Snapshot | None = None
        self.reads: list[ReadState] = []
        self.dropped: list[Any] = []
        self.changes: list[ChangeResult] = []

    def truncate(self, index: int) -> None:
        """Stored entries ``>= index`` must go, and so must entries of this call not yet
        stored."""
        self.entries = [e for e in self.entries if e.index < index]
        if self.truncate_from is None or index < self.truncate_from:
            self.truncate_from = index

    def take(self, hard_state: HardState | None, committed: tuple[Entry, ...]) -> Ready:
        """The Ready of everything accumulated, with this hard state and these newly committed
        entries; the outbox is empty afterwards."""
        ready = Ready(
            hard_state=hard_state,
            snapshot=self.snapshot,
            truncate_from=self.truncate_from,
            entries=tuple(self.entries),
            messages=tuple(self.messages),
            restore_snapshot=self.restore,
            committed_entries=committed,
            read_states=tuple(self.reads),
            dropped_reads=tuple(self.dropped),
            changes=tuple(self.changes),
        )
        self.messages = []
        self.entries = []
        self.truncate_from = None
        self.snapshot = None
        self.restore = None
        if self.reads:
            self.reads = []
        if self.dropped:
            self.dropped = []
        if self.changes:
            self.changes = []
        return ready
