"""Configurations: which servers count in a server's majorities (the membership option).

Ongaro's dissertation, §4.1: "configurations are stored and communicated using special entries
in the replicated log", and "a server always uses the latest configuration in its log,
regardless of whether the entry is committed". This module holds that one idea: how a
configuration entry is written in a log, how a server finds its configuration, and what a
majority of a configuration is. ``membership.py`` has the actions that change configurations.

A configuration entry is an ordinary :class:`~.state.Entry` whose value is negative: minus one
minus the bit mask of its members (server ``k`` is bit ``k``). Not minus the mask: Python hashes
-1 as -2, so the configurations {s1} (mask 1) and {s2} (mask 2) would hash alike, and with them
every pair of states that differ only there: the checker's fingerprints would merge them.
Client values are 1..Params.values and the no-op is 0, so the three never meet, and a log
stays a tuple of two-integer entries that the checker hashes and orders as before. Every server
starts with the initial configuration (``Params.init_config`` servers, s1..sN; the others are
spares that may join): it is the configuration of a log without configuration entries, as if
each server had been started with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from .params import Params
from .state import Entry, Log, server_name

#: A configuration: its members, sorted.
Config = tuple[int, ...]


def initial_configuration(p: Params) -> Config:
    """The configuration every server starts with: s1..sN, N = ``init_config`` (0: all)."""
    return tuple(range(p.init_config or p.servers))


def server_classes(p: Params) -> tuple[tuple[bool, bool], ...]:
    """Which servers are alike under membership: whether each is a spare (outside the initial
    configuration), and whether the bound ``candidates`` keeps it from starting elections. A
    renaming that keeps behaviours maps each server to one of its class. Classes never
    decrease with the server's number."""
    c0 = len(initial_configuration(p))
    k = p.candidates or p.servers
    return tuple((i >= c0, i >= k) for i in range(p.servers))


def config_entry(term: int, members: Iterable[int]) -> Entry:
    """The log entry that makes ``members`` the configuration."""
    mask = 0
    for k in members:
        mask |= 1 << k
    return Entry(term=term, value=-1 - mask)


def is_config(e: Entry) -> bool:
    """Whether ``e`` is a configuration entry (and not a client command or a no-op)."""
    return e.value < 0


def members(e: Entry) -> Config:
    """The servers a configuration entry names."""
    return _members(-1 - e.value)


@cache
def _members(mask: int) -> Config:
    return tuple(k for k in range(mask.bit_length()) if mask >> k & 1)


def config_index(log: Log) -> int:
    """The index of the latest configuration entry of ``log``, 0 if it has none."""
    for k in range(len(log), 0, -1):
        if log[k - 1].value < 0:
            return k
    return 0


def configuration(p: Params, log: Log) -> Config:
    """§4.1: the latest configuration in the log, committed or not; the initial one if the log
    holds no configuration entry."""
    k = config_index(log)
    return _members(-1 - log[k - 1].value) if k else tuple(range(p.init_config or p.servers))


def config_count(log: Log) -> int:
    """How many configuration entries ``log`` holds (the bound ``max_changes`` caps it)."""
    return sum(1 for e in log if e.value < 0)


def is_majority(voters: Iterable[int], config: Config) -> bool:
    """A strict majority of ``config``: servers outside it do not count (§4.1, "majorities
    counted in the configuration")."""
    return 2 * len(set(voters).intersection(config)) > len(config)


def relabel_entry(e: Entry, perm: tuple[int, ...]) -> Entry:
    """A configuration entry with every member ``k`` renamed ``perm[k]`` (others unchanged)."""
    if e.value >= 0:
        return e
    return config_entry(e.term, (perm[k] for k in members(e)))


def relabel_log(log: Log, perm: tuple[int, ...]) -> Log:
    """``log`` with the members of its configuration entries renamed."""
    if all(e.value >= 0 for e in log):
        return log
    return tuple(relabel_entry(e, perm) for e in log)


def config_text(e: Entry) -> str:
    """How people see a configuration entry's members: ``{s1,s3,s4}``."""
    return "{" + ",".join(server_name(k) for k in members(e)) + "}"


def value_text(e: Entry) -> str:
    """How people see an entry's value: ``v1`` for a command (``v0`` a no-op), the members for
    a configuration entry."""
    return config_text(e) if e.value < 0 else f"v{e.value}"
