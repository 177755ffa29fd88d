"""The compiled form's tables: interned values and steps computed once, by the readable spec.

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

from collections.abc import Iterator, Sequence
from itertools import permutations
from typing import Any

from ...spec.model import RaftModel
from ...spec.next import action_names, next_steps, receive
from ...spec.next import record_all_logs as _record_all_logs
from ...spec.next import record_ghost as _record_ghost
from ...spec.params import Params
from ...spec.state import Message, Server, State
from ...spec.symmetry import _relabel_entries, _relabel_server, relabel, sorting_permutations
from ..engine.batch import StepViolation
from ..engine.model import Label, only_properties
from .forms import MESSAGE_INVARIANTS

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


def _relabel_message_members(m: Message, perm: tuple[int, ...]) -> Message:
    """A message renamed, with the members of the configuration entries it carries."""
    return _relabel_entries(_relabel_message(m, perm), perm)


class CompiledRaft:
    """The tables and the hot loop for one configuration (one per process)."""

    def __init__(
        self, params: Params, symmetry: bool = True, only: Sequence[str] | None = None
    ) -> None:
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
        if only is not None:
            props = only_properties(props, only)
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
        relabel = _relabel_message_members if self.params.membership else _relabel_message
        value = tuple(sorted((relabel(msg_val[m], perm), c) for m, c in self._bag_val[b]))
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
        return self.key_witness(st)[0]

    def key_witness(self, st: FastState) -> tuple[int, int]:
        """``key`` and the index of the permutation whose relabelling of the state gives it
        (in ``_perms``; the identity without symmetry)."""
        c, b = st
        rel = self._bag_rel
        np_ = self._np
        best = None
        best_pi = 0
        for perm_index, ck in self._core_cand[c]:
            bk = rel.get(b * np_ + perm_index)
            if bk is None:
                bk = self._rel(b, perm_index)
            k = hash((ck, bk))
            if best is None or k < best:
                best, best_pi = k, perm_index
        assert best is not None
        return best, best_pi

    def servers_key(self, st: FastState) -> int:
        """What determines the state's servers (the core: servers, history, ghost)."""
        return st[0]

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
        """The steps of ``st`` that need no message, cached by core; raises the first step
        that breaks a property."""
        table, labels, found = self._local_rows(st)
        if found is not None:
            raise found
        self._local[st[0]] = table
        self._local_labels[st[0]] = labels
        return table

    def _local_rows(
        self, st: FastState
    ) -> tuple[tuple[tuple[int, int, int, int], ...], tuple[Label, ...], StepViolation | None]:
        """Entries and labels of the steps of ``st`` that need no message, and the first of them
        that breaks a property (not raised: ``successors`` must list that step to rebuild the
        counterexample's trace)."""
        c, b = st
        servers, history, ghost = self._core_val[c]
        # With an empty network only the steps that need no message are enabled: exactly the
        # local and sending steps, which do not depend on the network.
        s = State(servers, (), history, ghost)
        entries = []
        labels = []
        first: StepViolation | None = None
        for label, t in next_steps(self.params, s):
            c2 = self._intern_core((t.servers, t.history, t.ghost))
            if t.messages:
                ((m, _count),) = t.messages
                mid = self._intern_msg(m)
            else:
                mid = -1
            entries.append((self._aidx[label[0]], c2, mid, self._step_note(s, label, t, c2)))
            labels.append(label)
            found = self._check_step(s, label, t, c2) if first is None else None
            if found is not None:
                b2 = b if mid < 0 else self._add(b, mid)
                first = StepViolation(
                    found[0], found[1], st, label, (c2, b2),
                    self._core_inb[c2] and self._bag_inb[b2],
                )
        return tuple(entries), tuple(labels), first

    def _build_recv(self, st: FastState, m: int) -> tuple[tuple[int, int, int, int, int], ...]:
        """The receipts of message ``m`` in ``st``, cached by core and message; raises the
        first that breaks a property."""
        entries, labels, found = self._recv_rows(st, m)
        if found is not None:
            raise found
        self._recv[(st[0] << _SHIFT) | m] = entries
        self._recv_labels[(st[0] << _SHIFT) | m] = labels
        return entries

    def _recv_rows(
        self, st: FastState, m: int
    ) -> tuple[
        tuple[tuple[int, int, int, int, int], ...], tuple[Label, ...], StepViolation | None
    ]:
        """Entries and labels of the receipts of ``m`` in ``st``, and the first that breaks a
        property (see :meth:`_local_rows`)."""
        c, b = st
        servers, history, ghost = self._core_val[c]
        msg = self._msg_val[m]
        s = State(servers, ((msg, 1),), history, ghost)
        out = []
        labels = []
        first: StepViolation | None = None
        for label, t0 in receive(self.params, s, msg):
            # The same bookkeeping next_steps does after every step.
            t = _record_all_logs(s, t0) if self.params.history else t0
            if self.params.ghost:
                t = _record_ghost(s, label, t)
            c2 = self._intern_core((t.servers, t.history, t.ghost))
            op, r = self._bag_op(msg, t)
            out.append((self._aidx[label[0]], c2, op, r, self._step_note(s, label, t, c2)))
            labels.append(label)
            found = self._check_step(s, label, t, c2) if first is None else None
            if found is not None:
                b2 = self._apply(b, m, op, r)
                first = StepViolation(
                    found[0], found[1], st, label, (c2, b2),
                    self._core_inb[c2] and self._bag_inb[b2],
                )
        return tuple(out), tuple(labels), first

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
        labels = self._local_labels[c]
        if entries is None or labels is None:
            entries, labels, found = self._local_rows(st)
            if found is None:
                self._local[c], self._local_labels[c] = entries, labels
        for label, (_a, c2, m, _note) in zip(labels, entries, strict=True):
            yield label, (c2, b if m < 0 else self._add(b, m))
        msgs = self._bag_msgs[b]
        for m in msgs:
            es = self._recv.get((c << _SHIFT) | m)
            rlabels = self._recv_labels.get((c << _SHIFT) | m)
            if es is None or rlabels is None:
                es, rlabels, found = self._recv_rows(st, m)
                if found is None:
                    self._recv[(c << _SHIFT) | m] = es
                    self._recv_labels[(c << _SHIFT) | m] = rlabels
            for label, (_a, c2, op, r, _note) in zip(rlabels, es, strict=True):
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
