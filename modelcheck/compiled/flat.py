"""The flat form: raft.tla without ghost variables, as a tuple of server ids and a bag id.

Its parts live beside it: the history variables (:mod:`.flat_history`), how states travel
between worker processes (:mod:`.flat_transfer`), the cached path of the hot loop
(:mod:`.flat_cache`) and the generated loops themselves (:mod:`.codegen`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from ...spec.configuration import relabel_log, server_classes
from ...spec.model import RaftModel, within_bounds
from ...spec.params import Params
from ...spec.state import Election, History, Message, Server, State
from ...spec.symmetry import _relabel_server, member_signature, permutations_sorting, signature
from ..engine.batch import StepViolation
from ..engine.model import Label
from .codegen import load, variant_name
from .flat_cache import _NO_STEPS, CachedPath
from .flat_history import HistoryParts
from .flat_transfer import Transfer
from .forms import (
    MESSAGE_INVARIANTS,
    PAIR_INVARIANTS,
    WHOLE_INVARIANTS,
    Uncompiled,
    pair_checks,
    pair_invariants,
)
from .loop_cached import _fast_source
from .loop_slow import _flat_source
from .tables import _M64, _SALT_PART, _SALT_SRV, _SHIFT, CompiledRaft, _mix

try:
    from . import _cloop  # type: ignore[attr-defined]
except ImportError:  # not built (no compiler at install time): the generated loops run
    _cloop = None

#: Set (to anything but 0) to run the generated Python loops even where the C loop is built.
PURE_PYTHON_ENV = "RAFTKIT_PURE_PYTHON"


def native_available() -> bool:
    """Whether the C loop (``_cloop``) is built and not switched off by ``$RAFTKIT_PURE_PYTHON``."""
    return _cloop is not None and os.environ.get(PURE_PYTHON_ENV, "0") in ("", "0")


class FlatRaft(HistoryParts, Transfer, CachedPath, CompiledRaft):
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

    def __init__(
        self,
        params: Params,
        symmetry: bool = True,
        native: bool | None = None,
        only: Sequence[str] | None = None,
    ) -> None:
        super().__init__(params, symmetry, only)
        assert not params.ghost
        if native and _cloop is None:
            raise RuntimeError("the C loop (raftkit.modelcheck.compiled._cloop) is not built")
        #: Whether the cached loop runs in C (``_cloop``): by default where it is built.
        self.native = native_available() if native is None else native
        self._n = params.servers
        # With membership, servers are alike only within their class (spare or not, may stand
        # or not): renamings keep classes and rename the members of configuration entries.
        self._classes = server_classes(params) if params.membership else ()
        self._msig: dict[int, int] = {}
        kinds = sorted(set(self._classes))
        self._class_rank = [kinds.index(c) for c in self._classes]
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
            raise Uncompiled(f"no compiled form of {', '.join(sorted(names - known))}")
        self._pairs = pair_checks(names)
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
        n, faults, hist, zob = self._n, params.faults, self._hist, not symmetry
        self._slow_expand = load(
            _flat_source(n, faults, hist), variant_name("slow", n, faults, hist)
        )(self)
        self.expand = self._cached_loop(parts=False, delta=False)  # type: ignore[method-assign]
        #: ``expand`` with keys as XORs from per-state bases (``batch.delta_keys``), without
        #: symmetry; None with it.
        self.expand_delta: Any = None
        if zob:
            self.expand_delta = self._cached_loop(parts=False, delta=True)
        #: Without symmetry, a state's part (what ``--workers`` routes by) is the hash of
        #: its first ``_part_k`` servers (``plan_workers``); with it, the sum of the servers'
        #: classes (``partition``).
        self._part_k = self._n
        self._build_parts()

    def _build_parts(self) -> None:
        """The loops for ``--workers``, which append each successor's part."""
        zob, k, n, p = not self.symmetry, self._part_k, self._n, self.params
        flags = {"parts": True, "zob": zob, "k": k}
        self._slow_expand_parts = load(
            _flat_source(n, p.faults, self._hist, True, zob, k),
            variant_name("slow", n, p.faults, self._hist, **flags),
        )(self)
        self.expand_parts = self._cached_loop(parts=True, delta=False)
        #: ``expand_parts`` with keys as in ``expand_delta``; None with symmetry.
        self.expand_parts_delta: Any = None
        if zob:
            self.expand_parts_delta = self._cached_loop(parts=True, delta=True)

    def _cached_loop(self, parts: bool, delta: bool) -> Any:
        """The cached ``expand`` of a variant: the C loop where it runs (``native``), else the
        generated Python one (``_fast_source``); both append the same lists in the same order
        (``tests/test_native_loop.py`` compares them)."""
        n, faults, hist, zob = self._n, self.params.faults, self._hist, not self.symmetry
        k = self._part_k if parts else 0
        if self.native:
            try:
                return _cloop.Loop(self, n, hist, faults, zob, delta, parts, k)
            except (ValueError, OverflowError):
                # Beyond what the C loop handles (more than 8 servers, more than 64
                # sometimes-properties): the Python loop, which gives the same results.
                self.native = False
        flags: dict[str, Any] = {"zob": zob}
        if parts:
            flags |= {"parts": True, "k": k}
        if delta:
            flags["delta"] = True
        return load(
            _fast_source(n, faults, hist, parts, zob, delta, k),
            variant_name("fast", n, faults, hist, **flags),
        )(self)

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
            alone = State((srv,) * self._n, (), (), ())
            # The state constraint on one server (the network's part is the bag's).
            self._srv_inb.append(within_bounds(p, alone))
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
            if self._classes:
                srv = srv._replace(log=relabel_log(srv.log, perm))
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

    def _candidates(self, sv: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
        """The symmetry candidates of a server tuple: (permutation index, hash of relabelled
        servers) for each permutation that sorts the servers by signature."""
        n = self._n
        srv_hash = self._srv_hash
        if not self.symmetry:
            cands: tuple[tuple[int, int], ...] = ((0, self._first_servers_hash(sv, n)),)
        else:
            if self._classes:
                sigs = self._member_sigs(sv)
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

    def _member_sigs(self, sv: tuple[int, ...]) -> tuple[int, ...]:
        """With membership, the signatures of a server tuple's servers at their places: a
        server's class and whether its configuration names it depend on its place, so only
        renamings within classes sort by them (``symmetry.member_signature``)."""
        cache = self._msig
        if len(cache) >= self.CAND_CACHE:
            cache.clear()
        out = []
        for i, sid in enumerate(sv):
            key = (sid << 8) | i
            h = cache.get(key)
            if h is None:
                # Sorted by these: the class ranks first, so that every sorting permutation
                # keeps each class in its own places (a hash alone would mix them).
                sig = hash(member_signature(i, self._srv_val[sid], self._classes))
                h = cache[key] = (self._class_rank[i] << 64) | (sig & _M64)
            out.append(h)
        return tuple(out)

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
        """The least candidate key (the generated Python loops call it with several
        candidates; the C loop computes it itself)."""
        return self._multi_key_witness(cands, b, a, e)[0]

    def _multi_key_witness(
        self, cands: tuple[tuple[int, int], ...], b: int, a: int = -1, e: int = -1
    ) -> tuple[int, int]:
        """The least candidate key and the index of the permutation that gives it."""
        rel = self._bag_rel
        np_ = self._np
        best = None
        best_pi = 0
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
                best, best_pi = k, pi
        assert best is not None
        return best, best_pi

    def key(self, st: tuple[int, ...]) -> int:  # type: ignore[override]
        return self.key_witness(st)[0]

    def key_witness(self, st: tuple[int, ...]) -> tuple[int, int]:  # type: ignore[override]
        n = self._n
        sv = st[:n]
        cands = self._cand.get(sv) or self._candidates(sv)
        if self._hist:
            return self._multi_key_witness(cands, st[n], st[n + 1], st[n + 2])
        return self._multi_key_witness(cands, st[n])

    def servers_key(self, st: tuple[int, ...]) -> tuple[int, ...]:  # type: ignore[override]
        return st[: self._n]

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
        ok = pair_invariants(self._srv_val[x], self._srv_val[y], self._pairs)
        self._pok[(x << _SHIFT) | y] = ok
        return ok

    def _whole_ok(self, key: int, sids: Sequence[int]) -> bool:
        """The whole-state invariants on servers ``sids``: the server that stepped, then the
        others in place order. ``key`` packs their (log, commitIndex) ids, which is all these
        invariants read of a server, and, in its low 3 bits, the stepping server's place: with
        membership, configurations name servers by place."""
        rep = self._lc_rep
        lcs = self._srv_lc
        i = key & 7
        placed = (*sids[1 : i + 1], sids[0], *sids[i + 1 :])
        s = State(tuple(rep[lcs[x]] for x in placed), (), (), ())
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
