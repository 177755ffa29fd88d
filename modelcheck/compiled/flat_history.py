"""raft.tla's history variables in the flat form: allLogs and elections, interned, with their
relabelled hashes (each server's voterLog travels with the server)."""

from __future__ import annotations

from typing import Any

from ...spec.state import Election
from .tables import _SALT_ELS, _SALT_LOGS, _mix


class HistoryParts:
    """A part of :class:`.flat.FlatRaft` (it reads the tables that ``FlatRaft.__init__`` makes)."""

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
