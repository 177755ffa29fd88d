"""Configurations: which servers are members, and which configuration a node is in.

Ongaro's dissertation, §4.1: "configurations are stored and communicated using special entries
in the replicated log", and "a server always uses the latest configuration in its log,
regardless of whether the entry is committed". A ``Membership`` is one configuration: its
members, each with an address that the core carries but never reads (the process around it
dials peers with it; etcd carries the same in a configuration change's context).
``Configurations`` follows the configuration entries of one node's log through appends,
truncations, compaction and installed snapshots, so that the node always knows the latest one,
and the one in force at any index it still holds (what a snapshot must record).

A node's configuration before any configuration entry is the *initial configuration*
(``Config.peers``): every node of a cluster is started with the same one, and a node outside it
(a spare) waits, without campaigning, until a leader adds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgpack

from .messages import ENTRY_CONFIG, Entry, NodeId, WireError


@dataclass(frozen=True, slots=True)
class Membership:
    """One configuration: its members as ``(id, address)`` pairs, sorted by id."""

    members: tuple[tuple[NodeId, str], ...]

    @staticmethod
    def of(members: Iterable[tuple[NodeId, str]]) -> Membership:
        """The configuration of these members (in any order; ids must be distinct)."""
        pairs = tuple(sorted(members))
        ids = [m for m, _ in pairs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"membership: duplicate ids in {ids!r}")
        return Membership(pairs)

    @property
    def ids(self) -> tuple[NodeId, ...]:
        """The members' ids, sorted."""
        return tuple(m for m, _ in self.members)

    def __contains__(self, node: object) -> bool:
        return any(m == node for m, _ in self.members)

    def __len__(self) -> int:
        return len(self.members)

    def address(self, node: NodeId) -> str | None:
        """The address recorded for ``node``; None if it is not a member."""
        for m, a in self.members:
            if m == node:
                return a
        return None

    def adding(self, node: NodeId, address: str) -> Membership:
        """This configuration with ``node`` added (§4.1: one server at a time)."""
        return Membership.of((*self.members, (node, address)))

    def removing(self, node: NodeId) -> Membership:
        """This configuration without ``node``."""
        return Membership(tuple((m, a) for m, a in self.members if m != node))

    def encode(self) -> bytes:
        """The data of a configuration entry (and of a snapshot's configuration)."""
        return msgpack.packb([list(p) for p in self.members], use_bin_type=True)

    @staticmethod
    def decode(data: bytes, where: str = "configuration") -> Membership:
        """Inverse of ``encode``; ``WireError`` naming ``where`` if ``data`` is not one."""
        try:
            obj = msgpack.unpackb(data, raw=False)
        except Exception as exc:  # noqa: BLE001 - whatever msgpack raises, the data is bad
            raise WireError(f"{where}: not a configuration ({exc})") from None
        if not isinstance(obj, list) or not obj:
            raise WireError(f"{where}: expected a non-empty list of [id, address]")
        pairs = []
        for k, p in enumerate(obj):
            if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)):
                raise WireError(f"{where}[{k}]: expected [id, address] strings, got {p!r:.80}")
            pairs.append((p[0], p[1]))
        try:
            return Membership.of(pairs)
        except ValueError as exc:
            raise WireError(f"{where}: {exc}") from None


def initial_membership(
    peers: Iterable[NodeId], addresses: Iterable[tuple[NodeId, str]] = ()
) -> Membership:
    """The initial configuration: ``peers``, with the addresses given for them ("" otherwise)."""
    known = dict(addresses)
    return Membership.of((p, known.get(p, "")) for p in peers)


def config_entry(term: int, index: int, membership: Membership) -> Entry:
    """The log entry that makes ``membership`` the configuration."""
    return Entry(term, index, membership.encode(), ENTRY_CONFIG)


class Configurations:
    """The configurations of one node's log: the one in force at its snapshot (or the initial
    one) and one per configuration entry after it, oldest first."""

    __slots__ = ("_base_index", "_base", "_entries")

    def __init__(self, base_index: int, base: Membership, entries: Iterable[Entry] = ()) -> None:
        self._base_index = base_index
        self._base = base
        self._entries: list[tuple[int, Membership]] = []
        self.appended(entries)

    @property
    def latest(self) -> Membership:
        """§4.1: the latest configuration in the log, committed or not."""
        return self._entries[-1][1] if self._entries else self._base

    @property
    def latest_index(self) -> int:
        """The index of the latest configuration entry; the snapshot's index (or 0) if the log
        after the snapshot holds none. A configuration is committed once the commit index
        reaches it."""
        return self._entries[-1][0] if self._entries else self._base_index

    @property
    def previous(self) -> Membership | None:
        """The configuration before the latest configuration entry; None if the log after the
        snapshot holds no configuration entry."""
        if not self._entries:
            return None
        return self._entries[-2][1] if len(self._entries) > 1 else self._base

    @property
    def entry_index(self) -> int:
        """The index of the latest configuration entry after the snapshot; 0 if there is none."""
        return self._entries[-1][0] if self._entries else 0

    def at(self, index: int) -> Membership:
        """The configuration in force at ``index`` (not below the snapshot)."""
        for k in range(len(self._entries) - 1, -1, -1):
            if self._entries[k][0] <= index:
                return self._entries[k][1]
        return self._base

    def appended(self, entries: Iterable[Entry]) -> bool:
        """Entries were appended to the log; True if the configuration changed."""
        changed = False
        for e in entries:
            if e.kind == ENTRY_CONFIG:
                self._entries.append((e.index, Membership.decode(e.data, f"entry {e.index}")))
                changed = True
        return changed

    def truncated(self, from_index: int) -> bool:
        """Entries ``>= from_index`` were removed; True if the configuration changed (back to
        an earlier one)."""
        n = len(self._entries)
        while self._entries and self._entries[-1][0] >= from_index:
            self._entries.pop()
        return len(self._entries) != n

    def compacted(self, index: int) -> None:
        """The log up to ``index`` is now a snapshot of this node's own."""
        self._base = self.at(index)
        self._base_index = index
        self._entries = [(i, m) for i, m in self._entries if i > index]

    def installed(self, index: int, membership: Membership, keeps_suffix: bool) -> bool:
        """A leader's snapshot up to ``index`` replaced the log's prefix (or, if the log
        disagreed with it, the whole log); True if the latest configuration changed."""
        before = self.latest
        self._base = membership
        self._base_index = index
        self._entries = [(i, m) for i, m in self._entries if i > index] if keeps_suffix else []
        return self.latest != before
