"""Trace validation: replay an implementation's trace against the spec (``raftmc conform``).

The approach follows etcd/raft's TLA+ trace validation and the CCF work: the spec, not a second
hand-written model, decides whether each logged event is allowed. Improvements over those, made
possible by a spec that is code:

- The validator keeps the spec's full state for every node (term, role, vote, log, commitIndex,
  votes, matchIndex, ...), but a trace shows only part of it. Each event is explained by a short
  sequence of spec steps found by a bounded breadth-first search over the actions of that node
  that could produce it (the event kind narrows the candidates to a handful), the steps nobody
  logs included: a message handled silently, a vote sent to oneself, a duplicate delivered.
- After the steps, the spec's state of the node must agree with every field the event reports,
  and a sent message must equal the spec's message field by field. The first event that no
  sequence explains is reported with the spec's state before it, the candidate actions and why
  each fails (not enabled, or which values differ, expected against observed).
- Messages are matched by id, so the bag of messages in flight is rebuilt from the sends and
  nodes need no common clock.

The spec runs with the options ``raftkit.impl`` uses (``spec/options.py``): several entries per
AppendEntries, PreVote, the leader's no-op, snapshots, and stepping down; and, for a trace with
membership events, single-server membership changes (``spec/membership.py``). The actions come
from the spec's table of ``Next`` for those options, so each is the spec's one definition, with
the guards the options put on it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...spec import options as O
from ...spec.action import Action, Kind
from ...spec.configuration import config_entry, config_index, configuration, is_config
from ...spec.next import next_table, receive
from ...spec.state import (
    NIL,
    RESPONSES,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    InstallSnapshotRequest,
    InstallSnapshotResponse,
    MType,
    PreVoteRequest,
    PreVoteResponse,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
    last_term,
)
from . import rules as R
from .explain import Explaining
from .records import (
    DEFAULT_MAX_INTERPRETATIONS,
    ENTRY_VALUE,
    IMPL_OPTIONS,
    KEY_FIELDS,
    MAX_DEPTH,
    REQUIRED_ACTION,
    Failure,
    Interp,
    Label,
    Outcome,
    Step,
    TooManyInterpretations,
    spec_key,
    spec_params,
)
from .traceformat import (
    MEMBERSHIP_EVENTS,
    MEMBERSHIP_INFO,
    ROLES,
    TraceError,
    TraceEvent,
    read_traces,
    spec_event,
)

#: The spec's local actions whose events ``_spontaneous`` knows (how an implementation logs a
#: step of each, and which arguments the event gives). Every other local action of the spec
#: is tried behind every event.
SHOWN_BY = frozenset(
    {
        "Timeout", "PreVoteTimeout", "RequestVote", "BecomeLeader", "StepDown", "AppendNoop",
        "ClientRequest", "AdvanceCommitIndex", "Compact", "RequestPreVote", "InstallSnapshot",
        "AppendEntries", "Restart", "AddServer", "RemoveServer",
    }
)


# --- messages: the spec's form and the trace's form, compared as keys -----------------------


class Validator(Explaining):
    """Replays events one at a time against the spec; ``feed`` returns a Failure or None.

    For each node it keeps every interpretation of the node's events so far (the spec states
    the shortest runs of spec steps explaining each event lead to, equal ones merged). An event
    is a deviation only when no interpretation explains it. After a deviation the node is
    resynchronised from the state its event reports, so that validation can go on."""

    def __init__(
        self,
        nodes: Sequence[str],
        options: Sequence[str] = IMPL_OPTIONS,
        max_interpretations: int = DEFAULT_MAX_INTERPRETATIONS,
        initial: int = 0,
    ) -> None:
        # With membership, the first ``initial`` nodes are the initial configuration (0: all).
        self.nodes = tuple(nodes)
        self.index = {name: k for k, name in enumerate(self.nodes)}
        self.options = tuple(options)
        self.p = spec_params(len(self.nodes), options, initial)
        n = len(self.nodes)
        # The spec's local actions by name, in the form the options give them.
        self.act = {d.name: d.fn for d in next_table(self.p) if d.kind is Kind.LOCAL}
        # An election a TimeoutNow starts skips PreVote (§3.10): raft.tla's Timeout, with the
        # guards of the other options.
        no_prevote = dataclasses.replace(self.p, prevote=False)
        self.transfer_timeout = next(
            d.fn for d in next_table(no_prevote) if d.name == "Timeout"
        )
        self.p_transfer = no_prevote
        # The spec's local actions that no event kind is known to show (``_spontaneous``): an
        # action added to the spec is tried behind every event, and kept where the state the
        # node reports agrees.
        self.unmapped = tuple(
            d for d in next_table(self.p) if d.kind is Kind.LOCAL and d.name not in SHOWN_BY
        )
        self.interps: list[list[Interp] | None] = [None] * n
        # What each node's last event reported (the state an event may lag behind, see _agrees).
        self.last_obs: list[tuple | None] = [None] * n
        self.last_receive: list[TraceEvent | None] = [None] * n
        self.blank = tuple(
            Server(0, Role.Follower, NIL, (), 0, (), (), (1,) * n, (0,) * n, 0)
            for _ in range(n)
        )
        # Trace message id -> the spec messages it may be (one unless fields are unobserved).
        self.spec_msgs: dict[str, tuple] = {}
        self.received: dict[str, int] = {}
        self.max_interpretations = max_interpretations
        self.widest = 1
        self.steps = 0
        self.events = 0
        # Called with (event, labels) after each explained event (tests watch the steps).
        self.on_step: Callable[[TraceEvent, tuple], None] | None = None

    @property
    def servers(self) -> list[Any]:
        """One spec state per node (of its first interpretation; None before its first event)."""
        return [None if x is None else x[0].server for x in self.interps]

    # -- helpers --------------------------------------------------------------------------

    def _node(self, ev: TraceEvent, name: str, fieldname: str) -> int:
        k = self.index.get(name)
        if k is None:
            raise TraceError(ev.path, ev.line, fieldname, f"unknown node {name!r}")
        return k

    def _observed(self, ev: TraceEvent) -> tuple:
        vote = NIL if ev.vote is None else self._node(ev, ev.vote, "state.vote")
        return (
            ev.term,
            ROLES[ev.role],
            vote,
            ev.commit_index,
            ev.log_length,
            ev.last_log_term,
            ev.snapshot_index,
        )

    @staticmethod
    def _spec_obs(srv: Any) -> tuple:
        return (
            srv.currentTerm,
            srv.state,
            srv.votedFor,
            srv.commitIndex,
            len(srv.log),
            last_term(srv.log),
            srv.snapshotIndex,
        )

    @staticmethod
    def _agrees(
        srv: Any, observed: tuple, last: tuple | None, exact: bool, before: Any = None
    ) -> bool:
        """Does the event's reported state agree with the spec state ``srv``?

        Exactly, or (``exact`` False) as a moment within the spec's steps: an implementation
        applies one atomic spec step's effects in its own order and logs states in between.
        Each of term, role, vote and snapshot index is the spec's value or the value the node's
        previous event reported (not changed yet); the commit index lies between the previous
        one and the spec's; the log is the spec's, the previous one, or a prefix of the spec's
        that keeps every entry the spec's steps kept (``before`` is the spec state before
        them): entries appended one by one, after a truncation no deeper than the spec's."""
        spec = Validator._spec_obs(srv)
        if spec == observed:
            return True
        if exact or last is None:
            return False
        for k in (0, 1, 2, 6):
            if observed[k] != spec[k] and observed[k] != last[k]:
                return False
        if observed[2] != spec[2] and observed[0] != last[0]:
            return False  # a vote belongs to its term: it cannot lag into a new one
        c = observed[3]
        if c != spec[3] and not (last[3] <= c <= spec[3]):
            return False
        n, t = observed[4], observed[5]
        if (n, t) == (spec[4], spec[5]) or (n, t) == (last[4], last[5]):
            return True
        log = srv.log
        if not (srv.snapshotIndex <= n < len(log) and last_term(log[:n]) == t):
            return False
        if before is None:
            return True
        kept = 0
        for a, b in zip(before.log, log, strict=False):
            if a != b:
                break
            kept += 1
        return n >= kept

    def _obs_key(self, ev: TraceEvent, m: Any = None) -> tuple:
        """The trace's message as a key comparable with ``spec_key``; None where unobserved."""
        m = m or ev.msg
        assert m is not None
        f = m.fields
        head = (
            m.type,
            m.term,
            self._node(ev, m.src, "msg.src"),
            self._node(ev, m.dst, "msg.dst"),
        )
        if m.type == "AppendEntries":
            es = f.get("entries")
            entries = None if es is None else tuple(self._entry_key(ev, e) for e in es)
            return (*head, f.get("prev_log_index"), f.get("prev_log_term"), entries,
                    f.get("leader_commit"))  # fmt: skip
        if m.type == "AppendEntriesResponse":
            # A refusal's match index means nothing to the spec (raft.tla sends 0).
            ok = f.get("success")
            return (*head, ok, f.get("match_index") if ok else (None if ok is None else 0))
        return (*head, *(f.get(k) for k in KEY_FIELDS[m.type]))

    def _entry_key(self, ev: TraceEvent, e: tuple) -> tuple[int, int | None]:
        """An entry as ``(term, value)`` in the spec's terms; a configuration entry whose
        members the trace does not give has value None (any configuration entry)."""
        term, _index, kind, members = e
        if kind != "config":
            return (term, ENTRY_VALUE[kind])
        if members is None:
            return (term, None)
        c = config_entry(term, self._members(ev, members, "msg.entries"))
        return (c.term, c.value)

    @staticmethod
    def _key_matches(spec: tuple, want: tuple) -> bool:
        return len(spec) == len(want) and all(
            w is None or w == s or _entries_match(s, w) for s, w in zip(spec, want, strict=True)
        )

    def _state_with(self, i: int, srv: Any, bag: tuple) -> State:
        servers = self.blank[:i] + (srv,) + self.blank[i + 1 :]
        return State(servers=servers, messages=bag, history=(), ghost=())

    def spec_message(self, ev: TraceEvent, m: Any, like: Any = None) -> Any:
        """A trace message as the spec's message (for messages from outside the traced nodes,
        and after a deviation). Unobserved fields come from ``like`` (a spec message of the same
        type), else from defaults."""
        src, dst = self._node(ev, m.src, "msg.src"), self._node(ev, m.dst, "msg.dst")
        f = m.fields

        def get(name: str, attr: str, default: Any) -> Any:
            v = f.get(name)
            if v is not None:
                return v
            return getattr(like, attr, default) if like is not None else default

        term = m.term if m.term is not None else getattr(like, "mterm", 0)
        t = m.type
        last = (get("last_log_term", "mlastLogTerm", 0), get("last_log_index", "mlastLogIndex", 0))
        granted = get("vote_granted", "mvoteGranted", False)
        if t == "RequestVote":
            return RequestVoteRequest(MType.RequestVoteRequest, term, *last, src, dst)
        if t == "RequestVoteResponse":
            return RequestVoteResponse(MType.RequestVoteResponse, term, granted, (), src, dst)
        if t == "PreVote":
            return PreVoteRequest(MType.PreVoteRequest, term, *last, src, dst)
        if t == "PreVoteResponse":
            return PreVoteResponse(MType.PreVoteResponse, term, granted, src, dst)
        if t == "AppendEntries":
            es = f.get("entries")
            if es is None:
                entries = getattr(like, "mentries", ())
            else:
                known = getattr(like, "mentries", ())
                entries = tuple(
                    self._spec_entry(ev, e, known[k] if k < len(known) else None)
                    for k, e in enumerate(es)
                )
            prev = (
                get("prev_log_index", "mprevLogIndex", 0),
                get("prev_log_term", "mprevLogTerm", 0),
            )
            commit = get("leader_commit", "mcommitIndex", 0)
            mt = MType.AppendEntriesRequest
            return AppendEntriesRequest(mt, term, *prev, entries, (), commit, src, dst)
        if t == "AppendEntriesResponse":
            ok = get("success", "msuccess", False)
            match = get("match_index", "mmatchIndex", 0) if ok else 0
            return AppendEntriesResponse(MType.AppendEntriesResponse, term, ok, match, src, dst)
        match = get("match_index", "mmatchIndex", 0)
        if t == "InstallSnapshot":
            idx = get("last_included_index", "mlastIncludedIndex", 0)
            lt = get("last_included_term", "mlastIncludedTerm", 0)
            snap = getattr(like, "msnapshot", ())
            return InstallSnapshotRequest(
                MType.InstallSnapshotRequest, term, idx, lt, snap, src, dst
            )
        return InstallSnapshotResponse(MType.InstallSnapshotResponse, term, match, src, dst)

    def _spec_entry(self, ev: TraceEvent, e: tuple, like: Entry | None) -> Entry:
        term, value = self._entry_key(ev, e)
        if value is not None:
            return Entry(term, value)
        # A configuration entry of unobserved members: the spec's, else every node's.
        if like is not None and is_config(like):
            return like
        return config_entry(term, range(len(self.nodes)))

    # -- candidate steps ------------------------------------------------------------------

    def _spontaneous(self, ev: TraceEvent, i: int) -> list[tuple[Label, Callable]]:
        # The event kinds each local action of SHOWN_BY is known to be logged as, and the
        # arguments the event gives it.
        """The spec actions of node i (other than handling a message) that could stand behind
        this event."""
        p, k, act = self.p, ev.kind, self.act
        out: list[tuple[Label, Callable]] = []

        def add(name: str, *args: Any) -> None:
            fn = act.get(name)
            if fn is not None:
                out.append(((name, i, *args), lambda s: fn(p, s, i, *args)))

        if k == "BecomePreCandidate":
            add("PreVoteTimeout")
        elif k == "BecomeCandidate":
            if ev.info.get("transfer") is True and p.prevote:
                pt, fn = self.p_transfer, self.transfer_timeout
                out.append((("Timeout", i), lambda s: fn(pt, s, i)))
            else:
                add("Timeout")
            add("PreVoteTimeout")
            # The implementation votes for itself at once; raft.tla sends itself a RequestVote.
            add("RequestVote", i)
        elif k == "BecomeLeader":
            add("BecomeLeader")
        elif k == "BecomeFollower" or (k == "CatchUpEnded" and ev.role == "follower"):
            # A catch-up ends when its leader steps down, and may be logged first.
            add("StepDown")
        elif k == "ClientRequest":
            if ev.info.get("entry_kind") == "noop" and p.noop:
                add("AppendNoop")
            else:
                add("ClientRequest", 1)
        elif k in ("AddServer", "RemoveServer"):
            add(k, self._node(ev, ev.info["server"], "info.server"))
        elif k == "AdvanceCommitIndex":
            add("AdvanceCommitIndex")
        elif k == "Compacted":
            add("Compact", ev.info["index"])
        elif k == "Send" and spec_event(ev):
            m = ev.msg
            assert m is not None
            j = self._node(ev, m.dst, "msg.dst")
            if m.type == "RequestVote":
                add("RequestVote", j)
            elif m.type == "PreVote":
                add("RequestPreVote", j)
            elif m.type == "InstallSnapshot":
                add("InstallSnapshot", j)
            elif m.type == "AppendEntries":
                prev, count = m.fields["prev_log_index"], len(m.fields["entries"])
                if p.batch:
                    # leaderCommit: min(commitIndex, prev + count), or (whole) commitIndex. A
                    # value the trace shows above prev + count needs the whole one; one at or
                    # below it is given by the other whenever the whole one gives it.
                    shown = m.fields.get("leader_commit")
                    wholes = (False, True) if shown is None else (shown > prev + count,)
                    for whole in wholes:
                        add("AppendEntries", j, prev, count, whole)
                else:
                    add("AppendEntries", j)
        if ev.vote == ev.node and k != "BecomeCandidate":
            # A candidate's vote for itself may first show in any event (raft.tla: it sends
            # itself a RequestVote; an implementation just records the vote).
            add("RequestVote", i)
        return out

    def _handlers(self, s: State, i: int) -> Iterator[tuple[Label, State]]:
        for m, _c in s.messages:
            if m.mdest == i:
                yield from receive(self.p, s, m)

    def _expand(
        self, node: Step, i: int, spontaneous: list[tuple[Label, Callable]]
    ) -> Iterator[Step]:
        s = node.state
        before = s.messages
        used = set(node.labels)
        for label, t in self._handlers(s, i):
            yield self._child(node, label, t, before, i)
        for label, fn in spontaneous:
            if label in used:
                continue
            t = fn(s)
            if t is not None:
                yield self._child(node, label, t, before, i)
        for d in self.unmapped:
            for rest in d.each(self.p, s, i):
                action = Action(d.name, i, *rest)
                if action not in used and (t := d.fn(self.p, s, i, *rest)) is not None:
                    yield self._child(node, action, t, before, i)

    @staticmethod
    def _child(node: Step, label: Label, t: State, before: tuple, i: int) -> Step:
        produced = node.produced
        if t.messages is not before:
            old = dict(before)
            for m, c in t.messages:
                if c > old.get(m, 0) and m.mdest != i:
                    produced = (*produced, m)
            # Messages to other nodes leave the node's own little bag at once: only messages to
            # itself are for it to handle.
            kept = tuple((m, c) for m, c in t.messages if m.mdest == i)
            if len(kept) != len(t.messages):
                t = t._replace(messages=kept)
        return Step(t, (*node.labels, label), produced)

    # -- events ---------------------------------------------------------------------------

    def feed(self, ev: TraceEvent) -> Failure | None:
        """Explain one event; return a Failure if no interpretation explains it. After a
        failure the node is resynchronised from the event, so feeding may go on."""
        self.events += 1
        i = self._node(ev, ev.node, "node")
        self._check_names(ev)
        observed = self._observed(ev)
        interps = self.interps[i]
        if interps is None:
            return self._first_event(ev, i, observed)
        if ev.kind == "Restart":
            return self._restart(ev, i, observed, interps)
        failure = None
        if ev.kind == "Receive" and spec_event(ev):
            closed = [c for x in interps for c in self._close(i, x, observed)]
            if not closed:
                failure = self._overdue(ev, i, interps[0])
                closed = [x._replace(current=None, pending=(), owed=()) for x in interps]
            interps = self._receive(ev, i, _unique(closed))
        found: list[Interp] = []
        sent: list[Any] = []
        for x in interps:
            for y, m in self._search(ev, i, observed, x):
                found.append(y)
                if m is not None:
                    sent.append(m)
        found = _unique(found)
        if not found:
            failure = failure or self._explain_failure(ev, i, observed, interps[0])
            self._resync(ev, i, observed, failure, interps[0])
            return failure
        if len(found) > self.max_interpretations:
            raise TooManyInterpretations(ev, self.events, len(found), self.max_interpretations)
        self.widest = max(self.widest, len(found))
        self.interps[i] = found
        self.last_obs[i] = observed
        if ev.kind == "Send" and spec_event(ev):
            assert ev.msg is not None
            self.spec_msgs[ev.msg.id] = tuple(dict.fromkeys(sent))
        return failure

    def _check_names(self, ev: TraceEvent) -> None:
        """Every node a membership event or a configuration entry names is in the cluster
        (``TraceError`` otherwise: malformed input, not a deviation)."""
        field = MEMBERSHIP_INFO.get(ev.kind)
        if field == "members":
            self._members(ev, ev.info["members"], "info.members")
        elif field is not None:
            self._node(ev, ev.info[field], "info." + field)
        if ev.msg is not None and ev.msg.type == "AppendEntries":
            for _t, _i, _kind, members in ev.msg.fields.get("entries", ()):
                if members is not None:
                    self._members(ev, members, "msg.entries")

    def _first_event(self, ev: TraceEvent, i: int, observed: tuple) -> Failure | None:
        if ev.kind != "Restart" or ev.log_length or ev.commit_index or ev.role != "follower":
            failure = self._fail_simple(
                ev,
                i,
                "a node's trace must begin with its first start (a Restart event of a follower "
                "with an empty log): the validator starts it from the spec's initial state",
            )
            self._resync(ev, i, observed, failure, Interp(self.blank[i], None, (), ()))
            return failure
        # raft.tla starts in term 1; an implementation may start in term 0. Terms are only
        # compared with each other, so the spec starts where the implementation does.
        srv = self.blank[i]._replace(currentTerm=ev.term, votedFor=observed[2])
        self.interps[i] = [Interp(srv, None, (), ())]
        self.last_obs[i] = observed
        return None

    def _restart(
        self, ev: TraceEvent, i: int, observed: tuple, interps: list[Interp]
    ) -> Failure | None:
        # A crash may come before a reply is sent or a message handled: nothing is owed.
        found = []
        for x in interps:
            srv = O.restart(self.p, self._state_with(i, x.server, ()), i).servers[i]
            if self._spec_obs(srv) == observed:
                found.append(Interp(srv, None, (), ()))
        if not found:
            failure = self._explain_failure(ev, i, observed, interps[0])
            self._resync(ev, i, observed, failure, interps[0])
            return failure
        self.interps[i] = _unique(found)
        self.last_obs[i] = observed
        self.last_receive[i] = None
        self.steps += 1
        return None

    def _receive(self, ev: TraceEvent, i: int, interps: list[Interp]) -> list[Interp]:
        m = ev.msg
        assert m is not None
        cands = self.spec_msgs.get(m.id)
        if cands is None:
            # A message from outside the traced nodes (``external``): the trace gives it whole.
            cands = (self.spec_message(ev, m),)
            self.spec_msgs[m.id] = cands
        count = self.received.get(m.id, 0) + 1
        self.received[m.id] = count
        if count > 1:
            self.steps += 1  # received more often than sent: the network duplicated it
        self.last_receive[i] = ev
        return [x._replace(current=c, pending=(), owed=()) for x in interps for c in cands]

    def _close(self, i: int, x: Interp, observed: tuple) -> list[Interp]:
        """Before the node's next message: the interpretations in which the last message has
        been handled and every reply it required was sent. A handling no event showed must
        change nothing the trace shows (a response tallied, matchIndex raised, a stale answer
        dropped), or give the state the new event reports."""
        if x.owed:
            return []
        if x.current is None:
            return [x._replace(pending=())]
        m = x.current
        out = []
        frontier = [(self._state_with(i, x.server, ((m, 1),)), 0)]
        seen = self._spec_obs(x.server)
        for _depth in range(3):
            nxt = []
            for s, _ in frontier:
                for _label, t in receive(self.p, s, m) if s.messages else ():
                    if any(y.mdest != i for y, _c in t.messages):
                        continue  # it sends something: a reply the trace never showed
                    srv = t.servers[i]
                    if self._spec_obs(srv) not in (seen, observed):
                        continue
                    if not any(y == m for y, _c in t.messages):
                        out.append(Interp(srv, None, (), ()))
                    else:
                        nxt.append((t, 0))
            self.steps += len(out)
            if out or not nxt:
                break
            frontier = nxt
        return out

    def _overdue(self, ev: TraceEvent, i: int, x: Interp) -> Failure:
        """The deviation of a node that received a message and, before its next message, did
        not do what the spec requires of it: send the reply, or handle the message."""
        got = self.last_receive[i]
        where = f" (received at {got.where})" if got is not None else ""
        if x.owed:
            reply = x.owed[0]
            mtype = spec_key(reply)[0]
            reason = (f"the reply {self._show_msg(reply)} that the spec requires{where} was "
                      f"never sent before this next message")  # fmt: skip
            return self._fail_rule(ev, i, reason, R.reply_rule(mtype), R.LIVENESS)
        m = x.current
        steps = list(receive(self.p, self._state_with(i, x.server, ((m, 1),)), m))
        what = ", ".join(self._fmt(label) for label, _t in steps) or "nothing"
        if steps and steps[0][0][0] == "UpdateTerm":
            rule = R.RULE_TERM
        elif any(y.mdest != i for _l, t in steps for y, _c in t.messages):
            rule = R.reply_rule(spec_key(m)[0] + "Response" if spec_key(m)[0] in
                                ("RequestVote", "AppendEntries") else "")  # fmt: skip
        else:
            rule = R.RULE_HANDLE
        reason = (f"{self._show_msg(m)}{where} was not handled as the spec requires "
                  f"({what}) before this next message")  # fmt: skip
        return self._fail_rule(ev, i, reason, rule, R.LIVENESS)

    def _goal(
        self, ev: TraceEvent, i: int, observed: tuple, node: Step, x: Interp
    ) -> list[tuple[str, int, Any]] | None:
        """Does this run explain the event? The ways it does: for a Send, which spec message
        it is (just produced, or pending from an earlier step), as the spec has it."""
        exact = ev.kind == "Receive"
        if not self._agrees(node.state.servers[i], observed, self.last_obs[i], exact, x.server):
            return None
        need = REQUIRED_ACTION.get(ev.kind)
        if need is not None and not any(label[0] in need for label in node.labels):
            # The event says the action happened, even if the state it shows looks the same
            # (a pre-candidate starting a new round resets its pre-votes).
            return None
        if not self._configuration_agrees(ev, node.state.servers[i]):
            return None
        if ev.kind != "Send" or not spec_event(ev):
            return [("none", 0, None)]
        want = self._obs_key(ev)
        hits = []
        for where, msgs in (("produced", node.produced), ("pending", x.pending)):
            for k, m in enumerate(msgs):
                if self._key_matches(spec_key(m), want):
                    hits.append((where, k, m))
                else:
                    alt = self._short_match(m, want, x.current)
                    if alt is not None:
                        hits.append((where, k, alt))
        return hits or None

    def _members(self, ev: TraceEvent, names: Sequence[str], fieldname: str) -> tuple[int, ...]:
        return tuple(sorted(self._node(ev, x, fieldname) for x in names))

    def _configuration_agrees(self, ev: TraceEvent, srv: Any) -> bool:
        """A membership event's configuration is the spec's: the latest in the node's log
        (§4.1); once committed, its entry is within the commit index the event reports."""
        if ev.kind not in ("ConfigurationChanged", "ConfigurationCommitted"):
            return True
        members = self._members(ev, ev.info["members"], "info.members")
        if members != configuration(self.p, srv.log):
            return False
        return ev.kind == "ConfigurationChanged" or config_index(srv.log) <= ev.commit_index

    @staticmethod
    def _short_match(m: Any, want: tuple, request: Any) -> Any:
        """A success reply acknowledging ``prevLogIndex + len(entries)`` of the request it
        answers, as raft.tla's follower does, where the spec's option acknowledges its whole
        committed prefix when that is longer: the same reply with the shorter match."""
        if (
            m.mtype != MType.AppendEntriesResponse
            or not m.msuccess
            or request is None
            or request.mtype != MType.AppendEntriesRequest
        ):
            return None
        short = m._replace(mmatchIndex=request.mprevLogIndex + len(request.mentries))
        return short if short != m and Validator._key_matches(spec_key(short), want) else None

    def _search(
        self, ev: TraceEvent, i: int, observed: tuple, x: Interp
    ) -> list[tuple[Interp, Any]]:
        """Every interpretation, after this event, that the shortest runs of spec steps from
        ``x`` explaining it lead to (with the spec message of a Send)."""
        bag = ((x.current, 1),) if x.current is not None else ()
        start = Step(self._state_with(i, x.server, bag), (), ())
        spontaneous = self._spontaneous(ev, i)
        frontier = [start]
        # Runs whose result the event shows as a moment within them (lagging effects) are
        # kept only if no run of at most MAX_DEPTH steps explains the event exactly; of them,
        # the shortest.
        lagging: list[tuple[Step, Any]] = []
        for depth in range(MAX_DEPTH + 1):
            exact: list[tuple[Step, Any]] = []
            lag_here: list[tuple[Step, Any]] = []
            nxt: list[Step] = []
            for node in frontier:
                hits = self._goal(ev, i, observed, node, x)
                if hits is not None:
                    if self._spec_obs(node.state.servers[i]) == observed:
                        exact.extend((node, hit) for hit in hits)
                    elif not lagging:
                        lag_here.extend((node, hit) for hit in hits)
                if depth < MAX_DEPTH and not exact:
                    nxt.extend(self._expand(node, i, spontaneous))
            if exact:
                return [self._commit(ev, i, x, node, hit) for node, hit in exact]
            lagging = lagging or lag_here
            if not nxt:
                break
            frontier = nxt
        return [self._commit(ev, i, x, node, hit) for node, hit in lagging]

    def _commit(
        self, ev: TraceEvent, i: int, x: Interp, node: Step, hit: tuple[str, int, Any]
    ) -> tuple[Interp, Any]:
        s = node.state
        # Messages a node sent itself (its own vote) are handled at once if that shows nowhere:
        # the implementation counts its own vote without a message.
        for _ in range(3):
            own = [m for m, _c in s.messages if m.msource == i and m.mdest == i]
            if not own:
                break
            for label, t in receive(self.p, s, own[0]):
                if self._spec_obs(t.servers[i]) == self._spec_obs(s.servers[i]):
                    node = Step(t, (*node.labels, label), node.produced)
                    s = t
                break
            else:
                break
        current = x.current
        if current is not None and not any(m == current for m, _c in s.messages):
            current = None
        produced = list(node.produced)
        pending = list(x.pending)
        where, k, spec_m = hit
        if where == "produced":
            produced.pop(k)
        elif where == "pending":
            pending.pop(k)
        owed = [m for m in x.owed if m in pending]
        owed += [m for m in produced if m.mtype in RESPONSES]
        self.steps += len(node.labels)
        if self.on_step is not None:
            self.on_step(ev, node.labels)
        return Interp(s.servers[i], current, (*pending, *produced), tuple(owed)), spec_m

    def _resync(self, ev: TraceEvent, i: int, observed: tuple, failure: Failure, x: Interp) -> None:
        """After a deviation: one interpretation, the closest spec state with what the event
        reports written over it, so that the node's later events are checked from there."""
        srv = x.server
        if failure.state_closest is not None:
            srv = failure.state_closest.servers[i]
        term, role, vote, commit, length, lterm, snap = observed
        log = srv.log[:length]
        if len(log) < length:
            log = log + (Entry(lterm, 1),) * (length - len(log))
        if log and log[-1].term != lterm:
            log = log[:-1] + (Entry(lterm, log[-1].value),)
        n = len(self.nodes)
        fixed = srv._replace(
            currentTerm=term, state=role, votedFor=vote, commitIndex=commit, log=log,
            snapshotIndex=min(snap, length),
        )  # fmt: skip
        if role == Role.Leader and srv.state != Role.Leader:
            fixed = fixed._replace(nextIndex=(length + 1,) * n, matchIndex=(0,) * n)
        current, pending, owed = x.current, x.pending, x.owed
        if ev.kind == "Receive" and spec_event(ev):
            assert ev.msg is not None
            current = self.spec_msgs[ev.msg.id][0]
        elif ev.kind == "Send" and spec_event(ev):
            m = ev.msg
            assert m is not None
            key = (m.type, self._node(ev, m.dst, "msg.dst"))
            pending = tuple(y for y in pending if (spec_key(y)[0], y.mdest) != key)
            owed = tuple(y for y in owed if y in pending)
            like = next((y for y in x.pending if spec_key(y)[0] == m.type), None)
            self.spec_msgs[m.id] = (self.spec_message(ev, m, like),)
            if m.type.endswith("Response"):
                current = None  # the node answered the message in its own way
        elif ev.kind == "Restart":
            current, pending, owed = None, (), ()
        self.interps[i] = [Interp(fixed, current, pending, owed)]
        self.last_obs[i] = observed

    # -- failure reports ------------------------------------------------------------------




def initial_configuration(events: Sequence[TraceEvent]) -> tuple[str, ...]:
    """The cluster a membership trace starts from: the peers each node's first Restart names
    (empty unless every node's first Restart names them)."""
    first: set[str] = set()
    names: set[str] = set()
    for ev in events:
        if ev.kind == "Restart" and ev.node not in first:
            first.add(ev.node)
            peers = ev.info.get("peers")
            if not (isinstance(peers, list) and all(isinstance(x, str) for x in peers)):
                return ()
            names.update(peers)
    return tuple(sorted(names))


def nodes_of(events: Sequence[TraceEvent]) -> tuple[str, ...]:
    """The cluster: the peers a Restart event names, or every node the trace mentions."""
    names: set[str] = set()
    for ev in events:
        peers = ev.info.get("peers") if ev.kind == "Restart" else None
        if isinstance(peers, list) and all(isinstance(x, str) for x in peers):
            names.update(peers)
        names.add(ev.node)
        if ev.msg is not None:
            names.update((ev.msg.src, ev.msg.dst))
    return tuple(sorted(names))


def _entries_match(spec: Any, want: Any) -> bool:
    """Entries of a message key: equal, but for configuration entries of unobserved members."""
    if not isinstance(want, tuple) or not isinstance(spec, tuple) or len(spec) != len(want):
        return False
    for (st, sv), (wt, wv) in zip(spec, want, strict=True):
        if st != wt or (sv != wv and not (wv is None and is_config(Entry(st, sv)))):
            return False
    return True


def _unique(interps: list[Interp]) -> list[Interp]:
    """Equal interpretations merged (first occurrence kept)."""
    return list(dict.fromkeys(interps)) if len(interps) > 1 else interps


def validate(
    events: Sequence[TraceEvent],
    options: Sequence[str] = IMPL_OPTIONS,
    nodes: Sequence[str] | None = None,
    on_step: Callable[[TraceEvent, tuple], None] | None = None,
    keep_going: bool = False,
    max_interpretations: int = DEFAULT_MAX_INTERPRETATIONS,
) -> Outcome:
    """Replay merged events against the spec; stop at the first event it cannot explain, or
    (``keep_going``) report every such event, resynchronising the node after each.

    Raises ``TooManyInterpretations`` if one node's interpretations outgrow the limit."""
    t0 = time.perf_counter()
    names = tuple(nodes) if nodes else nodes_of(events)
    if "prevote" in options and not any(ev.kind == "BecomePreCandidate" for ev in events):
        # An implementation that never pre-campaigns is checked against raft.tla's elections
        # (with PreVote on, the spec only lets a pre-candidate start an election).
        options = tuple(o for o in options if o != "prevote")
    changes = next((ev for ev in events if ev.kind in MEMBERSHIP_EVENTS), None)
    start = tuple(x for x in initial_configuration(events) if x in names) or names
    initial = 0
    if changes is None and len(start) == len(names):
        # A cluster that never changed its membership is checked against the spec without it
        # (the same behaviours, without two actions to try behind every event). One with
        # spares (nodes outside the initial configuration) needs it even so: majorities are
        # of the configuration, not of every node.
        options = tuple(o for o in options if o != "membership")
    elif "membership" not in options:
        where = changes or events[0]
        what = f"{where.kind} is a membership event" if changes else "the trace has spares"
        raise TraceError(where.path, where.line, "event" if changes else None,
                         f"{what}, but the options leave out membership")  # fmt: skip
    else:
        # The spec's initial configuration is its first servers: the trace's initial cluster
        # first, then the servers that may join.
        names = start + tuple(x for x in names if x not in start)
        initial = len(start)
    v = Validator(names, options, max_interpretations, initial)
    v.on_step = on_step
    kinds: dict[str, int] = {}
    failure = None
    deviations: list[R.Deviation] = []
    for ev in events:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
        f = v.feed(ev)
        if f is not None:
            failure = failure or f
            deviations.append(f.deviation())
            if not keep_going:
                break
    return Outcome(
        v.events, v.steps, time.perf_counter() - t0, failure, names, tuple(options), kinds,
        deviations if keep_going else [], v.widest,
    )  # fmt: skip


def conform_files(
    paths: Sequence[str],
    options: Sequence[str] = IMPL_OPTIONS,
    keep_going: bool = False,
    max_interpretations: int = DEFAULT_MAX_INTERPRETATIONS,
) -> Outcome:
    """Read, merge and validate trace files (``TraceError`` for malformed input)."""
    return validate(read_traces(paths), options, keep_going=keep_going,
                    max_interpretations=max_interpretations)  # fmt: skip


def conform_lines(lines: Sequence[str], name: str = "(trace)", keep_going: bool = False) -> Outcome:
    """Validate a trace given as JSON lines in memory (tests, and tools that pipe traces)."""
    from .traceformat import merge, parse_line

    events = [parse_line(text, name, k) for k, text in enumerate(lines, 1) if text.strip()]
    return validate(merge([events]), keep_going=keep_going)


