"""The conformance trace format: JSON Lines of protocol events, read, checked and merged.

docs/conformance.md describes the format for implementers; docs/schemas/trace-event.schema.json
is its JSON Schema. This module is the reader ``raftmc conform`` uses: it checks every line as
strictly as the schema (with errors naming file, line and field, because a person has to fix the
writer), and merges per-node files into one order that respects causality: a message is received
after it is sent. No clock is compared, so nodes need no synchronised clocks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...spec.state import Role

#: The roles a trace names, and the spec's role of each.
ROLES = {
    "follower": Role.Follower,
    "precandidate": Role.PreCandidate,
    "candidate": Role.Candidate,
    "leader": Role.Leader,
}

#: Events of membership changes (dissertation chapter 4); the spec then runs with its
#: membership option.
MEMBERSHIP_EVENTS = (
    "AddServer",
    "RemoveServer",
    "ConfigurationChanged",
    "ConfigurationCommitted",
    "CatchUpStarted",
    "CatchUpEnded",
    "TransferLeadership",
)
EVENT_KINDS = (
    "Restart",
    "BecomeFollower",
    "BecomePreCandidate",
    "BecomeCandidate",
    "BecomeLeader",
    "Send",
    "Receive",
    "ClientRequest",
    "EntriesAppended",
    "LogTruncated",
    "AdvanceCommitIndex",
    "SnapshotInstalled",
    "Compacted",
    "ReadIndexConfirmed",
    *MEMBERSHIP_EVENTS,
)
MESSAGE_EVENTS = ("Send", "Receive")

# Per membership event, the field of ``info`` it must give: ``server`` (a node name) or
# ``members`` (a list of node names).
MEMBERSHIP_INFO = {
    "AddServer": "server",
    "RemoveServer": "server",
    "ConfigurationChanged": "members",
    "ConfigurationCommitted": "members",
    "CatchUpStarted": "server",
    "TransferLeadership": "target",
}

#: Messages an implementation may send that the spec has no form of: leadership transfer's
#: TimeoutNow (dissertation §3.10). They are read and matched like the others, and the state
#: around them is checked, but not the message itself.
OUTSIDE_SPEC_MESSAGES = ("TimeoutNow",)

# Per message type, the fields the spec has (beyond type, id, term, src, dst) and their kinds.
MESSAGE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "RequestVote": (("last_log_index", "int"), ("last_log_term", "int")),
    "RequestVoteResponse": (("vote_granted", "bool"),),
    "PreVote": (("last_log_index", "int"), ("last_log_term", "int")),
    "PreVoteResponse": (("vote_granted", "bool"),),
    "AppendEntries": (
        ("prev_log_index", "int"),
        ("prev_log_term", "int"),
        ("entries", "entries"),
        ("leader_commit", "int"),
    ),
    "AppendEntriesResponse": (("success", "bool"), ("match_index", "int")),
    "InstallSnapshot": (("last_included_index", "int"), ("last_included_term", "int")),
    "InstallSnapshotResponse": (("match_index", "int"),),
    **{t: () for t in OUTSIDE_SPEC_MESSAGES},
}

# Fields that say which spec action sent a message, so even an implementation's trace that
# leaves other fields out must give them.
ALWAYS_REQUIRED = {"AppendEntries": ("prev_log_index", "entries")}

STATE_FIELDS = ("term", "vote", "role", "commit_index", "log_length", "last_log_term")


class TraceError(Exception):
    """Malformed trace input. ``str()`` is one line naming the file, the line and the field."""

    def __init__(self, path: str, line: int, fieldname: str | None, problem: str) -> None:
        where = f"{path}:{line}" if line else path
        what = f": field {fieldname!r}" if fieldname else ""
        super().__init__(f"{where}{what}: {problem}")
        self.path = path
        self.line = line
        self.field = fieldname
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Msg:
    """A message as the trace shows it: the spec's fields, in the trace's names.

    A field the implementation does not carry may be left out (``term`` included): absent means
    not observed, and the validator lets the spec decide it. ``external`` marks a message from
    outside the traced nodes (injected by a test harness, or from a node whose trace is
    missing): it is received without a send, so it must carry every field."""

    type: str
    id: str
    term: int | None
    src: str
    dst: str
    fields: dict[str, Any]
    external: bool = False


@dataclass(slots=True)
class TraceEvent:
    """One line of a trace."""

    path: str
    line: int
    node: str
    kind: str
    # term, vote, role, commit_index, log_length, last_log_term, snapshot_index
    term: int
    vote: str | None
    role: str
    commit_index: int
    log_length: int
    last_log_term: int
    snapshot_index: int
    msg: Msg | None = None
    info: dict[str, Any] = field(default_factory=dict)
    raw: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def spec_event(ev: TraceEvent) -> bool:
    """Whether the event's message (if any) is one the spec has."""
    return ev.msg is None or ev.msg.type not in OUTSIDE_SPEC_MESSAGES


def _int(v: Any, path: str, line: int, name: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise TraceError(path, line, name, f"expected a non-negative integer, got {v!r:.60}")
    return v


def _str(v: Any, path: str, line: int, name: str) -> str:
    if not isinstance(v, str) or not v:
        raise TraceError(path, line, name, f"expected a non-empty string, got {v!r:.60}")
    return v


def _get(obj: dict[str, Any], key: str, path: str, line: int, prefix: str) -> Any:
    if key not in obj:
        raise TraceError(path, line, prefix + key, "missing")
    return obj[key]


#: Entry kinds: a client command, a new leader's no-op, a configuration (membership).
ENTRY_KINDS = ("normal", "noop", "config")


def _entries(
    v: Any, path: str, line: int, name: str
) -> tuple[tuple[int, int, str, tuple[str, ...] | None], ...]:
    """Entries as ``(term, index, kind, members)``; ``members`` (a configuration entry's
    servers) is None where not given: not observed, like an absent message field."""
    if not isinstance(v, list):
        raise TraceError(path, line, name, f"expected a list of entries, got {v!r:.60}")
    out = []
    for k, e in enumerate(v):
        where = f"{name}[{k}]"
        members = None
        if isinstance(e, dict):
            term, index, kind = e.get("term"), e.get("index"), e.get("kind", "normal")
            if kind == "config" and "members" in e:
                members = names(e["members"], path, line, where + ".members")
        elif isinstance(e, list) and len(e) >= 3:
            term, index, kind = e[0], e[1], e[2]
            if kind == "config" and len(e) >= 5:
                members = names(e[4], path, line, where + "[4]")
        else:
            raise TraceError(path, line, where, "expected [term, index, kind, data]")
        _int(term, path, line, where + ".term")
        _int(index, path, line, where + ".index")
        if kind not in ENTRY_KINDS:
            raise TraceError(path, line, where + ".kind",
                             f"expected {', '.join(ENTRY_KINDS)}, got {kind!r:.40}")  # fmt: skip
        out.append((term, index, kind, members))
    return tuple(out)


def names(v: Any, path: str, line: int, name: str) -> tuple[str, ...]:
    """A non-empty list of node names (a configuration's members), sorted."""
    if not isinstance(v, list) or not v:
        raise TraceError(path, line, name, f"expected a non-empty list of node names, "
                         f"got {v!r:.60}")
    for k, x in enumerate(v):
        _str(x, path, line, f"{name}[{k}]")
    if len(set(v)) != len(v):
        raise TraceError(path, line, name, f"names a node twice: {v!r:.60}")
    return tuple(sorted(v))


def parse_message(obj: Any, path: str, line: int) -> Msg:
    """Check one message object (the ``msg`` of a Send or Receive)."""
    if not isinstance(obj, dict):
        raise TraceError(path, line, "msg", "expected an object")
    typ = _get(obj, "type", path, line, "msg.")
    spec_fields = MESSAGE_FIELDS.get(typ)
    if spec_fields is None:
        known = ", ".join(MESSAGE_FIELDS)
        raise TraceError(path, line, "msg.type", f"unknown message type {typ!r:.40} ({known})")
    mid = _str(_get(obj, "id", path, line, "msg."), path, line, "msg.id")
    external = obj.get("external", False)
    if not isinstance(external, bool):
        raise TraceError(
            path, line, "msg.external", f"expected true or false, got {external!r:.60}"
        )
    # Absent fields are not observed; a message from outside must be given whole.
    need = external
    term = None
    if "term" in obj or need:
        term = _int(_get(obj, "term", path, line, "msg."), path, line, "msg.term")
    src = _str(_get(obj, "src", path, line, "msg."), path, line, "msg.src")
    dst = _str(_get(obj, "dst", path, line, "msg."), path, line, "msg.dst")
    fields: dict[str, Any] = {}
    for name, kind in spec_fields:
        if name not in obj and not need and name not in ALWAYS_REQUIRED.get(typ, ()):
            continue
        v = _get(obj, name, path, line, "msg.")
        where = "msg." + name
        if kind == "int":
            fields[name] = _int(v, path, line, where)
        elif kind == "bool":
            if not isinstance(v, bool):
                raise TraceError(path, line, where, f"expected true or false, got {v!r:.60}")
            fields[name] = v
        else:
            fields[name] = _entries(v, path, line, where)
    if external:
        for k, (_t, _i, kind, members) in enumerate(fields.get("entries", ())):
            if kind == "config" and members is None:
                raise TraceError(path, line, f"msg.entries[{k}]", "an external message's "
                                 "configuration entry must list its members")  # fmt: skip
    if typ == "AppendEntries" and "prev_log_index" in fields and "entries" in fields:
        prev = fields["prev_log_index"]
        for k, (_t, index, _kind, _members) in enumerate(fields["entries"]):
            if index != prev + k + 1:
                raise TraceError(
                    path, line, f"msg.entries[{k}].index", f"expected {prev + k + 1}, got {index}"
                )
    return Msg(typ, mid, term, src, dst, fields, external)


def parse_line(text: str, path: str, line: int) -> TraceEvent:
    """One JSON line to a checked event; ``TraceError`` names what is wrong."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(path, line, None, f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise TraceError(path, line, None, "expected a JSON object per line")
    node = _str(_get(obj, "node", path, line, ""), path, line, "node")
    kind = _get(obj, "event", path, line, "")
    if kind not in EVENT_KINDS:
        raise TraceError(path, line, "event", f"unknown event {kind!r:.40}")
    st = _get(obj, "state", path, line, "")
    if not isinstance(st, dict):
        raise TraceError(path, line, "state", "expected an object")
    for name in STATE_FIELDS:
        _get(st, name, path, line, "state.")
    vote = st["vote"]
    if vote is not None:
        _str(vote, path, line, "state.vote")
    role = st["role"]
    if role not in ROLES:
        raise TraceError(path, line, "state.role", f"expected one of {', '.join(ROLES)}")
    ev = TraceEvent(
        path,
        line,
        node,
        kind,
        _int(st["term"], path, line, "state.term"),
        vote,
        role,
        _int(st["commit_index"], path, line, "state.commit_index"),
        _int(st["log_length"], path, line, "state.log_length"),
        _int(st["last_log_term"], path, line, "state.last_log_term"),
        _int(st.get("snapshot_index", 0), path, line, "state.snapshot_index"),
        raw=text,
    )
    if kind in MESSAGE_EVENTS:
        ev.msg = parse_message(_get(obj, "msg", path, line, ""), path, line)
        who = ev.msg.src if kind == "Send" else ev.msg.dst
        if who != node:
            side = "src" if kind == "Send" else "dst"
            raise TraceError(path, line, f"msg.{side}", f"is {who!r}, but the event is at {node!r}")
    info = obj.get("info", {})
    if not isinstance(info, dict):
        raise TraceError(path, line, "info", "expected an object")
    if kind == "ClientRequest" and info.get("entry_kind", "normal") not in ("normal", "noop"):
        raise TraceError(path, line, "info.entry_kind", "expected normal or noop")
    if kind == "Compacted":
        _int(_get(info, "index", path, line, "info."), path, line, "info.index")
    need = MEMBERSHIP_INFO.get(kind)
    if need == "members":
        info = {**info, "members": names(_get(info, "members", path, line, "info."), path, line,
                                         "info.members")}  # fmt: skip
    elif need is not None:
        _str(_get(info, need, path, line, "info."), path, line, "info." + need)
    ev.info = info
    return ev


def read_file(path: str) -> list[TraceEvent]:
    """Every event of one file, in file order."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise TraceError(path, 0, None, f"cannot read: {exc.strerror}") from None
    events = []
    # Split on newlines only (str.splitlines would also split at form feeds and the like inside
    # a line, and shift the line numbers people look up).
    for k, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceError(
                path, k, None, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at column "
                f"{exc.start + 1}"
            ) from None  # fmt: skip
        if text.strip():
            events.append(parse_line(text, path, k))
    return events


def merge(files: Sequence[Sequence[TraceEvent]]) -> list[TraceEvent]:
    """One order of all events that keeps each file's order and puts every send before its
    receives. Raises ``TraceError`` for a receive whose send is nowhere (or only after it).

    Within a file, events are taken in order; a file whose next event is a receive of a message
    not yet sent waits. Which file goes next otherwise does not matter to the validator (events
    of different nodes only meet through messages), so the merge simply drains files in turn.
    """
    sent_at: dict[str, TraceEvent] = {}
    for evs in files:
        for ev in evs:
            if ev.kind == "Send":
                assert ev.msg is not None
                other = sent_at.get(ev.msg.id)
                if other is not None:
                    raise TraceError(
                        ev.path, ev.line, "msg.id", f"{ev.msg.id!r} was already sent at "
                        f"{other.where}: message ids must be unique"
                    )  # fmt: skip
                sent_at[ev.msg.id] = ev
    for evs in files:
        for ev in evs:
            if ev.kind == "Receive":
                assert ev.msg is not None
                if ev.msg.external:
                    if ev.msg.id in sent_at:
                        raise TraceError(
                            ev.path, ev.line, "msg.external", f"{ev.msg.id!r} is marked external "
                            f"but was sent at {sent_at[ev.msg.id].where}"
                        )  # fmt: skip
                    continue
                if ev.msg.id not in sent_at:
                    raise TraceError(
                        ev.path, ev.line, "msg.id",
                        f"receive of {ev.msg.id!r} without its send (is every node's trace given?)",
                    )  # fmt: skip
    if len(files) == 1:
        order = list(files[0])
        seen: set[str] = set()
        for ev in order:
            assert ev.msg is not None or ev.kind not in MESSAGE_EVENTS
            if ev.kind == "Send":
                seen.add(ev.msg.id)  # type: ignore[union-attr]
            elif (
                ev.kind == "Receive"
                and not ev.msg.external  # type: ignore[union-attr]
                and ev.msg.id not in seen  # type: ignore[union-attr]
            ):
                raise TraceError(
                    ev.path, ev.line, "msg.id", f"receive of {ev.msg.id!r} before its send "
                    f"(sent at {sent_at[ev.msg.id].where})"  # type: ignore[union-attr]
                )  # fmt: skip
        return order
    out: list[TraceEvent] = []
    pos = [0] * len(files)
    sent: set[str] = set()
    remaining = sum(len(f) for f in files)
    while remaining:
        progressed = False
        for k, evs in enumerate(files):
            p = pos[k]
            while p < len(evs):
                ev = evs[p]
                m = ev.msg
                if ev.kind == "Receive" and not m.external and m.id not in sent:  # type: ignore[union-attr]
                    break
                if ev.kind == "Send":
                    sent.add(ev.msg.id)  # type: ignore[union-attr]
                out.append(ev)
                p += 1
            if p != pos[k]:
                progressed = True
                remaining -= p - pos[k]
                pos[k] = p
        if not progressed:
            k = next(k for k, evs in enumerate(files) if pos[k] < len(evs))
            ev = files[k][pos[k]]
            raise TraceError(
                ev.path, ev.line, "msg.id", f"receive of {ev.msg.id!r} cannot come after its send "  # type: ignore[union-attr]
                f"at {sent_at[ev.msg.id].where}: the files' orders contradict each other"  # type: ignore[union-attr]
            )  # fmt: skip
    return out


def read_traces(paths: Sequence[str]) -> list[TraceEvent]:
    """Read, check and merge the given trace files."""
    if not paths:
        raise TraceError("(no file)", 0, None, "give at least one trace file")
    events = merge([read_file(p) for p in paths])
    if not events:
        # Conforming vacuously would read as a pass; an empty trace is a tracing mistake.
        raise TraceError(", ".join(paths), 0, None, "no events: an empty trace checks nothing")
    return events


def event_summary(ev: TraceEvent) -> str:
    """One line for people: ``n2 Receive AppendEntries n1->n2 id n1.1.7``."""
    text = f"{ev.node} {ev.kind}"
    if ev.msg is not None:
        m = ev.msg
        term = "?" if m.term is None else m.term
        text += f" {m.type} {m.src}->{m.dst} term {term} (id {m.id})"
        if m.external:
            text += " [external]"
    elif ev.info:
        text += " " + json.dumps(ev.info, sort_keys=True)
    return text
