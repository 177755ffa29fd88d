"""How flat states travel between worker processes: ids are private to a process, so states go
as values, or as ids with the values a peer has not been told yet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Transfer:
    """A part of :class:`.flat.FlatRaft` (it reads the tables that ``FlatRaft.__init__`` makes)."""

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
