"""Raft log entries and RPC messages as small frozen values, with a plain wire form.

Every message carries the fields of the RPC it implements in the Raft paper (Figure 2, and
Figure 13 for InstallSnapshot) plus a few that a production core needs:

- ``id``: unique per sent message (``"<node>.<boot>.<counter>"``). Per-node traces are merged by
  matching a receive to its send, so no global clock is needed (conformance traces).
- ``src`` / ``dst``: sender and receiver. ``src`` is the paper's candidateId / leaderId; the
  ``candidate_id`` and ``leader_id`` properties spell it the paper's way.
- ``round`` on AppendEntries and InstallSnapshot (echoed by the responses): a per-leader counter
  used by ReadIndex to know that a majority acknowledged leadership *after* a read arrived.

``to_wire()`` gives a dict of str/int/bool/bytes/list values (msgpack- and JSON-friendly apart
from bytes); ``message_from_wire()`` rebuilds a message and raises ``WireError`` naming the field
when the peer sent something malformed.

Terms start at 1; term 0 and index 0 stand for "before the first entry" (the paper's convention
of an empty log whose last entry is (0, 0)).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

NodeId = str

# Entry kinds. A NOOP is what a new leader appends (dissertation §6.4) so that it can commit
# an entry of its own term, which commits everything before it. A CONFIG entry's data is a
# configuration (``membership.Membership``): a node is in the latest one its log holds (§4.1).
ENTRY_NORMAL = "normal"
ENTRY_NOOP = "noop"
ENTRY_CONFIG = "config"
ENTRY_KINDS = (ENTRY_NORMAL, ENTRY_NOOP, ENTRY_CONFIG)


class WireError(ValueError):
    """A message from the wire does not have the shape we expect; the text names the field."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the term it was created in, its position, and the opaque command."""

    term: int
    index: int
    data: bytes = b""
    kind: str = ENTRY_NORMAL

    def size(self) -> int:
        """Approximate wire size, used to bound the bytes per AppendEntries."""
        return len(self.data) + 16

    def to_wire(self) -> list[Any]:
        """``[term, index, kind, data]``."""
        return [self.term, self.index, self.kind, self.data]

    @staticmethod
    def from_wire(obj: Any, where: str = "entry") -> Entry:
        """Inverse of ``to_wire``; ``where`` names the position for error messages."""
        if not isinstance(obj, list | tuple) or len(obj) != 4:
            raise WireError(f"{where}: expected [term, index, kind, data], got {obj!r:.80}")
        term, index, kind, data = obj
        _check_int(term, f"{where}.term")
        _check_int(index, f"{where}.index")
        if kind not in ENTRY_KINDS:
            raise WireError(f"{where}.kind: unknown entry kind {kind!r}")
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, bytes):
            raise WireError(f"{where}.data: expected bytes, got {type(data).__name__}")
        return Entry(term, index, data, kind)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """State machine state covering every entry up to and including ``index`` (of ``term``),
    and the configuration in force at ``index`` (its encoding; empty: the initial one)."""

    index: int
    term: int
    data: bytes
    membership: bytes = b""


def _check_int(value: Any, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise WireError(f"{name}: expected a non-negative integer, got {value!r:.80}")


@dataclass(frozen=True, slots=True)
class Message:
    """Fields every message has. Subclasses add the RPC's own fields."""

    TYPE: ClassVar[str] = "Message"
    term: int
    src: NodeId
    dst: NodeId
    id: str = field(default="", compare=False)

    def to_wire(self) -> dict[str, Any]:
        """A plain dict with a ``type`` key, suitable for msgpack."""
        out: dict[str, Any] = {"type": self.TYPE}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "entries":
                v = [e.to_wire() for e in v]
            out[f.name] = v
        return out

    @classmethod
    def from_wire(cls, obj: Any) -> Message:
        """Rebuild from ``to_wire()`` output; on a subclass, also check the type matches."""
        msg = message_from_wire(obj)
        if cls is not Message and not isinstance(msg, cls):
            raise WireError(f"type: expected {cls.TYPE}, got {msg.TYPE}")
        return msg

    @property
    def is_response(self) -> bool:
        """True for the four response messages."""
        return self.TYPE.endswith("Response")


@dataclass(frozen=True, slots=True)
class RequestVote(Message):
    """RequestVote RPC (Figure 2): sent by a candidate to gather votes."""

    TYPE: ClassVar[str] = "RequestVote"
    last_log_index: int = 0
    last_log_term: int = 0

    @property
    def candidate_id(self) -> NodeId:
        """The paper's candidateId."""
        return self.src


@dataclass(frozen=True, slots=True)
class RequestVoteResponse(Message):
    """Reply to RequestVote: ``term`` is the voter's current term."""

    TYPE: ClassVar[str] = "RequestVoteResponse"
    vote_granted: bool = False


@dataclass(frozen=True, slots=True)
class PreVote(Message):
    """PreVote (dissertation §9.6): "would you vote for me?" without anyone changing state.

    ``term`` is the term the sender *would* campaign in (its current term + 1); receivers do not
    adopt it.
    """

    TYPE: ClassVar[str] = "PreVote"
    last_log_index: int = 0
    last_log_term: int = 0

    @property
    def candidate_id(self) -> NodeId:
        """The paper's candidateId."""
        return self.src


@dataclass(frozen=True, slots=True)
class PreVoteResponse(Message):
    """Reply to PreVote. When granted, ``term`` echoes the request's term; when refused, it is the
    responder's current term (so a stale pre-candidate learns the newer term)."""

    TYPE: ClassVar[str] = "PreVoteResponse"
    vote_granted: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries(Message):
    """AppendEntries RPC (Figure 2); with no entries it is a heartbeat."""

    TYPE: ClassVar[str] = "AppendEntries"
    prev_log_index: int = 0
    prev_log_term: int = 0
    entries: tuple[Entry, ...] = ()
    leader_commit: int = 0
    round: int = 0

    @property
    def leader_id(self) -> NodeId:
        """The paper's leaderId."""
        return self.src


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse(Message):
    """Reply to AppendEntries.

    On success ``match_index`` is the last index known to match the leader's log. On failure the
    fast back-off hints say where to retry (dissertation §5.3 / etcd): ``conflict_term`` is the
    term of the follower's entry at ``prev_log_index`` (0 if the follower's log is shorter) and
    ``conflict_index`` the first index the follower has for that term (or its last index + 1).
    ``prev_log_index`` echoes the request so a leader can ignore stale rejections.
    """

    TYPE: ClassVar[str] = "AppendEntriesResponse"
    success: bool = False
    match_index: int = 0
    prev_log_index: int = 0
    conflict_index: int = 0
    conflict_term: int = 0
    round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot(Message):
    """InstallSnapshot RPC (Figure 13), sent in one piece (no offset/done chunking)."""

    TYPE: ClassVar[str] = "InstallSnapshot"
    last_included_index: int = 0
    last_included_term: int = 0
    data: bytes = b""
    round: int = 0
    # The configuration in force at last_included_index (dissertation §5.1: a snapshot
    # "includes the latest configuration as of the last included index").
    membership: bytes = b""

    @property
    def leader_id(self) -> NodeId:
        """The paper's leaderId."""
        return self.src


@dataclass(frozen=True, slots=True)
class InstallSnapshotResponse(Message):
    """Reply to InstallSnapshot; ``match_index`` is the follower's last index known to match."""

    TYPE: ClassVar[str] = "InstallSnapshotResponse"
    match_index: int = 0
    round: int = 0


@dataclass(frozen=True, slots=True)
class TimeoutNow(Message):
    """Leadership transfer (dissertation §3.10): the leader tells a follower whose log is up to
    date to start an election at once, without waiting for its timeout or asking for
    pre-votes."""

    TYPE: ClassVar[str] = "TimeoutNow"


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        RequestVote,
        RequestVoteResponse,
        PreVote,
        PreVoteResponse,
        AppendEntries,
        AppendEntriesResponse,
        InstallSnapshot,
        InstallSnapshotResponse,
        TimeoutNow,
    )
}

_INT_FIELDS = {
    "term", "last_log_index", "last_log_term", "prev_log_index", "prev_log_term",
    "leader_commit", "round", "match_index", "conflict_index", "conflict_term",
    "last_included_index", "last_included_term",
}  # fmt: skip


def message_from_wire(obj: Any) -> Message:
    """Rebuild a message from ``Message.to_wire()`` output; ``WireError`` if it is malformed."""
    if not isinstance(obj, dict):
        raise WireError(f"message: expected a map, got {type(obj).__name__}")
    typ = obj.get("type")
    cls = MESSAGE_TYPES.get(typ)  # type: ignore[arg-type]
    if cls is None:
        raise WireError(f"type: unknown message type {typ!r:.80}")
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in obj:
            raise WireError(f"{typ}.{f.name}: missing")
        v = obj[f.name]
        where = f"{typ}.{f.name}"
        if f.name in _INT_FIELDS:
            _check_int(v, where)
        elif f.name in ("src", "dst", "id"):
            if not isinstance(v, str):
                raise WireError(f"{where}: expected a string, got {v!r:.80}")
        elif f.name in ("vote_granted", "success"):
            if not isinstance(v, bool):
                raise WireError(f"{where}: expected a boolean, got {v!r:.80}")
        elif f.name == "entries":
            if not isinstance(v, list | tuple):
                raise WireError(f"{where}: expected a list, got {type(v).__name__}")
            v = tuple(Entry.from_wire(e, f"{where}[{i}]") for i, e in enumerate(v))
        elif f.name in ("data", "membership"):
            if not isinstance(v, bytes):
                raise WireError(f"{where}: expected bytes, got {type(v).__name__}")
        kwargs[f.name] = v
    msg = cls(**kwargs)
    if isinstance(msg, AppendEntries):
        _check_append_entries(msg)
    elif isinstance(msg, InstallSnapshot) and msg.membership:
        _check_configuration(msg.membership, "InstallSnapshot.membership")
    return msg


def _check_configuration(data: bytes, where: str) -> None:
    # A configuration that does not decode would stop the node that adopts it: refuse it here.
    from .membership import Membership  # it builds on this module's Entry

    Membership.decode(data, where)


def _check_append_entries(m: AppendEntries) -> None:
    # Figure 2 sends entries that directly follow prevLogIndex, in term order, none newer than the
    # leader's term. A message that breaks this would corrupt a log, so it is refused here.
    prev_index, prev_term = m.prev_log_index, m.prev_log_term
    if prev_term > m.term:
        raise WireError(f"AppendEntries.prev_log_term: {prev_term} is above the term {m.term}")
    for i, e in enumerate(m.entries):
        where = f"AppendEntries.entries[{i}]"
        if e.index != prev_index + 1:
            raise WireError(f"{where}.index: expected {prev_index + 1}, got {e.index}")
        if e.term < prev_term or e.term > m.term:
            raise WireError(
                f"{where}.term: {e.term} is outside [{prev_term}, {m.term}] (previous entry's "
                "term, message term)"
            )
        if e.kind == ENTRY_CONFIG:
            _check_configuration(e.data, f"{where}.data")
        prev_index, prev_term = e.index, e.term
