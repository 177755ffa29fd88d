"""Pictures of Raft states and behaviours: cluster diagrams and message-sequence charts.

Everything here takes plain spec states (:class:`raftkit.spec.state.State`) and a trace is any
sequence of ``(label or None, State)`` steps, the shape of a counterexample, so the same pictures
serve the checker's counterexamples and any trace the conformance checker reports.

* :func:`cluster_svg` draws one state the way RaftScope does: servers with role, term, vote,
  log (one cell per entry, coloured by term; committed entries marked) and the messages in flight
  as labelled arrows. Given the state before, it highlights what the step changed.
* :func:`sequence_chart_svg` draws a whole trace: one lane per server, time going down, every
  message an arrow from the step that sent it to the step that received (or dropped) it, role
  changes, new entries and commits marked on the lanes. It is plain SVG built here, because
  Graphviz cannot keep arrows tied to a time axis.
* The short texts (:func:`state_lines`, :func:`short_label`) are what the state graph puts on its
  nodes and edges.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Hashable, Sequence
from html import escape as _html
from typing import Any

from ...spec.action import Arg, Kind, definition
from ...spec.state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Message,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
    server_name,
)
from ..engine.model import Label

Step = tuple[Label | None, State]

# --- colours ------------------------------------------------------------------------------------

# Keyed by role, so roles added by spec options (PreVote's pre-candidate) get
# their colours without this module having to know which options exist.
ROLE_FILL = {
    Role.Follower: "#e2e8f0",
    Role.Candidate: "#fed7aa",
    Role.Leader: "#bbf7d0",
    Role.PreCandidate: "#fef3c7",
}
ROLE_LINE = {
    Role.Follower: "#94a3b8",
    Role.Candidate: "#ea580c",
    Role.Leader: "#16a34a",
    Role.PreCandidate: "#ca8a04",
}
ROLE_LETTER = {Role.Follower: "F", Role.Candidate: "C", Role.Leader: "L", Role.PreCandidate: "P"}
CHANGED_FILL = "#fef08a"
NEW_MESSAGE = "#d97706"
GONE_MESSAGE = "#94a3b8"
# A qualitative palette: entries of neighbouring terms must look different at a glance, and no
# term may look like the yellow of "changed in this step" or the red of a violation.
TERM_FILL = ("#bfdbfe", "#ddd6fe", "#a7f3d0", "#fbcfe8", "#99f6e4", "#e5e7eb")


def term_colour(term: int) -> str:
    """The fill colour of log entries of ``term`` (the same in every picture)."""
    return TERM_FILL[(term - 1) % len(TERM_FILL)] if term > 0 else "#ffffff"


# --- short texts ----------------------------------------------------------------------------------

_MSG_ABBREV = {
    MType.RequestVoteRequest: "RVReq",
    MType.RequestVoteResponse: "RVResp",
    MType.AppendEntriesRequest: "AEReq",
    MType.AppendEntriesResponse: "AEResp",
}


def _entries(log: Sequence[Any], show_values: bool) -> str:
    if show_values:
        return " ".join(f"{e.term}v{e.value}" for e in log)
    return " ".join(str(e.term) for e in log)


def message_text(m: Message, show_values: bool = True) -> str:
    """A message in a few words: ``AEReq t2 prev 0@0 [2v1] c0`` (source and destination apart)."""
    kind = _kind(m)
    if isinstance(m, RequestVoteRequest):
        return f"{kind} t{m.mterm} last {m.mlastLogIndex}@{m.mlastLogTerm}"
    if isinstance(m, RequestVoteResponse):
        return f"{kind} t{m.mterm} {'granted' if m.mvoteGranted else 'denied'}"
    if isinstance(m, AppendEntriesRequest):
        return (
            f"{kind} t{m.mterm} prev {m.mprevLogIndex}@{m.mprevLogTerm}"
            f" [{_entries(m.mentries, show_values)}] c{m.mcommitIndex}"
        )
    if isinstance(m, AppendEntriesResponse):
        return f"{kind} t{m.mterm} {'ok' if m.msuccess else 'fail'} match {m.mmatchIndex}"
    # A message type of a spec option: every field but the route, by name.
    rest = [
        f"{name.removeprefix('m')} {_field_text(value, show_values)}"
        for name, value in zip(m._fields, m, strict=True)
        if name not in ("mtype", "mterm", "msource", "mdest")
    ]
    return " ".join([kind, f"t{m.mterm}", *rest])


def _kind(m: Message) -> str:
    mtype = MType(m.mtype)
    return _MSG_ABBREV.get(mtype, mtype.name.replace("Request", "Req").replace("Response", "Resp"))


def _field_text(value: Any, show_values: bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple) and all(hasattr(e, "term") for e in value):
        return f"[{_entries(value, show_values)}]"
    return str(value)


def _route(m: Message) -> str:
    return f"{server_name(m.msource)}→{server_name(m.mdest)}"


def _show_values(state: State) -> bool:
    # With one client value every entry holds v1; the value then only adds noise.
    return any(e.value != 1 for srv in state.servers for e in srv.log)


def server_text(i: int, srv: Server, show_values: bool = False) -> str:
    """``s1 L t2 vote s1 log [1 2] c1``: one server on one line."""
    vote = server_name(srv.votedFor) if srv.votedFor != NIL else "-"
    return (
        f"{server_name(i)} {ROLE_LETTER.get(int(srv.state), '?')} t{srv.currentTerm} vote {vote}"
        f" log [{_snapshot_prefix(srv)}{_entries(srv.log, show_values)}] c{srv.commitIndex}"
    )


def _snapshot_prefix(srv: Server) -> str:
    # With the snapshots option the log holds only the entries after snapshotIndex.
    snap = getattr(srv, "snapshotIndex", 0)
    return f"snap≤{snap} " if snap else ""


def state_lines(state: State) -> list[str]:
    """A state in a few lines for a graph node: one per server, one per message in flight."""
    values = _show_values(state)
    lines = [server_text(i, srv, values) for i, srv in enumerate(state.servers)]
    for m, count in state.messages:
        times = f" ×{count}" if count > 1 else ""
        lines.append(f"  {_route(m)} {message_text(m, values)}{times}")
    return lines


_SHORT_NAMES = {
    "HandleRequestVoteRequest": "HandleRVReq",
    "HandleRequestVoteResponse": "HandleRVResp",
    "HandleAppendEntriesRequest": "HandleAEReq",
    "HandleAppendEntriesResponse": "HandleAEResp",
    "AdvanceCommitIndex": "AdvanceCommit",
}


def short_label(label: Label | str) -> str:
    """An action label short enough for an edge: ``RequestVote s1→s2``, ``HandleAEReq s1→s2``.

    The spec's actions are shown by the kinds of their arguments (``spec/action.py``); labels
    that are not the spec's (a string, or an action of another tool's trace) as they are.
    """
    if isinstance(label, str):
        return label
    name, *args = label
    try:
        d = definition(label)
    except KeyError:
        d = None
    if d is not None:
        short = _SHORT_NAMES.get(name, name)
        if d.kind is not Kind.LOCAL:
            m = args[-1]
            return f"{short} {_kind(m)} {_route(m)}"
        servers = [server_name(a) for k, a in zip(d.args, args, strict=True) if k is Arg.SERVER]
        rest = [_arg(k, a) for k, a in zip(d.args, args, strict=True) if k is not Arg.SERVER]
        return " ".join([short, "→".join(servers), *rest])
    # Another tool's action: by the spec's conventions a message argument says the most, and
    # plain ints are servers.
    messages = [a for a in args if hasattr(a, "mtype")]
    if messages:
        m = messages[-1]
        return f"{name} {_kind(m)} {_route(m)}"
    if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return f"{name} " + "→".join(server_name(a) for a in args)
    return f"{name}({', '.join(map(str, args))})" if args else str(name)


def _network_step(label: Label | str | None) -> bool:
    if label is None or isinstance(label, str):
        return False
    try:
        return definition(label).kind is Kind.NETWORK
    except KeyError:
        return False


def _arg(kind: Arg, value: Any) -> str:
    if kind is Arg.VALUE:
        return f"v{value}"
    if kind is Arg.FLAG:
        return "whole" if value else ""
    return str(value)



# --- projections for quotient graphs --------------------------------------------------------------

#: Projections a quotient graph can group states by. Server order is forgotten (the tuples are
#: sorted): with symmetry reduction a node's server numbering is arbitrary anyway.
PROJECTIONS: dict[str, str] = {
    "roles": "the multiset of roles",
    "roles+terms": "the multiset of (role, term) per server",
    "terms": "the multiset of terms",
    "leaders": "the terms that have a leader",
    "logs": "the multiset of logs (terms of the entries)",
    "commit": "the multiset of commitIndex values",
}


def project(name: str, state: State) -> Hashable:
    """The value of projection ``name`` (a key of :data:`PROJECTIONS`) on ``state``."""
    servers = state.servers
    if name == "roles":
        return tuple(sorted(int(s.state) for s in servers))
    if name == "roles+terms":
        return tuple(sorted((int(s.state), s.currentTerm) for s in servers))
    if name == "terms":
        return tuple(sorted(s.currentTerm for s in servers))
    if name == "leaders":
        return tuple(sorted({s.currentTerm for s in servers if s.state == Role.Leader}))
    if name == "logs":
        return tuple(sorted(tuple(e.term for e in s.log) for s in servers))
    if name == "commit":
        return tuple(sorted(s.commitIndex for s in servers))
    raise KeyError(name)


def projection_lines(name: str, key: Hashable) -> list[str]:
    """A projected value for people."""
    assert isinstance(key, tuple)
    if name == "roles":
        return [" ".join(ROLE_LETTER.get(r, "?") for r in key)]
    if name == "roles+terms":
        return [" ".join(f"{ROLE_LETTER.get(r, '?')}t{t}" for r, t in key)]
    if name == "terms":
        return [" ".join(f"t{t}" for t in key)]
    if name == "leaders":
        return ["leaders in " + (", ".join(f"t{t}" for t in key) or "no term")]
    if name == "logs":
        return [" | ".join("[" + " ".join(map(str, lg)) + "]" for lg in key)]
    return ["commit " + " ".join(map(str, key))]


# --- cluster diagrams -----------------------------------------------------------------------------


def _server_table(
    i: int, srv: Server, before: Server | None, log_slots: int, show_values: bool
) -> str:
    role = Role(srv.state)

    def mark(changed: bool) -> str:
        return f' BGCOLOR="{CHANGED_FILL}"' if changed else ""

    changed_role = before is not None and before.state != srv.state
    changed_term = before is not None and before.currentTerm != srv.currentTerm
    changed_vote = before is not None and before.votedFor != srv.votedFor
    changed_commit = before is not None and before.commitIndex != srv.commitIndex
    vote = server_name(srv.votedFor) if srv.votedFor != NIL else "nobody"
    slots = max(log_slots, len(srv.log), 1)
    no_log = log_slots == 0
    # With the snapshots option the log holds only the entries after snapshotIndex; the
    # compacted prefix gets one grey cell of its own.
    offset = getattr(srv, "snapshotIndex", 0)
    span = slots + (1 if offset else 0)
    header_fill = CHANGED_FILL if changed_role else ROLE_FILL.get(int(role), "#ffffff")
    rows = [
        f'<TR><TD COLSPAN="{span}" BGCOLOR="{header_fill}"><B>{server_name(i)}  {role.name}</B>'
        "</TD></TR>",
        f'<TR><TD COLSPAN="{span}"{mark(changed_term or changed_vote)}>term {srv.currentTerm}'
        f" · voted {vote}</TD></TR>",
    ]
    cells = []
    for k in range(1, slots + 1):
        if k <= len(srv.log):
            e = srv.log[k - 1]
            new = before is None or len(before.log) < k or before.log[k - 1] != e
            text = f"{e.term}" + (f"<BR/>v{e.value}" if show_values else "")
            committed = offset + k <= srv.commitIndex
            # A committed entry is framed thick and underlined: the colour already says its term.
            if committed:
                text = f"<U>{text}</U>"
            border = ' BORDER="3"' if committed else ""
            fill = CHANGED_FILL if (new and before is not None) else term_colour(e.term)
            cells.append(f'<TD WIDTH="22" BGCOLOR="{fill}"{border}>{text}</TD>')
        else:
            removed = before is not None and len(before.log) >= k
            fill = CHANGED_FILL if removed else "#f8fafc"
            cells.append(
                f'<TD WIDTH="22" BGCOLOR="{fill}"><FONT COLOR="#cbd5e1">{offset + k}</FONT></TD>'
            )
    if offset:
        cells.insert(
            0, f'<TD BGCOLOR="#e5e7eb"><FONT POINT-SIZE="8">snapshot 1..{offset}</FONT></TD>'
        )
    if no_log and not offset:
        # Bounds that allow no entry at all: an empty numbered cell would suggest a slot.
        removed = before is not None and bool(before.log)
        cells = [f'<TD{mark(removed)}><FONT COLOR="#94a3b8">log empty</FONT></TD>']
    rows.append("<TR>" + "".join(cells) + "</TR>")
    rows.append(
        f'<TR><TD COLSPAN="{span}"{mark(changed_commit)}>commitIndex {srv.commitIndex}</TD></TR>'
    )
    if role == Role.Candidate and srv.votesGranted:
        votes = " ".join(server_name(v) for v in srv.votesGranted)
        changed = before is not None and before.votesGranted != srv.votesGranted
        rows.append(f'<TR><TD COLSPAN="{span}"{mark(changed)}>votes {votes}</TD></TR>')
    if role == Role.Leader:
        match = " ".join(str(x) for x in srv.matchIndex)
        changed = before is not None and before.matchIndex != srv.matchIndex
        rows.append(f'<TR><TD COLSPAN="{span}"{mark(changed)}>match {match}</TD></TR>')
    return (
        '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
        + "".join(rows)
        + "</TABLE>>"
    )


def cluster_dot(
    state: State,
    before: State | None = None,
    title: str = "",
    log_slots: int = 0,
) -> Any:
    """One state as a ``graphviz.Digraph``: servers side by side, messages as arrows.

    With ``before`` (the state the step started from) what changed is yellow, new messages are
    orange and bold, and messages the step consumed are drawn grey and dashed. ``log_slots``
    pads every log to that many cells, so the pictures of one trace line up (0: to the longest
    log on this picture; when every log is empty, one "log empty" cell).
    """
    import graphviz

    values = _show_values(state) or (before is not None and _show_values(before))
    if not log_slots:
        # Pad to the longest log on the picture, so the servers' logs line up cell by cell.
        logs = [srv.log for srv in state.servers]
        logs += [srv.log for srv in before.servers] if before is not None else []
        log_slots = max(len(lg) for lg in logs)
    dot = graphviz.Digraph("cluster_state")
    dot.attr(
        rankdir="TB",
        fontname="DejaVu Sans",
        fontsize="12",
        labelloc="t",
        label=title,
        nodesep="0.6",
        ranksep="1.2",
        newrank="true",
    )
    dot.attr("node", shape="plaintext", fontname="DejaVu Sans", fontsize="10")
    dot.attr("edge", fontname="DejaVu Sans", fontsize="9", arrowsize="0.7")
    names = [server_name(i) for i in range(len(state.servers))]
    with dot.subgraph(name="servers") as row:
        row.attr(rank="same")
        for i, srv in enumerate(state.servers):
            prev = before.servers[i] if before is not None else None
            row.node(names[i], _server_table(i, srv, prev, log_slots, values), id=names[i])
    # Invisible edges keep the servers in order, left to right, whatever the messages do.
    for a, b in zip(names, names[1:], strict=False):
        dot.edge(a, b, style="invis")

    now = Counter(dict(state.messages))
    then = Counter(dict(before.messages)) if before is not None else Counter()
    for m, count in state.messages:
        new = before is not None and now[m] > then[m]
        times = f" ×{count}" if count > 1 else ""
        attrs = {"color": "#334155", "fontcolor": "#334155"}
        if new:
            attrs = {"color": NEW_MESSAGE, "fontcolor": NEW_MESSAGE, "penwidth": "2.5"}
        dot.edge(
            names[m.msource],
            names[m.mdest],
            message_text(m, values) + times,
            constraint="false",
            **attrs,
        )
    for m, count in (then - now).items():
        dot.edge(
            names[m.msource],
            names[m.mdest],
            "consumed: " + message_text(m, values) + (f" ×{count}" if count > 1 else ""),
            constraint="false",
            style="dashed",
            color=GONE_MESSAGE,
            fontcolor=GONE_MESSAGE,
        )
    return dot


_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.S)


def render_svg(dot: Any) -> str:
    """Graphviz's SVG for ``dot`` without its DOCTYPE line (raises
    :class:`~.dot.NoGraphviz` when Graphviz's ``dot`` program is not installed).

    The DOCTYPE names a DTD on the web; browsers never fetch it, but a self-contained report
    should not even mention a URL it does not need.
    """
    from .dot import pipe

    return _DOCTYPE.sub("", pipe(dot, "svg", encoding="utf-8"), count=1)


def cluster_svg(
    state: State, before: State | None = None, title: str = "", log_slots: int = 0
) -> str:
    """:func:`cluster_dot` rendered to SVG (needs Graphviz's ``dot`` program)."""
    return render_svg(cluster_dot(state, before, title, log_slots))


def step_titles(steps: Sequence[Step], violation: str | None = None) -> list[str]:
    """``Step 3 of 9: RequestVote s1→s2`` for each step; the last names the violation."""
    titles = []
    for k, (label, _state) in enumerate(steps, start=1):
        what = "initial state" if label is None else short_label(label)
        title = f"Step {k} of {len(steps)}: {what}"
        if violation and k == len(steps):
            title += f"  —  violates {violation}"
        titles.append(title)
    return titles


def trace_cluster_svgs(steps: Sequence[Step], violation: str | None = None) -> list[str]:
    """One cluster diagram per step of a trace, each highlighting what its step changed."""
    slots = max((len(srv.log) for _l, s in steps for srv in s.servers), default=0)
    titles = step_titles(steps, violation)
    pictures = []
    before: State | None = None
    for (_label, state), title in zip(steps, titles, strict=True):
        pictures.append(cluster_svg(state, before, title, slots))
        before = state
    return pictures


# --- message-sequence chart -----------------------------------------------------------------------


def _message_flights(
    steps: Sequence[Step],
) -> list[tuple[Message, int, int | None, str]]:
    """``(message, step sent, step consumed or None, how)`` for every copy of every message.

    Copies of equal messages are matched first in, first out; ``how`` is "received",
    "dropped" or "in flight". Messages present in the first state count as sent at step 0.
    """
    flights: list[tuple[Message, int, int | None, str]] = []
    pending: dict[Message, deque[int]] = {}
    before: Counter[Message] = Counter()
    for k, (label, state) in enumerate(steps):
        now = Counter(dict(state.messages))
        for m, n in (now - before).items():
            pending.setdefault(m, deque()).extend([k] * n)
        for m, n in (before - now).items():
            for _ in range(n):
                sent = pending[m].popleft()
                # A message that leaves the network in a step of the network itself (not of a
                # server) was lost, not received.
                dropped = _network_step(label)
                how = "dropped" if dropped else "received"
                flights.append((m, sent, k, how))
        before = now
    for m, sends in pending.items():
        flights.extend((m, sent, None, "in flight") for sent in sends)
    return sorted(flights, key=lambda f: (f[1], f[2] if f[2] is not None else 1 << 30))


def _lane_events(before: Server | None, after: Server) -> list[tuple[str, str]]:
    """What happened to one server in one step, as ``(text, colour)`` badges."""
    if before is None:
        role = Role(after.state)
        return [(f"{role.name} t{after.currentTerm}", ROLE_LINE.get(int(role), "#475569"))]
    events = []
    if before.state != after.state:
        role = Role(after.state)
        events.append((f"{role.name} t{after.currentTerm}", ROLE_LINE.get(int(role), "#475569")))
    elif before.currentTerm != after.currentTerm:
        events.append((f"term {after.currentTerm}", "#475569"))
    if len(after.log) > len(before.log) or after.log[: len(before.log)] != before.log:
        keep = 0
        while keep < min(len(before.log), len(after.log)) and before.log[keep] == after.log[keep]:
            keep += 1
        if keep < len(before.log):
            events.append((f"log cut to {keep}", "#b91c1c"))
        added = after.log[keep:]
        if added:
            events.append(("+ " + " ".join(f"{e.term}v{e.value}" for e in added), "#2563eb"))
    elif len(after.log) < len(before.log):
        events.append((f"log cut to {len(after.log)}", "#b91c1c"))
    if after.commitIndex > before.commitIndex:
        events.append((f"commit {after.commitIndex}", "#15803d"))
    elif after.commitIndex < before.commitIndex:
        events.append((f"commitIndex {after.commitIndex}", "#b91c1c"))
    if before.votedFor != after.votedFor and after.votedFor != NIL:
        events.append((f"votes {server_name(after.votedFor)}", "#7c3aed"))
    return events


def _text(x: float, y: float, text: str, **attrs: Any) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{_html(text)}</text>'


def _chart_head(width: int, height: int, violation: str | None) -> list[str]:
    """The chart's SVG element, its arrow heads, background and title."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Verdana, sans-serif" '
        'font-size="11">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#334155"/></marker>'
        '<marker id="arrow-faint" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#94a3b8"/></marker>'
        "</defs>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>',
        _text(
            10,
            22,
            "Message-sequence chart" + (f" — violates {violation}" if violation else ""),
            font_size="14",
            font_weight="bold",
        ),
    ]


def sequence_chart_svg(steps: Sequence[Step], violation: str | None = None) -> str:
    """The whole trace as a message-sequence chart (SVG text, no external references).

    Time goes down, one row per step; each server is a lane whose colour is its role at that
    time; messages are arrows from the row of the step that sent them to the row of the step
    that received them (a cross where one was dropped, a dashed arrow off the bottom for one
    still in flight at the end).
    """
    if not steps:
        raise ValueError("an empty trace has no chart")
    n = len(steps[0][1].servers)
    row_h, top, left, lane_w = 46, 56, 250, 190
    # Room on the right for the loop and label of a message a server sends to itself.
    width = left + n * lane_w + 110
    bottom = top + len(steps) * row_h
    height = bottom + 40

    def lane_x(i: int) -> float:
        return left + lane_w * i + lane_w / 2

    def row_y(k: int) -> float:
        return top + row_h * k + row_h / 2

    parts = _chart_head(width, height, violation)
    # Step rows, striped so the eye can follow a row across the lanes.
    titles = step_titles(steps, None)
    for k, title in enumerate(titles):
        y0 = top + row_h * k
        if k % 2:
            parts.append(f'<rect x="0" y="{y0}" width="{width}" height="{row_h}" fill="#f8fafc"/>')
        text = title.split(": ", 1)[1]
        last = violation is not None and k == len(steps) - 1
        parts.append(
            _text(
                10,
                y0 + row_h / 2 + 4,
                f"{k + 1}. {text}",
                fill="#b91c1c" if last else "#0f172a",
                font_weight="bold" if last else "normal",
            )
        )
    # Lanes: a thick line per step, coloured by the server's role during that step.
    for i in range(n):
        x = lane_x(i)
        parts.append(
            _text(
                x,
                top - 12,
                server_name(i),
                text_anchor="middle",
                font_size="13",
                font_weight="bold",
            )
        )
        for k, (_label, state) in enumerate(steps):
            role = Role(state.servers[i].state)
            y0 = top + row_h * k
            parts.append(
                f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y0 + row_h}" '
                f'stroke="{ROLE_LINE.get(int(role), "#475569")}" '
                f'stroke-width="{6 if role == Role.Leader else 4}"/>'
            )
        parts.append(
            f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 20}" stroke="#cbd5e1" '
            'stroke-width="2" stroke-dasharray="3,3"/>'
        )
    # Messages, drawn under the badges.
    for m, sent, got, how in _message_flights(steps):
        x1, y1 = lane_x(m.msource), row_y(sent)
        x2 = lane_x(m.mdest)
        y2 = row_y(got) if got is not None else bottom + 18
        text = message_text(m)
        faint = how != "received"
        colour = "#94a3b8" if faint else "#334155"
        dash = ' stroke-dasharray="5,4"' if faint else ""
        marker = "arrow-faint" if faint else "arrow"
        if m.msource == m.mdest:
            # A message to oneself (raft.tla allows it): a loop to the right of the lane.
            path = f"M{x1},{y1} C{x1 + 60},{y1} {x2 + 60},{y2} {x2 + 4},{y2}"
            parts.append(
                f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.3"'
                f'{dash} marker-end="url(#{marker})"/>'
            )
            parts.append(_text(x1 + 48, (y1 + y2) / 2, text, fill=colour, font_size="9"))
        else:
            shrink = 6 if x2 > x1 else -6
            parts.append(
                f'<line x1="{x1}" y1="{y1}" x2="{x2 - shrink}" y2="{y2}" stroke="{colour}" '
                f'stroke-width="1.3"{dash} marker-end="url(#{marker})"/>'
            )
            # The label sits near the sender, where arrows of one step have not crossed yet.
            tx = x1 + (x2 - x1) * 0.3
            ty = y1 + (y2 - y1) * 0.3 - 3
            parts.append(_text(tx, ty, text, fill=colour, font_size="9", text_anchor="middle"))
        if how == "dropped":
            parts.append(
                _text(
                    x2 - shrink if m.msource != m.mdest else x2,
                    y2 + 5,
                    "✕",
                    fill="#b91c1c",
                    font_size="14",
                    text_anchor="middle",
                )
            )
    # Badges: what each step did to each server.
    for k, (_label, state) in enumerate(steps):
        before = steps[k - 1][1] if k else None
        for i, srv in enumerate(state.servers):
            events = _lane_events(before.servers[i] if before is not None else None, srv)
            for e, (text, colour) in enumerate(events):
                w = 7 * len(text) + 10
                x = lane_x(i) + 8
                y = row_y(k) - 8 + e * 15 - (len(events) - 1) * 7
                parts.append(
                    f'<rect x="{x}" y="{y - 10:.1f}" width="{w}" height="14" rx="4" '
                    f'fill="white" stroke="{colour}"/>'
                )
                parts.append(_text(x + 5, y + 1, text, fill=colour, font_size="10"))
    legend_y = height - 8
    parts.append(
        _text(
            10,
            legend_y,
            "lane colour: grey follower, orange candidate, green leader · "
            "dashed: dropped or still in flight",
            fill="#475569",
            font_size="10",
        )
    )
    parts.append("</svg>")
    return "\n".join(parts)
