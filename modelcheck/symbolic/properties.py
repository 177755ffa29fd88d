"""The properties of ``properties.py`` as Z3 formulas over a symbolic state (``symbolic.py``).

One function per property, with the Python predicate's name, in the same order; each says the
same thing as the predicate's docstring, on the state form (without ghost variables). Where the
Python code searches (the last index where two logs agree), the formula states the equivalent
"for every index" form, which a solver reads better; the agreement tests hold the two to the
same verdict on every well-formed state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import z3

from ...spec import properties as P
from ...spec.properties import Kind, Property
from ...spec.state import MType
from .symstate import (
    LEADER,
    SymState,
    could_win,
    covered,
    entry_term,
    holds_prefix,
    pairs,
    prefix_equal,
    same_entry,
)


def election_safety(s: SymState) -> Any:
    """ElectionSafety: no two servers are leaders of the same term."""
    return z3.And(
        [
            z3.Not(
                z3.And(
                    s.state[a] == LEADER,
                    s.state[b] == LEADER,
                    s.currentTerm[a] == s.currentTerm[b],
                )
            )
            for a, b in pairs(s.shape.servers)
        ]
    )


def leader_append_only(before: SymState, after: SymState) -> Any:
    """LeaderAppendOnly: a server leader of the same term before and after the step has its old
    log as a prefix of its new one."""
    c = []
    for i in range(before.shape.servers):
        same_leader = z3.And(
            before.state[i] == LEADER,
            after.state[i] == LEADER,
            before.currentTerm[i] == after.currentTerm[i],
        )
        prefix = z3.And(
            after.loglen[i] >= before.loglen[i],
            *[
                z3.Implies(
                    k < before.loglen[i],
                    z3.And(
                        after.logterm[i][k] == before.logterm[i][k],
                        after.logvalue[i][k] == before.logvalue[i][k],
                    ),
                )
                for k in range(before.shape.log)
            ],
        )
        c.append(z3.Implies(same_leader, prefix))
    return z3.And(c)


def log_matching(s: SymState) -> Any:
    """LogMatching: two logs with an entry of the same index and term are equal up to it."""
    c = []
    for a, b in pairs(s.shape.servers):
        for k in range(s.shape.log):
            agree = z3.And(s.loglen[a] > k, s.loglen[b] > k, s.logterm[a][k] == s.logterm[b][k])
            c.append(z3.Implies(agree, z3.And([same_entry(s, a, b, x) for x in range(k + 1)])))
    return z3.And(c)


def leader_completeness(s: SymState) -> Any:
    """LeaderCompleteness: every leader whose term is at least server i's holds the entries
    covered by i's commitIndex, at the same indexes."""
    c = []
    n = s.shape.servers
    for i in range(n):
        top = covered(s, i)
        for leader in range(n):
            if leader == i:
                continue
            applies = z3.And(s.state[leader] == LEADER, s.currentTerm[leader] >= s.currentTerm[i])
            holds = holds_prefix(s, leader, i, top)
            c.append(z3.Implies(applies, holds))
    return z3.And(c)


def state_machine_safety(s: SymState) -> Any:
    """StateMachineSafety: the entries covered by two servers' commitIndex agree."""
    c = []
    for a, b in pairs(s.shape.servers):
        ta, tb = covered(s, a), covered(s, b)
        c.append(prefix_equal(s, a, b, z3.If(ta < tb, ta, tb)))
    return z3.And(c)


def append_entries_prev_log_term_matches(s: SymState) -> Any:
    """AppendEntriesPrevLogTermMatches: an AppendEntries request from a server still leader of
    the request's term carries that leader's term of the entry at prevLogIndex."""
    c = []
    n = s.shape.servers
    for slot in s.slots:
        for src in range(n):
            applies = z3.And(
                slot.present,
                slot.mtype == int(MType.AppendEntriesRequest),
                slot.mprevLogIndex != 0,
                slot.msource == src,
                s.state[src] == LEADER,
                s.currentTerm[src] == slot.mterm,
            )
            holds = z3.And(
                s.loglen[src] >= slot.mprevLogIndex,
                entry_term(s, src, slot.mprevLogIndex) == slot.mprevLogTerm,
            )
            c.append(z3.Implies(applies, holds))
    return z3.And(c)


def electable_logs_hold_committed(s: SymState) -> Any:
    """ElectableLogsHoldCommitted: a server whose log is at least as up-to-date as the logs of
    a majority (its own included) holds the entries covered by every server's commitIndex."""
    n = s.shape.servers
    c = []
    for i in range(n):
        holds = []
        for j in range(n):
            if j != i:
                top = covered(s, j)
                holds.append(holds_prefix(s, i, j, top))
        c.append(z3.Implies(could_win(s, i), z3.And(holds)))
    return z3.And(c)


# --- what must be reachable ------------------------------------------------------------------


def leader_elected(s: SymState) -> Any:
    """LeaderElected: some server is leader."""
    return z3.Or([x == LEADER for x in s.state])


def entry_committed(s: SymState) -> Any:
    """EntryCommitted: some server's commitIndex covers an entry of its log."""
    n = s.shape.servers
    return z3.Or([z3.And(s.commitIndex[i] > 0, s.loglen[i] > 0) for i in range(n)])


#: The Z3 formula of every property of ``spec/properties.py`` that declares one (``symbolic``).
FORMULAS: dict[Property, Callable[..., Any]] = {
    P.ELECTION_SAFETY: election_safety,
    P.LOG_MATCHING: log_matching,
    P.LEADER_COMPLETENESS: leader_completeness,
    P.STATE_MACHINE_SAFETY: state_machine_safety,
    P.APPEND_ENTRIES_PREV_LOG_TERM_MATCHES: append_entries_prev_log_term_matches,
    P.ELECTABLE_LOGS_HOLD_COMMITTED: electable_logs_hold_committed,
    P.LEADER_APPEND_ONLY: leader_append_only,
    P.LEADER_ELECTED: leader_elected,
    P.ENTRY_COMMITTED: entry_committed,
}


def _by_name(kind: Kind) -> dict[str, Callable[..., Any]]:
    return {p.name: FORMULAS[p] for p in P.of_kind(kind) if p in FORMULAS}


#: The formulas by kind and name (what ``--invariant NAME`` and the checks look up).
INVARIANTS: dict[str, Callable[[SymState], Any]] = _by_name(Kind.INVARIANT)
ACTION_PROPERTIES: dict[str, Callable[[SymState, SymState], Any]] = _by_name(Kind.ACTION)
SOMETIMES: dict[str, Callable[[SymState], Any]] = _by_name(Kind.SOMETIMES)
