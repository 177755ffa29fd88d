"""The cached path of the flat form's hot loop: what ``_prepare`` checks once per server tuple and
once per (server, place, bag), so that most states make their successors from lists."""

from __future__ import annotations

from typing import Any

from ..engine.batch import StepViolation
from .tables import _REPLY, _SHIFT

#: An empty step cache shared by every (server, place) not met yet (never written to).
_NO_STEPS: dict[int, Any] = {}


class CachedPath:
    """A part of :class:`.flat.FlatRaft` (it reads the tables that ``FlatRaft.__init__`` makes)."""

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
                        kk = (kk << 3) | i
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
