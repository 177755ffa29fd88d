"""The actions of ``actions.py`` as Z3 formulas: the transition relation of raft.tla, symbolically.

Read beside ``actions.py``: one function per action, in the same order, each taking the
symbolic state ``s`` and the action's arguments and returning a :class:`Step` (the condition
under which the action is enabled and the successor's terms). Servers, values and message slots
are concrete arguments, so each action instance is a separate :class:`Step`; a message is
named by its slot, and its fields are terms of ``s``.

:func:`transition` ties the steps into one relation between a state and a state of fresh
constants, with an integer *choice* naming the instance taken (the symbolic form of a label).
Where the explicit spec has one action with several branches (HandleAppendEntriesRequest), each
branch is a step of its own with the same label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from ...spec.action import Kind
from ...spec.mutants import Mutant
from ...spec.next import next_table
from ...spec.params import Params
from ...spec.state import NIL, MType
from .symstate import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    MSG_BOOLS,
    MSG_FIELDS,
    Slot,
    SymState,
    entry_term,
    entry_value,
    last_term,
    quorum,
    same_message,
)

TRUE = z3.BoolVal(True)
FALSE = z3.BoolVal(False)


@dataclass
class Step:
    """One action instance: its label's name and concrete arguments, when it is enabled, and
    the successor state (terms over the state it acts on).

    ``slot`` is the message slot a Receive, DuplicateMessage or DropMessage step reads; its
    label names the message, decoded from the state before the step.
    """

    name: str
    args: tuple[int, ...]
    enabled: Any
    after: SymState
    slot: int | None = None


# --- the bag -------------------------------------------------------------------------------------


def _message(**fields: Any) -> dict[str, Any]:
    """A message's fields, the ones not given being 0 (false)."""
    out: dict[str, Any] = {
        name: (FALSE if name in MSG_BOOLS else z3.IntVal(0)) for name in MSG_FIELDS
    }
    for name, value in fields.items():
        out[name] = z3.BoolVal(value) if isinstance(value, bool) else value
    return out


def _send(t: SymState, m: dict[str, Any]) -> Any:
    """raft.tla's ``Send`` on ``t`` in place; returns the condition that the bag has room.

    A copy of a message already in flight raises its count; a new message takes the first empty
    slot (always the first, so the encoding adds no choice the explicit spec does not have).
    """
    probe = Slot(TRUE, z3.IntVal(1), m)
    matches = [z3.And(slot.present, same_message(slot, probe)) for slot in t.slots]
    exists = z3.Or(matches)
    taken: list[Any] = []
    free_here = []
    for slot in t.slots:
        free_here.append(z3.And(z3.Not(exists), z3.Not(slot.present), *taken))
        taken.append(slot.present)
    for slot, hit, free in zip(t.slots, matches, free_here, strict=True):
        slot.count = z3.If(hit, slot.count + 1, z3.If(free, 1, slot.count))
        slot.f = {name: z3.If(free, m[name], slot.f[name]) for name in MSG_FIELDS}
        slot.present = z3.Or(slot.present, free)
    return z3.Or(exists, *[z3.Not(x) for x in taken])


def _discard(t: SymState, k: int) -> None:
    """raft.tla's ``Discard`` of the message in slot k: one copy fewer; the last empties it."""
    slot = t.slots[k]
    gone = slot.count == 1
    slot.present = z3.And(slot.present, z3.Not(gone))
    slot.count = z3.If(gone, 0, slot.count - 1)
    slot.f = {
        name: z3.If(gone, FALSE if name in MSG_BOOLS else 0, value)
        for name, value in slot.f.items()
    }


def _reply(t: SymState, response: dict[str, Any], k: int) -> Any:
    """raft.tla's ``Reply``: consume the request in slot k and send the response."""
    _discard(t, k)
    return _send(t, response)


def _min(a: Any, b: Any) -> Any:
    return z3.If(a < b, a, b)


def _append(t: SymState, i: int, term: Any, value: Any) -> Any:
    """Append an entry to log i in place; returns the condition that it fits the capacity."""
    length = t.loglen[i]
    for k in range(t.shape.log):
        t.logterm[i][k] = z3.If(length == k, term, t.logterm[i][k])
        t.logvalue[i][k] = z3.If(length == k, value, t.logvalue[i][k])
    t.loglen[i] = length + 1
    return length < t.shape.log


# --- server actions ------------------------------------------------------------------------------


def restart(p: Params, s: SymState, i: int) -> Step:
    """Restart(i): everything but currentTerm, votedFor and log is lost."""
    t = s.copy()
    n = p.servers
    t.state[i] = z3.IntVal(FOLLOWER)
    t.votesResponded[i] = [FALSE] * n
    t.votesGranted[i] = [FALSE] * n
    t.nextIndex[i] = [z3.IntVal(1)] * n
    t.matchIndex[i] = [z3.IntVal(0)] * n
    t.commitIndex[i] = z3.IntVal(0)
    if p.mutant is Mutant.FORGET_VOTE_ON_RESTART:
        t.votedFor[i] = z3.IntVal(NIL)
    return Step("Restart", (i,), TRUE, t)


def timeout(p: Params, s: SymState, i: int) -> Step:
    """Timeout(i): a follower or candidate starts an election in the next term."""
    t = s.copy()
    n = p.servers
    t.state[i] = z3.IntVal(CANDIDATE)
    t.currentTerm[i] = s.currentTerm[i] + 1
    t.votedFor[i] = z3.IntVal(NIL)
    t.votesResponded[i] = [FALSE] * n
    t.votesGranted[i] = [FALSE] * n
    enabled = z3.Or(s.state[i] == FOLLOWER, s.state[i] == CANDIDATE)
    return Step("Timeout", (i,), enabled, t)


def request_vote(p: Params, s: SymState, i: int, j: int) -> Step:
    """RequestVote(i, j): candidate i asks j for its vote."""
    t = s.copy()
    room = _send(
        t,
        _message(
            mtype=z3.IntVal(int(MType.RequestVoteRequest)),
            mterm=s.currentTerm[i],
            mlastLogTerm=last_term(s, i),
            mlastLogIndex=s.loglen[i],
            msource=z3.IntVal(i),
            mdest=z3.IntVal(j),
        ),
    )
    enabled = z3.And(s.state[i] == CANDIDATE, z3.Not(s.votesResponded[i][j]), room)
    return Step("RequestVote", (i, j), enabled, t)


def append_entries(p: Params, s: SymState, i: int, j: int) -> Step:
    """AppendEntries(i, j): leader i sends j the entry at nextIndex[i][j], if it has one."""
    t = s.copy()
    next_index = s.nextIndex[i][j]
    prev = next_index - 1
    prev_term = entry_term(s, i, prev)
    if p.mutant is Mutant.ENTRY_TERM_IS_CURRENT_TERM:
        prev_term = z3.If(prev > 0, s.currentTerm[i], prev_term)
    has_entry = s.loglen[i] >= next_index
    last_entry = _min(s.loglen[i], next_index)
    room = _send(
        t,
        _message(
            mtype=z3.IntVal(int(MType.AppendEntriesRequest)),
            mterm=s.currentTerm[i],
            mprevLogIndex=prev,
            mprevLogTerm=prev_term,
            nentries=z3.If(has_entry, 1, 0),
            eterm=z3.If(has_entry, entry_term(s, i, next_index), 0),
            evalue=z3.If(has_entry, entry_value(s, i, next_index), 0),
            mcommitIndex=_min(s.commitIndex[i], last_entry),
            msource=z3.IntVal(i),
            mdest=z3.IntVal(j),
        ),
    )
    return Step("AppendEntries", (i, j), z3.And(s.state[i] == LEADER, room), t)


def become_leader(p: Params, s: SymState, i: int) -> Step:
    """BecomeLeader(i): a candidate with votes from a majority becomes leader."""
    t = s.copy()
    n = p.servers
    t.state[i] = z3.IntVal(LEADER)
    t.nextIndex[i] = [s.loglen[i] + 1] * n
    t.matchIndex[i] = [z3.IntVal(0)] * n
    enabled = z3.And(s.state[i] == CANDIDATE, quorum(s.votesGranted[i], n))
    return Step("BecomeLeader", (i,), enabled, t)


def client_request(p: Params, s: SymState, i: int, v: int) -> Step:
    """ClientRequest(i, v): leader i appends v to its log."""
    t = s.copy()
    room = _append(t, i, s.currentTerm[i], z3.IntVal(v))
    return Step("ClientRequest", (i, v), z3.And(s.state[i] == LEADER, room), t)


def advance_commit_index(p: Params, s: SymState, i: int) -> Step:
    """AdvanceCommitIndex(i): commit the last entry a majority holds, if it is of this term."""
    t = s.copy()
    n = p.servers
    new_commit = s.commitIndex[i]
    # Ascending, so the largest index with a majority decides, as max(agree_indexes) does.
    for index in range(1, s.shape.log + 1):
        agree = [TRUE if k == i else s.matchIndex[i][k] >= index for k in range(n)]
        has_majority = z3.And(s.loglen[i] >= index, quorum(agree, n))
        if p.mutant is Mutant.COMMIT_OLD_TERM:
            commit_to = z3.IntVal(index)
        else:
            commit_to = z3.If(s.logterm[i][index - 1] == s.currentTerm[i], index, s.commitIndex[i])
        new_commit = z3.If(has_majority, commit_to, new_commit)
    t.commitIndex[i] = new_commit
    return Step("AdvanceCommitIndex", (i,), s.state[i] == LEADER, t)


# --- message handlers: i = recipient, j = sender, k = the message's slot -----------------------


def _addressed(s: SymState, k: int, i: int, j: int, mtype: MType | None = None) -> Any:
    m = s.slots[k]
    c = [m.present, m.mdest == i, m.msource == j]
    if mtype is not None:
        c.append(m.mtype == int(mtype))
    return z3.And(c)


def handle_request_vote_request(p: Params, s: SymState, i: int, j: int, k: int) -> Step:
    """HandleRequestVoteRequest(i, j, m): grant the vote if the term, the log and votedFor
    allow it; reply either way."""
    m = s.slots[k]
    t = s.copy()
    my_last_term = last_term(s, i)
    log_ok = z3.Or(
        m.mlastLogTerm > my_last_term,
        z3.And(m.mlastLogTerm == my_last_term, m.mlastLogIndex >= s.loglen[i]),
    )
    if p.mutant is Mutant.VOTE_WITHOUT_LOG_CHECK:
        log_ok = TRUE
    grant = z3.And(
        m.mterm == s.currentTerm[i], log_ok, z3.Or(s.votedFor[i] == NIL, s.votedFor[i] == j)
    )
    t.votedFor[i] = z3.If(grant, j, s.votedFor[i])
    room = _reply(
        t,
        _message(
            mtype=z3.IntVal(int(MType.RequestVoteResponse)),
            mterm=s.currentTerm[i],
            mvoteGranted=grant,
            msource=z3.IntVal(i),
            mdest=z3.IntVal(j),
        ),
        k,
    )
    enabled = z3.And(
        _addressed(s, k, i, j, MType.RequestVoteRequest), m.mterm <= s.currentTerm[i], room
    )
    return Step("HandleRequestVoteRequest", (i, j), enabled, t, k)


def handle_request_vote_response(p: Params, s: SymState, i: int, j: int, k: int) -> Step:
    """HandleRequestVoteResponse(i, j, m): tally j's vote of i's current term."""
    m = s.slots[k]
    t = s.copy()
    t.votesResponded[i][j] = TRUE
    t.votesGranted[i][j] = z3.Or(s.votesGranted[i][j], m.mvoteGranted)
    _discard(t, k)
    enabled = z3.And(_addressed(s, k, i, j, MType.RequestVoteResponse), m.mterm == s.currentTerm[i])
    return Step("HandleRequestVoteResponse", (i, j), enabled, t, k)


def handle_append_entries_request(p: Params, s: SymState, i: int, j: int, k: int) -> list[Step]:
    """HandleAppendEntriesRequest(i, j, m), one step per branch of raft.tla's handler: reject;
    return to follower; remove a conflicting entry; append the entry; reply success."""
    m = s.slots[k]
    name = "HandleAppendEntriesRequest"
    base = z3.And(_addressed(s, k, i, j, MType.AppendEntriesRequest), m.mterm <= s.currentTerm[i])
    prev = m.mprevLogIndex
    log_ok = z3.Or(
        prev == 0,
        z3.And(prev > 0, prev <= s.loglen[i], m.mprevLogTerm == entry_term(s, i, prev)),
    )
    steps = []

    reject = s.copy()
    room = _reply(
        reject,
        _message(
            mtype=z3.IntVal(int(MType.AppendEntriesResponse)),
            mterm=s.currentTerm[i],
            msuccess=False,
            mmatchIndex=z3.IntVal(0),
            msource=z3.IntVal(i),
            mdest=z3.IntVal(j),
        ),
        k,
    )
    rejects = z3.Or(m.mterm < s.currentTerm[i], z3.And(s.state[i] == FOLLOWER, z3.Not(log_ok)))
    steps.append(Step(name, (i, j), z3.And(base, rejects, room), reject, k))

    accepts = z3.And(base, z3.Not(rejects))  # same term from here on
    to_follower = s.copy()
    to_follower.state[i] = z3.IntVal(FOLLOWER)
    steps.append(Step(name, (i, j), z3.And(accepts, s.state[i] == CANDIDATE), to_follower, k))

    follower = z3.And(accepts, s.state[i] == FOLLOWER)
    index = prev + 1
    has_entry = m.nentries == 1
    done_cond: Any
    if p.mutant is Mutant.TRUNCATE_ON_ANY_APPEND:
        # BUG (see actions.py): cut the log at prevLogIndex unless it is exactly the entries.
        same_tail = z3.And(
            s.loglen[i] == prev + m.nentries,
            z3.Or(
                z3.Not(has_entry),
                z3.And(entry_term(s, i, index) == m.eterm, entry_value(s, i, index) == m.evalue),
            ),
        )
        cut = s.copy()
        new_len = prev + m.nentries
        for x in range(s.shape.log):
            keep = x < prev
            put = z3.And(has_entry, x == prev)
            cut.logterm[i][x] = z3.If(keep, s.logterm[i][x], z3.If(put, m.eterm, 0))
            cut.logvalue[i][x] = z3.If(keep, s.logvalue[i][x], z3.If(put, m.evalue, 0))
        cut.loglen[i] = new_len
        fits = new_len <= s.shape.log
        steps.append(Step(name, (i, j), z3.And(follower, z3.Not(same_tail), fits), cut, k))
        done_cond = same_tail
    else:
        differs = z3.And(has_entry, z3.Or(s.loglen[i] < index, entry_term(s, i, index) != m.eterm))
        conflict = s.copy()
        last = s.loglen[i] - 1
        for x in range(s.shape.log):
            conflict.logterm[i][x] = z3.If(x == last, 0, s.logterm[i][x])
            conflict.logvalue[i][x] = z3.If(x == last, 0, s.logvalue[i][x])
        conflict.loglen[i] = last
        steps.append(
            Step(name, (i, j), z3.And(follower, differs, s.loglen[i] >= index), conflict, k)
        )
        append = s.copy()
        room = _append(append, i, m.eterm, m.evalue)
        steps.append(
            Step(name, (i, j), z3.And(follower, differs, s.loglen[i] < index, room), append, k)
        )
        done_cond = z3.Not(differs)

    done = s.copy()
    done.commitIndex[i] = m.mcommitIndex
    room = _reply(
        done,
        _message(
            mtype=z3.IntVal(int(MType.AppendEntriesResponse)),
            mterm=s.currentTerm[i],
            msuccess=True,
            mmatchIndex=prev + m.nentries,
            msource=z3.IntVal(i),
            mdest=z3.IntVal(j),
        ),
        k,
    )
    steps.append(Step(name, (i, j), z3.And(follower, done_cond, room), done, k))
    return steps


def handle_append_entries_response(p: Params, s: SymState, i: int, j: int, k: int) -> Step:
    """HandleAppendEntriesResponse(i, j, m): move nextIndex and matchIndex for j."""
    m = s.slots[k]
    t = s.copy()
    old_next = s.nextIndex[i][j]
    t.nextIndex[i][j] = z3.If(
        m.msuccess, m.mmatchIndex + 1, z3.If(old_next - 1 > 1, old_next - 1, 1)
    )
    t.matchIndex[i][j] = z3.If(m.msuccess, m.mmatchIndex, s.matchIndex[i][j])
    _discard(t, k)
    enabled = z3.And(
        _addressed(s, k, i, j, MType.AppendEntriesResponse), m.mterm == s.currentTerm[i]
    )
    return Step("HandleAppendEntriesResponse", (i, j), enabled, t, k)


def update_term(p: Params, s: SymState, i: int, j: int, k: int) -> Step:
    """UpdateTerm(i, j, m): adopt a newer term and become follower; the message stays."""
    m = s.slots[k]
    t = s.copy()
    t.currentTerm[i] = m.mterm
    t.state[i] = z3.IntVal(FOLLOWER)
    t.votedFor[i] = z3.IntVal(NIL)
    enabled = z3.And(_addressed(s, k, i, j), m.mterm > s.currentTerm[i])
    return Step("UpdateTerm", (i, j), enabled, t, k)


def drop_stale_response(p: Params, s: SymState, i: int, j: int, k: int) -> Step:
    """DropStaleResponse(i, j, m): a response of an older term is removed."""
    m = s.slots[k]
    t = s.copy()
    _discard(t, k)
    response = z3.Or(
        m.mtype == int(MType.RequestVoteResponse), m.mtype == int(MType.AppendEntriesResponse)
    )
    enabled = z3.And(_addressed(s, k, i, j), response, m.mterm < s.currentTerm[i])
    return Step("DropStaleResponse", (i, j), enabled, t, k)


def duplicate_message(p: Params, s: SymState, k: int) -> Step:
    """DuplicateMessage(m): one more copy of the message in slot k."""
    t = s.copy()
    t.slots[k].count = s.slots[k].count + 1
    return Step("DuplicateMessage", (), s.slots[k].present, t, k)


def drop_message(p: Params, s: SymState, k: int) -> Step:
    """DropMessage(m): one copy fewer of the message in slot k."""
    t = s.copy()
    _discard(t, k)
    return Step("DropMessage", (), s.slots[k].present, t, k)


# --- Next ----------------------------------------------------------------------------------------


#: Each action of the spec's ``Next`` table (``spec/actions.py``), by name: for a local action
#: every instance in ``s``; for an alternative of Receive the steps for receiver ``i``, sender
#: ``j`` and slot ``k`` (one per branch); for the network the step on slot ``k``. An action of
#: the table without an entry here has no symbolic form (``SymbolicUnsupported`` says so).
LOCAL: dict[str, Callable[[Params, SymState], list[Step]]] = {
    "Timeout": lambda p, s: [timeout(p, s, i) for i in range(p.servers)],
    "Restart": lambda p, s: [restart(p, s, i) for i in range(p.servers)],
    "RequestVote": lambda p, s: [
        request_vote(p, s, i, j) for i in range(p.servers) for j in range(p.servers)
    ],
    "BecomeLeader": lambda p, s: [become_leader(p, s, i) for i in range(p.servers)],
    "ClientRequest": lambda p, s: [
        client_request(p, s, i, v) for i in range(p.servers) for v in range(1, p.values + 1)
    ],
    "AdvanceCommitIndex": lambda p, s: [advance_commit_index(p, s, i) for i in range(p.servers)],
    # (i = j sends nothing: raft.tla's AppendEntries requires i /= j.)
    "AppendEntries": lambda p, s: [
        append_entries(p, s, i, j) for i in range(p.servers) for j in range(p.servers) if i != j
    ],
}
RECEIVE: dict[str, Callable[[Params, SymState, int, int, int], list[Step]]] = {
    "UpdateTerm": lambda p, s, i, j, k: [update_term(p, s, i, j, k)],
    "HandleRequestVoteRequest": lambda p, s, i, j, k: [handle_request_vote_request(p, s, i, j, k)],
    "HandleRequestVoteResponse": lambda p, s, i, j, k: [
        handle_request_vote_response(p, s, i, j, k)
    ],
    "HandleAppendEntriesRequest": lambda p, s, i, j, k: handle_append_entries_request(
        p, s, i, j, k
    ),
    "HandleAppendEntriesResponse": lambda p, s, i, j, k: [
        handle_append_entries_response(p, s, i, j, k)
    ],
    "DropStaleResponse": lambda p, s, i, j, k: [drop_stale_response(p, s, i, j, k)],
}
NETWORK: dict[str, Callable[[Params, SymState, int], Step]] = {
    "DuplicateMessage": lambda p, s, k: duplicate_message(p, s, k),
    "DropMessage": lambda p, s, k: drop_message(p, s, k),
}


class SymbolicUnsupported(ValueError):
    """The parameters ask for something the symbolic encoding does not model (an option, the
    history or ghost variables, an action of the table without a formula here)."""


def next_steps(p: Params, s: SymState, merge_receivers: bool = False) -> list[Step]:
    """raft.tla's ``Next`` as every action instance, the actions those of the spec's table for
    ``p`` (faults only with ``p.faults``), each by its formula here.

    With ``merge_receivers`` the handlers of one message slot are not split by sender and
    receiver (which the slot's fields decide): one step per slot and handler branch, whose
    successor selects the receiver's terms by the message's ``mdest`` and ``msource``. The
    relation is the same; a solver has four to nine times fewer choices per step.
    """
    table = next_table(p)
    names = {kind: list(dict.fromkeys(d.name for d in table if d.kind is kind)) for kind in Kind}
    for kind, forms in ((Kind.LOCAL, LOCAL), (Kind.RECEIVE, RECEIVE), (Kind.NETWORK, NETWORK)):
        missing = [name for name in names[kind] if name not in forms]
        if missing:
            raise SymbolicUnsupported(f"no Z3 formula of {', '.join(missing)}")
    servers = range(p.servers)
    steps: list[Step] = []
    for name in names[Kind.LOCAL]:
        steps += LOCAL[name](p, s)
    for k in range(len(s.slots)):
        groups: list[list[tuple[int, int, Step]]] = []
        for i in servers:
            for j in servers:
                handlers = [h for name in names[Kind.RECEIVE] for h in RECEIVE[name](p, s, i, j, k)]
                if not merge_receivers:
                    steps += handlers
                    continue
                if not groups:
                    groups = [[] for _ in handlers]
                for group, step in zip(groups, handlers, strict=True):
                    group.append((i, j, step))
        steps += [_merge(s, k, group) for group in groups]
    for name in names[Kind.NETWORK]:
        steps += [NETWORK[name](p, s, k) for k in range(len(s.slots))]
    return steps


def _merge(s: SymState, k: int, group: list[tuple[int, int, Step]]) -> Step:
    """One step standing for a handler's instances for every (receiver, sender) of slot k."""
    slot = s.slots[k]
    before = s.terms()
    afters = [
        (z3.And(slot.mdest == i, slot.msource == j), step.after.terms()) for i, j, step in group
    ]
    merged = []
    for pos, old in enumerate(before):
        value = old
        for route, terms in afters:
            if not terms[pos].eq(old):
                value = z3.If(route, terms[pos], value)
        merged.append(value)
    enabled = z3.Or([step.enabled for _, _, step in group])
    return Step(group[0][2].name, (), enabled, s.with_terms(merged), k)


@dataclass
class Transition:
    """``Next(s, after)`` as one formula, with ``choice`` the index of the step taken."""

    formula: Any
    choice: Any
    steps: list[Step]


def transition(
    p: Params, s: SymState, after: SymState, choice: Any, merge_receivers: bool = False
) -> Transition:
    """The relation between ``s`` and ``after`` (a state of fresh constants).

    Each variable of ``after`` is its value under the step ``choice`` names: an if-then-else
    over only the steps that change it, so a variable most steps leave alone costs little.
    """
    steps = next_steps(p, s, merge_receivers)
    before_terms = s.terms()
    after_terms = after.terms()
    per_step = [step.after.terms() for step in steps]
    c: list[Any] = [choice >= 0, choice < len(steps)]
    for k, step in enumerate(steps):
        c.append(z3.Implies(choice == k, step.enabled))
    for pos, (old, new) in enumerate(zip(before_terms, after_terms, strict=True)):
        value = old
        for k, terms in enumerate(per_step):
            term = terms[pos]
            if not term.eq(old):
                value = z3.If(choice == k, term, value)
        c.append(new == value)
    return Transition(z3.And(c), choice, steps)


def label_of(step: Step, value: Callable[[Any], Any], before: SymState) -> tuple[Any, ...]:
    """The explicit spec's label for ``step``; a message is decoded from ``before``."""
    from .symstate import slot_message

    if step.slot is None:
        return (step.name, *step.args)
    m = slot_message(value, before.slots[step.slot])
    if step.name in ("DuplicateMessage", "DropMessage"):
        return (step.name, m)
    # A merged handler step leaves receiver and sender to the message.
    args = step.args or (m.mdest, m.msource)
    return (step.name, *args, m)
