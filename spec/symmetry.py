"""Symmetry of Raft under renaming servers, and one canonical representative per class.

Raft treats servers alike: renaming them (a permutation of 0..N-1 applied wherever a server id
appears — message sources and destinations, votedFor, vote sets, the keys of nextIndex and
matchIndex, and the history and ghost variables) maps behaviours to behaviours and keeps every
property. TLC's ``SYMMETRY Permutations(Server)`` explores one state per class; so do we.

The representative is the least relabelling (states are totally ordered tuples), but not over
all N! permutations: only over those that sort the servers by a signature that renaming cannot
change (term, role, log, commitIndex, ...). Two states of one class have the same set of such
sorted relabellings, so the least one is the same: the result is exact, and usually one
relabelling is enough because signatures rarely tie.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import permutations, product

from .state import (
    NIL,
    Election,
    Ghost,
    History,
    Message,
    Server,
    State,
)


def relabel(s: State, perm: tuple[int, ...]) -> State:
    """The state with every server id ``k`` replaced by ``perm[k]``."""
    n = len(perm)
    servers: list[Server | None] = [None] * n
    for old, srv in enumerate(s.servers):
        servers[perm[old]] = _relabel_server(srv, perm)
    messages = tuple(sorted((_relabel_message(m, perm), c) for m, c in s.messages))
    history = s.history
    if history:
        voter_log: list = [()] * n
        for old, vl in enumerate(history.voterLog):
            voter_log[perm[old]] = _relabel_voter_log(vl, perm)
        elections = tuple(
            sorted(
                Election(
                    eterm=e.eterm,
                    eleader=perm[e.eleader],
                    elog=e.elog,
                    evotes=tuple(sorted(perm[v] for v in e.evotes)),
                    evoterLog=_relabel_voter_log(e.evoterLog, perm),
                )
                for e in history.elections
            )
        )
        history = History(elections=elections, allLogs=history.allLogs, voterLog=tuple(voter_log))
    ghost = s.ghost
    if ghost:
        ghost = Ghost(
            elected=tuple(sorted((term, perm[i]) for term, i in ghost.elected)),
            committed=ghost.committed,
        )
    return State(servers=tuple(servers), messages=messages, history=history, ghost=ghost)


def _relabel_server(srv: Server, perm: tuple[int, ...]) -> Server:
    n = len(perm)
    next_index = [0] * n
    match_index = [0] * n
    for old in range(n):
        next_index[perm[old]] = srv.nextIndex[old]
        match_index[perm[old]] = srv.matchIndex[old]
    # _replace keeps the record's type: options (spec/options.py) add fields to a server.
    return srv._replace(
        currentTerm=srv.currentTerm,
        state=srv.state,
        votedFor=NIL if srv.votedFor == NIL else perm[srv.votedFor],
        log=srv.log,
        commitIndex=srv.commitIndex,
        votesResponded=tuple(sorted(perm[k] for k in srv.votesResponded)),
        votesGranted=tuple(sorted(perm[k] for k in srv.votesGranted)),
        nextIndex=tuple(next_index),
        matchIndex=tuple(match_index),
    )


def _relabel_message(m: Message, perm: tuple[int, ...]) -> Message:
    return m._replace(msource=perm[m.msource], mdest=perm[m.mdest])


def _relabel_voter_log(vl: tuple, perm: tuple[int, ...]) -> tuple:
    return tuple(sorted((perm[voter], log) for voter, log in vl))


def signature(srv: Server) -> tuple:
    """What renaming servers cannot change about one server."""
    return (
        srv.currentTerm,
        srv.state,
        srv.log,
        srv.commitIndex,
        len(srv.votesResponded),
        len(srv.votesGranted),
    )


def sorting_permutations(s: State) -> Iterator[tuple[int, ...]]:
    """The permutations that put the servers in order of signature (ties in every order)."""
    sigs = [signature(srv) for srv in s.servers]
    return permutations_sorting(sigs, sorted(range(len(sigs)), key=sigs.__getitem__))


def permutations_sorting(sigs: Sequence, order: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every permutation putting servers in the order ``order`` of their signatures ``sigs``,
    tied servers in every order (``perm[old] = new position``)."""
    n = len(sigs)
    groups: list[list[int]] = []
    for k in order:
        if groups and sigs[groups[-1][0]] == sigs[k]:
            groups[-1].append(k)
        else:
            groups.append([k])
    for choice in product(*(permutations(g) for g in groups)):
        perm = [0] * n
        position = 0
        for group in choice:
            for old in group:
                perm[old] = position
                position += 1
        yield tuple(perm)


def canonical(s: State) -> State:
    """The representative of ``s``'s class under renaming servers (exact: one per class)."""
    return min(relabel(s, perm) for perm in sorting_permutations(s))


def all_permutations(n: int) -> Iterator[tuple[int, ...]]:
    """Every renaming of ``n`` servers (for tests and brute force)."""
    return permutations(range(n))
