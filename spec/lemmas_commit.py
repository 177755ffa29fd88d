"""Lemmas about replication and commitment: the way towards an inductive StateMachineSafety.

StateMachineSafety (§5.4.3) rests on what a leader's bookkeeping promises: an entry it counts
as stored on a majority (matchIndex, and the successful AppendEntries responses on their way)
really is in those logs, and an entry stored on a majority in the leader's own term is in every
log that could still win an election. These lemmas state those promises, and the message
facts they need, on raft.tla's state, each as a Python predicate and a Z3 formula with one
name (registered in ``lemmas.LEMMAS``). docs/z3-proofs.md says how far they take the proof and
where it stops.

Every lemma here holds in every reachable state of the configurations checked in the tests
(and of the default bounds); AppendEntriesSenderLeadsItsTerm only without faults (a restarted
leader is a follower of its old term while its requests are still in the network).
"""

from __future__ import annotations

from typing import Any

import z3

from .state import MType, Role, State, could_win
from .symbolic import (
    LEADER,
    SymState,
    count,
    covered,
    entry_term,
    entry_value,
    prefix_equal,
)
from .symbolic import could_win as z_could_win

_AER = int(MType.AppendEntriesRequest)
_AERESP = int(MType.AppendEntriesResponse)


def _requests(s: State) -> list[Any]:
    return [m for m, _ in s.messages if m.mtype == MType.AppendEntriesRequest]


def _agrees(log: Any, m: Any, top: int) -> bool:
    """Where ``log`` reaches index ``top``, it holds request m's entry and its prevLogTerm."""
    p = m.mprevLogIndex
    if m.mentries and top >= p + 1 and log[p] != m.mentries[0]:
        return False
    return not (p >= 1 and top >= p and log[p - 1].term != m.mprevLogTerm)


def _z_agrees(s: SymState, i: int, m: Any, top: Any) -> Any:
    """:func:`_agrees` as a formula, for log i and message slot m."""
    p = m.mprevLogIndex
    same = z3.And(entry_term(s, i, p + 1) == m.eterm, entry_value(s, i, p + 1) == m.evalue)
    return z3.And(
        z3.Implies(z3.And(m.nentries == 1, top >= p + 1), same),
        z3.Implies(z3.And(p >= 1, top >= p), entry_term(s, i, p) == m.mprevLogTerm),
    )


# --- Python predicates ---------------------------------------------------------------------------


def append_entries_not_to_self(s: State) -> bool:
    """AppendEntriesNotToSelf: no AppendEntries request or response is addressed to its sender
    (Figure 2: a leader sends AppendEntries to each other server; raft.tla's AppendEntries(i, j)
    requires i /= j). RequestVote may be: a candidate asks itself, as raft.tla does."""
    kinds = (MType.AppendEntriesRequest, MType.AppendEntriesResponse)
    return all(m.msource != m.mdest for m, _ in s.messages if m.mtype in kinds)


def append_entries_request_shape(s: State) -> bool:
    """AppendEntriesRequestShape: an AppendEntries request's prevLogTerm is 0 exactly when its
    prevLogIndex is 0, and its leaderCommit covers no more than the entries it vouches for
    (Figure 2, AppendEntries arguments; raft.tla sends Min(commitIndex, lastEntry))."""
    for m in _requests(s):
        if (m.mprevLogIndex == 0) != (m.mprevLogTerm == 0):
            return False
        if m.mcommitIndex > m.mprevLogIndex + len(m.mentries):
            return False
    return True


def commit_index_within_log(s: State) -> bool:
    """CommitIndexWithinLog: no server's commitIndex passes the end of its log (a follower sets
    it from leaderCommit only after its log matches up to there, Figure 2 receiver rule 5; and a
    committed entry is never truncated)."""
    return all(srv.commitIndex <= len(srv.log) for srv in s.servers)


def leader_requests_match_its_log(s: State) -> bool:
    """LeaderRequestsMatchItsLog: an AppendEntries request from a server that is still leader of
    the request's term agrees with that leader's log (prevLogIndex within it, prevLogTerm and
    the entry as in it) and its leaderCommit is at most the leader's commitIndex (a leader's log
    only grows during its term: Leader Append-Only, §5.3)."""
    for m in _requests(s):
        src = s.servers[m.msource]
        if src.state != Role.Leader or src.currentTerm != m.mterm:
            continue
        log, p = src.log, m.mprevLogIndex
        if p > len(log) or (m.mentries and len(log) < p + 1) or not _agrees(log, m, len(log)):
            return False
        if m.mcommitIndex > src.commitIndex:
            return False
    return True


def append_entries_sender_leads_its_term(s: State) -> bool:
    """AppendEntriesSenderLeadsItsTerm: the sender of an AppendEntries request is still leader
    while its currentTerm is the request's term (only leaders send them, §5.3, and raft.tla's
    leaders step down only to a later term). Without faults only: Restart makes a leader a
    follower of the same term."""
    for m in _requests(s):
        src = s.servers[m.msource]
        if src.currentTerm == m.mterm and src.state != Role.Leader:
            return False
    return True


def append_entries_requests_agree_with_their_term(s: State) -> bool:
    """AppendEntriesRequestsAgreeWithTheirTerm: where a log holds an entry of a request's term at
    or past the request's entry (or its prevLogIndex), it holds the request's entry (and
    prevLogTerm) there: the term's only leader (§5.2) sent the request from a log that, growing
    only, also made that later entry, and Log Matching (§5.3) carries the prefix."""
    for m in _requests(s):
        for srv in s.servers:
            log = srv.log
            ours = [k for k in range(1, len(log) + 1) if log[k - 1].term == m.mterm]
            if ours and not _agrees(log, m, max(ours)):
                return False
    return True


def _acked(s: State, i: int) -> int:
    """The last index of leader i's log holding an entry of its current term that a majority
    stores by i's matchIndex (i counted): what i may commit next (§5.4.2). 0 if none."""
    ld, n = s.servers[i], len(s.servers)
    best = 0
    for k in range(1, len(ld.log) + 1):
        if ld.log[k - 1].term != ld.currentTerm:
            continue
        holders = 1 + sum(1 for j in range(n) if j != i and ld.matchIndex[j] >= k)
        if 2 * holders > n:
            best = k
    return best


def electable_logs_hold_acked(s: State) -> bool:
    """ElectableLogsHoldAcked: a log that could win an election holds every entry a leader counts
    as stored on a majority in its own term (and the entries before it). This is §5.4.3's
    argument one step before the commit: the majority that stores the entry meets every
    majority a later candidate needs, and none of those voters grants a less up-to-date log."""
    for i, ld in enumerate(s.servers):
        if ld.state != Role.Leader:
            continue
        k = _acked(s, i)
        logs = [srv.log for srv in s.servers]
        if k and any(could_win(logs, log) and log[:k] != ld.log[:k] for log in logs):
            return False
    return True


def _kept(ld: Any, f: Any, k: int, term: int) -> bool:
    """What "f stores ld's log up to k, said in ``term``" promises: k is within ld's log, and
    while f is still in ``term``, f's log agrees with ld's up to k."""
    if k > len(ld.log):
        return False
    return f.currentTerm != term or (len(f.log) >= k and f.log[:k] == ld.log[:k])


def match_index_agrees(s: State) -> bool:
    """MatchIndexAgrees: a leader's matchIndex for a server is within the leader's log, and while
    that server is still in the leader's term its log agrees with the leader's up to there
    (Figure 2: matchIndex is the highest entry known replicated; the follower took those
    entries, in that term, from this leader)."""
    for i, ld in enumerate(s.servers):
        if ld.state != Role.Leader:
            continue
        for j, f in enumerate(s.servers):
            if j == i:
                continue
            if not _kept(ld, f, ld.matchIndex[j], ld.currentTerm):
                return False
    return True


def success_responses_agree(s: State) -> bool:
    """SuccessResponsesAgree: a successful AppendEntries response that its addressee, still leader
    of the response's term, would count promises what matchIndex promises (MatchIndexAgrees):
    its matchIndex is within the leader's log, and while the responder is still in that term its
    log agrees with the leader's up to there."""
    for m, _ in s.messages:
        if m.mtype != MType.AppendEntriesResponse or not m.msuccess:
            continue
        ld, f = s.servers[m.mdest], s.servers[m.msource]
        if ld.state != Role.Leader or ld.currentTerm != m.mterm:
            continue
        if not _kept(ld, f, m.mmatchIndex, m.mterm):
            return False
    return True


def requests_hold_committed(s: State) -> bool:
    """RequestsHoldCommitted: an AppendEntries request of a term at least a server's currentTerm
    carries, where that server's commitIndex covers it, the server's entry (and prevLogTerm):
    the entry was committed in a term no later than the server's, and the leader of any later or
    equal term holds it (Leader Completeness, §5.4)."""
    for m in _requests(s):
        for srv in s.servers:
            top = min(srv.commitIndex, len(srv.log))
            if m.mterm >= srv.currentTerm and not _agrees(srv.log, m, top):
                return False
    return True


# --- Z3 formulas ---------------------------------------------------------------------------------


def _is(m: Any, mtype: int) -> Any:
    return z3.And(m.present, m.mtype == mtype)


def append_entries_not_to_self_z3(s: SymState) -> Any:
    """AppendEntriesNotToSelf (see the Python predicate)."""
    return z3.And(
        [
            z3.Implies(z3.Or(_is(m, _AER), _is(m, _AERESP)), m.msource != m.mdest)
            for m in s.slots
        ]
    )


def append_entries_request_shape_z3(s: SymState) -> Any:
    """AppendEntriesRequestShape (see the Python predicate)."""
    return z3.And(
        [
            z3.Implies(
                _is(m, _AER),
                z3.And(
                    (m.mprevLogIndex == 0) == (m.mprevLogTerm == 0),
                    m.mcommitIndex <= m.mprevLogIndex + m.nentries,
                ),
            )
            for m in s.slots
        ]
    )


def commit_index_within_log_z3(s: SymState) -> Any:
    """CommitIndexWithinLog (see the Python predicate)."""
    return z3.And([s.commitIndex[i] <= s.loglen[i] for i in range(s.shape.servers)])


def leader_requests_match_its_log_z3(s: SymState) -> Any:
    """LeaderRequestsMatchItsLog (see the Python predicate)."""
    c = []
    for m in s.slots:
        p = m.mprevLogIndex
        for j in range(s.shape.servers):
            from_leader = z3.And(
                _is(m, _AER), m.msource == j, s.state[j] == LEADER, s.currentTerm[j] == m.mterm
            )
            holds = z3.And(
                p <= s.loglen[j],
                z3.Implies(m.nentries == 1, s.loglen[j] >= p + 1),
                _z_agrees(s, j, m, s.loglen[j]),
                m.mcommitIndex <= s.commitIndex[j],
            )
            c.append(z3.Implies(from_leader, holds))
    return z3.And(c)


def append_entries_sender_leads_its_term_z3(s: SymState) -> Any:
    """AppendEntriesSenderLeadsItsTerm (see the Python predicate)."""
    return z3.And(
        [
            z3.Implies(
                z3.And(_is(m, _AER), m.msource == j, s.currentTerm[j] == m.mterm),
                s.state[j] == LEADER,
            )
            for m in s.slots
            for j in range(s.shape.servers)
        ]
    )


def append_entries_requests_agree_with_their_term_z3(s: SymState) -> Any:
    """AppendEntriesRequestsAgreeWithTheirTerm (see the Python predicate)."""
    c = []
    for m in s.slots:
        for i in range(s.shape.servers):
            for k in range(1, s.shape.log + 1):
                ours = z3.And(_is(m, _AER), s.loglen[i] >= k, s.logterm[i][k - 1] == m.mterm)
                c.append(z3.Implies(ours, _z_agrees(s, i, m, k)))
    return z3.And(c)


def electable_logs_hold_acked_z3(s: SymState) -> Any:
    """ElectableLogsHoldAcked (see the Python predicate)."""
    n = s.shape.servers
    electable = [z_could_win(s, x) for x in range(n)]
    c = []
    for i in range(n):
        for k in range(1, s.shape.log + 1):
            holders = count([s.matchIndex[i][j] >= k for j in range(n) if j != i])
            acked = z3.And(
                s.state[i] == LEADER,
                s.loglen[i] >= k,
                s.logterm[i][k - 1] == s.currentTerm[i],
                2 * (holders + 1) > n,
            )
            for x in range(n):
                holds = z3.And(s.loglen[x] >= k, prefix_equal(s, x, i, k))
                c.append(z3.Implies(z3.And(acked, electable[x]), holds))
    return z3.And(c)


def _z_kept(s: SymState, ld: int, f: int, k: Any, term: Any) -> Any:
    """:func:`_kept` as a formula."""
    agrees = z3.And(s.loglen[f] >= k, prefix_equal(s, ld, f, k))
    return z3.And(k <= s.loglen[ld], z3.Implies(s.currentTerm[f] == term, agrees))


def match_index_agrees_z3(s: SymState) -> Any:
    """MatchIndexAgrees (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for i in range(n):
        for j in range(n):
            if j == i:
                continue
            kept = _z_kept(s, i, j, s.matchIndex[i][j], s.currentTerm[i])
            c.append(z3.Implies(s.state[i] == LEADER, kept))
    return z3.And(c)


def success_responses_agree_z3(s: SymState) -> Any:
    """SuccessResponsesAgree (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for m in s.slots:
        k = m.mmatchIndex
        for i in range(n):
            for j in range(n):
                counted = z3.And(
                    _is(m, _AERESP),
                    m.msuccess,
                    m.mdest == i,
                    m.msource == j,
                    s.state[i] == LEADER,
                    s.currentTerm[i] == m.mterm,
                )
                c.append(z3.Implies(counted, _z_kept(s, i, j, k, m.mterm)))
    return z3.And(c)


def requests_hold_committed_z3(s: SymState) -> Any:
    """RequestsHoldCommitted (see the Python predicate)."""
    c = []
    for m in s.slots:
        for j in range(s.shape.servers):
            about = z3.And(_is(m, _AER), m.mterm >= s.currentTerm[j])
            c.append(z3.Implies(about, _z_agrees(s, j, m, covered(s, j))))
    return z3.And(c)
