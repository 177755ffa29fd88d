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
AppendEntries, PreVote, the leader's no-op, snapshots, and stepping down.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..spec import actions as A
from ..spec import options as O
from ..spec.model import format_label
from ..spec.next import receive
from ..spec.params import Params
from ..spec.state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
    last_term,
    with_message,
    without_message,
)
from .tracefmt import TraceError, TraceEvent, event_summary, read_traces

ROLE_OF = {
    "follower": Role.Follower,
    "precandidate": Role.PreCandidate,
    "candidate": Role.Candidate,
    "leader": Role.Leader,
}
ROLE_NAME = {v: k for k, v in ROLE_OF.items()}
ENTRY_VALUE = {"noop": O.NOOP, "normal": 1}
OBSERVED = (
    "term",
    "role",
    "vote",
    "commit_index",
    "log_length",
    "last_log_term",
    "snapshot_index",
)
# Longest run of spec steps one event may stand for. A pre-candidate that wins its pre-vote and
# becomes a candidate is the longest: pre-vote tallied, Timeout, its own RequestVote sent,
# handled and answered, the answer tallied (5).
MAX_DEPTH = 6

# Events that name an action: their explanation must take it.
REQUIRED_ACTION = {
    "BecomePreCandidate": ("PreVoteTimeout",),
    "BecomeCandidate": ("Timeout",),
    "BecomeLeader": ("BecomeLeader",),
    "ClientRequest": ("ClientRequest", "AppendNoop"),
    "Compacted": ("Compact",),
}

# Options of the spec that raftkit.impl uses (all of them). ``batch`` is unbounded here: the
# trace says how many entries a request carried.
IMPL_OPTIONS = ("batch", "prevote", "noop", "snapshots", "stepdown")


def spec_params(servers: int, options: Sequence[str] = IMPL_OPTIONS) -> Params:
    """The spec's parameters for validating traces of ``servers`` nodes with these options."""
    return Params(
        servers=servers,
        values=1,
        faults=True,
        batch=1_000_000 if "batch" in options else 0,
        prevote="prevote" in options,
        noop="noop" in options,
        snapshots="snapshots" in options,
        stepdown="stepdown" in options,
    )


# --- messages: the spec's form and the trace's form, compared as keys -----------------------


def spec_key(m: Any) -> tuple:
    """A spec message as a comparable key in the trace's terms."""
    t = m.mtype
    head = (m.mterm, m.msource, m.mdest)
    if t == MType.RequestVoteRequest:
        return ("RequestVote", *head, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.RequestVoteResponse:
        return ("RequestVoteResponse", *head, m.mvoteGranted)
    if t == MType.PreVoteRequest:
        return ("PreVote", *head, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.PreVoteResponse:
        return ("PreVoteResponse", *head, m.mvoteGranted)
    if t == MType.AppendEntriesRequest:
        entries = tuple((e.term, e.value) for e in m.mentries)
        return ("AppendEntries", *head, m.mprevLogIndex, m.mprevLogTerm, entries, m.mcommitIndex)
    if t == MType.AppendEntriesResponse:
        return ("AppendEntriesResponse", *head, m.msuccess, m.mmatchIndex)
    if t == MType.InstallSnapshotRequest:
        return ("InstallSnapshot", *head, m.mlastIncludedIndex, m.mlastIncludedTerm)
    return ("InstallSnapshotResponse", *head, m.mmatchIndex)


KEY_FIELDS = {
    "RequestVote": ("last_log_index", "last_log_term"),
    "RequestVoteResponse": ("vote_granted",),
    "PreVote": ("last_log_index", "last_log_term"),
    "PreVoteResponse": ("vote_granted",),
    "AppendEntries": ("prev_log_index", "prev_log_term", "entries", "leader_commit"),
    "AppendEntriesResponse": ("success", "match_index"),
    "InstallSnapshot": ("last_included_index", "last_included_term"),
    "InstallSnapshotResponse": ("match_index",),
}


@dataclass
class Step:
    """One candidate explanation being searched: the node's spec state and what it sent."""

    state: State
    labels: tuple
    produced: tuple  # spec messages to other nodes, in order


@dataclass
class Failure:
    """Why an event could not be explained."""

    event: TraceEvent
    number: int
    node_state: dict[str, Any]
    candidates: list[tuple[str, str]]
    expected: dict[str, Any]
    observed: dict[str, Any]
    closest: list[str]
    state_before: State
    state_closest: State | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "event_number": self.number,
            "file": self.event.path,
            "line": self.event.line,
            "event": event_summary(self.event),
            "reason": self.reason,
            "spec_state_before": self.node_state,
            "candidates": [{"action": a, "why_not": w} for a, w in self.candidates],
            "closest": self.closest,
            "expected": self.expected,
            "observed": self.observed,
        }


@dataclass
class Outcome:
    """The result of validating one trace."""

    events: int
    spec_steps: int
    seconds: float
    failure: Failure | None = None
    nodes: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def summary(self) -> str:
        rate = self.events / self.seconds if self.seconds > 0 else float("inf")
        if self.ok:
            return (
                f"conforms: {self.events} events, {self.spec_steps} spec steps "
                f"({self.seconds:.2f} s, {rate:,.0f} events/s)"
            )
        f = self.failure
        assert f is not None
        return f"does not conform: event {f.number} at {f.event.where}: {f.reason}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "result": "conforms" if self.ok else "violation",
            "events": self.events,
            "spec_steps": self.spec_steps,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds) if self.seconds else None,
            "nodes": list(self.nodes),
            "options": list(self.options),
        }
        if self.failure is not None:
            out["failure"] = self.failure.to_json()
        return out


class Validator:
    """Replays events one at a time against the spec; ``feed`` returns a Failure or None."""

    def __init__(self, nodes: Sequence[str], options: Sequence[str] = IMPL_OPTIONS) -> None:
        self.nodes = tuple(nodes)
        self.index = {name: k for k, name in enumerate(self.nodes)}
        self.options = tuple(options)
        self.p = spec_params(len(self.nodes), options)
        n = len(self.nodes)
        self.servers: list[Any] = [None] * n
        self.current: list[tuple[str, Any] | None] = [None] * n
        self.pending: list[list[Any]] = [[] for _ in range(n)]
        self.spec_msg: dict[str, Any] = {}
        self.copies: dict[str, int] = {}
        self.steps = 0
        self.events = 0
        # Called with (event, labels) after each explained event (tests watch the steps).
        self.on_step: Callable[[TraceEvent, tuple], None] | None = None

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
            ROLE_OF[ev.role],
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

    def _obs_key(self, ev: TraceEvent) -> tuple:
        m = ev.msg
        assert m is not None
        f = m.fields
        head = (
            m.type,
            m.term,
            self._node(ev, m.src, "msg.src"),
            self._node(ev, m.dst, "msg.dst"),
        )
        if m.type == "AppendEntries":
            entries = tuple((t, ENTRY_VALUE[kind]) for t, _i, kind in f["entries"])
            return (*head, f["prev_log_index"], f["prev_log_term"], entries, f["leader_commit"])
        if m.type == "AppendEntriesResponse":
            # A refusal's match index means nothing to the spec (raft.tla sends 0).
            return (*head, f["success"], f["match_index"] if f["success"] else 0)
        return (*head, *(f[k] for k in KEY_FIELDS[m.type]))

    def _state_with(self, i: int, bag: tuple) -> State:
        return State(servers=tuple(self.servers), messages=bag, history=(), ghost=())

    # -- candidate steps ------------------------------------------------------------------

    def _spontaneous(self, ev: TraceEvent, i: int) -> list[tuple[Label, Callable]]:
        """The spec actions of node i (other than handling a message) that could stand behind
        this event."""
        p, k = self.p, ev.kind
        out: list[tuple[Label, Callable]] = []
        if k == "BecomePreCandidate" and p.prevote:
            out.append((("PreVoteTimeout", i), lambda s: O.prevote_timeout(p, s, i)))
        elif k == "BecomeCandidate":
            out.append((("Timeout", i), lambda s: O.timeout(p, s, i)))
            if p.prevote:
                out.append((("PreVoteTimeout", i), lambda s: O.prevote_timeout(p, s, i)))
            # The implementation votes for itself at once; raft.tla sends itself a RequestVote.
            out.append((("RequestVote", i, i), lambda s: A.request_vote(p, s, i, i)))
        elif k == "BecomeLeader":
            out.append((("BecomeLeader", i), lambda s: A.become_leader(p, s, i)))
        elif k == "BecomeFollower":
            if p.stepdown:
                out.append((("StepDown", i), lambda s: O.step_down(p, s, i)))
        elif k == "ClientRequest":
            if ev.info.get("entry_kind") == "noop" and p.noop:
                out.append((("AppendNoop", i), lambda s: O.append_noop(p, s, i)))
            else:
                out.append((("ClientRequest", i, 1), lambda s: A.client_request(p, s, i, 1)))
        elif k == "AdvanceCommitIndex":
            out.append((("AdvanceCommitIndex", i), lambda s: A.advance_commit_index(p, s, i)))
        elif k == "Compacted":
            idx = ev.info["index"]
            out.append((("Compact", i, idx), lambda s: O.compact(p, s, i, idx)))
        elif k == "Send":
            m = ev.msg
            assert m is not None
            j = self._node(ev, m.dst, "msg.dst")
            if m.type == "RequestVote":
                out.append((("RequestVote", i, j), lambda s: A.request_vote(p, s, i, j)))
            elif m.type == "PreVote":
                out.append((("RequestPreVote", i, j), lambda s: O.request_prevote(p, s, i, j)))
            elif m.type == "InstallSnapshot":
                out.append((("InstallSnapshot", i, j), lambda s: O.send_snapshot(p, s, i, j)))
            elif m.type == "AppendEntries":
                prev, count = m.fields["prev_log_index"], len(m.fields["entries"])
                if p.batch:
                    for whole in (False, True):
                        out.append(
                            (
                                ("AppendEntries", i, j, prev, count, whole),
                                lambda s, w=whole: O.append_entries(p, s, i, j, prev, count, w),
                            )
                        )
                else:
                    out.append((("AppendEntries", i, j), lambda s: A.append_entries(p, s, i, j)))
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
        """Explain one event; return a Failure if no short run of spec steps does."""
        self.events += 1
        i = self._node(ev, ev.node, "node")
        observed = self._observed(ev)
        if self.servers[i] is None:
            return self._first_event(ev, i, observed)
        if ev.kind == "Restart":
            return self._restart(ev, i, observed)
        if ev.kind == "Receive":
            self._settle(i)
            self.pending[i] = []
            m = ev.msg
            assert m is not None
            spec_m = self.spec_msg[m.id]
            if self.copies[m.id] == 0:
                # Received more often than sent: the network duplicated it (DuplicateMessage).
                self.copies[m.id] += 1
                self.steps += 1
            self.current[i] = (m.id, spec_m)
        labels = self._search(ev, i, observed)
        if labels is None:
            return self._explain_failure(ev, i, observed)
        return None

    def _first_event(self, ev: TraceEvent, i: int, observed: tuple) -> Failure | None:
        if ev.kind != "Restart" or ev.log_length or ev.commit_index or ev.role != "follower":
            return self._fail_simple(
                ev,
                i,
                "a node's trace must begin with its first start (a Restart event of a follower "
                "with an empty log): the validator starts it from the spec's initial state",
            )
        # raft.tla starts in term 1; an implementation may start in term 0. Terms are only
        # compared with each other, so the spec starts where the implementation does.
        n = len(self.nodes)
        self.servers[i] = Server(
            ev.term, Role.Follower, observed[2], (), 0, (), (), (1,) * n, (0,) * n, 0
        )
        return None

    def _restart(self, ev: TraceEvent, i: int, observed: tuple) -> Failure | None:
        self.current[i] = None
        self.pending[i] = []
        t = O.restart(self.p, self._state_with(i, ()), i)
        srv = t.servers[i]
        if self._spec_obs(srv) != observed:
            return self._explain_failure(ev, i, observed)
        self.servers[i] = srv
        self.steps += 1
        return None

    def _settle(self, i: int) -> None:
        """Before the next message, let the spec handle the last one if that changes nothing a
        trace shows (a response tallied, matchIndex raised, a stale answer dropped)."""
        cur = self.current[i]
        if cur is None:
            return
        mid, m = cur
        self.current[i] = None
        if self.copies.get(mid, 0) <= 0:
            return
        s = self._state_with(i, ((m, 1),))
        for _ in range(3):
            for _label, t in receive(self.p, s, m):
                if self._spec_obs(t.servers[i]) != self._spec_obs(s.servers[i]):
                    return
                if any(x.mdest != i for x, _c in t.messages):
                    return
                self.servers[i] = t.servers[i]
                self.steps += 1
                if not t.messages:
                    self.copies[mid] -= 1
                    return
                s = t
                break
            else:
                return

    def _initial_bag(self, i: int) -> tuple:
        cur = self.current[i]
        if cur is None or self.copies.get(cur[0], 0) <= 0:
            return ()
        return ((cur[1], 1),)

    def _goal(self, ev: TraceEvent, i: int, observed: tuple, node: Step) -> Any:
        if self._spec_obs(node.state.servers[i]) != observed:
            return None
        need = REQUIRED_ACTION.get(ev.kind)
        if need is not None and not any(label[0] in need for label in node.labels):
            # The event says the action happened, even if the state it shows looks the same
            # (a pre-candidate starting a new round resets its pre-votes).
            return None
        if ev.kind != "Send":
            return True
        want = self._obs_key(ev)
        for k, m in enumerate(node.produced):
            if spec_key(m) == want:
                return ("produced", k)
        for k, m in enumerate(self.pending[i]):
            if spec_key(m) == want:
                return ("pending", k)
        return None

    def _search(self, ev: TraceEvent, i: int, observed: tuple) -> tuple | None:
        bag = self._initial_bag(i)
        start = Step(self._state_with(i, bag), (), ())
        spontaneous = self._spontaneous(ev, i)
        frontier = [start]
        for depth in range(MAX_DEPTH + 1):
            nxt: list[Step] = []
            for node in frontier:
                hit = self._goal(ev, i, observed, node)
                if hit is not None:
                    self._commit(ev, i, bag, node, hit)
                    return node.labels
                if depth < MAX_DEPTH:
                    nxt.extend(self._expand(node, i, spontaneous))
            if not nxt:
                return None
            frontier = nxt
        return None

    def _commit(self, ev: TraceEvent, i: int, bag: tuple, node: Step, hit: Any) -> None:
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
        self.servers[i] = s.servers[i]
        cur = self.current[i]
        if bag and cur is not None:
            left = dict(s.messages).get(cur[1], 0)
            if left == 0:
                self.copies[cur[0]] -= 1
                self.current[i] = None
        produced = list(node.produced)
        if ev.kind == "Send":
            m = ev.msg
            assert m is not None
            where, k = hit
            spec_m = produced.pop(k) if where == "produced" else self.pending[i].pop(k)
            self.spec_msg[m.id] = spec_m
            self.copies[m.id] = 1
        self.pending[i].extend(produced)
        self.steps += len(node.labels)
        if self.on_step is not None:
            self.on_step(ev, node.labels)

    # -- failure reports ------------------------------------------------------------------

    def _fail_simple(self, ev: TraceEvent, i: int, reason: str) -> Failure:
        s = self._state_with(i, ())
        return Failure(ev, self.events, {}, [], {}, {}, [], s, None, reason)

    def node_view(self, i: int, srv: Any) -> dict[str, Any]:
        """The spec's variables of one node, named as in raft.tla (nodes by their trace names)."""
        names = self.nodes

        def who(k: int) -> str | None:
            return None if k == NIL else names[k]

        log = [[e.term, "noop" if e.value == O.NOOP else "normal"] for e in srv.log]
        return {
            "currentTerm": srv.currentTerm,
            "state": ROLE_NAME[Role(srv.state)],
            "votedFor": who(srv.votedFor),
            "log": log if len(log) <= 12 else ["...", *log[-12:]],
            "log length": len(srv.log),
            "commitIndex": srv.commitIndex,
            "snapshotIndex": srv.snapshotIndex,
            "votesResponded": [who(k) for k in srv.votesResponded],
            "votesGranted": [who(k) for k in srv.votesGranted],
            "matchIndex": {names[k]: v for k, v in enumerate(srv.matchIndex)},
        }

    def _explain_failure(self, ev: TraceEvent, i: int, observed: tuple) -> Failure:
        bag = self._initial_bag(i)
        start = Step(self._state_with(i, bag), (), ())
        spontaneous = self._spontaneous(ev, i)
        if ev.kind == "Restart":
            spontaneous = [(("Restart", i), lambda s: O.restart(self.p, s, i))]
        want = self._obs_key(ev) if ev.kind == "Send" else None
        obs_named = self._named(observed)
        candidates: list[tuple[str, str]] = []
        children = list(self._expand(start, i, spontaneous)) if ev.kind != "Restart" else []
        if ev.kind == "Restart":
            t = O.restart(self.p, start.state, i)
            children = [Step(t, (("Restart", i),), ())]
        best: tuple[int, Step] | None = None
        for child in children:
            diffs = self._diffs(child.state.servers[i], observed)
            text = "; ".join(f"{k}: spec {e}, trace {o}" for k, e, o in diffs)
            if want is not None and not any(spec_key(m) == want for m in child.produced):
                sent = [self._show_msg(m) for m in child.produced]
                text = (text + "; " if text else "") + (
                    "sends " + ", ".join(sent) if sent else "sends nothing"
                )
            candidates.append((self._fmt(child.labels[-1]), text or "agrees"))
            score = len(diffs)
            if best is None or score < best[0]:
                best = (score, child)
        for label, _fn in spontaneous:
            if not any(c.labels[-1] == label for c in children):
                candidates.append((self._fmt(label), "not enabled: " + self._why_not(label, i)))
        cur = self.current[i]
        if cur is not None and not bag:
            candidates.append((f"handle {self._show_msg(cur[1])}", "already handled"))
        if ev.kind not in ("Restart",) and not children and not candidates:
            candidates.append(("(none)", "no spec action of this node can produce this event"))
        # A deeper look: of the runs the search tried (up to its depth), the one whose result is
        # closest to what the event reports, the shorter on a tie.
        if ev.kind != "Restart":
            frontier = children
            for _depth in range(2, MAX_DEPTH + 1):
                nxt = [c for node in frontier for c in self._expand(node, i, spontaneous)]
                if not nxt or len(nxt) > 20_000:
                    break
                for child in nxt:
                    score = len(self._diffs(child.state.servers[i], observed))
                    if best is None or score < best[0]:
                        best = (score, child)
                frontier = nxt
        closest_labels: list[str] = []
        closest_state = None
        if best is not None:
            closest_labels = [self._fmt(x) for x in best[1].labels]
            closest_state = best[1].state
            expected = self._named(self._spec_obs(best[1].state.servers[i]))
        else:
            expected = self._named(self._spec_obs(self.servers[i]))
        if want is not None:
            obs_named["message"] = self._show_key(want)
            if best is not None and best[1].produced:
                expected["message"] = self._show_msg(best[1].produced[-1])
        reason = f"the spec cannot explain {event_summary(ev)}"
        return Failure(
            ev,
            self.events,
            self.node_view(i, self.servers[i]),
            candidates,
            expected,
            obs_named,
            closest_labels,
            self._state_with(i, bag),
            closest_state,
            reason,
        )

    def _fmt(self, label: Label) -> str:
        # The spec names servers s1..sN; a trace's reader knows them by the trace's names.
        return _SPEC_NAME.sub(lambda m: self.nodes[int(m.group(1)) - 1], format_label(label))

    def _named(self, obs: tuple) -> dict[str, Any]:
        out = dict(zip(OBSERVED, obs, strict=True))
        out["role"] = ROLE_NAME[Role(out["role"])]
        out["vote"] = None if out["vote"] == NIL else self.nodes[out["vote"]]
        return out

    def _diffs(self, srv: Any, observed: tuple) -> list[tuple[str, Any, Any]]:
        exp, obs = self._named(self._spec_obs(srv)), self._named(observed)
        return [(k, exp[k], obs[k]) for k in OBSERVED if exp[k] != obs[k]]

    def _show_key(self, key: tuple) -> str:
        typ, term, src, dst, *rest = key
        return f"{typ} {self.nodes[src]}->{self.nodes[dst]} term {term} {rest}"

    def _show_msg(self, m: Any) -> str:
        return self._show_key(spec_key(m))

    def _why_not(self, label: Label, i: int) -> str:
        srv = self.servers[i]
        role = ROLE_NAME[Role(srv.state)]
        name = label[0]
        if name == "Timeout" and self.p.prevote:
            return (
                f"needs a pre-candidate with a majority of pre-votes (is {role}, "
                f"pre-votes {len(srv.votesGranted)} of {len(self.nodes)})"
            )
        if name in ("Timeout", "PreVoteTimeout"):
            return f"needs a node that is not leader (is {role})"
        if name == "BecomeLeader":
            return (
                f"needs a candidate with a majority of votes (is {role}, "
                f"votes {[self.nodes[v] for v in srv.votesGranted]})"
            )
        if name == "RequestPreVote":
            return (
                f"needs a pre-candidate that has not heard from {self.nodes[label[2]]} "
                f"(is {role}, heard from {[self.nodes[v] for v in srv.votesResponded]})"
            )
        if name == "RequestVote":
            return f"needs a candidate that has not heard from {self.nodes[label[2]]} (is {role})"
        if name == "AppendEntries" and len(label) > 3:
            if srv.state != Role.Leader:
                return f"needs a leader (is {role})"
            return (
                f"prevLogIndex {label[3]} with {label[4]} entries is outside the log it can send "
                f"(snapshot {srv.snapshotIndex}, log length {len(srv.log)})"
            )
        if name in ("AdvanceCommitIndex", "ClientRequest", "AppendNoop", "InstallSnapshot"):
            if srv.state != Role.Leader:
                return f"needs a leader (is {role})"
            if name == "AppendNoop":
                return "the log already has an entry of the leader's term"
            return "nothing to do"
        if name == "Compact":
            return f"needs {srv.snapshotIndex} < index <= commitIndex {srv.commitIndex}"
        if name == "StepDown":
            return f"needs a leader or (pre-)candidate (is {role})"
        return "its preconditions do not hold"


Label = tuple[Any, ...]
_SPEC_NAME = re.compile(r"\bs(\d+)\b")


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


def validate(
    events: Sequence[TraceEvent],
    options: Sequence[str] = IMPL_OPTIONS,
    nodes: Sequence[str] | None = None,
    on_step: Callable[[TraceEvent, tuple], None] | None = None,
) -> Outcome:
    """Replay merged events against the spec; stop at the first event it cannot explain."""
    t0 = time.perf_counter()
    names = tuple(nodes) if nodes else nodes_of(events)
    if "prevote" in options and not any(ev.kind == "BecomePreCandidate" for ev in events):
        # An implementation that never pre-campaigns is checked against raft.tla's elections
        # (with PreVote on, the spec only lets a pre-candidate start an election).
        options = tuple(o for o in options if o != "prevote")
    v = Validator(names, options)
    v.on_step = on_step
    kinds: dict[str, int] = {}
    failure = None
    for ev in events:
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
        failure = v.feed(ev)
        if failure is not None:
            break
    return Outcome(
        v.events, v.steps, time.perf_counter() - t0, failure, names, tuple(options), kinds
    )


def conform_files(paths: Sequence[str], options: Sequence[str] = IMPL_OPTIONS) -> Outcome:
    """Read, merge and validate trace files (``TraceError`` for malformed input)."""
    return validate(read_traces(paths), options)


def conform_lines(lines: Sequence[str], name: str = "(trace)") -> Outcome:
    """Validate a trace given as JSON lines in memory (tests, and tools that pipe traces)."""
    from .tracefmt import merge, parse_line

    events = [parse_line(text, name, k) for k, text in enumerate(lines, 1) if text.strip()]
    return validate(merge([events]))


def failure_text(f: Failure) -> str:
    """The report for people: the event, the spec's state before it, the candidates."""
    out = [
        f"does not conform: event {f.number} ({f.event.where}) is not explained by the spec",
        f"  event: {event_summary(f.event)}",
    ]
    if f.node_state:
        out.append(f"  spec state of {f.event.node} before it:")
        for k, v in f.node_state.items():
            out.append(f"    {k} = {v}")
    if f.candidates:
        out.append("  candidate actions and why each fails:")
        for a, why in f.candidates:
            out.append(f"    {a}: {why}")
    if f.closest:
        out.append("  closest run of spec steps: " + ", ".join(f.closest))
    if f.expected or f.observed:
        out.append("  expected (spec) vs observed (trace):")
        for k in dict.fromkeys([*f.expected, *f.observed]):
            e, o = f.expected.get(k), f.observed.get(k)
            mark = "   " if e == o else " ≠ "
            out.append(f"    {k}: {e}{mark}{o}")
    if not f.node_state:
        out.append("  " + f.reason)
    return "\n".join(out)


# Silence "imported but unused" for names kept for readers of the spec-side types.
_ = (AppendEntriesRequest, AppendEntriesResponse, Entry, RequestVoteRequest, RequestVoteResponse)
_ = (with_message, without_message)
