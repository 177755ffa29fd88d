"""The state of raft.tla as Z3 terms: one term per variable, for one bounded configuration.

A concrete :class:`~raftkit.spec.state.State` has logs and a bag of any size; a symbolic state
has room for a fixed number of entries per log and a fixed number of message *slots*. A slot
stands for one distinct message of the bag: a ``present`` flag, the message's fields and its
count. Fields a message type does not have, the entries past the end of a log and every field of
an empty slot are 0 (or false), so a concrete state has exactly one symbolic form up to the
order of the slots, and equal messages are equal field for field.

Capacities are one more than the bounds (:meth:`Shape.for_params`): the checker evaluates the
invariants on successors just outside the bounds (TLC's ``CONSTRAINT``), and so must the
symbolic encodings. :func:`within_bounds` is the bound itself, :func:`well_formed` the type
invariant (roles in range, logs within capacity, indices within logs, ...).

History and ghost variables are not part of the symbolic state: the properties they feed are
checked on the state forms here (see ``properties.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import z3

from ...spec.params import Params
from ...spec.state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Message,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
)

# Integer fields of a message slot. One layout for every type: a field a type lacks is 0.
# ``nentries`` (0 or 1) with ``eterm``/``evalue`` is ``mentries``: raft.tla's AppendEntries
# sends at most one entry.
MSG_INTS: tuple[str, ...] = (
    "mtype",
    "mterm",
    "msource",
    "mdest",
    "mlastLogTerm",
    "mlastLogIndex",
    "mprevLogIndex",
    "mprevLogTerm",
    "nentries",
    "eterm",
    "evalue",
    "mcommitIndex",
    "mmatchIndex",
)
MSG_BOOLS: tuple[str, ...] = ("mvoteGranted", "msuccess")
MSG_FIELDS: tuple[str, ...] = MSG_INTS + MSG_BOOLS

# The fields each message type uses besides mtype, mterm, msource and mdest.
TYPE_FIELDS: dict[MType, tuple[str, ...]] = {
    MType.RequestVoteRequest: ("mlastLogTerm", "mlastLogIndex"),
    MType.RequestVoteResponse: ("mvoteGranted",),
    MType.AppendEntriesRequest: (
        "mprevLogIndex",
        "mprevLogTerm",
        "nentries",
        "eterm",
        "evalue",
        "mcommitIndex",
    ),
    MType.AppendEntriesResponse: ("msuccess", "mmatchIndex"),
}

LEADER = int(Role.Leader)
CANDIDATE = int(Role.Candidate)
FOLLOWER = int(Role.Follower)


@dataclass(frozen=True)
class Shape:
    """Sizes of a symbolic state: servers, values, and the capacity of each bounded part."""

    servers: int
    values: int
    max_term: int  # the largest term a well-formed state may hold
    log: int  # entries per log
    slots: int  # distinct messages in the bag
    count: int  # copies of one message

    @classmethod
    def for_params(cls, p: Params) -> Shape:
        """Room for every state within the bounds of ``p`` and every successor of one."""
        return cls(
            servers=p.servers,
            values=p.values,
            max_term=p.max_term + 1,
            log=p.max_log + 1,
            slots=p.max_inflight + 1,
            count=p.max_dup + 1,
        )


class Slot:
    """One message slot: ``present``, ``count`` and the fields of :data:`MSG_FIELDS`."""

    __slots__ = ("present", "count", "f")

    def __init__(self, present: Any, count: Any, f: dict[str, Any]) -> None:
        self.present = present
        self.count = count
        self.f = f

    def __getattr__(self, name: str) -> Any:
        try:
            return self.f[name]
        except KeyError:
            raise AttributeError(name) from None

    def copy(self) -> Slot:
        return Slot(self.present, self.count, dict(self.f))


class SymState:
    """raft.tla's variables as Z3 terms, indexed like the concrete state.

    ``currentTerm[i]``, ``state[i]`` (the role), ``votedFor[i]`` (-1 is Nil), ``loglen[i]``,
    ``logterm[i][k]`` and ``logvalue[i][k]`` (entry k+1), ``commitIndex[i]``,
    ``votesResponded[i][j]`` and ``votesGranted[i][j]`` (booleans: j is in the set),
    ``nextIndex[i][j]``, ``matchIndex[i][j]``, and ``slots``.

    A fresh state (:meth:`fresh`) holds Z3 constants; a successor built by the symbolic actions
    holds terms over its predecessor's constants (:meth:`copy` shares them).
    """

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.currentTerm: list[Any] = []
        self.state: list[Any] = []
        self.votedFor: list[Any] = []
        self.loglen: list[Any] = []
        self.logterm: list[list[Any]] = []
        self.logvalue: list[list[Any]] = []
        self.commitIndex: list[Any] = []
        self.votesResponded: list[list[Any]] = []
        self.votesGranted: list[list[Any]] = []
        self.nextIndex: list[list[Any]] = []
        self.matchIndex: list[list[Any]] = []
        self.slots: list[Slot] = []

    @classmethod
    def fresh(cls, shape: Shape, prefix: str = "") -> SymState:
        """A state of Z3 constants named ``{prefix}currentTerm[1]`` and so on."""
        s = cls(shape)
        n, L = shape.servers, shape.log

        def i_(name: str) -> Any:
            return z3.Int(prefix + name)

        def b_(name: str) -> Any:
            return z3.Bool(prefix + name)

        for i in range(n):
            s.currentTerm.append(i_(f"currentTerm[{i}]"))
            s.state.append(i_(f"state[{i}]"))
            s.votedFor.append(i_(f"votedFor[{i}]"))
            s.loglen.append(i_(f"loglen[{i}]"))
            s.logterm.append([i_(f"logterm[{i}][{k}]") for k in range(L)])
            s.logvalue.append([i_(f"logvalue[{i}][{k}]") for k in range(L)])
            s.commitIndex.append(i_(f"commitIndex[{i}]"))
            s.votesResponded.append([b_(f"votesResponded[{i}][{j}]") for j in range(n)])
            s.votesGranted.append([b_(f"votesGranted[{i}][{j}]") for j in range(n)])
            s.nextIndex.append([i_(f"nextIndex[{i}][{j}]") for j in range(n)])
            s.matchIndex.append([i_(f"matchIndex[{i}][{j}]") for j in range(n)])
        for k in range(shape.slots):
            f = {name: i_(f"slot[{k}].{name}") for name in MSG_INTS}
            f.update({name: b_(f"slot[{k}].{name}") for name in MSG_BOOLS})
            s.slots.append(Slot(b_(f"slot[{k}].present"), i_(f"slot[{k}].count"), f))
        return s

    def copy(self) -> SymState:
        """A shallow copy: new lists, the same terms, so an action can replace a few."""
        t = SymState(self.shape)
        t.currentTerm = list(self.currentTerm)
        t.state = list(self.state)
        t.votedFor = list(self.votedFor)
        t.loglen = list(self.loglen)
        t.logterm = [list(x) for x in self.logterm]
        t.logvalue = [list(x) for x in self.logvalue]
        t.commitIndex = list(self.commitIndex)
        t.votesResponded = [list(x) for x in self.votesResponded]
        t.votesGranted = [list(x) for x in self.votesGranted]
        t.nextIndex = [list(x) for x in self.nextIndex]
        t.matchIndex = [list(x) for x in self.matchIndex]
        t.slots = [slot.copy() for slot in self.slots]
        return t

    def with_terms(self, terms: Sequence[Any]) -> SymState:
        """A state of this shape holding ``terms``, in the order of :meth:`terms`."""
        it = iter(terms)
        n, L = self.shape.servers, self.shape.log
        t = SymState(self.shape)
        for _ in range(n):
            t.currentTerm.append(next(it))
            t.state.append(next(it))
            t.votedFor.append(next(it))
            t.loglen.append(next(it))
            t.logterm.append([next(it) for _ in range(L)])
            t.logvalue.append([next(it) for _ in range(L)])
            t.commitIndex.append(next(it))
            t.votesResponded.append([next(it) for _ in range(n)])
            t.votesGranted.append([next(it) for _ in range(n)])
            t.nextIndex.append([next(it) for _ in range(n)])
            t.matchIndex.append([next(it) for _ in range(n)])
        for _ in range(self.shape.slots):
            present, count = next(it), next(it)
            t.slots.append(Slot(present, count, {name: next(it) for name in MSG_FIELDS}))
        return t

    def terms(self) -> list[Any]:
        """Every variable's term, in a fixed order (the same for every state of a shape)."""
        out: list[Any] = []
        for i in range(self.shape.servers):
            out += [self.currentTerm[i], self.state[i], self.votedFor[i], self.loglen[i]]
            out += self.logterm[i]
            out += self.logvalue[i]
            out.append(self.commitIndex[i])
            out += self.votesResponded[i]
            out += self.votesGranted[i]
            out += self.nextIndex[i]
            out += self.matchIndex[i]
        for slot in self.slots:
            out += [slot.present, slot.count]
            out += [slot.f[name] for name in MSG_FIELDS]
        return out


# --- concrete <-> symbolic ---------------------------------------------------------------------


def _message_fields(m: Message) -> dict[str, int | bool]:
    f: dict[str, int | bool] = dict.fromkeys(MSG_INTS, 0)
    f.update(dict.fromkeys(MSG_BOOLS, False))
    f["mtype"] = int(m.mtype)
    f["mterm"] = m.mterm
    f["msource"] = m.msource
    f["mdest"] = m.mdest
    if isinstance(m, RequestVoteRequest):
        f["mlastLogTerm"] = m.mlastLogTerm
        f["mlastLogIndex"] = m.mlastLogIndex
    elif isinstance(m, RequestVoteResponse):
        f["mvoteGranted"] = bool(m.mvoteGranted)
    elif isinstance(m, AppendEntriesRequest):
        f["mprevLogIndex"] = m.mprevLogIndex
        f["mprevLogTerm"] = m.mprevLogTerm
        if len(m.mentries) > 1:
            raise ValueError("a symbolic AppendEntries request carries at most one entry")
        if m.mentries:
            f["nentries"] = 1
            f["eterm"] = m.mentries[0].term
            f["evalue"] = m.mentries[0].value
        f["mcommitIndex"] = m.mcommitIndex
    else:
        f["msuccess"] = bool(m.msuccess)
        f["mmatchIndex"] = m.mmatchIndex
    return f


def concrete_values(shape: Shape, s: State) -> list[int | bool]:
    """The values of :meth:`SymState.terms` for the concrete state ``s``.

    Raises ``ValueError`` if ``s`` does not fit the shape (a log or the bag too large).
    """
    n = shape.servers
    if len(s.servers) != n:
        raise ValueError(f"state has {len(s.servers)} servers, shape {n}")
    out: list[int | bool] = []
    L = shape.log
    for srv in s.servers:
        if len(srv.log) > L:
            raise ValueError(f"a log of {len(srv.log)} entries does not fit capacity {L}")
        pad = L - len(srv.log)
        out += [srv.currentTerm, int(srv.state), srv.votedFor, len(srv.log)]
        out += [e.term for e in srv.log] + [0] * pad
        out += [e.value for e in srv.log] + [0] * pad
        out.append(srv.commitIndex)
        out += [j in srv.votesResponded for j in range(n)]
        out += [j in srv.votesGranted for j in range(n)]
        out += list(srv.nextIndex)
        out += list(srv.matchIndex)
    if len(s.messages) > shape.slots:
        raise ValueError(f"{len(s.messages)} messages do not fit {shape.slots} slots")
    for m, count in s.messages:
        f = _message_fields(m)
        out += [True, count]
        out += [f[name] for name in MSG_FIELDS]
    for _ in range(shape.slots - len(s.messages)):
        out += [False, 0]
        out += [0] * len(MSG_INTS) + [False] * len(MSG_BOOLS)
    return out


def _message_from(f: dict[str, Any]) -> Message:
    mtype = MType(f["mtype"])
    common = {"mtype": mtype, "mterm": f["mterm"], "msource": f["msource"], "mdest": f["mdest"]}
    if mtype == MType.RequestVoteRequest:
        return RequestVoteRequest(
            mlastLogTerm=f["mlastLogTerm"], mlastLogIndex=f["mlastLogIndex"], **common
        )
    if mtype == MType.RequestVoteResponse:
        return RequestVoteResponse(mvoteGranted=bool(f["mvoteGranted"]), mlog=(), **common)
    if mtype == MType.AppendEntriesRequest:
        entries = (Entry(f["eterm"], f["evalue"]),) if f["nentries"] else ()
        return AppendEntriesRequest(
            mprevLogIndex=f["mprevLogIndex"],
            mprevLogTerm=f["mprevLogTerm"],
            mentries=entries,
            mlog=(),
            mcommitIndex=f["mcommitIndex"],
            **common,
        )
    return AppendEntriesResponse(
        msuccess=bool(f["msuccess"]), mmatchIndex=f["mmatchIndex"], **common
    )


def slot_message(value: Callable[[Any], Any], slot: Slot) -> Message:
    """The concrete message in ``slot`` under ``value`` (a term -> Python value function)."""
    return _message_from({name: value(slot.f[name]) for name in MSG_FIELDS})


def model_value(model: z3.ModelRef) -> Callable[[Any], Any]:
    """A function giving the Python value (int or bool) of a term in ``model``."""

    def value(term: Any) -> Any:
        v = model.eval(term, model_completion=True)
        if z3.is_true(v):
            return True
        if z3.is_false(v):
            return False
        return v.as_long()

    return value


def concrete_state(sym: SymState, value: Callable[[Any], Any]) -> State:
    """The concrete state of ``sym`` under ``value`` (e.g. :func:`model_value` of a model)."""
    n = sym.shape.servers
    servers = []
    for i in range(n):
        length = value(sym.loglen[i])
        log = tuple(
            Entry(value(sym.logterm[i][k]), value(sym.logvalue[i][k])) for k in range(length)
        )
        servers.append(
            Server(
                currentTerm=value(sym.currentTerm[i]),
                state=Role(value(sym.state[i])),
                votedFor=value(sym.votedFor[i]),
                log=log,
                commitIndex=value(sym.commitIndex[i]),
                votesResponded=tuple(j for j in range(n) if value(sym.votesResponded[i][j])),
                votesGranted=tuple(j for j in range(n) if value(sym.votesGranted[i][j])),
                nextIndex=tuple(value(x) for x in sym.nextIndex[i]),
                matchIndex=tuple(value(x) for x in sym.matchIndex[i]),
            )
        )
    bag: dict[Message, int] = {}
    for slot in sym.slots:
        if value(slot.present):
            m = slot_message(value, slot)
            bag[m] = bag.get(m, 0) + value(slot.count)
    return State(servers=tuple(servers), messages=tuple(sorted(bag.items())), history=(), ghost=())


# --- the type invariant and the bounds -----------------------------------------------------------


def _in(x: Any, low: int, high: int) -> Any:
    return z3.And(x >= low, x <= high)


def _zero(x: Any) -> Any:
    return z3.Not(x) if z3.is_bool(x) else x == 0


def well_formed(s: SymState) -> Any:
    """The type invariant: every variable holds a value of its type within the shape.

    Roles in range; votedFor a server or Nil; logs within capacity, every entry with a term in
    1..max_term and a value in 1..values, nothing past the end; commitIndex, nextIndex and
    matchIndex within the log capacity, a leader's nextIndex at most one past its log; each
    present slot a message of one type with its own fields in range, the others 0, a count in
    1..capacity, and no two present slots holding the same message (a bag counts copies, it
    does not repeat keys); each empty slot all 0.
    """
    sh = s.shape
    n, L, T, V = sh.servers, sh.log, sh.max_term, sh.values
    c: list[Any] = []
    for i in range(n):
        c += [
            _in(s.currentTerm[i], 1, T),
            _in(s.state[i], 0, 2),
            _in(s.votedFor[i], NIL, n - 1),
            _in(s.loglen[i], 0, L),
            _in(s.commitIndex[i], 0, L),
        ]
        for k in range(L):
            inside = s.loglen[i] > k
            c.append(
                z3.If(
                    inside,
                    z3.And(_in(s.logterm[i][k], 1, T), _in(s.logvalue[i][k], 1, V)),
                    z3.And(s.logterm[i][k] == 0, s.logvalue[i][k] == 0),
                )
            )
        for j in range(n):
            c += [_in(s.nextIndex[i][j], 1, L + 1), _in(s.matchIndex[i][j], 0, L)]
            # A leader's nextIndex points into its log or just past it (AppendEntries reads
            # the entry before it); other roles keep stale values that nothing reads.
            c.append(z3.Implies(s.state[i] == LEADER, s.nextIndex[i][j] <= s.loglen[i] + 1))
    for slot in s.slots:
        f = slot.f
        typed = []
        for mtype, own in TYPE_FIELDS.items():
            ranges = [_zero(f[name]) for name in MSG_FIELDS if name in _TYPED and name not in own]
            if mtype == MType.RequestVoteRequest:
                ranges += [_in(f["mlastLogTerm"], 0, T), _in(f["mlastLogIndex"], 0, L)]
            elif mtype == MType.AppendEntriesRequest:
                ranges += [
                    _in(f["mprevLogIndex"], 0, L),
                    _in(f["mprevLogTerm"], 0, T),
                    _in(f["nentries"], 0, 1),
                    z3.If(
                        f["nentries"] == 1,
                        z3.And(_in(f["eterm"], 1, T), _in(f["evalue"], 1, V)),
                        z3.And(f["eterm"] == 0, f["evalue"] == 0),
                    ),
                    _in(f["mcommitIndex"], 0, L),
                ]
            elif mtype == MType.AppendEntriesResponse:
                ranges.append(_in(f["mmatchIndex"], 0, L))
            typed.append(z3.And(f["mtype"] == int(mtype), *ranges))
        present = z3.And(
            _in(slot.count, 1, sh.count),
            _in(f["mterm"], 1, T),
            _in(f["msource"], 0, n - 1),
            _in(f["mdest"], 0, n - 1),
            z3.Or(typed),
        )
        empty = z3.And(slot.count == 0, *[_zero(f[name]) for name in MSG_FIELDS])
        c.append(z3.If(slot.present, present, empty))
    for a in range(len(s.slots)):
        for b in range(a + 1, len(s.slots)):
            x, y = s.slots[a], s.slots[b]
            c.append(z3.Not(z3.And(x.present, y.present, same_message(x, y))))
    return z3.And(c)


# Fields that depend on the message type (the rest every message has).
_TYPED = frozenset(MSG_FIELDS) - {"mtype", "mterm", "msource", "mdest"}


def same_message(x: Slot, y: Slot) -> Any:
    """The two slots hold equal messages (fields a type lacks are 0 in both)."""
    return z3.And([x.f[name] == y.f[name] for name in MSG_FIELDS])


def within_bounds(p: Params, s: SymState) -> Any:
    """``model.within_bounds``: terms, log lengths, copies of a message, messages in flight."""
    c: list[Any] = []
    for i in range(s.shape.servers):
        c += [s.currentTerm[i] <= p.max_term, s.loglen[i] <= p.max_log]
    c.append(z3.Sum([z3.If(slot.present, 1, 0) for slot in s.slots]) <= p.max_inflight)
    c += [slot.count <= p.max_dup for slot in s.slots]
    return z3.And(c)


# --- small helpers the properties and actions share ----------------------------------------------


def pairs(n: int) -> Iterator[tuple[int, int]]:
    """Unordered pairs of distinct servers."""
    for a in range(n):
        for b in range(a + 1, n):
            yield a, b


def entry_term(s: SymState, i: int, index: Any) -> Any:
    """The term of entry ``index`` (1-based, may be symbolic) of log ``i``; 0 outside the log.

    Entries past the end are 0 in a well-formed state, so only the capacity needs a guard.
    """
    if isinstance(index, int):
        return s.logterm[i][index - 1] if 1 <= index <= s.shape.log else z3.IntVal(0)
    out: Any = z3.IntVal(0)
    for k in range(s.shape.log):
        out = z3.If(index == k + 1, s.logterm[i][k], out)
    return out


def entry_value(s: SymState, i: int, index: Any) -> Any:
    """The value of entry ``index`` of log ``i``, as :func:`entry_term`."""
    out: Any = z3.IntVal(0)
    for k in range(s.shape.log):
        out = z3.If(index == k + 1, s.logvalue[i][k], out)
    return out


def last_term(s: SymState, i: int) -> Any:
    """raft.tla's ``LastTerm(log[i])``."""
    return entry_term(s, i, s.loglen[i])


def up_to_date(s: SymState, x: int, v: int) -> Any:
    """§5.4.1, as ``state.log_up_to_date``: log x is at least as up-to-date as log v."""
    mine, theirs = last_term(s, x), last_term(s, v)
    return z3.Or(mine > theirs, z3.And(mine == theirs, s.loglen[x] >= s.loglen[v]))


def could_win(s: SymState, x: int) -> Any:
    """§5.4.1, as ``state.could_win``: log x is at least as up-to-date as a majority of the
    logs, its own among them."""
    n = s.shape.servers
    return 2 * count([up_to_date(s, x, v) for v in range(n)]) > n


def candidate_votes(s: SymState, x: int) -> tuple[list[Any], list[Any]]:
    """``state.candidate_votes`` as formulas, one per server: voted for x in its term, and voted
    for it or yet to vote in that term."""
    n, t = s.shape.servers, s.currentTerm[x]
    granted = int(MType.RequestVoteResponse)
    voted, may = [], []
    for v in range(n):
        in_flight = [
            z3.And(
                m.present,
                m.mtype == granted,
                m.mvoteGranted,
                m.msource == v,
                m.mdest == x,
                m.mterm == t,
            )
            for m in s.slots
        ]
        voted.append(
            z3.Or(
                s.votesGranted[x][v], z3.And(s.currentTerm[v] == t, s.votedFor[v] == x), *in_flight
            )
        )
        not_yet = z3.Or(s.currentTerm[v] < t, z3.And(s.currentTerm[v] == t, s.votedFor[v] == NIL))
        may.append(z3.Or(voted[v], not_yet))
    return voted, may


def same_entry(s: SymState, a: int, b: int, k: int) -> Any:
    """Entry k+1 of log a equals entry k+1 of log b (term and value)."""
    return z3.And(s.logterm[a][k] == s.logterm[b][k], s.logvalue[a][k] == s.logvalue[b][k])


def prefix_equal(s: SymState, a: int, b: int, top: Any) -> Any:
    """Entries 1..top of logs a and b are equal (``top`` at most both lengths)."""
    return z3.And([z3.Implies(k < top, same_entry(s, a, b, k)) for k in range(s.shape.log)])


def holds_prefix(s: SymState, x: int, w: int, k: Any) -> Any:
    """Log x holds entries 1..k of log w: it is at least k long and agrees with w up to k (that
    w has k entries is for the caller to say)."""
    return z3.And(s.loglen[x] >= k, prefix_equal(s, x, w, k))


def covered(s: SymState, i: int) -> Any:
    """min(commitIndex[i], Len(log[i])): the entries of i known committed."""
    return z3.If(s.commitIndex[i] < s.loglen[i], s.commitIndex[i], s.loglen[i])


def count(bools: Sequence[Any]) -> Any:
    """How many of ``bools`` hold."""
    return z3.Sum([z3.If(b, 1, 0) for b in bools])


def quorum(bools: Sequence[Any], n: int) -> Any:
    """raft.tla's ``Quorum``: a strict majority of the n servers."""
    return 2 * count(bools) > n


class Substitution:
    """Evaluates terms over a symbolic state at one concrete state, by substitution.

    The arrays Z3's C API wants are built once per state, not once per term: this is what makes
    evaluating formulas on concrete states cheap enough to do on every explored state.
    """

    def __init__(self, sym: SymState) -> None:
        self.sym = sym
        self._ctx = z3.main_ctx()
        self._terms = sym.terms()
        self._n = len(self._terms)
        self._from = (z3.Ast * self._n)()
        for k, t in enumerate(self._terms):
            self._from[k] = t.as_ast()
        self._is_bool = [z3.is_bool(t) for t in self._terms]
        self._consts: dict[int, Any] = {}
        self._true = z3.BoolVal(True)
        self._false = z3.BoolVal(False)
        self._to = (z3.Ast * self._n)()

    def _const(self, v: int) -> Any:
        c = self._consts.get(v)
        if c is None:
            c = self._consts[v] = z3.IntVal(v)
        return c.as_ast()

    def set_state(self, s: State) -> None:
        """Evaluate at ``s`` from now on."""
        values = concrete_values(self.sym.shape, s)
        to = self._to
        t, f = self._true.as_ast(), self._false.as_ast()
        for k, (v, is_bool) in enumerate(zip(values, self._is_bool, strict=True)):
            to[k] = (t if v else f) if is_bool else self._const(int(v))

    def simplify(self, term: Any) -> Any:
        """``term`` with the state's values substituted, simplified (a Z3 expression)."""
        ctx = self._ctx
        sub = z3.Z3_substitute(ctx.ref(), term.as_ast(), self._n, self._from, self._to)
        return z3.simplify(z3.z3._to_expr_ref(sub, ctx))

    def value(self, term: Any) -> Any:
        """The Python value (int or bool) of ``term`` at the state."""
        r = self.simplify(term)
        if z3.is_true(r):
            return True
        if z3.is_false(r):
            return False
        if z3.is_int_value(r):
            return r.as_long()
        raise ValueError(f"{term} does not reduce to a value at this state: {r}")
