"""A compiled-down form of the Raft transition function, for the checker's hot loop.

``actions.py`` is the reference: readable, one function per action, whole ``State`` values. It
is also slow to run millions of times, because every step rebuilds named tuples and every
canonical form relabels a whole state. This module runs the *same* actions, through tables:

* A state is a pair of small ints ``(core, bag)``. The *core* is everything but the network
  (the servers, and raft.tla's history and our ghost variables when they are on); the *bag* is
  the network. Both are interned: each distinct value gets an id once, and the value lives in
  a list beside it.
* The steps of a core are computed once, by the reference actions themselves, and kept in a
  table: the local and sending steps of a core (Timeout, BecomeLeader, RequestVote, ...) in
  ``_local[core]``; the receipt of message ``m`` by core ``c`` in ``_recv[(c, m)]``. No action
  here depends on anything else, so after the first visit a step is a couple of look-ups.
  Table entries are therefore exactly the reference's steps; the tests check the plumbing
  around them (bags, bounds, keys) state for state.
* Bounds are flags on cores and bags, read before a successor is built: a successor outside
  them is counted, never built.
* Invariants and action properties only read the servers and the ghost variables, so they are
  decided once per new core and once per new table entry, when the entry is built. Because an
  entry is built the first time a state needs it, a violation is raised exactly at the first
  step that shows it, as the reference checker would find it.
* Symmetry: the permutations that sort a core's servers by a relabelling-invariant signature
  (``symmetry.sorting_permutations``) are computed once per core, together with a hash of the
  relabelled core. A state's key is the least ``hash((core', bag'))`` over those permutations,
  with the relabelled bag's hash memoised per (bag, permutation). Two states of one orbit have
  the same set of such relabellings, hence the same key: exact up to 64-bit fingerprint
  collisions, and usually one relabelling per state (signatures rarely tie).

Keys depend only on values (tuples of ints, bools and IntEnums hash the same in every process),
never on ids, so worker processes that intern in different orders agree on every key.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from itertools import permutations
from typing import Any

from ..modelcheck.batch import StepViolation
from ..modelcheck.model import Label, Properties
from .model import RaftModel, describe, format_label
from .next import action_names, next_steps, receive
from .next import record_all_logs as _record_all_logs
from .next import record_ghost as _record_ghost
from .params import Params
from .state import Election, History, Message, Role, Server, State
from .symmetry import (
    _relabel_server,
    permutations_sorting,
    relabel,
    signature,
    sorting_permutations,
)

# A compiled state: (core id, bag id).
FastState = tuple[int, int]

# Table keys pack two ids into one int: dict look-ups on small ints beat tuple keys.
_SHIFT = 32

# Bag operations of a received message's step.
_STAY, _DISCARD, _REPLY = 0, 1, 2

_M64 = (1 << 64) - 1
# Salts of a key's parts (FlatRaft): the servers, the bag, allLogs and elections, each mixed
# with its own, so that equal hashes in two parts never cancel when the parts are XORed.
_SALT_SRV, _SALT_BAG, _SALT_LOGS, _SALT_ELS, _SALT_PART = (
    0x9E3779B97F4A7C15 * k & _M64 for k in (1, 2, 3, 4, 5)
)


def _mix(h: int, salt: int) -> int:
    """A 64-bit hash ``h`` with ``salt`` through the splitmix64 finaliser, as a signed 64-bit
    int. A key is the XOR of its parts' mixed hashes (Zobrist hashing): a successor that
    changes one part changes its key by one XOR, and XORed independent 64-bit values collide
    no more often than one 64-bit hash of the whole state."""
    z = (h + salt) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    return z - (1 << 64) if z >> 63 else z


def _relabel_message(m: Message, perm: tuple[int, ...]) -> Message:
    return m._replace(msource=perm[m.msource], mdest=perm[m.mdest])


class CompiledRaft:
    """The tables and the hot loop for one configuration (one per process)."""

    def __init__(self, params: Params, symmetry: bool = True) -> None:
        params.validate()
        self.params = params
        self.symmetry = symmetry
        p = params
        self.names: tuple[str, ...] = action_names(p)
        self._aidx = {name: k for k, name in enumerate(self.names)}
        self._perms: list[tuple[int, ...]] = list(permutations(range(p.servers)))
        self._perm_idx = {perm: k for k, perm in enumerate(self._perms)}
        self._np = len(self._perms)
        props = RaftModel(p, symmetry).properties()
        self._invariants = [(q.name, q.holds) for q in props.invariants]
        self._action_props = [(q.name, q.holds) for q in props.action_properties]
        self._sometimes_states = [(q.name, q.reached) for q in props.sometimes]
        self._sometimes_steps = [(q.name, q.reached) for q in props.sometimes_steps]
        self.sometimes_names: list[str] = [n for n, _ in self._sometimes_states] + [
            n for n, _ in self._sometimes_steps
        ]
        self._all_notes = (1 << len(self.sometimes_names)) - 1
        #: Bit k set: sometimes property k was reached by an in-bounds state or step.
        self.reached = 0

        # Cores: value (servers, history, ghost) <-> id, and what is known about each.
        self._core_val: list[tuple[Any, Any, Any]] = []
        self._core_ids: dict[tuple[Any, Any, Any], int] = {}
        self._core_inb: list[bool] = []
        self._core_bad: list[str | None] = []
        self._core_note: list[int] = []
        # Symmetry candidates of a core: ((permutation index, hash of relabelled core), ...).
        self._core_cand: list[tuple[tuple[int, int], ...]] = []
        # Least candidate hash: the same for every core of an orbit (for partitioning).
        self._core_orbit: list[int] = []
        self._local: list[tuple[tuple[int, int, int, int], ...] | None] = []
        self._local_labels: list[tuple[Label, ...] | None] = []
        # How many expanded states had this core (coverage of local steps, folded at the end).
        self._core_expanded: list[int] = []

        # Servers interned one by one, and their own steps (used by FlatRaft).
        self._srv_val: list[Server] = []
        self._srv_ids: dict[Server, int] = {}
        self._srv_hash: list[int] = []
        self._srv_rel: dict[tuple[int, int], int] = {}
        self._srv_local_tab: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._srv_recv_tab: dict[tuple[int, int], tuple[Any, ...]] = {}

        # Messages and bags.
        self._msg_val: list[Message] = []
        self._msg_ids: dict[Message, int] = {}
        # A bag value: ((message id, count), ...) in the spec's order (sorted by message).
        self._bag_val: list[tuple[tuple[int, int], ...]] = []
        self._bag_ids: dict[tuple[tuple[int, int], ...], int] = {}
        self._bag_inb: list[bool] = []
        self._bag_msgs: list[tuple[int, ...]] = []
        self._bag_add: dict[int, int] = {}
        self._bag_rem: dict[int, int] = {}
        self._bag_rel: dict[int, int] = {}

        # Receipt of message m by core c: key (c << _SHIFT) | m -> entry, or () if not enabled.
        # Every enabled alternative of Receive, in the reference's order.
        self._recv: dict[int, tuple[tuple[int, int, int, int, int], ...]] = {}
        self._recv_labels: dict[int, tuple[Label, ...]] = {}
        self._net_core: dict[int, int] = {}
        self._net_ok: set[int] = set()
        self._msg_invariants = [
            (name, holds) for name, holds in self._invariants if name in MESSAGE_INVARIANTS
        ]
        # Coverage counted in the loop (receives, faults); local steps are folded in later.
        self._enabled = [0] * len(self.names)
        self._a_dup = self._aidx.get("DuplicateMessage", -1)
        self._a_drop = self._aidx.get("DropMessage", -1)

    # --- interning -------------------------------------------------------------------------

    def _core_state(self, c: int) -> State:
        """Core ``c`` as a reference state with an empty network."""
        servers, history, ghost = self._core_val[c]
        return State(servers, (), history, ghost)

    def _intern_core(self, value: Any) -> int:
        """The id of a core value: (servers, history, ghost) as reference values."""
        cid = self._core_ids.get(value)
        if cid is not None:
            return cid
        cid = len(self._core_val)
        self._core_ids[value] = cid
        self._core_val.append(value)
        p = self.params
        state = self._core_state(cid)
        self._core_inb.append(
            all(
                srv.currentTerm <= p.max_term and len(srv.log) <= p.max_log
                for srv in state.servers
            )
        )
        bad = None
        for name, holds in self._invariants:
            if not holds(state):
                bad = name
                break
        self._core_bad.append(bad)
        note = 0
        for k, (_name, reached) in enumerate(self._sometimes_states):
            if reached(state):
                note |= 1 << k
        self._core_note.append(note)
        cands = []
        perms = sorting_permutations(state) if self.symmetry else [self._perms[0]]
        for perm in perms:
            r = relabel(state, perm) if self.symmetry else state
            ck = hash((r.servers, r.history, r.ghost))
            cands.append((self._perm_idx[perm], ck))
        cand = tuple(cands)
        self._core_cand.append(cand)
        self._core_orbit.append(min(ck for _p, ck in cand))
        self._local.append(None)
        self._local_labels.append(None)
        self._core_expanded.append(0)
        return cid

    # --- per-server mode: every step of raft.tla reads and writes one server ----------------

    def _intern_srv(self, srv: Server) -> int:
        sid = self._srv_ids.get(srv)
        if sid is None:
            sid = len(self._srv_val)
            self._srv_ids[srv] = sid
            self._srv_val.append(srv)
            self._srv_hash.append(hash(srv))
        return sid

    def _ext(self, t: State, i: int) -> int:
        return self._intern_srv(t.servers[i])

    def _election(self, t: State) -> int:
        """The election record a step from a lone server added (history only), else -1."""
        return -1

    def _srv_relabel(self, sid: int, perm_index: int) -> int:
        key = (sid, perm_index)
        r = self._srv_rel.get(key)
        if r is None:
            r = self._intern_srv(_relabel_server(self._srv_val[sid], self._perms[perm_index]))
            self._srv_rel[key] = r
        return r

    def _alone(self, sid: int, messages: Any = ()) -> State:
        # Every action of server i reads only servers[i] (and the message it handles), so the
        # other places can hold any server: they are never read and come back unchanged.
        return State((self._srv_val[sid],) * self.params.servers, messages, (), ())

    def _srv_local(self, sid: int, i: int) -> tuple[Any, ...]:
        """Server i's own steps: (action, label, server id after, message sent or None,
        step note, violation or None)."""
        key = (sid, i)
        entries = self._srv_local_tab.get(key)
        if entries is not None:
            return entries
        s = self._alone(sid)
        out = []
        for label, t in next_steps(self.params, s):
            if label[1] != i:
                continue
            sid2 = self._ext(t, i)
            msg = t.messages[0][0] if t.messages else None
            note = 0
            shift = len(self._sometimes_states)
            for k, (_name, reached) in enumerate(self._sometimes_steps):
                if reached(s, label, t):
                    note |= 1 << (shift + k)
            viol = None
            for name, holds in self._action_props:
                if not holds(s, label, t):
                    viol = name
                    break
            out.append((self._aidx[label[0]], label, sid2, msg, note, viol, self._election(t)))
        entries = tuple(out)
        self._srv_local_tab[key] = entries
        return entries

    def _srv_recv(self, sid: int, m: int) -> tuple[tuple[Any, ...], ...]:
        """Receipt of message m by server (its mdest): for each enabled alternative of Receive,
        (action, label, server id after, bag operation, reply or -1, step note, violation or
        None); () if none is enabled."""
        key = (sid, m)
        entries = self._srv_recv_tab.get(key)
        if entries is not None:
            return entries
        msg = self._msg_val[m]
        i = msg.mdest
        s = self._alone(sid, ((msg, 1),))
        out = []
        for label, t in receive(self.params, s, msg):
            op, r = self._bag_op(msg, t)
            note = 0
            shift = len(self._sometimes_states)
            for k, (_name, reached) in enumerate(self._sometimes_steps):
                if reached(s, label, t):
                    note |= 1 << (shift + k)
            viol = None
            for name, holds in self._action_props:
                if not holds(s, label, t):
                    viol = name
                    break
            out.append((self._aidx[label[0]], label, self._ext(t, i), op, r, note, viol))
        entries = tuple(out)
        self._srv_recv_tab[key] = entries
        return entries

    def _bag_op(self, msg: Message, t: State) -> tuple[int, int]:
        """What a receive step did to a network holding one copy of ``msg``."""
        if t.messages == ((msg, 1),):
            return _STAY, -1
        if not t.messages:
            return _DISCARD, -1
        ((reply, count),) = t.messages
        assert count == 1 and reply != msg
        return _REPLY, self._intern_msg(reply)

    def _intern_msg(self, m: Message) -> int:
        mid = self._msg_ids.get(m)
        if mid is None:
            mid = len(self._msg_val)
            self._msg_ids[m] = mid
            self._msg_val.append(m)
        return mid

    def _intern_bag(self, counts: dict[int, int]) -> int:
        msg_val = self._msg_val
        value = tuple(sorted(counts.items(), key=lambda mc: msg_val[mc[0]]))
        bid = self._bag_ids.get(value)
        if bid is None:
            bid = len(self._bag_val)
            self._bag_ids[value] = bid
            self._bag_val.append(value)
            p = self.params
            self._bag_inb.append(
                len(value) <= p.max_inflight and all(c <= p.max_dup for _m, c in value)
            )
            self._bag_msgs.append(tuple(m for m, _c in value))
        return bid

    def _add(self, b: int, m: int) -> int:
        counts = dict(self._bag_val[b])
        counts[m] = counts.get(m, 0) + 1
        r = self._intern_bag(counts)
        self._bag_add[(b << _SHIFT) | m] = r
        return r

    def _rem(self, b: int, m: int) -> int:
        counts = dict(self._bag_val[b])
        c = counts.get(m, 0)
        if c == 1:
            del counts[m]
        elif c > 1:
            counts[m] = c - 1
        r = self._intern_bag(counts)
        self._bag_rem[(b << _SHIFT) | m] = r
        return r

    def _rel(self, b: int, perm_index: int) -> int:
        """Hash of bag ``b`` relabelled by a permutation (memoised)."""
        perm = self._perms[perm_index]
        msg_val = self._msg_val
        value = tuple(
            sorted((_relabel_message(msg_val[m], perm), c) for m, c in self._bag_val[b])
        )
        h = _mix(hash(value), _SALT_BAG)
        self._bag_rel[b * self._np + perm_index] = h
        return h

    # --- conversions -------------------------------------------------------------------------

    def from_spec(self, s: State) -> FastState:
        """The compiled form of a reference state."""
        core = self._intern_core((s.servers, s.history, s.ghost))
        bag = self._intern_bag({self._intern_msg(m): c for m, c in s.messages})
        return (core, bag)

    def to_spec(self, st: FastState) -> State:
        """The reference state of a compiled one."""
        core = self._core_state(st[0])
        msg_val = self._msg_val
        messages = tuple((msg_val[m], c) for m, c in self._bag_val[st[1]])
        return core._replace(messages=messages)

    def export_states(self, states: Sequence[FastState]) -> list[State]:
        """States in a form another process can read (ids are private to a process)."""
        return [self.to_spec(st) for st in states]

    def import_states(self, values: Sequence[State]) -> list[FastState]:
        """The inverse of :meth:`export_states`, interning into this process's tables."""
        return [self.from_spec(s) for s in values]

    def key(self, st: FastState) -> int:
        """The 64-bit key of a state's symmetry class (of the state itself without symmetry)."""
        c, b = st
        rel = self._bag_rel
        np_ = self._np
        best = None
        for perm_index, ck in self._core_cand[c]:
            bk = rel.get(b * np_ + perm_index)
            if bk is None:
                bk = self._rel(b, perm_index)
            k = hash((ck, bk))
            if best is None or k < best:
                best = k
        assert best is not None
        return best

    def partition(self, st: FastState) -> int:
        """A hash of the state's symmetry class that ignores the network (owner of the state)."""
        return self._core_orbit[st[0]]

    def in_bounds(self, st: FastState) -> bool:
        """The state constraint."""
        return self._core_inb[st[0]] and self._bag_inb[st[1]]

    # --- building table entries --------------------------------------------------------------

    def _check_step(self, s: State, label: Label, t: State, c2: int) -> tuple[str, str] | None:
        bad = self._core_bad[c2]
        if bad is not None:
            return bad, "invariant"
        for name, holds in self._action_props:
            if not holds(s, label, t):
                return name, "action"
        return None

    def _step_note(self, s: State, label: Label, t: State, c2: int) -> int:
        note = self._core_note[c2]
        shift = len(self._sometimes_states)
        for k, (_name, reached) in enumerate(self._sometimes_steps):
            if reached(s, label, t):
                note |= 1 << (shift + k)
        return note

    def _build_local(self, st: FastState) -> tuple[tuple[int, int, int, int], ...]:
        c, b = st
        servers, history, ghost = self._core_val[c]
        # With an empty network only the steps that need no message are enabled: exactly the
        # local and sending steps, which do not depend on the network.
        s = State(servers, (), history, ghost)
        entries = []
        labels = []
        for label, t in next_steps(self.params, s):
            c2 = self._intern_core((t.servers, t.history, t.ghost))
            if t.messages:
                ((m, _count),) = t.messages
                mid = self._intern_msg(m)
            else:
                mid = -1
            entries.append((self._aidx[label[0]], c2, mid, self._step_note(s, label, t, c2)))
            labels.append(label)
            found = self._check_step(s, label, t, c2)
            if found is not None:
                b2 = b if mid < 0 else self._add(b, mid)
                raise StepViolation(
                    found[0], found[1], st, label, (c2, b2),
                    self._core_inb[c2] and self._bag_inb[b2],
                )
        table = tuple(entries)
        self._local[c] = table
        self._local_labels[c] = tuple(labels)
        return table

    def _build_recv(self, st: FastState, m: int) -> tuple[tuple[int, int, int, int, int], ...]:
        c, b = st
        servers, history, ghost = self._core_val[c]
        msg = self._msg_val[m]
        s = State(servers, ((msg, 1),), history, ghost)
        out = []
        labels = []
        for label, t0 in receive(self.params, s, msg):
            # The same bookkeeping next_steps does after every step.
            t = _record_all_logs(s, t0) if self.params.history else t0
            if self.params.ghost:
                t = _record_ghost(s, label, t)
            c2 = self._intern_core((t.servers, t.history, t.ghost))
            op, r = self._bag_op(msg, t)
            out.append((self._aidx[label[0]], c2, op, r, self._step_note(s, label, t, c2)))
            labels.append(label)
            found = self._check_step(s, label, t, c2)
            if found is not None:
                b2 = self._apply(b, m, op, r)
                raise StepViolation(
                    found[0], found[1], st, label, (c2, b2),
                    self._core_inb[c2] and self._bag_inb[b2],
                )
        entries = tuple(out)
        self._recv[(c << _SHIFT) | m] = entries
        self._recv_labels[(c << _SHIFT) | m] = tuple(labels)
        return entries

    def _apply(self, b: int, m: int, op: int, r: int) -> int:
        if op == _STAY:
            return b
        if op == _REPLY:
            added = self._bag_add.get((b << _SHIFT) | r)
            b = self._add(b, r) if added is None else added
        removed = self._bag_rem.get((b << _SHIFT) | m)
        return self._rem(b, m) if removed is None else removed

    # --- the hot loop ---------------------------------------------------------------------------

    def initial(self) -> list[FastState]:
        """The initial states (checked against the invariants: raises StepViolation)."""
        out = []
        for s in RaftModel(self.params, self.symmetry).init_states():
            st = self.from_spec(s)
            bad = self._core_bad[st[0]]
            if bad is not None:
                raise StepViolation(bad, "invariant", st, None, st, self.in_bounds(st))
            if self.in_bounds(st):
                self.reached |= self._core_note[st[0]]
            out.append(st)
        return out

    def expand(
        self,
        states: Sequence[FastState],
        keys: list[int],
        succs: list[FastState],
        acts: list[int],
        firsts: list[int],
    ) -> int:
        """Expand ``states``; append each in-bounds successor's key, state and action index to
        the first three lists, and for each state the number of successors appended before it
        to ``firsts`` (see ``batch.parent_positions``). Returns how many were generated.

        Out-of-bounds successors are counted but never built: their properties were decided
        when their table entry was built. Raises :class:`StepViolation` on the first failure.
        """
        local = self._local
        core_inb = self._core_inb
        bag_inb = self._bag_inb
        bag_msgs = self._bag_msgs
        cand = self._core_cand
        rel_get = self._bag_rel.get
        add_get = self._bag_add.get
        rem_get = self._bag_rem.get
        recv_get = self._recv.get
        expanded = self._core_expanded
        enabled = self._enabled
        np_ = self._np
        faults = self.params.faults
        pending = self.reached != self._all_notes
        reached = self.reached
        a_dup, a_drop = self._a_dup, self._a_drop
        check_msgs = bool(self._msg_invariants)
        keys_append = keys.append
        succs_append = succs.append
        acts_append = acts.append
        firsts_append = firsts.append
        generated = 0

        for st in states:
            firsts_append(len(keys))
            c, b = st
            expanded[c] += 1
            entries = local[c]
            if entries is None:
                entries = self._build_local(st)
            generated += len(entries)
            for a, c2, m, note in entries:
                if m < 0:
                    b2 = b
                else:
                    b2 = add_get((b << _SHIFT) | m)
                    if b2 is None:
                        b2 = self._add(b, m)
                if check_msgs and (c2 != c or m >= 0):
                    self._check_network(st, (c2, b2))
                if not core_inb[c2] or not bag_inb[b2]:
                    continue
                if pending and note:
                    reached |= note
                cs = cand[c2]
                if len(cs) == 1:
                    pi, ck = cs[0]
                    bk = rel_get(b2 * np_ + pi)
                    if bk is None:
                        bk = self._rel(b2, pi)
                    key = hash((ck, bk))
                else:
                    key = self.key((c2, b2))
                keys_append(key)
                succs_append((c2, b2))
                acts_append(a)
            msgs = bag_msgs[b]
            if not msgs:
                continue
            cshift = c << _SHIFT
            bshift = b << _SHIFT
            for m in msgs:
                es = recv_get(cshift | m)
                if es is None:
                    es = self._build_recv(st, m)
                for a, c2, op, r, note in es:
                    generated += 1
                    enabled[a] += 1
                    if op == _STAY:
                        b2 = b
                    elif op == _DISCARD:
                        b2 = rem_get(bshift | m)
                        if b2 is None:
                            b2 = self._rem(b, m)
                    else:
                        b2 = self._apply(b, m, op, r)
                    if check_msgs and (c2 != c or op == _REPLY):
                        self._check_network(st, (c2, b2))
                    if not core_inb[c2] or not bag_inb[b2]:
                        continue
                    if pending and note:
                        reached |= note
                    cs = cand[c2]
                    if len(cs) == 1:
                        pi, ck = cs[0]
                        bk = rel_get(b2 * np_ + pi)
                        if bk is None:
                            bk = self._rel(b2, pi)
                        key = hash((ck, bk))
                    else:
                        key = self.key((c2, b2))
                    keys_append(key)
                    succs_append((c2, b2))
                    acts_append(a)
            if faults:
                # The network's own steps change no server: no property can fail on them.
                # They do change allLogs, which every step updates.
                generated += 2 * len(msgs)
                enabled[a_dup] += len(msgs)
                enabled[a_drop] += len(msgs)
                cn = self._network_step_core(c)
                for m in msgs:
                    b2 = add_get(bshift | m)
                    if b2 is None:
                        b2 = self._add(b, m)
                    if bag_inb[b2]:
                        key = self.key((cn, b2))
                        keys_append(key)
                        succs_append((cn, b2))
                        acts_append(a_dup)
                for m in msgs:
                    b2 = rem_get(bshift | m)
                    if b2 is None:
                        b2 = self._rem(b, m)
                    key = self.key((cn, b2))
                    keys_append(key)
                    succs_append((cn, b2))
                    acts_append(a_drop)
        if pending:
            self.reached = reached
        return generated

    def _check_network(self, st: FastState, after: FastState) -> None:
        """The invariants that read the network, on a successor whose servers or messages
        changed (memoised per state: cores here carry history, so little repeats)."""
        key = (after[0] << _SHIFT) | after[1]
        if key in self._net_ok:
            return
        s = self.to_spec(after)
        for name, holds in self._msg_invariants:
            if not holds(s):
                raise StepViolation(
                    name, "invariant", st, self._label_of(st, after), after, self.in_bounds(after)
                )
        if len(self._net_ok) > 1_000_000:
            self._net_ok.clear()
        self._net_ok.add(key)

    def _label_of(self, st: FastState, after: FastState) -> Label:
        for label, t in self.successors(st):
            if t == after:
                return label
        raise AssertionError("a successor without a label")

    def enabled_counts(self) -> list[int]:
        """Times each action (by index into ``names``) was enabled in the expanded states."""
        counts = list(self._enabled)
        for c, times in enumerate(self._core_expanded):
            if times:
                entries = self._local[c]
                if entries is None:
                    continue
                for e in entries:
                    counts[e[0]] += times
        return counts

    def sometimes(self) -> dict[str, bool]:
        """Each sometimes property and whether it was reached."""
        return {name: bool(self.reached >> k & 1) for k, name in enumerate(self.sometimes_names)}

    # --- the plain protocol, for traces and cross-checks ---------------------------------------

    def successors(self, st: FastState) -> Iterator[tuple[Label, FastState]]:
        """Every successor with its reference label, in the reference's order."""
        c, b = st
        entries = self._local[c]
        if entries is None:
            entries = self._build_local(st)
        labels = self._local_labels[c]
        assert labels is not None
        for label, (_a, c2, m, _note) in zip(labels, entries, strict=True):
            yield label, (c2, b if m < 0 else self._add(b, m))
        msgs = self._bag_msgs[b]
        for m in msgs:
            es = self._recv.get((c << _SHIFT) | m)
            if es is None:
                es = self._build_recv(st, m)
            labels = self._recv_labels[(c << _SHIFT) | m]
            for label, (_a, c2, op, r, _note) in zip(labels, es, strict=True):
                yield label, (c2, self._apply(b, m, op, r))
        if self.params.faults:
            cn = self._network_step_core(c)
            for m in msgs:
                yield ("DuplicateMessage", self._msg_val[m]), (cn, self._add(b, m))
            for m in msgs:
                yield ("DropMessage", self._msg_val[m]), (cn, self._rem(b, m))

    def _network_step_core(self, c: int) -> int:
        """The core after DuplicateMessage or DropMessage: only allLogs may change."""
        if not self.params.history:
            return c
        cn = self._net_core.get(c)
        if cn is None:
            s = self._core_state(c)
            t = _record_all_logs(s, s)
            cn = self._intern_core((t.servers, t.history, t.ghost))
            self._net_core[c] = cn
        return cn


class FastRaftModel:
    """raft.tla through :class:`CompiledRaft`: the checker's default model for Raft.

    It implements the plain model protocol (states are compiled pairs of ids, converted with
    ``to_spec`` for people) and the checker's batch protocol (``batch()``), which the engine
    prefers. Every option of the reference model is supported (history, ghost, faults,
    mutants): the steps themselves come from the reference actions.
    """

    def __init__(self, params: Params, symmetry: bool = True) -> None:
        if getattr(params, "extended", False):
            # The options add actions and fields the tables do not know; run the readable spec.
            raise NotImplementedError("the options of spec/options.py are not compiled")
        self.params = params
        self.symmetry = symmetry
        self.reference = RaftModel(params, symmetry)
        self.compiled: CompiledRaft = (
            CompiledRaft(params, symmetry) if params.ghost else FlatRaft(params, symmetry)
        )

    # batch protocol
    def batch(self) -> Any:
        """The compiled tables and hot loop (see ``raftkit.modelcheck.engine``)."""
        return self.compiled

    def export_state(self, st: Any) -> State:
        """A state as the reference spec has it (for traces, JSON and replay)."""
        return self.compiled.to_spec(st) if isinstance(st, tuple) and not isinstance(
            st, State) else st

    # plain protocol
    def init_states(self) -> Iterator[FastState]:
        for s in self.reference.init_states():
            yield self.compiled.from_spec(s)

    def successors(self, state: FastState) -> Iterator[tuple[Label, FastState]]:
        return self.compiled.successors(state)

    def within_bounds(self, state: FastState) -> bool:
        return self.compiled.in_bounds(state)

    def canonical(self, state: FastState) -> Hashable:
        return self.compiled.key(state)

    def properties(self) -> Properties[Any]:
        """The reference properties, on compiled states converted back."""
        from ..modelcheck.model import ActionProperty, Invariant, Sometimes, SometimesStep

        ref = self.reference.properties()
        spec = self.export_state

        def inv(fn: Any) -> Any:
            return lambda s: fn(spec(s))

        def step(fn: Any) -> Any:
            return lambda s, label, t: fn(spec(s), label, spec(t))

        return Properties(
            invariants=tuple(Invariant(q.name, inv(q.holds), q.doc) for q in ref.invariants),
            action_properties=tuple(
                ActionProperty(q.name, step(q.holds), q.doc) for q in ref.action_properties
            ),
            sometimes=tuple(Sometimes(q.name, inv(q.reached), q.doc) for q in ref.sometimes),
            sometimes_steps=tuple(
                SometimesStep(q.name, step(q.reached), q.doc) for q in ref.sometimes_steps
            ),
        )

    def action_names(self) -> Sequence[str]:
        return self.compiled.names

    def describe(self, state: Any) -> Mapping[str, Any]:
        return describe(self.export_state(state))

    def format_label(self, label: Label) -> str:
        return format_label(label)


# --- the flat form: no history, no ghost ----------------------------------------------------


class FlatRaft(CompiledRaft):
    """raft.tla without history or ghost variables, as flat tuples of server ids.

    A state is ``(s_0, ..., s_{n-1}, bag)``: each server interned to an id, the network as a
    bag id. Without history and ghost variables every action reads and writes one server (the
    acting or receiving one) plus the network, so the steps are tabled per *server*, not per
    state or per cluster: ``Timeout`` of a given server value is computed once, ever. And every
    invariant of ``properties.py`` is then a conjunction over pairs of servers (no two leaders
    of one term, logs pairwise matching, ...), so a new server is checked against each other
    server through a table of pair verdicts. The loop over a state's successors is generated
    source code for the number of servers (see ``_flat_source``): a successor is a tuple with
    one id replaced, and its key needs one look-up of the servers' symmetry candidates.
    """

    #: Entries of each per-state cache (symmetry candidates, allLogs steps, message verdicts)
    #: before it is emptied: bounds the memory they take on very long runs.
    CAND_CACHE = 2_000_000
    #: Entries of the step cache (``_prepare``) before it is emptied: each holds lists of
    #: successors (~0.5 kB), and one is needed for about every fifth new state.
    STEP_CACHE = 400_000

    def __init__(self, params: Params, symmetry: bool = True) -> None:
        super().__init__(params, symmetry)
        assert not params.ghost
        self._n = params.servers
        # With raft.tla's history variables a server carries its voterLog, and a state ends
        # with allLogs and elections: (s_0, ..., s_{n-1}, bag, allLogs, elections).
        self._hist = params.history
        self._srv_vl: list[Any] = []
        self._logs_val: list[tuple[Any, ...]] = []
        self._logs_ids: dict[tuple[Any, ...], int] = {}
        self._logs_hash: list[int] = []
        self._logs_step: dict[tuple[int, ...], int] = {}
        self._el_val: list[Election] = []
        self._el_ids: dict[Election, int] = {}
        self._els_val: list[tuple[int, ...]] = []
        self._els_ids: dict[tuple[int, ...], int] = {}
        self._els_add: dict[tuple[int, int], int] = {}
        self._els_rel: dict[int, int] = {}
        self._srv_inb: list[bool] = []
        self._srv_note: list[int] = []
        self._srv_sig: list[int] = []
        self._srv_cls: list[int] = []
        self._stab: dict[int, tuple[tuple[int, int, int, int], ...]] = {}
        self._stab_labels: dict[int, tuple[Label, ...]] = {}
        self._rtab: dict[int, tuple[int, int, int, int, int] | tuple[()]] = {}
        self._rtab_labels: dict[int, Label] = {}
        self._pok: dict[int, bool] = {}
        self._mok: dict[int, bool] = {}
        names = {name for name, _holds in self._invariants}
        known = PAIR_INVARIANTS | MESSAGE_INVARIANTS | WHOLE_INVARIANTS
        if not names <= known:
            raise NotImplementedError(f"no compiled form of {sorted(names - known)}")
        # Invariants over all servers at once, which read only each server's log and
        # commitIndex: decided per combination of (log, commitIndex) ids and cached, and only
        # looked at when a step changes a server's log or commitIndex (rare among steps).
        self._whole = [(name, holds) for name, holds in self._invariants
                       if name in WHOLE_INVARIANTS]
        self._lc_ids: dict[tuple[Any, int], int] = {}
        self._lc_rep: list[Server] = []
        self._srv_lc: list[int] = []
        self._wok: dict[int, bool] = {}
        self._cand: dict[tuple[int, ...], tuple[tuple[int, int], ...]] = {}
        self._sig_perms: dict[tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...]] = {}
        self._msg_dest: list[int] = []
        self._msg_src: list[int] = []
        self._m1ok: dict[int, bool] = {}
        self._bag_export: dict[int, tuple[tuple[Message, int], ...]] = {}
        # What each peer worker was told about ids (encode) and what ids it uses (decode).
        self._sent: dict[int, tuple[set[int], ...]] = {}
        self._received: dict[int, tuple[dict[int, int], ...]] = {}
        # The cached path (_fast_source): per place, per server id, a dict from bag id to the
        # steps of that (server, place, bag) once checked (``_prepare``); server tuples whose
        # pair checks passed; relabelled hashes of each bag and elections id.
        self._ftl: list[list[dict[int, Any]]] = [[] for _ in range(self._n)]
        self._ftab_size = 0
        self._fcells: list[tuple[list[int], tuple[int, ...]]] = []
        self._svinfo: dict[tuple[int, ...], tuple[Any, dict[int, tuple[int, int]]]] = {}
        self._okc: dict[tuple[int, ...], tuple[tuple[int, int], ...]] = {}
        self._pxs: dict[int, tuple[int, ...]] = {}
        self._pxlc: dict[int, tuple[tuple[int, int], ...]] = {}
        self._pgok: dict[int, bool] = {}
        self._brel: dict[int, tuple[int, ...]] = {}
        self._els_rel_all: dict[int, tuple[int, ...]] = {}
        self._bag_md: list[tuple[tuple[int, int], ...]] = []
        self._bag_faults: list[tuple[tuple[int, int, Any], ...] | None] = []
        self._bag_fault_acts: list[tuple[int, ...]] = []
        # Without symmetry a key is Zobrist's: per place, each server's mixed hash, XORed
        # with the bag's, allLogs' and elections' (``_mix``); a step's cached successors then
        # carry the XOR their key differs from the state's by.
        self._zs: list[list[int]] = [[] for _ in range(self._n)]
        for sid in range(len(self._srv_val)):
            self._srv_interned(sid)
        for b in range(len(self._bag_val)):
            self._bag_interned(b)
        namespace: dict[str, Any] = {}
        exec(_flat_source(self._n, params.faults, self._hist), namespace)  # noqa: S102
        self._slow_expand = namespace["make"](self)
        zob = not symmetry
        exec(_fast_source(self._n, params.faults, self._hist, zob=zob), namespace)  # noqa: S102
        self.expand = namespace["make"](self)  # type: ignore[method-assign]
        #: ``expand`` with keys as XORs from per-state bases (``batch.delta_keys``), without
        #: symmetry; None with it.
        self.expand_delta: Any = None
        if zob:
            source = _fast_source(self._n, params.faults, self._hist, zob=True, delta=True)
            exec(source, namespace)  # noqa: S102
            self.expand_delta = namespace["make"](self)
        #: Without symmetry, a state's part (what ``--workers`` routes by) is the hash of
        #: its first ``_part_k`` servers (``plan_workers``); with it, the sum of the servers'
        #: classes (``partition``).
        self._part_k = self._n
        self._build_parts()

    def _build_parts(self) -> None:
        """The loops for ``--workers``, which append each successor's part."""
        namespace: dict[str, Any] = {}
        zob, k, p = not self.symmetry, self._part_k, self.params
        exec(_flat_source(self._n, p.faults, self._hist, True, zob, k), namespace)  # noqa: S102
        self._slow_expand_parts = namespace["make"](self)
        exec(_fast_source(self._n, p.faults, self._hist, True, zob, part_k=k), namespace)  # noqa: S102
        self.expand_parts = namespace["make"](self)
        #: ``expand_parts`` with keys as in ``expand_delta``; None with symmetry.
        self.expand_parts_delta: Any = None
        if zob:
            exec(_fast_source(self._n, p.faults, self._hist, True, True, True, k), namespace)  # noqa: S102
            self.expand_parts_delta = namespace["make"](self)

    def plan_workers(self, n: int) -> None:
        """Called before ``n`` worker processes fork from this one. Without symmetry, up to
        four workers route by the first server alone: a step of any other server then keeps
        its state (and that worker's caches warm) where it is, and D's two workers received
        half the states and ran 17 % fewer instructions. The first server's values are few
        (about 120 in D and E, the commonest in 6-9 % of states), so shares of more workers
        would be uneven (the largest twice the mean at 16): they route by all servers."""
        k = 1 if n <= 4 else self._n
        if not self.symmetry and k != self._part_k:
            self._part_k = k
            self._build_parts()

    # interning with per-server facts
    def _intern_srv(self, srv: Server, vl: Any = ()) -> int:
        value: Any = (srv, vl) if self._hist else srv
        sid = self._srv_ids.get(value)
        if sid is None:
            sid = len(self._srv_val)
            self._srv_ids[value] = sid
            self._srv_val.append(srv)
            self._srv_vl.append(vl)
            self._srv_hash.append(hash(value))
            p = self.params
            self._srv_inb.append(srv.currentTerm <= p.max_term and len(srv.log) <= p.max_log)
            alone = State((srv,) * self._n, (), (), ())
            note = 0
            for k, (_name, reached) in enumerate(self._sometimes_states):
                if reached(alone):
                    note |= 1 << k
            self._srv_note.append(note)
            self._srv_sig.append(hash(signature(srv)))
            # The server's class, which --workers with symmetry routes by (``partition``):
            # what relabelling keeps and most steps leave alone, mixed and shifted so that a
            # sum over the servers fits an int64.
            cls = (srv.currentTerm, int(srv.state), len(srv.log), srv.commitIndex)
            self._srv_cls.append(_mix(hash(cls), _SALT_PART) >> 6)
            lc_value = (srv.log, srv.commitIndex)
            lc = self._lc_ids.get(lc_value)
            if lc is None:
                lc = self._lc_ids[lc_value] = len(self._lc_rep)
                self._lc_rep.append(srv)
            self._srv_lc.append(lc)
            if hasattr(self, "_ftl"):
                self._srv_interned(sid)
        return sid

    def _srv_interned(self, sid: int) -> None:
        for places in self._ftl:
            places.append(_NO_STEPS)
        h = self._srv_hash[sid]
        for i, zs in enumerate(self._zs):
            zs.append(_mix(h, _SALT_SRV ^ (0xD1B54A32D192ED03 * (i + 1) & _M64)))

    def _intern_bag(self, counts: dict[int, int]) -> int:
        before = len(self._bag_val)
        bid = super()._intern_bag(counts)
        if bid == before and hasattr(self, "_bag_md"):
            self._bag_interned(bid)
        return bid

    def _fault_steps(self, b: int) -> tuple[tuple[int, int, Any], ...]:
        """The in-bounds results of DuplicateMessage then DropMessage on bag ``b``, in the
        slow path's order: (action, bag after, what its key needs: ``_step_rel``)."""
        out = []
        msgs = self._bag_msgs[b]
        for m in msgs:
            b2 = self._bag_add.get((b << _SHIFT) | m)
            if b2 is None:
                b2 = self._add(b, m)
            if self._bag_inb[b2]:
                out.append((self._a_dup, b2, self._step_rel(b, b2)))
        for m in msgs:
            b2 = self._bag_rem.get((b << _SHIFT) | m)
            if b2 is None:
                b2 = self._rem(b, m)
            out.append((self._a_drop, b2, self._step_rel(b, b2)))
        self._bag_fault_acts[b] = tuple(e[0] for e in out)
        r = self._bag_faults[b] = tuple(out)
        return r

    def _step_rel(self, b: int, b2: int, i: int = 0, sid: int = 0, x: int = 0) -> Any:
        """What a cached step from bag ``b`` to ``b2`` (and, at place ``i``, from server
        ``sid`` to ``x``) carries for its successor's key: with symmetry, ``b2``'s relabelled
        hashes; without, the XOR between the successor's key and the state's."""
        brel = self._brel.get(b2) or self._bag_rel_all(b2)
        if self.symmetry:
            return brel
        zs = self._zs[i]
        return zs[x] ^ zs[sid] ^ brel[0] ^ (self._brel.get(b) or self._bag_rel_all(b))[0]

    def _bag_interned(self, b: int) -> None:
        self._bag_faults.append(None)
        self._bag_fault_acts.append(())
        # (position in the bag, destination) of each message: where its receipt is cached.
        self._bag_md.append(
            tuple((k, self._msg_dest[m]) for k, m in enumerate(self._bag_msgs[b]))
        )

    def _intern_msg(self, m: Message) -> int:
        mid = self._msg_ids.get(m)
        if mid is None:
            mid = super()._intern_msg(m)
            self._msg_dest.append(m.mdest)
            self._msg_src.append(m.msource)
        return mid

    # history variables
    def _intern_logs(self, value: tuple[Any, ...]) -> int:
        lid = self._logs_ids.get(value)
        if lid is None:
            lid = len(self._logs_val)
            self._logs_ids[value] = lid
            self._logs_val.append(value)
            self._logs_hash.append(_mix(hash(value), _SALT_LOGS))
        return lid

    def _all_logs_step(self, a: int, sv: tuple[int, ...]) -> int:
        """allLogs after any step from servers ``sv``: it gains their logs (before the step)."""
        lcs = self._srv_lc
        # Cached by the servers' (log, commitIndex) ids, not by the servers: server tuples are
        # mostly new, their logs mostly not (the generated loops build the same key).
        key = (a, *[lcs[k] for k in sv])
        a2 = self._logs_step.get(key)
        if a2 is None:
            logs = set(self._logs_val[a])
            logs.update(self._srv_val[k].log for k in sv)
            a2 = self._intern_logs(tuple(sorted(logs)))
            if len(self._logs_step) >= self.CAND_CACHE:
                self._logs_step.clear()  # bounded, so memory stays linear in the seen-set
            self._logs_step[key] = a2
        return a2

    def _intern_el(self, e: Election) -> int:
        eid = self._el_ids.get(e)
        if eid is None:
            eid = len(self._el_val)
            self._el_ids[e] = eid
            self._el_val.append(e)
        return eid

    def _intern_els(self, eids: Any) -> int:
        el_val = self._el_val
        value = tuple(sorted(set(eids), key=el_val.__getitem__))
        x = self._els_ids.get(value)
        if x is None:
            x = len(self._els_val)
            self._els_ids[value] = x
            self._els_val.append(value)
        return x

    def _els_plus(self, e: int, rec: int) -> int:
        r = self._els_add.get((e, rec))
        if r is None:
            r = self._intern_els((*self._els_val[e], rec))
            self._els_add[(e, rec)] = r
        return r

    def _els_relabel(self, e: int, pi: int) -> int:
        """Hash of the elections relabelled by a permutation (memoised)."""
        perm = self._perms[pi]
        value = tuple(
            sorted(
                Election(
                    eterm=x.eterm,
                    eleader=perm[x.eleader],
                    elog=x.elog,
                    evotes=tuple(sorted(perm[v] for v in x.evotes)),
                    evoterLog=tuple(sorted((perm[v], lg) for v, lg in x.evoterLog)),
                )
                for x in (self._el_val[k] for k in self._els_val[e])
            )
        )
        h = _mix(hash(value), _SALT_ELS)
        self._els_rel[e * self._np + pi] = h
        return h

    def _tail(self, st: tuple[int, ...], rec: int) -> tuple[int, ...]:
        """allLogs and elections after a step from ``st`` that records election ``rec``."""
        if not self._hist:
            return ()
        n = self._n
        a2 = self._all_logs_step(st[n + 1], st[:n])
        e2 = st[n + 2] if rec < 0 else self._els_plus(st[n + 2], rec)
        return (a2, e2)

    # conversions
    def from_spec(self, s: State) -> tuple[int, ...]:  # type: ignore[override]
        h = s.history
        if self._hist:
            sids = tuple(self._intern_srv(srv, h.voterLog[i]) for i, srv in enumerate(s.servers))
        else:
            sids = tuple(self._intern_srv(srv) for srv in s.servers)
        bag = self._intern_bag({self._intern_msg(m): c for m, c in s.messages})
        if not self._hist:
            return (*sids, bag)
        els = self._intern_els(self._intern_el(e) for e in h.elections)
        return (*sids, bag, self._intern_logs(h.allLogs), els)

    def to_spec(self, st: tuple[int, ...]) -> State:  # type: ignore[override]
        srv_val = self._srv_val
        msg_val = self._msg_val
        n = self._n
        history: Any = ()
        if self._hist:
            history = History(
                elections=tuple(self._el_val[k] for k in self._els_val[st[n + 2]]),
                allLogs=self._logs_val[st[n + 1]],
                voterLog=tuple(self._srv_vl[k] for k in st[:n]),
            )
        return State(
            tuple(srv_val[k] for k in st[:n]),
            tuple((msg_val[m], c) for m, c in self._bag_val[st[n]]),
            history,
            (),
        )

    def _srv_relabel(self, sid: int, perm_index: int) -> int:
        key = (sid, perm_index)
        r = self._srv_rel.get(key)
        if r is None:
            perm = self._perms[perm_index]
            srv = _relabel_server(self._srv_val[sid], perm)
            vl = tuple(sorted((perm[v], lg) for v, lg in self._srv_vl[sid]))
            r = self._intern_srv(srv, vl)
            self._srv_rel[key] = r
        return r

    def _alone(self, sid: int, messages: Any = ()) -> State:
        n = self.params.servers
        history: Any = ()
        if self._hist:
            history = History(elections=(), allLogs=(), voterLog=(self._srv_vl[sid],) * n)
        return State((self._srv_val[sid],) * n, messages, history, ())

    def _election(self, t: State) -> int:  # type: ignore[override]
        if self._hist and t.history.elections:
            ((e),) = t.history.elections
            return self._intern_el(e)
        return -1

    def _ext(self, t: State, i: int) -> int:
        """Server i of a step's result, with its voterLog under history."""
        if self._hist:
            return self._intern_srv(t.servers[i], t.history.voterLog[i])
        return self._intern_srv(t.servers[i])

    def export_states(self, states: Sequence[Any]) -> list[tuple[Any, ...]]:  # type: ignore[override]
        # Server records and messages are shared between the states of a batch, and pickle
        # sends a shared object once: a batch costs little more than its distinct servers.
        if self._hist:
            return [self.to_spec(st) for st in states]  # type: ignore[misc]
        srv_val = self._srv_val
        n = self._n
        bag_export = self._bag_export
        out = []
        for st in states:
            b = st[n]
            bag = bag_export.get(b)
            if bag is None:
                bag = tuple((self._msg_val[m], c) for m, c in self._bag_val[b])
                bag_export[b] = bag
            out.append((*(srv_val[k] for k in st[:n]), bag))
        return out

    def import_states(self, values: Sequence[Any]) -> list[tuple[int, ...]]:  # type: ignore[override]
        if self._hist:
            return [self.from_spec(s) for s in values]
        # Unpickled objects shared within a batch are one object: intern each once, by id().
        seen: dict[int, int] = {}
        n = self._n
        out = []
        for v in values:
            ids = []
            for srv in v[:n]:
                sid = seen.get(id(srv))
                if sid is None:
                    sid = self._intern_srv(srv)
                    seen[id(srv)] = sid
                ids.append(sid)
            bag = v[n]
            b = seen.get(id(bag))
            if b is None:
                b = self._intern_bag({self._intern_msg(m): c for m, c in bag})
                seen[id(bag)] = b
            ids.append(b)
            out.append(tuple(ids))
        return out

    def encode(self, states: Sequence[tuple[int, ...]], dest: int) -> Any:
        """States for worker ``dest``: as this process's ids, with the value of each server
        and bag id that ``dest`` has not been sent before (it keeps a translation table per
        sender), so a state costs a tuple of small ints on the wire."""
        known_srv, known_bag, known_logs, known_els = self._sent.setdefault(
            dest, (set(), set(), set(), set())
        )
        n = self._n
        hist = self._hist
        new_srv = []
        new_bag = []
        new_logs = []
        new_els = []
        for st in states:
            for k in st[:n]:
                if k not in known_srv:
                    known_srv.add(k)
                    new_srv.append((k, self._srv_val[k], self._srv_vl[k]))
            b = st[n]
            if b not in known_bag:
                known_bag.add(b)
                new_bag.append((b, tuple((self._msg_val[m], c) for m, c in self._bag_val[b])))
            if hist:
                a, e = st[n + 1], st[n + 2]
                if a not in known_logs:
                    known_logs.add(a)
                    new_logs.append((a, self._logs_val[a]))
                if e not in known_els:
                    known_els.add(e)
                    new_els.append((e, tuple(self._el_val[k] for k in self._els_val[e])))
        return (new_srv, new_bag, new_logs, new_els, list(states))

    def decode(self, payload: Any, source: int) -> list[tuple[int, ...]]:
        """The inverse of :meth:`encode` for states sent by worker ``source``."""
        new_srv, new_bag, new_logs, new_els, states = payload
        tr_srv, tr_bag, tr_logs, tr_els = self._received.setdefault(source, ({}, {}, {}, {}))
        for k, srv, vl in new_srv:
            tr_srv[k] = self._intern_srv(srv, vl)
        for b, bag in new_bag:
            tr_bag[b] = self._intern_bag({self._intern_msg(m): c for m, c in bag})
        for a, logs in new_logs:
            tr_logs[a] = self._intern_logs(logs)
        for e, els in new_els:
            tr_els[e] = self._intern_els(self._intern_el(x) for x in els)
        n = self._n
        get_srv = tr_srv.__getitem__
        if self._hist:
            return [
                (*map(get_srv, st[:n]), tr_bag[st[n]], tr_logs[st[n + 1]], tr_els[st[n + 2]])
                for st in states
            ]
        return [(*map(get_srv, st[:n]), tr_bag[st[n]]) for st in states]

    def _candidates(self, sv: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """The symmetry candidates of a server tuple: (permutation index, hash of relabelled
        servers) for each permutation that sorts the servers by signature."""
        n = self._n
        srv_hash = self._srv_hash
        if not self.symmetry:
            cands: tuple[tuple[int, int], ...] = ((0, self._first_servers_hash(sv, n)),)
        else:
            sig = self._srv_sig
            sigs = tuple(sig[k] for k in sv)
            perms = self._sig_perms.get(sigs)
            if perms is None:
                perms = self._perms_of(sigs)
            out = []
            srv_rel = self._srv_rel
            for pi, perm in perms:
                placed = [0] * n
                for k in range(n):
                    r = srv_rel.get((sv[k], pi))
                    if r is None:
                        r = self._srv_relabel(sv[k], pi)
                    placed[perm[k]] = srv_hash[r]
                # Unmixed: the other parts of a key are salted and mixed (``_mix``).
                out.append((pi, hash(tuple(placed))))
            cands = tuple(out)
        if len(self._cand) >= self.CAND_CACHE:
            self._cand.clear()
        self._cand[sv] = cands
        return cands

    def _first_servers_hash(self, st: Sequence[int], k: int) -> int:
        """Without symmetry: the XOR of the first ``k`` servers' hashes at their places (all
        of them: the servers' part of a key; fewer: a part for ``--workers``)."""
        zs = self._zs
        h = 0
        for i in range(k):
            h ^= zs[i][st[i]]
        return h

    def _perms_of(self, sigs: tuple[int, ...]) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """The permutations that sort servers with signatures ``sigs`` (with their indexes):
        they depend only on the signatures, which repeat across many server tuples."""
        n = self._n
        order = sorted(range(n), key=sigs.__getitem__)
        if len(set(sigs)) == n:
            # No tie (the usual case): one sorting permutation.
            perm = [0] * n
            for position, old in enumerate(order):
                perm[old] = position
            perms = [tuple(perm)]
        else:
            perms = list(permutations_sorting(list(sigs), order))
        if len(self._sig_perms) >= self.CAND_CACHE:
            self._sig_perms.clear()
        r = self._sig_perms[sigs] = tuple((self._perm_idx[p], p) for p in perms)
        return r

    def _multi_key(
        self, cands: tuple[tuple[int, int], ...], b: int, a: int = -1, e: int = -1
    ) -> int:
        rel = self._bag_rel
        np_ = self._np
        best = None
        for pi, ck in cands:
            bk = rel.get(b * np_ + pi)
            if bk is None:
                bk = self._rel(b, pi)
            if a < 0:
                k = ck ^ bk
            else:
                ek = self._els_rel.get(e * np_ + pi)
                if ek is None:
                    ek = self._els_relabel(e, pi)
                k = ck ^ bk ^ self._logs_hash[a] ^ ek
            if best is None or k < best:
                best = k
        assert best is not None
        return best

    def key(self, st: tuple[int, ...]) -> int:  # type: ignore[override]
        n = self._n
        sv = st[:n]
        cands = self._cand.get(sv) or self._candidates(sv)
        if self._hist:
            return self._multi_key(cands, st[n], st[n + 1], st[n + 2])
        return self._multi_key(cands, st[n])

    def partition(self, st: tuple[int, ...]) -> int:  # type: ignore[override]
        if not self.symmetry:
            return self._first_servers_hash(st, self._part_k)
        # With symmetry, the sum of the servers' classes: the same for every state of a
        # symmetry class (so one worker deduplicates it), and kept by most steps, so a state's
        # successors, and the caches they fill, mostly stay with its worker. The least
        # candidate hash (the servers' orbit), which it replaced, changed with every step of
        # any server (figures in docs/checker-performance.md).
        cl = self._srv_cls
        return sum(cl[k] for k in st[: self._n])

    def in_bounds(self, st: tuple[int, ...]) -> bool:  # type: ignore[override]
        n = self._n
        return all(self._srv_inb[k] for k in st[:n]) and self._bag_inb[st[n]]

    # tables
    def _pair_ok(self, x: int, y: int) -> bool:
        ok = pair_invariants(self._srv_val[x], self._srv_val[y])
        self._pok[(x << _SHIFT) | y] = ok
        return ok

    def _whole_ok(self, key: int, sids: Sequence[int]) -> bool:
        """The whole-state invariants on servers ``sids`` (cached under ``key``, which packs
        their (log, commitIndex) ids: all these invariants read)."""
        rep = self._lc_rep
        lcs = self._srv_lc
        s = State(tuple(rep[lcs[x]] for x in sids), (), (), ())
        ok = all(holds(s) for _name, holds in self._whole)
        if len(self._wok) >= self.CAND_CACHE:
            self._wok.clear()
        self._wok[key] = ok
        return ok

    def _msg_ok(self, b: int, i: int, sid: int) -> bool:
        """The invariants about messages, for the messages of bag ``b`` that server ``i`` sent,
        with server ``i`` being ``sid``."""
        # Each is a conjunction over (message, its sender): decided per message and sender
        # server once, since most bags share their messages with many others.
        src = self._msg_src
        one = self._m1ok
        ok = True
        for m, c in self._bag_val[b]:
            if src[m] != i:
                continue
            v = one.get((sid << _SHIFT) | m)
            if v is None:
                s = State((self._srv_val[sid],) * self._n, ((self._msg_val[m], c),), (), ())
                v = all(holds(s) for _name, holds in self._msg_invariants)
                if len(one) >= self.CAND_CACHE:
                    one.clear()
                one[(sid << _SHIFT) | m] = v
            if not v:
                ok = False
                break
        if len(self._mok) >= self.CAND_CACHE:
            self._mok.clear()
        self._mok[(((b << _SHIFT) | sid) << 8) | i] = ok
        return ok

    def _server_steps(self, st: tuple[int, ...], i: int) -> tuple[tuple[int, int, int, int], ...]:
        sid = st[i]
        entries = []
        labels = []
        for a, label, sid2, msg, note, viol, rec in self._srv_local(sid, i):
            mid = -1 if msg is None else self._intern_msg(msg)
            if self._hist:
                entries.append((a, sid2, mid, note | self._srv_note[sid2], rec))
            else:
                entries.append((a, sid2, mid, note | self._srv_note[sid2]))
            labels.append(label)
            if viol is not None:
                raise StepViolation(viol, "action", st, label,
                                    self._after(st, i, sid2, mid, rec), False)
        table = tuple(entries)
        self._stab[sid * self._n + i] = table
        self._stab_labels[sid * self._n + i] = tuple(labels)
        return table

    def _receipt(self, st: tuple[int, ...], m: int) -> tuple[tuple[int, int, int, int, int], ...]:
        """The receipt of message ``m`` in ``st``: one entry (action, server id after, bag
        operation, reply or -1, note) per enabled alternative of Receive, in the reference's
        order; () if none is enabled."""
        i = self._msg_dest[m]
        sid = st[i]
        entries = []
        labels = []
        for a, label, sid2, op, r, note, viol in self._srv_recv(sid, m):
            entries.append((a, sid2, op, r, note | self._srv_note[sid2]))
            labels.append(label)
            if viol is not None:
                n = self._n
                after = (*st[:i], sid2, *st[i + 1 : n], self._apply(st[n], m, op, r),
                         *self._tail(st, -1))
                raise StepViolation(viol, "action", st, label, after, False)
        table = tuple(entries)
        self._rtab_labels[(sid << _SHIFT) | m] = tuple(labels)
        self._rtab[(sid << _SHIFT) | m] = table
        return table

    def _after(
        self, st: tuple[int, ...], i: int, sid2: int, mid: int, rec: int = -1
    ) -> tuple[int, ...]:
        n = self._n
        b = st[n] if mid < 0 else self._add(st[n], mid)
        return (*st[:i], sid2, *st[i + 1 : n], b, *self._tail(st, rec))

    def _broken(self, st: tuple[int, ...], after: tuple[int, ...], label: Label) -> None:
        """Raise the violation of an invariant that a pair verdict found on ``after``."""
        s = self.to_spec(after)
        for name, holds in self._invariants:
            if not holds(s):
                raise StepViolation(name, "invariant", st, label, after, self.in_bounds(after))
        raise AssertionError("a pair of servers breaks an invariant that the state keeps")

    def _broken_local(self, st: tuple[int, ...], i: int, entry: tuple[int, ...]) -> None:
        key = st[i] * self._n + i
        k = self._stab[key].index(entry)  # type: ignore[arg-type]
        x, m = entry[1], entry[2]
        rec = entry[4] if self._hist else -1
        self._broken(st, self._after(st, i, x, m, rec), self._stab_labels[key][k])

    def _broken_recv(
        self, st: tuple[int, ...], m: int, entry: tuple[int, ...] | None = None
    ) -> None:
        """Raise the violation a pair verdict found after receipt ``entry`` of ``m`` (the only
        one when None: the cached path has at most one per message)."""
        n = self._n
        i = self._msg_dest[m]
        key = (st[i] << _SHIFT) | m
        if entry is None:
            (entry,) = self._rtab[key]
        k = self._rtab[key].index(entry)  # type: ignore[arg-type]
        _a, x, op, r, _note = entry
        after = (*st[:i], x, *st[i + 1 : n], self._apply(st[n], m, op, r), *self._tail(st, -1))
        self._broken(st, after, self._rtab_labels[key][k])

    def initial(self) -> list[tuple[int, ...]]:  # type: ignore[override]
        out = []
        for s in RaftModel(self.params, self.symmetry).init_states():
            st = self.from_spec(s)
            for name, holds in self._invariants:
                if not holds(s):
                    raise StepViolation(name, "invariant", st, None, st, self.in_bounds(st))
            if self.in_bounds(st):
                for k, (_name, reached) in enumerate(self._sometimes_states):
                    if reached(s):
                        self.reached |= 1 << k
            out.append(st)
        return out

    def enabled_counts(self) -> list[int]:
        counts = list(self._enabled)
        # The cached path counts expansions per (server, place, bag), not per step.
        for cell, acts in self._fcells:
            for ac in acts:
                counts[ac] += cell[0]
        return counts

    # the cached path (_fast_source)
    def _bag_rel_all(self, b: int) -> tuple[int, ...]:
        """Bag ``b``'s relabelled hash under each permutation (only the identity without
        symmetry, where no other is asked for)."""
        rel = self._bag_rel
        np_ = self._np
        out = []
        for pi in range(np_ if self.symmetry else 1):
            h = rel.get(b * np_ + pi)
            out.append(self._rel(b, pi) if h is None else h)
        r = self._brel[b] = tuple(out)
        return r

    def _els_all(self, e: int) -> tuple[int, ...]:
        """Elections ``e``'s relabelled hash under each permutation (see ``_bag_rel_all``)."""
        rel = self._els_rel
        np_ = self._np
        out = []
        for pi in range(np_ if self.symmetry else 1):
            h = rel.get(e * np_ + pi)
            out.append(self._els_relabel(e, pi) if h is None else h)
        r = self._els_rel_all[e] = tuple(out)
        return r

    def _prepare(self, st: tuple[int, ...]) -> Any:
        """Check and cache what the cached path needs for ``st``: its server tuple's pair and
        whole-state checks over its local steps, and for each (server, place, bag) not cached
        the message checks of its local steps and receipts. Returns the server tuple's info,
        or None if a check fails or a table entry raises: the slow path then finds the first
        violation in the reference's order. Side effects are only interning and caches.

        A cached (server, place, bag) keeps, in the slow path's order, its in-bounds local
        successors and its receipts (aligned with the bag's messages; those that change the
        server still get their pair checks)."""
        n = self._n
        b = st[n]
        sv = st[:n]
        if len(self._svinfo) >= self.CAND_CACHE:
            self._svinfo.clear()
        if self._ftab_size >= self.STEP_CACHE:
            self._forget_steps()
        msgs = self._bag_msgs[b]
        try:
            for i in range(n):
                if st[i] * n + i not in self._stab:
                    self._server_steps(st, i)
            for m in msgs:
                if (st[self._msg_dest[m]] << _SHIFT) | m not in self._rtab:
                    self._receipt(st, m)
        except StepViolation:
            return None
        inf = self._svinfo.get(sv)
        if inf is None:
            if not self._servers_ok(st):
                return None
            cs = self._cand.get(sv) or self._candidates(sv)
            inf = self._svinfo[sv] = (cs, {})
        srv_inb = self._srv_inb
        bag_inb = self._bag_inb
        mok = self._mok
        for i in range(n):
            sid = st[i]
            places = self._ftl[i]
            if b in places[sid]:
                continue
            entries = self._stab[sid * n + i]
            acts = [e[0] for e in entries]
            items = []
            note = 0
            for e in entries:
                x, m = e[1], e[2]
                rec = e[4] if self._hist else -1
                b2 = b if m < 0 else self._bag_add.get((b << _SHIFT) | m)
                if b2 is None:
                    b2 = self._add(b, m)
                if x != sid or m >= 0:
                    v = mok.get((((b2 << _SHIFT) | x) << 8) | i)
                    if not (self._msg_ok(b2, i, x) if v is None else v):
                        return None
                if srv_inb[x] and bag_inb[b2]:
                    note |= e[3]
                    items.append((e[0], x, b2, rec, self._step_rel(b, b2, i, sid, x)))
            receipts: list[Any] = [None] * len(msgs)
            others = tuple(k for k in range(n) if k != i)
            for k, m in enumerate(msgs):
                if self._msg_dest[m] != i:
                    continue
                rs = self._rtab[(sid << _SHIFT) | m]
                if not rs:
                    continue
                if len(rs) > 1:
                    # Overlapping alternatives of Receive (a variant's, never raft.tla's):
                    # the slow path lists them all; the cached one keeps one per message.
                    return None
                ((ac, x, op, rr, rnote),) = rs
                acts.append(ac)
                b2 = self._apply(b, m, op, rr)
                if x != sid or op == _REPLY:
                    v = mok.get((((b2 << _SHIFT) | x) << 8) | i)
                    if not (self._msg_ok(b2, i, x) if v is None else v):
                        return None
                inb = srv_inb[x] and bag_inb[b2]
                if inb:
                    note |= rnote
                brel = self._step_rel(b, b2, i, sid, x)
                receipts[k] = (ac, x, b2, x != sid, inb, brel, m, others)
            if places[sid] is _NO_STEPS:
                places[sid] = {}
            cell = [0]
            self._fcells.append((cell, tuple(acts)))
            places[sid][b] = (cell, len(acts), note, tuple(items), tuple(receipts))
            self._ftab_size += 1
        return inf

    def _ok_servers(self, sv: tuple[int, ...], cs: tuple[tuple[int, int], ...]) -> None:
        """Remember that every pair of servers ``sv`` passed the pair and whole-state checks
        (they came from a checked state by a step whose new server passed them)."""
        if len(self._okc) >= self.CAND_CACHE:
            self._okc.clear()
        self._okc[sv] = cs

    def _servers_ok(self, st: tuple[int, ...]) -> bool:
        """The pair and whole-state checks of every local step of ``st`` (they read only its
        servers; the slow path repeats them in order if one fails)."""
        n = self._n
        lcs = self._srv_lc
        pgok_get = self._pgok.get
        wok_get = self._wok.get
        whole = bool(self._whole)
        # Called once per new server tuple (tens of thousands per second): verdicts come from
        # per-pair and per-(log, commitIndex) caches, and the whole-state checks run only for
        # the steps that change a log or commitIndex (``_lc_changes``), usually none.
        for i in range(n):
            skey = st[i] * n + i
            base = skey << _SHIFT
            for k in range(n):
                if k != i:
                    v = pgok_get(base | st[k])
                    if not (self._moved_ok(skey, st[k]) if v is None else v):
                        return False
            if whole:
                changes = self._pxlc.get(skey)
                if changes is None:
                    changes = self._lc_changes(skey)
                if changes:
                    others = [st[k] for k in range(n) if k != i]
                    for lc, x in changes:
                        kk = lc
                        for y in others:
                            kk = (kk << 24) | lcs[y]
                        v = wok_get(kk)
                        if not (self._whole_ok(kk, (x, *others)) if v is None else v):
                            return False
        return True

    def _lc_changes(self, skey: int) -> tuple[tuple[int, int], ...]:
        """For the local steps of (server, place) that change the server's (log, commitIndex):
        each new (log, commitIndex) id once, with a server that has it."""
        lcs = self._srv_lc
        own = lcs[skey // self._n]
        out = {lcs[x]: x for x in reversed(self._moved(skey)) if lcs[x] != own}
        r = self._pxlc[skey] = tuple(out.items())
        return r

    def _moved(self, skey: int) -> tuple[int, ...]:
        """The servers, other than its own, that the local steps of (server, place) lead to."""
        xs = self._pxs.get(skey)
        if xs is None:
            sid = skey // self._n
            xs = self._pxs[skey] = tuple(
                dict.fromkeys(e[1] for e in self._stab[skey] if e[1] != sid)
            )
        return xs

    def _moved_ok(self, skey: int, y: int) -> bool:
        """Every server the local steps of (server, place) lead to passes the pair checks
        with server ``y``."""
        pok = self._pok
        ok = True
        for x in self._moved(skey):
            v = pok.get((x << _SHIFT) | y)
            if not (self._pair_ok(x, y) if v is None else v):
                ok = False
                break
        if len(self._pgok) >= self.CAND_CACHE:
            self._pgok.clear()
        self._pgok[(skey << _SHIFT) | y] = ok
        return ok

    def _forget_steps(self) -> None:
        """Empty the step cache (bounded like the others), keeping its coverage counts."""
        enabled = self._enabled
        for cell, acts in self._fcells:
            for ac in acts:
                enabled[ac] += cell[0]
        self._fcells = []
        for places in self._ftl:
            places[:] = [_NO_STEPS] * len(places)
        self._ftab_size = 0

    def successors(self, st: tuple[int, ...]) -> Iterator[tuple[Label, tuple[int, ...]]]:  # type: ignore[override]
        n = self._n
        b = st[n]
        out: list[tuple[int, Label, tuple[int, ...]]] = []
        for i in range(n):
            key = st[i] * n + i
            entries = self._stab.get(key)
            if entries is None:
                entries = self._server_steps(st, i)
            for e, label in zip(entries, self._stab_labels[key], strict=True):
                rec = e[4] if self._hist else -1
                out.append((e[0], label, self._after(st, i, e[1], e[2], rec)))
        # The reference's order: by action, then by server.
        out.sort(key=lambda row: row[0])
        for _a, label, after in out:
            yield label, after
        tail = self._tail(st, -1)
        msgs = self._bag_msgs[b]
        for m in msgs:
            i = self._msg_dest[m]
            es = self._rtab.get((st[i] << _SHIFT) | m)
            if es is None:
                es = self._receipt(st, m)
            labels = self._rtab_labels[(st[i] << _SHIFT) | m]
            for label, (_a, x, op, r, _note) in zip(labels, es, strict=True):
                yield label, (*st[:i], x, *st[i + 1 : n], self._apply(b, m, op, r), *tail)
        if self.params.faults:
            for m in msgs:
                yield ("DuplicateMessage", self._msg_val[m]), (*st[:n], self._add(b, m), *tail)
            for m in msgs:
                yield ("DropMessage", self._msg_val[m]), (*st[:n], self._rem(b, m), *tail)


#: An empty step cache shared by every (server, place) not met yet (never written to).
_NO_STEPS: dict[int, Any] = {}

#: Invariants of ``properties.py`` that are conjunctions over pairs of servers (no ghost).
PAIR_INVARIANTS = frozenset(
    {"ElectionSafety", "LogMatching", "LeaderCompleteness", "StateMachineSafety"}
)
#: Invariants that are conjunctions over (message, the server that sent it).
MESSAGE_INVARIANTS = frozenset({"AppendEntriesPrevLogTermMatches"})
#: Invariants over all servers together that read only their logs and commitIndex.
WHOLE_INVARIANTS = frozenset({"ElectableLogsHoldCommitted"})


def pair_invariants(a: Server, b: Server) -> bool:
    """The four invariants of ``properties.py`` (state forms, no ghost) on two servers.

    Each of them is a conjunction over pairs of servers, so a state keeps them all exactly when
    every pair of its servers does; the tests check this function against the reference
    properties on every pair of servers met in several exhaustive runs.
    """
    leader = Role.Leader
    # ElectionSafety: two leaders of one term.
    if a.state == leader and b.state == leader and a.currentTerm == b.currentTerm:
        return False
    x, y = a.log, b.log
    # LogMatching: the last index where the terms agree decides.
    for k in range(min(len(x), len(y)), 0, -1):
        if x[k - 1].term == y[k - 1].term:
            if x[:k] != y[:k]:
                return False
            break
    # LeaderCompleteness: a leader of a term >= a server's holds what that server committed.
    for srv, ldr in ((a, b), (b, a)):
        if ldr.state == leader and ldr.currentTerm >= srv.currentTerm:
            top = min(srv.commitIndex, len(srv.log))
            if ldr.log[:top] != srv.log[:top]:
                return False
    # StateMachineSafety: committed prefixes agree.
    pa = x[: min(a.commitIndex, len(x))]
    pb = y[: min(b.commitIndex, len(y))]
    k = min(len(pa), len(pb))
    return pa[:k] == pb[:k]


def _key_block(indent: str, sv: str, b2: str, hist: bool = False) -> list[str]:
    """Source computing ``key`` for servers ``sv`` (a tuple expression) and bag ``b2`` (and,
    with history, allLogs ``A2`` and elections ``E2``)."""
    if hist:
        return [
            f"{indent}sv = {sv}",
            f"{indent}cs = cand_get(sv)",
            f"{indent}if cs is None:",
            f"{indent}    cs = candidates(sv)",
            f"{indent}if len(cs) == 1:",
            f"{indent}    pi, ck = cs[0]",
            f"{indent}    bk = rel_get({b2} * NP + pi)",
            f"{indent}    if bk is None:",
            f"{indent}        bk = rel({b2}, pi)",
            f"{indent}    ek = els_rel_get(E2 * NP + pi)",
            f"{indent}    if ek is None:",
            f"{indent}        ek = els_relabel(E2, pi)",
            f"{indent}    key = ck ^ bk ^ logs_hash[A2] ^ ek",
            f"{indent}else:",
            f"{indent}    key = multi_key(cs, {b2}, A2, E2)",
        ]
    return [
        f"{indent}sv = {sv}",
        f"{indent}cs = cand_get(sv)",
        f"{indent}if cs is None:",
        f"{indent}    cs = candidates(sv)",
        f"{indent}if len(cs) == 1:",
        f"{indent}    pi, ck = cs[0]",
        f"{indent}    bk = rel_get({b2} * NP + pi)",
        f"{indent}    if bk is None:",
        f"{indent}        bk = rel({b2}, pi)",
        f"{indent}    key = ck ^ bk",
        f"{indent}else:",
        f"{indent}    key = multi_key(cs, {b2})",
    ]


def _flat_source(
    n: int,
    faults: bool,
    hist: bool = False,
    parts: bool = False,
    zob: bool = False,
    part_k: int = 0,
) -> str:
    """The source of ``expand`` for ``n`` servers, unrolled over the servers.

    Written out per server because a successor is the state with one position replaced:
    ``(x, s1, s2, b2)`` is one tuple display, where a loop over positions would slice and
    concatenate three tuples per successor. With ``parts`` and ``zob``, a successor's part is
    the hash of its first ``part_k`` servers (``FlatRaft.plan_workers``).
    """
    part_k = part_k or n
    S = [f"s{k}" for k in range(n)]
    servers = ", ".join(S)
    # allLogs steps are cached by the servers' (log, commitIndex) ids (``_all_logs_step``).
    lc_key = ", ".join(f"lcs[{x}]" for x in S)
    tail = ", A2, E2" if hist else ""
    w: list[str] = []
    a = w.append
    a("def make(self):")
    a("    stab_get = self._stab.get")
    a("    rtab_get = self._rtab.get")
    a("    pok_get = self._pok.get")
    a("    cand_get = self._cand.get")
    a("    rel_get = self._bag_rel.get")
    a("    add_get = self._bag_add.get")
    a("    rem_get = self._bag_rem.get")
    a("    candidates = self._candidates")
    a("    cl = self._srv_cls")
    a("    multi_key = self._multi_key")
    a("    rel = self._rel")
    a("    add = self._add")
    a("    rem = self._rem")
    a("    pair_ok = self._pair_ok")
    a("    lcs = self._srv_lc")
    a("    wok_get = self._wok.get")
    a("    whole_ok = self._whole_ok")
    a("    whole = bool(self._whole)")
    a("    mok_get = self._mok.get")
    a("    msg_ok = self._msg_ok")
    a("    server_steps = self._server_steps")
    a("    receipt = self._receipt")
    a("    apply = self._apply")
    a("    srv_inb = self._srv_inb")
    a("    bag_inb = self._bag_inb")
    a("    bag_msgs = self._bag_msgs")
    a("    dest = self._msg_dest")
    a("    enabled = self._enabled")
    if zob and parts:
        for i in range(part_k):
            a(f"    zs{i} = self._zs[{i}]")
    a("    NP = self._np")
    a(f"    N = {n}")
    a("    all_notes = self._all_notes")
    a("    a_dup = self._a_dup")
    a("    a_drop = self._a_drop")
    a("    logs_step_get = self._logs_step.get")
    a("    all_logs_step = self._all_logs_step")
    a("    logs_hash = self._logs_hash")
    a("    els_rel_get = self._els_rel.get")
    a("    els_relabel = self._els_relabel")
    a("    els_plus = self._els_plus")
    a("")
    if parts:
        # For workers: also each successor's part (``partition``), which ``_joined`` appends
        # beside it.
        a("    def expand(states, keys, succs, acts, firsts, parts):")
        a("        parts_append = parts.append")
    else:
        a("    def expand(states, keys, succs, acts, firsts):")
    a("        keys_append = keys.append")
    a("        succs_append = succs.append")
    a("        acts_append = acts.append")
    a("        firsts_append = firsts.append")
    a("        reached = self.reached")
    a("        pending = reached != all_notes")
    a("        generated = 0")
    a("        for st in states:")
    a("            firsts_append(len(keys))")
    if hist:
        a(f"            {servers}, b, A, E = st")
        a(f"            A2 = logs_step_get((A, {lc_key}))")
        a("            if A2 is None:")
        a(f"                A2 = all_logs_step(A, ({servers},))")
    else:
        a(f"            {servers}, b = st")
    for i in range(n):
        si = S[i]
        others = [S[k] for k in range(n) if k != i]
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        a(f"            ents = stab_get({si} * N + {i})")
        a("            if ents is None:")
        a(f"                ents = server_steps(st, {i})")
        a("            generated += len(ents)")
        a("            for e in ents:")
        if hist:
            a("                ac, x, m, note, rec = e")
            a("                E2 = E if rec < 0 else els_plus(E, rec)")
        else:
            a("                ac, x, m, note = e")
        a("                enabled[ac] += 1")
        a("                if m < 0:")
        a("                    b2 = b")
        a("                else:")
        a("                    b2 = add_get((b << 32) | m)")
        a("                    if b2 is None:")
        a("                        b2 = add(b, m)")
        a(f"                if x != {si}:")
        for o in others:
            a(f"                    v = pok_get((x << 32) | {o})")
            a("                    if v is None:")
            a(f"                        v = pair_ok(x, {o})")
            a("                    if not v:")
            a(f"                        self._broken_local(st, {i}, e)")
        a(f"                    if whole and lcs[x] != lcs[{si}]:")
        a("                        kk = lcs[x]")
        for o in others:
            a(f"                        kk = (kk << 24) | lcs[{o}]")
        a("                        v = wok_get(kk)")
        a("                        if v is None:")
        a(f"                            v = whole_ok(kk, (x, {', '.join(others)}))")
        a("                        if not v:")
        a(f"                            self._broken_local(st, {i}, e)")
        a(f"                if x != {si} or m >= 0:")
        a(f"                    v = mok_get((((b2 << 32) | x) << 8) | {i})")
        a("                    if v is None:")
        a(f"                        v = msg_ok(b2, {i}, x)")
        a("                    if not v:")
        a(f"                        self._broken_local(st, {i}, e)")
        a("                    if not srv_inb[x] or not bag_inb[b2]:")
        a("                        continue")
        a("                if pending and note:")
        a("                    reached |= note")
        w.extend(_key_block("                ", f"({replaced},)", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({replaced}, b2{tail}))")
        a("                acts_append(ac)")
    a("            msgs = bag_msgs[b]")
    a("            if not msgs:")
    a("                continue")
    a("            for m in msgs:")
    a("                i = dest[m]")
    a("                sid = st[i]")
    a("                es = rtab_get((sid << 32) | m)")
    a("                if es is None:")
    a("                    es = receipt(st, m)")
    a("                for e in es:")
    a("                    generated += 1")
    a("                    ac, x, op, r, note = e")
    if hist:
        a("                    E2 = E")
    a("                    enabled[ac] += 1")
    a("                    if op == 0:")
    a("                        b2 = b")
    a("                    elif op == 1:")
    a("                        b2 = rem_get((b << 32) | m)")
    a("                        if b2 is None:")
    a("                            b2 = rem(b, m)")
    a("                    else:")
    a("                        b2 = apply(b, m, op, r)")
    a("                    if x != sid:")
    a("                        for k in range(N):")
    a("                            if k != i:")
    a("                                v = pok_get((x << 32) | st[k])")
    a("                                if v is None:")
    a("                                    v = pair_ok(x, st[k])")
    a("                                if not v:")
    a("                                    self._broken_recv(st, m, e)")
    a("                        if whole and lcs[x] != lcs[sid]:")
    a("                            kk = lcs[x]")
    a("                            for k in range(N):")
    a("                                if k != i:")
    a("                                    kk = (kk << 24) | lcs[st[k]]")
    a("                            v = wok_get(kk)")
    a("                            if v is None:")
    a("                                v = whole_ok(kk, (x, *[st[k] for k in range(N) if k != i]))")
    a("                            if not v:")
    a("                                self._broken_recv(st, m, e)")
    a("                    if x != sid or op == 2:")
    a("                        v = mok_get((((b2 << 32) | x) << 8) | i)")
    a("                        if v is None:")
    a("                            v = msg_ok(b2, i, x)")
    a("                        if not v:")
    a("                            self._broken_recv(st, m, e)")
    a("                        if not srv_inb[x] or not bag_inb[b2]:")
    a("                            continue")
    a("                    if pending and note:")
    a("                        reached |= note")
    a("                    if x == sid:")
    a(f"                        nsv = ({servers},)")
    for i in range(n):
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        a(f"                    elif i == {i}:")
        a(f"                        nsv = ({replaced},)")
    w.extend(_key_block("                    ", "nsv", "b2", hist))
    a("                    keys_append(key)")
    a(f"                    succs_append((*nsv, b2{tail}))")
    a("                    acts_append(ac)")
    if faults:
        a("            nmsgs = len(msgs)")
        a("            generated += 2 * nmsgs")
        a("            enabled[a_dup] += nmsgs")
        a("            enabled[a_drop] += nmsgs")
        a(f"            sv0 = ({servers},)")
        if hist:
            a("            E2 = E")
        a("            for m in msgs:")
        a("                b2 = add_get((b << 32) | m)")
        a("                if b2 is None:")
        a("                    b2 = add(b, m)")
        a("                if not bag_inb[b2]:")
        a("                    continue")
        w.extend(_key_block("                ", "sv0", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({servers}, b2{tail}))")
        a("                acts_append(a_dup)")
        a("            for m in msgs:")
        a("                b2 = rem_get((b << 32) | m)")
        a("                if b2 is None:")
        a("                    b2 = rem(b, m)")
        w.extend(_key_block("                ", "sv0", "b2", hist))
        a("                keys_append(key)")
        a(f"                succs_append(({servers}, b2{tail}))")
        a("                acts_append(a_drop)")
    a("        if pending:")
    a("            self.reached = reached")
    a("        return generated")
    a("")
    a("    return expand")
    if zob:
        return _joined(w, parts, " ^ ".join(f"zs{i}[sv[{i}]]" for i in range(part_k)))
    return _joined(w, parts, sym=n)


def _joined(w: list[str], parts: bool, part: str = "", sym: int = 0) -> str:
    """The generated lines as source; with ``parts``, each successor's part (what
    ``--workers`` routes by: ``FlatRaft.partition``) is appended beside its key: ``part``
    after each ``keys_append(key)``, or with ``sym`` (symmetry, that many servers) the sum of
    the successor's servers' classes (``FlatRaft._srv_cls``) after each ``succs_append``."""
    if parts and sym:
        classes = " + ".join(f"cl[t_[{i}]]" for i in range(sym))
        out = []
        for line in w:
            body = line.lstrip()
            if body.startswith("succs_append(") and body.endswith(")"):
                indent = line[: len(line) - len(body)]
                out.append(f"{indent}t_ = {body[len('succs_append('):-1]}")
                out.append(f"{indent}succs_append(t_)")
                out.append(f"{indent}parts_append({classes})")
            else:
                out.append(line)
        w = out
    elif parts and part:
        out = []
        for line in w:
            out.append(line)
            if line.strip() == "keys_append(key)":
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}parts_append({part})")
        w = out
    return "\n".join(w) + "\n"


def _state_key(indent: str, hist: bool) -> list[str]:
    """Source setting ``key`` for a successor with the state's servers (and elections): the
    least over the state's candidates ``cs0`` (``single``: only ``pi0``, ``ck0``), with the
    successor's relabelled bag hashes ``brel``."""
    tail = " ^ LH ^ eks0[pi0]" if hist else ""
    tail_k = " ^ LH ^ eks0[pi]" if hist else ""
    return [
        f"{indent}if single:",
        f"{indent}    key = ck0 ^ brel[pi0]{tail}",
        f"{indent}else:",
        f"{indent}    key = None",
        f"{indent}    for pi, ck in cs0:",
        f"{indent}        kx = ck ^ brel[pi]{tail_k}",
        f"{indent}        if key is None or kx < key:",
        f"{indent}            key = kx",
    ]


def _fast_source(
    n: int,
    faults: bool,
    hist: bool = False,
    parts: bool = False,
    zob: bool = False,
    delta: bool = False,
    part_k: int = 0,
) -> str:
    """The source of the cached ``expand`` for ``n`` servers (see ``FlatRaft._prepare``).

    A state whose server tuple (``svinfo``) and every (server, place, bag) (``ftl``) passed
    their checks before needs no check for its local steps or the message checks of its
    receipts: they read nothing else. Its local steps reduce to the in-bounds successors listed
    in the cache, in the order the slow path appends them. A state not cached yet is checked
    and cached by ``_prepare``; if a check fails it takes the slow path (``_flat_source``),
    which raises the first violation in the reference's order.

    With ``zob`` (no symmetry), a cached step carries the XOR between its successor's key and
    the state's (``FlatRaft._step_rel``), so a successor's key is one XOR with the state's.
    With ``delta`` as well, ``expand`` takes one more list, ``bases``: one key per state (0 for
    a state the slow path expanded), and appends each successor's XOR from it instead of its
    key; the caller XORs them by whole arrays (``batch.delta_keys``), and no successor's key is
    made, nor freed, as a Python int.
    """
    assert zob or not delta
    part_k = part_k or n
    kb = "" if delta else "base ^ "
    S = [f"s{k}" for k in range(n)]
    servers = ", ".join(S)
    # allLogs steps are cached by the servers' (log, commitIndex) ids (``_all_logs_step``).
    lc_key = ", ".join(f"lcs[{x}]" for x in S)
    tail = ", A2, E" if hist else ""
    w: list[str] = []
    a = w.append
    a("def make(self):")
    for i in range(n):
        a(f"    ftl{i} = self._ftl[{i}]")
    a("    bag_md = self._bag_md")
    a("    svinfo_get = self._svinfo.get")
    a("    slow = self._slow_expand_parts" if parts else "    slow = self._slow_expand")
    a("    prepare = self._prepare")
    a("    okc_get = self._okc.get")
    a("    bag_faults = self._bag_faults")
    a("    bag_fault_acts = self._bag_fault_acts")
    a("    fault_steps = self._fault_steps")
    a("    ok_servers = self._ok_servers")
    a("    rtab_get = self._rtab.get")
    a("    pok_get = self._pok.get")
    a("    cand_get = self._cand.get")
    a("    candidates = self._candidates")
    a("    cl = self._srv_cls")
    a("    multi_key = self._multi_key")
    a("    brel_get = self._brel.get")
    a("    brel_all = self._bag_rel_all")
    a("    add_get = self._bag_add.get")
    a("    rem_get = self._bag_rem.get")
    a("    add = self._add")
    a("    rem = self._rem")
    a("    pair_ok = self._pair_ok")
    a("    lcs = self._srv_lc")
    a("    wok_get = self._wok.get")
    a("    whole_ok = self._whole_ok")
    a("    whole = bool(self._whole)")
    a("    mok_get = self._mok.get")
    a("    msg_ok = self._msg_ok")
    a("    receipt = self._receipt")
    a("    apply = self._apply")
    a("    srv_inb = self._srv_inb")
    a("    bag_inb = self._bag_inb")
    a("    bag_msgs = self._bag_msgs")
    a("    dest = self._msg_dest")
    a("    enabled = self._enabled")
    a(f"    N = {n}")
    a("    all_notes = self._all_notes")
    a("    a_dup = self._a_dup")
    a("    a_drop = self._a_drop")
    a("    logs_step_get = self._logs_step.get")
    a("    all_logs_step = self._all_logs_step")
    a("    logs_hash = self._logs_hash")
    a("    eks_get = self._els_rel_all.get")
    a("    eks_all = self._els_all")
    a("    els_plus = self._els_plus")
    if zob:
        for i in range(n):
            a(f"    zs{i} = self._zs[{i}]")
        a(f"    zs = ({', '.join(f'zs{i}' for i in range(n))},)")
    a("")
    if parts and delta:
        a("    def expand(states, keys, succs, acts, firsts, parts, bases):")
        a("        parts_append = parts.append")
        a("        bases_append = bases.append")
        slow_call = "slow([st], keys, succs, acts, [], parts)"
    elif parts:
        a("    def expand(states, keys, succs, acts, firsts, parts):")
        a("        parts_append = parts.append")
        slow_call = "slow([st], keys, succs, acts, [], parts)"
    elif delta:
        a("    def expand(states, keys, succs, acts, firsts, bases):")
        a("        bases_append = bases.append")
        slow_call = "slow([st], keys, succs, acts, [])"
    else:
        a("    def expand(states, keys, succs, acts, firsts):")
        slow_call = "slow([st], keys, succs, acts, [])"
    a("        keys_append = keys.append")
    a("        succs_append = succs.append")
    a("        acts_append = acts.append")
    a("        acts_extend = acts.extend")
    a("        firsts_append = firsts.append")
    a("        reached = self.reached")
    a("        pending = reached != all_notes")
    a("        generated = 0")
    a("        for st in states:")
    a("            firsts_append(len(keys))")
    if hist:
        a(f"            {servers}, b, A, E = st")
    else:
        a(f"            {servers}, b = st")
    a(f"            sv0 = ({servers},)")
    a("            inf = svinfo_get(sv0)")
    for i in range(n):
        a(f"            f{i} = ftl{i}[{S[i]}].get(b)")
    cond = " or ".join(["inf is None"] + [f"f{i} is None" for i in range(n)])
    a(f"            if {cond}:")
    a("                inf = prepare(st)")
    a("                if inf is None:")
    a("                    self.reached = reached")
    a(f"                    generated += {slow_call}")
    a("                    reached = self.reached")
    if delta:
        a("                    bases_append(0)")
    a("                    continue")
    for i in range(n):
        a(f"                f{i} = ftl{i}[{S[i]}][b]")
    if not (zob and hist):
        a("            cs0 = inf[0]")
    if hist:
        a("            a2 = inf[1].get(A)")
        a("            if a2 is None:")
        a(f"                A2 = logs_step_get((A, {lc_key}))")
        a("                if A2 is None:")
        a("                    A2 = all_logs_step(A, sv0)")
        if zob:
            # Kept per server tuple, so with its servers' hash already in.
            a("                a2 = (A2, logs_hash[A2] ^ inf[0][0][1])")
        else:
            a("                a2 = (A2, logs_hash[A2])")
        a("                inf[1][A] = a2")
        a("            A2, LH = a2")
        a("            eks0 = eks_get(E)")
        a("            if eks0 is None:")
        a("                eks0 = eks_all(E)")
    if zob:
        # The state's key with allLogs already that of its successors.
        if not hist:
            a("            ck0 = cs0[0][1]")
        if parts:
            a("            p0 = " + " ^ ".join(f"zs{i}[{S[i]}]" for i in range(part_k)))
        a("            bb = brel_get(b)")
        a("            if bb is None:")
        a("                bb = brel_all(b)")
        a("            base = LH ^ bb[0] ^ eks0[0]" if hist else "            base = ck0 ^ bb[0]")
        if delta:
            a("            bases_append(base)")
    else:
        a("            single = len(cs0) == 1")
        a("            if single:")
        a("                pi0, ck0 = cs0[0]")
    for i in range(n):
        a(f"            f{i}[0][0] += 1")
    a("            generated += " + " + ".join(f"f{i}[1]" for i in range(n)))
    a("            if pending:")
    a("                reached |= " + " | ".join(f"f{i}[2]" for i in range(n)))
    for i in range(n):
        si = S[i]
        replaced = ", ".join("x" if k == i else S[k] for k in range(n))
        if zob:
            a(f"            for ac, x, b2, rec, zd in f{i}[3]:")
            if hist:
                a("                if rec < 0:")
                a(f"                    keys_append({kb}zd)")
                a(f"                    succs_append(({replaced}, b2, A2, E))")
                a("                else:")
                a("                    E2 = els_plus(E, rec)")
                a("                    eks = eks_get(E2)")
                a("                    if eks is None:")
                a("                        eks = eks_all(E2)")
                a(f"                    keys_append({kb}zd ^ eks0[0] ^ eks[0])")
                a(f"                    succs_append(({replaced}, b2, A2, E2))")
            else:
                a(f"                keys_append({kb}zd)")
                a(f"                succs_append(({replaced}, b2))")
            if parts:
                a(f"                parts_append(p0 ^ zs{i}[{si}] ^ zs{i}[x])" if i < part_k
                  else "                parts_append(p0)")
            a("                acts_append(ac)")
            continue
        a(f"            for ac, x, b2, rec, brel in f{i}[3]:")
        a(f"                if x == {si} and rec < 0:")
        a("                    cs = cs0")
        w.extend(_state_key(" " * 20, hist))
        a("                    keys_append(key)")
        a(f"                    succs_append(({servers}, b2{', A2, E' if hist else ''}))")
        a("                else:")
        a(f"                    sv = ({replaced},)")
        a("                    cs = cand_get(sv)")
        a("                    if cs is None:")
        a("                        cs = candidates(sv)")
        if hist:
            a("                    E2 = E if rec < 0 else els_plus(E, rec)")
            a("                    if len(cs) == 1:")
            a("                        pi, ck = cs[0]")
            a("                        eks = eks_get(E2)")
            a("                        if eks is None:")
            a("                            eks = eks_all(E2)")
            a("                        key = ck ^ brel[pi] ^ LH ^ eks[pi]")
            a("                    else:")
            a("                        eks = eks_get(E2)")
            a("                        if eks is None:")
            a("                            eks = eks_all(E2)")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi] ^ LH ^ eks[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
            a("                    keys_append(key)")
            a(f"                    succs_append(({replaced}, b2, A2, E2))")
        else:
            a("                    if len(cs) == 1:")
            a("                        pi, ck = cs[0]")
            a("                        key = ck ^ brel[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
            a("                    keys_append(key)")
            a(f"                    succs_append(({replaced}, b2))")
        a("                acts_append(ac)")
    a("            md = bag_md[b]")
    a("            if not md:")
    a("                continue")
    a(f"            fs = ({', '.join(f'f{i}[4]' for i in range(n))})")
    a("            for k, i in md:")
    a("                it = fs[i][k]")
    a("                if it is None:")
    a("                    continue")
    a("                ac, x, b2, moved, inb, brel, m, others = it")
    a("                if moved:")
    a("                    if i == 0:")
    a(f"                        sv = ({', '.join('x' if k == 0 else S[k] for k in range(n))},)")
    for i in range(1, n):
        a(f"                    elif i == {i}:")
        a(f"                        sv = ({', '.join('x' if k == i else S[k] for k in range(n))},)")
    # A server tuple whose every pair passed (and the whole-state check): the checks of a
    # receipt that leads to it pass. Kept with its symmetry candidates, needed next.
    a("                    cs = okc_get(sv)")
    a("                    if cs is None:")
    a("                        for o in others:")
    a("                            v = pok_get((x << 32) | st[o])")
    a("                            if v is None:")
    a("                                v = pair_ok(x, st[o])")
    a("                            if not v:")
    a("                                self._broken_recv(st, m)")
    a("                        if whole and lcs[x] != lcs[st[i]]:")
    a("                            kk = lcs[x]")
    a("                            for o in others:")
    a("                                kk = (kk << 24) | lcs[st[o]]")
    a("                            v = wok_get(kk)")
    a("                            if v is None:")
    a("                                v = whole_ok(kk, (x, *[st[o] for o in others]))")
    a("                            if not v:")
    a("                                self._broken_recv(st, m)")
    a("                        if not inb:")
    a("                            continue")
    a("                        cs = cand_get(sv)")
    a("                        if cs is None:")
    a("                            cs = candidates(sv)")
    a("                        ok_servers(sv, cs)")
    a("                    elif not inb:")
    a("                        continue")
    if zob:
        a(f"                    keys_append({kb}brel)")
        if parts:
            a("                    parts_append(p0 ^ zs[i][st[i]] ^ zs[i][x]"
              f" if i < {part_k} else p0)")
        a(f"                    succs_append((*sv, b2{tail}))")
        a("                else:")
        a("                    if not inb:")
        a("                        continue")
        a(f"                    keys_append({kb}brel)")
        if parts:
            a("                    parts_append(p0)")
        a(f"                    succs_append(({servers}, b2{tail}))")
        a("                acts_append(ac)")
    else:
        a("                    if len(cs) == 1:")
        a("                        pi, ck = cs[0]")
        if hist:
            a("                        key = ck ^ brel[pi] ^ LH ^ eks0[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi] ^ LH ^ eks0[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
        else:
            a("                        key = ck ^ brel[pi]")
            a("                    else:")
            a("                        key = None")
            a("                        for pi, ck in cs:")
            a("                            kx = ck ^ brel[pi]")
            a("                            if key is None or kx < key:")
            a("                                key = kx")
        a("                    keys_append(key)")
        a(f"                    succs_append((*sv, b2{tail}))")
        a("                else:")
        a("                    if not inb:")
        a("                        continue")
        a("                    cs = cs0")
        w.extend(_state_key(" " * 20, hist))
        a("                    keys_append(key)")
        a(f"                    succs_append(({servers}, b2{tail}))")
        a("                acts_append(ac)")
    if faults:
        # DuplicateMessage and DropMessage read only the bag: their in-bounds results are
        # listed once per bag (``_fault_steps``).
        a("            fi = bag_faults[b]")
        a("            if fi is None:")
        a("                fi = fault_steps(b)")
        a("            acts_extend(bag_fault_acts[b])")
        a("            nmsgs = len(md)")
        a("            generated += 2 * nmsgs")
        a("            enabled[a_dup] += nmsgs")
        a("            enabled[a_drop] += nmsgs")
        if zob:
            a("            for ac, b2, zd in fi:")
            a(f"                keys_append({kb}zd)")
            if parts:
                a("                parts_append(p0)")
            a(f"                succs_append(({servers}, b2{tail}))")
        else:
            a("            cs = cs0")
            a("            for ac, b2, brel in fi:")
            w.extend(_state_key(" " * 16, hist))
            a("                keys_append(key)")
            a(f"                succs_append(({servers}, b2{tail}))")
    a("        if pending:")
    a("            self.reached = reached")
    a("        return generated")
    a("")
    a("    return expand")
    return _joined(w, parts, sym=0 if zob else n)
