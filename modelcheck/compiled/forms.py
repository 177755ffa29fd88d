"""Which properties the compiled form can decide by parts, and the pair form of the four.

The compiled form never evaluates a property on a whole state in its hot loop: each invariant
is decided on the parts of a state it reads (pairs of servers, a message and its sender, the
servers' logs), and the verdicts are cached.
"""

from __future__ import annotations

from ...spec.state import Role, Server


class Uncompiled(Exception):
    """The configuration has something the compiled form does not cover (an option, a property
    without a compiled form): the readable spec must run it."""

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
