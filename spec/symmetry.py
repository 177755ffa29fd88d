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

With the membership option (``membership.py``) servers are no longer all alike. The initial
configuration is a constant of the spec (the configuration of a log without configuration
entries), so only renamings that map it onto itself keep behaviours: its members among
themselves, the spares among themselves. Configuration entries name servers, so renaming also
renames their members (``relabel_members``), and the signature (``member_signature``) says
which class a server is in, whether it is in its own configuration, and its log with each
configuration entry reduced to what such renamings keep.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import permutations, product

from .action import Action, Arg, definition
from .configuration import members, relabel_entry, relabel_log
from .state import (
    NIL,
    AppendEntriesRequest,
    Election,
    Ghost,
    History,
    InstallSnapshotRequest,
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


def canonical_witness(s: State) -> tuple[State, tuple[int, ...]]:
    """``canonical(s)`` and a renaming that maps ``s`` onto it."""
    return min((relabel(s, perm), perm) for perm in sorting_permutations(s))


def compose(g: tuple[int, ...], h: tuple[int, ...]) -> tuple[int, ...]:
    """The renaming ``g`` after ``h``: server ``k`` becomes ``g[h[k]]``."""
    return tuple(g[x] for x in h)


def relabel_action(label: tuple, perm: tuple[int, ...]) -> Action:
    """A step's label with every server renamed (its server arguments, and the source and
    destination of the message it reads), for the renamed step of the renamed state."""
    d = definition(label)
    args = [
        perm[value] if kind is Arg.SERVER
        else _relabel_message(value, perm) if kind is Arg.MESSAGE
        else value
        for kind, value in zip(d.args, label[1:], strict=True)
    ]
    return Action(label[0], *args)


def relabel_members(s: State, perm: tuple[int, ...]) -> State:
    """``relabel``, and the members of every configuration entry renamed too: in logs, in
    messages' entries and snapshots, and in the ghost record of commits."""
    t = relabel(s, perm)
    servers = tuple(srv._replace(log=relabel_log(srv.log, perm)) for srv in t.servers)
    messages = tuple(sorted((_relabel_entries(m, perm), c) for m, c in t.messages))
    ghost = t.ghost
    if ghost:
        committed = ghost.committed
        committed = tuple(sorted((k, relabel_entry(e, perm), term) for k, e, term in committed))
        ghost = ghost._replace(committed=committed)
    return t._replace(servers=servers, messages=messages, ghost=ghost)


def _relabel_entries(m: Message, perm: tuple[int, ...]) -> Message:
    if isinstance(m, AppendEntriesRequest):
        return m._replace(mentries=relabel_log(m.mentries, perm))
    if isinstance(m, InstallSnapshotRequest):
        return m._replace(msnapshot=relabel_log(m.msnapshot, perm))
    return m


def member_signature(i: int, srv: Server, classes: Sequence[tuple]) -> tuple:
    """What renamings that keep every server in its class (``classes[k]`` is server k's; see
    ``configuration.server_classes``) cannot change about server ``i``: its class, whether the
    latest configuration entry of its log names it, and ``signature``'s fields with each
    configuration entry reduced to its term, how many members it has in each class and whether
    it names ``i``."""
    kinds = sorted(set(classes))
    shape = []
    mine = False
    for e in srv.log:
        if e.value >= 0:
            shape.append((e.term, e.value))
        else:
            m = members(e)
            mine = i in m  # the last one decides: the configuration is the latest entry
            counts = tuple(sum(1 for k in m if classes[k] == c) for c in kinds)
            shape.append((e.term, -1, counts, mine))
    return (
        classes[i],
        mine,
        srv.currentTerm,
        srv.state,
        tuple(shape),
        srv.commitIndex,
        len(srv.votesResponded),
        len(srv.votesGranted),
    )


def canonical_members(s: State, classes: Sequence[tuple]) -> State:
    """The representative of ``s``'s class under the renamings that keep every server in its
    class (exact: one per class). ``classes`` must not decrease with the server's number: the
    signature then sorts each class into its own positions, so every sorting permutation keeps
    the classes."""
    sigs = [member_signature(i, srv, classes) for i, srv in enumerate(s.servers)]
    order = sorted(range(len(sigs)), key=sigs.__getitem__)
    return min(relabel_members(s, perm) for perm in permutations_sorting(sigs, order))


def member_permutations(classes: Sequence[tuple]) -> Iterator[tuple[int, ...]]:
    """Every renaming that keeps every server in its class (for tests and brute force)."""
    n = len(classes)
    for perm in permutations(range(n)):
        if all(classes[perm[k]] == classes[k] for k in range(n)):
            yield perm


def all_permutations(n: int) -> Iterator[tuple[int, ...]]:
    """Every renaming of ``n`` servers (for tests and brute force)."""
    return permutations(range(n))
