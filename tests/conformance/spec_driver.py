"""spec -> impl: drive the implementation core with paths generated from the spec.

A spec step that the core cannot be told to take (a leader choosing what to send) only changes
the spec's bag of messages; the core sees the message when the spec delivers it. Where the core
reacts to one input with several spec steps at once (handling a message completely; voting for
itself when it campaigns; becoming leader with the deciding vote and appending its no-op;
committing as soon as a response shows a majority), the spec step is completed with those
steps, all taken from the spec's own actions. After every step the core's state must equal the
spec's: term, vote, role, commitIndex and the whole log.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from raftkit.impl import messages as M
from raftkit.impl.config import Config
from raftkit.impl.node import HardState, Node, Ready
from raftkit.spec import actions as A
from raftkit.spec import options as O
from raftkit.spec.next import next_steps, receive
from raftkit.spec.params import Params
from raftkit.spec.state import NIL, MType, Role, State, init_state, is_quorum

# What the core is configured to do, and the spec options that describe it.
PARAMS = Params(
    servers=3, values=2, max_term=3, max_log=2, max_inflight=2, max_dup=1, faults=True,
    batch=2, noop=True, stepdown=True,
)  # fmt: skip
ROLE = {Role.Follower: "follower", Role.Candidate: "candidate", Role.Leader: "leader"}
# Steps the core never takes on its own input: the completion adds them where the core does.
FOLLOW_UPS = {"BecomeLeader", "AppendNoop", "AdvanceCommitIndex", "StepDown"}
HANDLERS = {
    "UpdateTerm", "HandleRequestVoteRequest", "HandleRequestVoteResponse",
    "HandleAppendEntriesRequest", "HandleAppendEntriesResponse", "DropStaleResponse",
}  # fmt: skip


def name(k: int) -> str:
    return f"n{k + 1}"


# --- the spec side: steps completed as the core takes them -----------------------------------


def _after(p: Params, s: State, i: int, labels: list) -> State:
    """The steps the core takes without a new input once node i is in state s."""
    for _ in range(4):
        srv = s.servers[i]
        t = None
        if srv.state == Role.Candidate and is_quorum(srv.votesGranted, p.servers):
            label, t = ("BecomeLeader", i), A.become_leader(p, s, i)
        elif srv.state == Role.Candidate and is_quorum(
            tuple(v for v in srv.votesResponded if v not in srv.votesGranted), p.servers
        ):
            label, t = ("StepDown", i), O.step_down(p, s, i)
        elif srv.state == Role.Leader and O.append_noop(p, s, i) is not None:
            label, t = ("AppendNoop", i), O.append_noop(p, s, i)
        elif srv.state == Role.Leader:
            c = A.advance_commit_index(p, s, i)
            if c is not None and c.servers[i].commitIndex != srv.commitIndex:
                label, t = ("AdvanceCommitIndex", i), c
        if t is None:
            return s
        labels.append(label)
        s = t
    return s


def _finish_message(p: Params, s: State, m: Any, count: int, labels: list) -> State:
    # Keep handling m until one copy of it is consumed: the core handles a message in one call.
    for _ in range(6):
        if dict(s.messages).get(m, 0) < count:
            return s
        steps = list(receive(p, s, m))
        if not steps:
            return s
        label, s = steps[0]
        labels.append(label)
    return s


def complete(p: Params, s0: State, label: tuple, s: State) -> tuple[list, State]:
    """A spec step and the spec steps the core takes with it."""
    labels = [label]
    kind = label[0]
    if kind == "Timeout":
        i = label[1]
        s = A.request_vote(p, s, i, i)
        labels.append(("RequestVote", i, i))
        (m,) = [x for x, _c in s.messages if x.msource == i and x.mdest == i]
        s = _finish_message(p, s, m, 1, labels)
        (r,) = [x for x, _c in s.messages if x.msource == i and x.mdest == i]
        s = _finish_message(p, s, r, 1, labels)
        s = _after(p, s, i, labels)
    elif kind in HANDLERS:
        i, m = label[1], label[3]
        before = dict(s0.messages).get(m, 0)
        s = _finish_message(p, s, m, before, labels)
        s = _after(p, s, i, labels)
    elif kind == "ClientRequest":
        s = _after(p, s, label[1], labels)
    return labels, s


def driver_steps(p: Params, s: State) -> Iterator[tuple[list, State]]:
    """The spec's steps as the core takes them (each completed)."""
    for label, t in next_steps(p, s):
        kind = label[0]
        if kind in FOLLOW_UPS or (kind == "RequestVote" and label[1] == label[2]):
            continue
        if kind in HANDLERS and label[3].msource == label[3].mdest:
            continue
        yield complete(p, s, label, t)


# --- the implementation side --------------------------------------------------------------


def impl_message(m: Any, mid: str) -> M.Message:
    """The core's message for a spec message."""
    src, dst = name(m.msource), name(m.mdest)
    t = m.mtype
    if t == MType.RequestVoteRequest:
        return M.RequestVote(m.mterm, src, dst, mid, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.RequestVoteResponse:
        return M.RequestVoteResponse(m.mterm, src, dst, mid, m.mvoteGranted)
    if t == MType.AppendEntriesRequest:
        entries = tuple(
            M.Entry(e.term, m.mprevLogIndex + k + 1, *_data(e.value))
            for k, e in enumerate(m.mentries)
        )
        return M.AppendEntries(
            m.mterm, src, dst, mid, m.mprevLogIndex, m.mprevLogTerm, entries, m.mcommitIndex, 0
        )
    return M.AppendEntriesResponse(
        m.mterm, src, dst, mid, m.msuccess, m.mmatchIndex, m.mmatchIndex if m.msuccess else 0
    )


def _data(value: int) -> tuple[bytes, str]:
    return (b"", M.ENTRY_NOOP) if value == O.NOOP else (bytes([value]), M.ENTRY_NORMAL)


class Storage:
    """What a node persisted (Ready steps 1-2), to restart it from."""

    def __init__(self) -> None:
        self.hard_state = HardState(1, None)
        self.entries: list[M.Entry] = []
        self.boots = 0

    def save(self, ready: Ready) -> None:
        if ready.truncate_from is not None:
            self.entries = [e for e in self.entries if e.index < ready.truncate_from]
        self.entries.extend(ready.entries)
        if ready.hard_state is not None:
            self.hard_state = ready.hard_state


class ImplCluster:
    """The core of every node, driven by spec steps."""

    def __init__(self, p: Params) -> None:
        self.p = p
        self.ids = tuple(name(k) for k in range(p.servers))
        self.storage = [Storage() for _ in self.ids]
        self.sent: list[M.Message] = []
        self.nodes: list[Node] = [self._boot(k) for k in range(p.servers)]
        self.sent = []
        self.counter = 0

    def _boot(self, k: int) -> Node:
        st = self.storage[k]
        st.boots += 1
        cfg = Config(self.ids[k], self.ids, pre_vote=False, check_quorum=False,
                     max_entries_per_msg=self.p.batch)  # fmt: skip
        node = Node(cfg, random.Random(k), hard_state=st.hard_state,
                    entries=tuple(st.entries), boot=st.boots)  # fmt: skip
        st.save(node.start())
        return node

    def apply(self, labels: list) -> None:
        """Give the core the input behind the first spec step (the rest follow by themselves)."""
        label = labels[0]
        kind = label[0]
        if kind == "Timeout":
            self._ready(label[1], self.nodes[label[1]].campaign())
        elif kind == "Restart":
            self.nodes[label[1]] = self._boot(label[1])
        elif kind == "ClientRequest":
            self._ready(label[1], self.nodes[label[1]].propose(bytes([label[2]])))
        elif kind in HANDLERS:
            i, m = label[1], label[3]
            self.counter += 1
            self._ready(i, self.nodes[i].step(impl_message(m, f"spec.{self.counter}")))
        # AppendEntries, RequestVote, DuplicateMessage, DropMessage: the network only.

    def _ready(self, k: int, ready: Ready) -> None:
        self.storage[k].save(ready)
        self.sent.extend(ready.messages)

    def check_sends(self, before: State, after: State) -> list[str]:
        """Every message the core sent in the last step must be one the spec could send from
        its state after the step: a request its sender action builds, or the reply its handler
        put in the bag."""
        p, out = self.p, []
        new_in_bag = {_key(m) for m, c in after.messages if c > dict(before.messages).get(m, 0)}
        for msg in self.sent:
            i, j = self.ids.index(msg.src), self.ids.index(msg.dst)
            key = _impl_key(msg)
            if isinstance(msg, M.RequestVote):
                t = A.request_vote(p, after, i, j)
                ok = t is not None and key in {_key(m) for m, _c in t.messages}
            elif isinstance(msg, M.AppendEntries):
                ok = False
                for whole in (False, True):
                    t = O.append_entries(
                        p, after, i, j, msg.prev_log_index, len(msg.entries), whole
                    )
                    if t is not None and key in {_key(m) for m, _c in t.messages}:
                        ok = True
            else:
                ok = key in new_in_bag
            if not ok:
                out.append(f"{msg.src} sent {key}, which the spec does not send here")
        self.sent = []
        return out

    def differences(self, s: State) -> list[str]:
        """Where the core's state differs from the spec's (empty when they agree)."""
        out = []
        for k, (node, srv) in enumerate(zip(self.nodes, s.servers, strict=True)):
            spec = (
                srv.currentTerm,
                None if srv.votedFor == NIL else name(srv.votedFor),
                ROLE[Role(srv.state)],
                srv.commitIndex,
                [(e.term, *_data(e.value)) for e in srv.log],
            )
            log = node.log.slice(1, node.last_index) if node.last_index else ()
            impl = (
                node.term,
                node.vote,
                node.role.value,
                node.commit_index,
                [(e.term, e.data, e.kind) for e in log],
            )
            if spec != impl:
                out.append(f"{name(k)}: spec {spec} vs impl {impl}")
        return out


def _key(m: Any) -> tuple:
    t = m.mtype
    head = (int(t), m.mterm, m.msource, m.mdest)
    if t == MType.RequestVoteRequest:
        return (*head, m.mlastLogIndex, m.mlastLogTerm)
    if t == MType.RequestVoteResponse:
        return (*head, m.mvoteGranted)
    if t == MType.AppendEntriesRequest:
        entries = tuple((e.term, e.value) for e in m.mentries)
        return (*head, m.mprevLogIndex, m.mprevLogTerm, entries, m.mcommitIndex)
    return (*head, m.msuccess, m.mmatchIndex if m.msuccess else 0)


def _impl_key(msg: M.Message) -> tuple:
    src, dst = int(msg.src[1:]) - 1, int(msg.dst[1:]) - 1
    if isinstance(msg, M.RequestVote):
        return (int(MType.RequestVoteRequest), msg.term, src, dst, msg.last_log_index,
                msg.last_log_term)  # fmt: skip
    if isinstance(msg, M.RequestVoteResponse):
        return (int(MType.RequestVoteResponse), msg.term, src, dst, msg.vote_granted)
    if isinstance(msg, M.AppendEntries):
        entries = tuple(
            (e.term, O.NOOP if e.kind == M.ENTRY_NOOP else e.data[0]) for e in msg.entries
        )
        return (int(MType.AppendEntriesRequest), msg.term, src, dst, msg.prev_log_index,
                msg.prev_log_term, entries, msg.leader_commit)  # fmt: skip
    assert isinstance(msg, M.AppendEntriesResponse)
    return (int(MType.AppendEntriesResponse), msg.term, src, dst, msg.success,
            msg.match_index if msg.success else 0)  # fmt: skip


def initial() -> State:
    return init_state(PARAMS)
