"""Lemmas about replication and commitment, with which StateMachineSafety is inductive.

StateMachineSafety (§5.4.3) rests on what a leader's bookkeeping promises: an entry it counts
as stored on a majority (matchIndex, and the successful AppendEntries responses on their way)
really is in those logs, and an entry stored on a majority in the leader's own term is in every
log that could still win an election. Above all it rests on when an entry was committed, which
the state does not record: the lemmas here say it with a witness instead, a commit (an entry
of some term c stored by a majority that has reached c) that every leader, winnable candidate,
log and request of term c or later agrees with. Each is a Python predicate and a Z3 formula
with one name (registered in ``lemmas.LEMMAS``); docs/z3-proofs.md tells the proof.

Every lemma here holds in every reachable state of the configurations checked in the tests,
with faults and without.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import z3

from ...spec.state import (
    MType,
    Role,
    State,
    candidate_votes,
    could_win,
    last_term,
    log_up_to_date,
)
from .lemmas_requests import AER, AERESP, agrees, is_message, requests_in, z_agrees
from .symstate import (
    CANDIDATE,
    LEADER,
    SymState,
    count,
    covered,
    entry_term,
    entry_value,
    holds_prefix,
    prefix_equal,
    quorum,
    same_entry,
    up_to_date,
)
from .symstate import candidate_votes as z_candidate_votes
from .symstate import could_win as z_could_win
from .symstate import last_term as z_last_term

# --- Python predicates ---------------------------------------------------------------------------


def commit_index_within_log(s: State) -> bool:
    """CommitIndexWithinLog: no server's commitIndex passes the end of its log (a follower sets
    it from leaderCommit only after its log matches up to there, Figure 2 receiver rule 5; and a
    committed entry is never truncated)."""
    return all(srv.commitIndex <= len(srv.log) for srv in s.servers)


def _counted(s: State, i: int, j: int, k: int) -> bool:
    """Leader i counts (or will, on a success response of its term on its way) server j as
    storing its log up to k."""
    ld = s.servers[i]
    if j == i:
        return False
    if ld.matchIndex[j] >= k:
        return True
    return any(
        m.mtype == MType.AppendEntriesResponse
        and m.msuccess
        and (m.msource, m.mdest, m.mterm) == (j, i, ld.currentTerm)
        and m.mmatchIndex >= k
        for m, _ in s.messages
    )


def _acked_indexes(s: State, i: int) -> list[int]:
    """The indexes of leader i's log holding an entry of its current term that a majority
    stores by i's matchIndex and the success responses on their way to it (i counted): what i
    may commit (§5.4.2)."""
    ld, n = s.servers[i], len(s.servers)
    out = []
    for k in range(1, len(ld.log) + 1):
        if ld.log[k - 1].term != ld.currentTerm:
            continue
        holders = 1 + sum(1 for j in range(n) if _counted(s, i, j, k))
        if 2 * holders > n:
            out.append(k)
    return out


def _acked(s: State, i: int) -> int:
    """The last of :func:`_acked_indexes`, 0 if none: what i may commit next."""
    return max(_acked_indexes(s, i), default=0)


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


def acked_entries_stay_with_their_holders(s: State) -> bool:
    """AckedEntriesStayWithTheirHolders: a server a leader counts among the majority storing an
    entry of the leader's term still stores it, whatever term that server has reached since:
    every log that could win an election holds the entry (ElectableLogsHoldAcked), so no later
    leader overwrites it (§5.4.3, one step before the commit)."""
    for i, ld in enumerate(s.servers):
        if ld.state != Role.Leader:
            continue
        for k in _acked_indexes(s, i):
            for j, f in enumerate(s.servers):
                if _counted(s, i, j, k) and f.log[:k] != ld.log[:k]:
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


def matched_servers_reached_the_term(s: State) -> bool:
    """MatchedServersReachedTheTerm: a leader's positive matchIndex for a server, and a
    successful AppendEntries response the leader would count, come from a server that has
    reached the leader's term (Figure 2: a follower answers success only to a request of its own
    current term, and terms only grow, §5.1; raft.tla's BecomeLeader resets matchIndex to 0)."""
    for i, ld in enumerate(s.servers):
        if ld.state != Role.Leader:
            continue
        for j, f in enumerate(s.servers):
            if j != i and ld.matchIndex[j] > 0 and f.currentTerm < ld.currentTerm:
                return False
    for m, _ in s.messages:
        if m.mtype != MType.AppendEntriesResponse or not m.msuccess:
            continue
        if s.servers[m.msource].currentTerm < m.mterm:
            return False
    return True


def requests_hold_committed(s: State) -> bool:
    """RequestsHoldCommitted: an AppendEntries request of a term at least a server's currentTerm
    carries, where that server's commitIndex covers it, the server's entry (and prevLogTerm):
    the entry was committed in a term no later than the server's, and the leader of any later or
    equal term holds it (Leader Completeness, §5.4)."""
    for m in requests_in(s):
        for srv in s.servers:
            top = min(srv.commitIndex, len(srv.log))
            if m.mterm >= srv.currentTerm and not agrees(srv.log, m, top):
                return False
    return True


def conflicting_requests_are_outdated(s: State) -> bool:
    """ConflictingRequestsAreOutdated: an AppendEntries request that disagrees with an entry a
    server knows committed is outdated: a majority of logs end in a later term than the
    request's, so no log that takes its entry can win an election (§5.4.1). The entry was
    committed in a later term than the request's (a leader of the commit's term or later holds
    it, §5.4.3), and that commit put an entry of its term on a majority (Figure 8)."""
    logs = [srv.log for srv in s.servers]
    for m in requests_in(s):
        if all(agrees(srv.log, m, min(srv.commitIndex, len(srv.log))) for srv in s.servers):
            continue
        if 2 * sum(1 for log in logs if last_term(log) > m.mterm) <= len(logs):
            return False
    return True


def _commit_witness(s: State, w: int, k: int, log: Any, top: int) -> bool:
    """Whether entry k of w's log could be the commit that covers ``log[:top]``: w's log agrees
    with it up to top, and with c the term of w's entry k, a majority of servers have reached
    term c and hold w's log up to k, every leader of a term c or later holds it, and so does
    every candidate of such a term that could still win, every log up to its last entry of
    such a term (only leaders holding it made those entries), and every AppendEntries request
    of such a term agrees with it."""
    mine = s.servers[w].log[:k]
    if mine[:top] != log[:top]:
        return False
    c = mine[k - 1].term
    holders = [x for x in s.servers if x.currentTerm >= c and x.log[:k] == mine]
    if 2 * len(holders) <= len(s.servers):
        return False
    for srv in s.servers:
        late = [i for i, e in enumerate(srv.log, 1) if e.term >= c]
        if late and srv.log[: min(late[-1], k)] != mine[: min(late[-1], k)]:
            return False
    for x, srv in enumerate(s.servers):
        if srv.currentTerm < c or srv.log[:k] == mine:
            continue
        if srv.state == Role.Leader or (srv.state == Role.Candidate and _could_still_win(s, x)):
            return False
    return all(agrees(mine, m, k) for m in requests_in(s) if m.mterm >= c)


def committed_entries_have_a_commit(s: State) -> bool:
    """CommittedEntriesHaveACommit: what a server knows committed was covered by a commit: an
    entry of some term c, at or past it, that a majority stores having reached term c, and
    that every leader (and every AppendEntries request) of term c or later holds. A leader
    commits only an entry of its own term stored on a majority (§5.4.2), and Leader
    Completeness (§5.4.3) keeps it in later leaders; the commit's term, not the server's, is
    what separates a stale request that may still disagree (Figure 8) from one that may not."""
    for srv in s.servers:
        top = min(srv.commitIndex, len(srv.log))
        if top == 0:
            continue
        if not any(
            _commit_witness(s, w, k, srv.log, top)
            for w in range(len(s.servers))
            for k in range(top, len(s.servers[w].log) + 1)
        ):
            return False
    return True


def acked_entries_are_commits(s: State) -> bool:
    """AckedEntriesAreCommits: an entry a leader counts as stored on a majority in its own term
    is already as safe as a committed one (CommittedEntriesHaveACommit's promise holds for it):
    §5.4.2's commit rule only makes known what the majority made true."""
    for i, ld in enumerate(s.servers):
        if ld.state != Role.Leader:
            continue
        k = _acked(s, i)
        if k and not _commit_witness(s, i, k, ld.log, k):
            return False
    return True


def request_commits_have_a_commit(s: State) -> bool:
    """RequestCommitsHaveACommit: the leaderCommit of an AppendEntries request was covered by a
    commit (CommittedEntriesHaveACommit's witness) of the request's term or earlier that agrees
    with the request's prevLogTerm and entry, and with every log that matches the request at
    prevLogIndex as far as both go: a server taking
    it knows committed only what that commit vouches for (Figure 2, receiver rule 5; a leader
    sends at most its own commitIndex)."""
    for m in requests_in(s):
        k, p = m.mcommitIndex, m.mprevLogIndex
        if k == 0:
            continue
        top = min(p, k)
        matching = [
            x.log[:top]
            for x in s.servers
            if p <= len(x.log) and (p == 0 or x.log[p - 1].term == m.mprevLogTerm)
        ]
        if not any(
            _commit_witness(s, w, kk, (), 0)
            and _vouches(s.servers[w].log, kk, m)
            and all(log == s.servers[w].log[:top] for log in matching)
            for w in range(len(s.servers))
            for kk in range(k, len(s.servers[w].log) + 1)
        ):
            return False
    return True


def _vouches(log: Any, kk: int, m: Any) -> bool:
    """Whether ``log``'s entry kk, a commit, can be the one request m's leaderCommit rests on:
    made no later than m's term, and ``log`` agrees with m's prevLogTerm and entry where the
    commit covers them (the sender, a leader of m's term, held the commit)."""
    p = m.mprevLogIndex
    if log[kk - 1].term > m.mterm:
        return False
    if 1 <= p <= kk and log[p - 1].term != m.mprevLogTerm:
        return False
    return m.mcommitIndex < p + 1 or (bool(m.mentries) and log[p] == m.mentries[0])


def _could_still_win(s: State, c: int) -> bool:
    """Candidate c's voters, with the servers yet to vote in its term whose logs its own is at
    least as up-to-date as (§5.4.1), make a majority."""
    voted, may = candidate_votes(s, c)
    cand = s.servers[c]
    mine, size = last_term(cand.log), len(cand.log)
    grant = voted | {x for x in may if log_up_to_date(s.servers[x].log, mine, size)}
    return 2 * len(grant) > len(s.servers)


def candidate_log_covers_its_voters(s: State) -> bool:
    """CandidateLogCoversItsVoters: while a candidate can still win (its voters and the servers
    yet to vote in its term make a majority), its log is at least as up-to-date as that of each
    server that voted for it and is still in its term. A voter grants only a log as up-to-date
    as its own (§5.4.1); no other server can lead the term then (§5.2), so no one changes the
    voter's log until it moves to a later term, and a candidate's own log does not change."""
    n = len(s.servers)
    for c, cand in enumerate(s.servers):
        if cand.state != Role.Candidate:
            continue
        voted, may = candidate_votes(s, c)
        if 2 * len(may) <= n:
            continue
        mine, size = last_term(cand.log), len(cand.log)
        for v in voted:
            voter = s.servers[v]
            if voter.currentTerm == cand.currentTerm and not log_up_to_date(voter.log, mine, size):
                return False
    return True


# --- Z3 formulas ---------------------------------------------------------------------------------


def commit_index_within_log_z3(s: SymState) -> Any:
    """CommitIndexWithinLog (see the Python predicate)."""
    return z3.And([s.commitIndex[i] <= s.loglen[i] for i in range(s.shape.servers)])


def _z_counted(s: SymState, i: int, j: int, k: int) -> Any:
    """:func:`_counted` as a formula."""
    responses = [
        z3.And(
            is_message(m, AERESP),
            m.msuccess,
            m.msource == j,
            m.mdest == i,
            m.mterm == s.currentTerm[i],
            m.mmatchIndex >= k,
        )
        for m in s.slots
    ]
    return z3.Or(s.matchIndex[i][j] >= k, *responses)


def _z_acked(s: SymState, i: int, k: int) -> Any:
    """Leader i's entry k is of its term and stored on a majority as :func:`_acked` counts."""
    n = s.shape.servers
    holders = count([_z_counted(s, i, j, k) for j in range(n) if j != i])
    return z3.And(
        s.state[i] == LEADER,
        s.loglen[i] >= k,
        s.logterm[i][k - 1] == s.currentTerm[i],
        2 * (holders + 1) > n,
    )


def _z_acked_indexes(s: SymState) -> Iterator[tuple[int, int, Any]]:
    """Every server i and index k, with the formula "k is one of :func:`_acked_indexes`
    of i" (false where i is no leader or k is not acked)."""
    for i in range(s.shape.servers):
        for k in range(1, s.shape.log + 1):
            yield i, k, _z_acked(s, i, k)


def electable_logs_hold_acked_z3(s: SymState) -> Any:
    """ElectableLogsHoldAcked (see the Python predicate)."""
    n = s.shape.servers
    electable = [z_could_win(s, x) for x in range(n)]
    return z3.And(
        [
            z3.Implies(z3.And(acked, electable[x]), holds_prefix(s, x, i, k))
            for i, k, acked in _z_acked_indexes(s)
            for x in range(n)
        ]
    )


def _z_kept(s: SymState, ld: int, f: int, k: Any, term: Any) -> Any:
    """:func:`_kept` as a formula."""
    agrees = holds_prefix(s, f, ld, k)
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
                    is_message(m, AERESP),
                    m.msuccess,
                    m.mdest == i,
                    m.msource == j,
                    s.state[i] == LEADER,
                    s.currentTerm[i] == m.mterm,
                )
                c.append(z3.Implies(counted, _z_kept(s, i, j, k, m.mterm)))
    return z3.And(c)


def matched_servers_reached_the_term_z3(s: SymState) -> Any:
    """MatchedServersReachedTheTerm (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for i in range(n):
        for j in range(n):
            if j == i:
                continue
            matched = z3.And(s.state[i] == LEADER, s.matchIndex[i][j] > 0)
            c.append(z3.Implies(matched, s.currentTerm[j] >= s.currentTerm[i]))
    for m in s.slots:
        for j in range(n):
            sent = z3.And(is_message(m, AERESP), m.msuccess, m.msource == j)
            c.append(z3.Implies(sent, s.currentTerm[j] >= m.mterm))
    return z3.And(c)


def requests_hold_committed_z3(s: SymState) -> Any:
    """RequestsHoldCommitted (see the Python predicate)."""
    c = []
    for m in s.slots:
        for j in range(s.shape.servers):
            about = z3.And(is_message(m, AER), m.mterm >= s.currentTerm[j])
            c.append(z3.Implies(about, z_agrees(s, j, m, covered(s, j))))
    return z3.And(c)


def conflicting_requests_are_outdated_z3(s: SymState) -> Any:
    """ConflictingRequestsAreOutdated (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for m in s.slots:
        agree = z3.And([z_agrees(s, j, m, covered(s, j)) for j in range(n)])
        outdated = quorum([z_last_term(s, x) > m.mterm for x in range(n)], n)
        c.append(z3.Implies(z3.And(is_message(m, AER), z3.Not(agree)), outdated))
    return z3.And(c)


def acked_entries_stay_with_their_holders_z3(s: SymState) -> Any:
    """AckedEntriesStayWithTheirHolders (see the Python predicate)."""
    n = s.shape.servers
    return z3.And(
        [
            z3.Implies(z3.And(acked, _z_counted(s, i, j, k)), holds_prefix(s, j, i, k))
            for i, k, acked in _z_acked_indexes(s)
            for j in range(n)
            if j != i
        ]
    )


def _z_commit_witness(s: SymState, w: int, k: int, j: int, top: Any) -> Any:
    """:func:`_commit_witness` as a formula, for w's entry k and server j's log up to top."""
    n = s.shape.servers
    c = s.logterm[w][k - 1]
    holds = [holds_prefix(s, x, w, k) for x in range(n)]
    conds = [
        s.loglen[w] >= k,
        top <= k,
        prefix_equal(s, w, j, top),
        quorum([z3.And(s.currentTerm[x] >= c, holds[x]) for x in range(n)], n),
    ]
    for x in range(n):
        for i in range(1, s.shape.log + 1):
            late = z3.And(s.loglen[x] >= i, s.logterm[x][i - 1] >= c)
            conds.append(z3.Implies(late, prefix_equal(s, x, w, min(i, k))))
    for x in range(n):
        bound = z3.Or(
            s.state[x] == LEADER, z3.And(s.state[x] == CANDIDATE, _z_could_still_win(s, x))
        )
        conds.append(z3.Implies(z3.And(bound, s.currentTerm[x] >= c), holds[x]))
    for m in s.slots:
        conds.append(z3.Implies(z3.And(is_message(m, AER), m.mterm >= c), z_agrees(s, w, m, k)))
    return z3.And(conds)


def committed_entries_have_a_commit_z3(s: SymState) -> Any:
    """CommittedEntriesHaveACommit (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for j in range(n):
        witnesses = [
            _z_commit_witness(s, w, k, j, covered(s, j))
            for w in range(n)
            for k in range(1, s.shape.log + 1)
        ]
        c.append(z3.Implies(covered(s, j) > 0, z3.Or(witnesses)))
    return z3.And(c)


def acked_entries_are_commits_z3(s: SymState) -> Any:
    """AckedEntriesAreCommits (see the Python predicate)."""
    return z3.And(
        [z3.Implies(acked, _z_commit_witness(s, i, k, i, k)) for i, k, acked in _z_acked_indexes(s)]
    )


def request_commits_have_a_commit_z3(s: SymState) -> Any:
    """RequestCommitsHaveACommit (see the Python predicate)."""
    n, L = s.shape.servers, s.shape.log
    c = []
    for m in s.slots:
        k, p = m.mcommitIndex, m.mprevLogIndex
        matches = [
            z3.And(p <= s.loglen[x], z3.Implies(p >= 1, entry_term(s, x, p) == m.mprevLogTerm))
            for x in range(n)
        ]
        witnesses = []
        for w in range(n):
            # The witness holds the request's entry, and every matching log agrees with it up
            # to min(prevLogIndex, leaderCommit).
            entry = z3.Implies(
                k >= p + 1,
                z3.And(entry_term(s, w, p + 1) == m.eterm, entry_value(s, w, p + 1) == m.evalue),
            )
            agree = [
                z3.Implies(
                    matches[x],
                    z3.And(
                        [z3.Implies(z3.And(i < p, i < k), same_entry(s, w, x, i)) for i in range(L)]
                    ),
                )
                for x in range(n)
            ]
            for kk in range(1, L + 1):
                vouches = z3.And(
                    s.logterm[w][kk - 1] <= m.mterm,
                    z3.Implies(z3.And(p >= 1, p <= kk), entry_term(s, w, p) == m.mprevLogTerm),
                )
                witnesses.append(
                    z3.And(k <= kk, vouches, entry, *agree, _z_commit_witness(s, w, kk, w, 0))
                )
        c.append(z3.Implies(z3.And(is_message(m, AER), k > 0), z3.Or(witnesses)))
    return z3.And(c)


def _z_could_still_win(s: SymState, x: int) -> Any:
    """:func:`_could_still_win` as a formula."""
    n = s.shape.servers
    voted, may = z_candidate_votes(s, x)
    grant = [z3.Or(voted[v], z3.And(may[v], up_to_date(s, x, v))) for v in range(n)]
    return quorum(grant, n)


def candidate_log_covers_its_voters_z3(s: SymState) -> Any:
    """CandidateLogCoversItsVoters (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for x in range(n):
        voted, may = z_candidate_votes(s, x)
        can_win = z3.And(s.state[x] == CANDIDATE, quorum(may, n))
        for v in range(n):
            behind = z3.And(
                voted[v], s.currentTerm[v] == s.currentTerm[x], z3.Not(up_to_date(s, x, v))
            )
            c.append(z3.Not(z3.And(can_win, behind)))
    return z3.And(c)
