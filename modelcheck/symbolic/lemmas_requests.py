"""Lemmas about AppendEntries and RequestVote requests and the logs they come from.

A request is a snapshot of its sender's log (prevLogIndex, prevLogTerm, at most one entry, in
raft.tla) taken while the sender led (or stood for) the request's term. These lemmas say what
such a snapshot keeps promising after it was sent: it agrees with the term's leader, with
every other request of the term, and with every log holding an entry of the term (§5.3, Log
Matching and Leader Append-Only). Each is a Python predicate and a Z3 formula with one name,
registered in ``lemmas.LEMMAS``; lemmas_commit.py builds on them (docs/z3-proofs.md).

Every lemma here holds in every reachable state of the configurations checked in the tests,
with faults and without.
"""

from __future__ import annotations

import itertools
from typing import Any

import z3

from ...spec.state import Entry, MType, Role, State, last_term
from .symstate import CANDIDATE, LEADER, SymState, entry_term, entry_value
from .symstate import last_term as z_last_term

AER = int(MType.AppendEntriesRequest)
AERESP = int(MType.AppendEntriesResponse)
RVRESP = int(MType.RequestVoteResponse)
RVREQ = int(MType.RequestVoteRequest)


def requests_in(s: State) -> list[Any]:
    """The AppendEntries requests in the network."""
    return [m for m, _ in s.messages if m.mtype == MType.AppendEntriesRequest]


def agrees(log: Any, m: Any, top: int) -> bool:
    """Where ``log`` reaches index ``top``, it holds request m's entry and its prevLogTerm."""
    p = m.mprevLogIndex
    if m.mentries and top >= p + 1 and log[p] != m.mentries[0]:
        return False
    return not (p >= 1 and top >= p and log[p - 1].term != m.mprevLogTerm)


def z_agrees(s: SymState, i: int, m: Any, top: Any) -> Any:
    """:func:`agrees` as a formula, for log i and message slot m."""
    p = m.mprevLogIndex
    same = z3.And(entry_term(s, i, p + 1) == m.eterm, entry_value(s, i, p + 1) == m.evalue)
    return z3.And(
        z3.Implies(z3.And(m.nentries == 1, top >= p + 1), same),
        z3.Implies(z3.And(p >= 1, top >= p), entry_term(s, i, p) == m.mprevLogTerm),
    )


def is_message(m: Any, mtype: int) -> Any:
    """Slot m holds a message of type mtype."""
    return z3.And(m.present, m.mtype == mtype)


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
    for m in requests_in(s):
        if (m.mprevLogIndex == 0) != (m.mprevLogTerm == 0):
            return False
        if m.mcommitIndex > m.mprevLogIndex + len(m.mentries):
            return False
    return True


def log_terms_never_decrease(s: State) -> bool:
    """LogTermsNeverDecrease: along every log the entries' terms never decrease, and an
    AppendEntries request's entry has a term at least its prevLogTerm (a leader appends entries
    of its current term, at least every term in its log, §5.3; followers copy its prefixes)."""
    for srv in s.servers:
        terms = [e.term for e in srv.log]
        if any(a > b for a, b in itertools.pairwise(terms)):
            return False
    return all(not m.mentries or m.mentries[0].term >= m.mprevLogTerm for m in requests_in(s))


def requests_match_the_sender_log(s: State) -> bool:
    """RequestsMatchTheSenderLog: an AppendEntries request from a server still in the request's
    term agrees with that server's log (prevLogIndex within it, prevLogTerm and the entry as in
    it). The sender led that term, and while it is in it its log only grows: a leader only
    appends (Leader Append-Only, §5.3), and the term has no other leader to change it, also
    after a restart (faults), which makes the sender a follower of the same term. Not its
    leaderCommit: raft.tla lets a leader's commitIndex go down when a reordered response lowers
    a matchIndex."""
    for m in requests_in(s):
        src = s.servers[m.msource]
        if src.currentTerm != m.mterm:
            continue
        log, p = src.log, m.mprevLogIndex
        if p > len(log) or (m.mentries and len(log) < p + 1) or not agrees(log, m, len(log)):
            return False
    return True


def append_entries_requests_from_the_term_leader(s: State) -> bool:
    """AppendEntriesRequestsFromTheTermLeader: an AppendEntries request of a term that has a
    leader was sent by that leader (only leaders send them, §5.3, and a term has at most one,
    §5.2)."""
    for m in requests_in(s):
        for i, srv in enumerate(s.servers):
            if srv.state == Role.Leader and srv.currentTerm == m.mterm and m.msource != i:
                return False
    return True


def leader_holds_request_prev_entries(s: State) -> bool:
    """LeaderHoldsRequestPrevEntries: a leader of term t has an entry of term t at index p for
    every AppendEntries request whose prevLogTerm is t at prevLogIndex p (the request vouches
    for an entry only the leader of t created, and a leader never removes entries, §5.3)."""
    for ld in s.servers:
        if ld.state != Role.Leader:
            continue
        for m in requests_in(s):
            p = m.mprevLogIndex
            if p >= 1 and m.mprevLogTerm == ld.currentTerm:
                if len(ld.log) < p or ld.log[p - 1].term != m.mprevLogTerm:
                    return False
    return True


def requests_follow_entries_of_their_term(s: State) -> bool:
    """RequestsFollowEntriesOfTheirTerm: where any log or request holds an entry of a request's
    term at or before its prevLogIndex, the request's prevLogTerm is that term: only the term's
    leader made the entry, at that index of its own log, before it sent the request, and terms
    never decrease along its log."""
    requests = requests_in(s)
    for m in requests:
        p = m.mprevLogIndex
        ours = any(e.term == m.mterm for srv in s.servers for e in srv.log[:p]) or any(
            o.mentries and o.mentries[0].term == m.mterm and o.mprevLogIndex + 1 <= p
            for o in requests
        )
        if ours and m.mprevLogTerm != m.mterm:
            return False
    return True


def _view(m: Any) -> dict[int, tuple[int, Entry | None]]:
    """What request m says of its sender's log, index by index: the term at prevLogIndex (the
    entry itself is not sent), and the entry after it with its term."""
    out: dict[int, tuple[int, Entry | None]] = {}
    if m.mprevLogIndex >= 1:
        out[m.mprevLogIndex] = (m.mprevLogTerm, None)
    if m.mentries:
        entry = m.mentries[0]
        out[m.mprevLogIndex + 1] = (entry.term, entry)
    return out


def requests_of_a_term_agree(s: State) -> bool:
    """RequestsOfATermAgree: two AppendEntries requests of one term say the same of the index
    both speak of (prevLogTerm, or the entry and its term): the term's one leader (§5.2) sent
    both from its log, which only grows during its term (Leader Append-Only, §5.3)."""
    views = [(m.mterm, _view(m)) for m in requests_in(s)]
    for t, a in views:
        for u, b in views:
            if t != u:
                continue
            for k in a.keys() & b.keys():
                (tx, x), (ty, y) = a[k], b[k]
                if tx != ty or (x is not None and y is not None and x != y):
                    return False
    return True


def append_entries_requests_agree_with_their_term(s: State) -> bool:
    """AppendEntriesRequestsAgreeWithTheirTerm: where a log holds an entry of a request's term at
    or past the request's entry (or its prevLogIndex), it holds the request's entry (and
    prevLogTerm) there: the term's only leader (§5.2) sent the request from a log that, growing
    only, also made that later entry, and Log Matching (§5.3) carries the prefix."""
    for m in requests_in(s):
        for srv in s.servers:
            log = srv.log
            ours = [k for k in range(1, len(log) + 1) if log[k - 1].term == m.mterm]
            if ours and not agrees(log, m, max(ours)):
                return False
    return True


def vote_requests_carry_the_candidate_log(s: State) -> bool:
    """VoteRequestsCarryTheCandidateLog: a RequestVote request from a server still candidate in
    the request's term carries its log's last term and length (Figure 2, RequestVote arguments;
    a candidate's log does not change: only leaders append, and an AppendEntries request of
    its term makes it a follower)."""
    for m, _ in s.messages:
        if m.mtype != MType.RequestVoteRequest:
            continue
        cand = s.servers[m.msource]
        if cand.state != Role.Candidate or cand.currentTerm != m.mterm:
            continue
        if (m.mlastLogTerm, m.mlastLogIndex) != (last_term(cand.log), len(cand.log)):
            return False
    return True


# --- Z3 formulas ---------------------------------------------------------------------------------


def append_entries_not_to_self_z3(s: SymState) -> Any:
    """AppendEntriesNotToSelf (see the Python predicate)."""
    return z3.And(
        [
            z3.Implies(z3.Or(is_message(m, AER), is_message(m, AERESP)), m.msource != m.mdest)
            for m in s.slots
        ]
    )


def append_entries_request_shape_z3(s: SymState) -> Any:
    """AppendEntriesRequestShape (see the Python predicate)."""
    return z3.And(
        [
            z3.Implies(
                is_message(m, AER),
                z3.And(
                    (m.mprevLogIndex == 0) == (m.mprevLogTerm == 0),
                    m.mcommitIndex <= m.mprevLogIndex + m.nentries,
                ),
            )
            for m in s.slots
        ]
    )


def log_terms_never_decrease_z3(s: SymState) -> Any:
    """LogTermsNeverDecrease (see the Python predicate)."""
    c = []
    for i in range(s.shape.servers):
        for k in range(1, s.shape.log):
            c.append(z3.Implies(s.loglen[i] > k, s.logterm[i][k - 1] <= s.logterm[i][k]))
    for m in s.slots:
        c.append(z3.Implies(z3.And(is_message(m, AER), m.nentries == 1), m.eterm >= m.mprevLogTerm))
    return z3.And(c)


def requests_match_the_sender_log_z3(s: SymState) -> Any:
    """RequestsMatchTheSenderLog (see the Python predicate)."""
    c = []
    for m in s.slots:
        p = m.mprevLogIndex
        for j in range(s.shape.servers):
            from_leader = z3.And(is_message(m, AER), m.msource == j, s.currentTerm[j] == m.mterm)
            holds = z3.And(
                p <= s.loglen[j],
                z3.Implies(m.nentries == 1, s.loglen[j] >= p + 1),
                z_agrees(s, j, m, s.loglen[j]),
            )
            c.append(z3.Implies(from_leader, holds))
    return z3.And(c)


def append_entries_requests_from_the_term_leader_z3(s: SymState) -> Any:
    """AppendEntriesRequestsFromTheTermLeader (see the Python predicate)."""
    c = []
    for m in s.slots:
        for i in range(s.shape.servers):
            leads = z3.And(is_message(m, AER), s.state[i] == LEADER, s.currentTerm[i] == m.mterm)
            c.append(z3.Implies(leads, m.msource == i))
    return z3.And(c)


def leader_holds_request_prev_entries_z3(s: SymState) -> Any:
    """LeaderHoldsRequestPrevEntries (see the Python predicate)."""
    c = []
    for m in s.slots:
        p = m.mprevLogIndex
        for i in range(s.shape.servers):
            about = z3.And(
                is_message(m, AER), s.state[i] == LEADER, p >= 1, m.mprevLogTerm == s.currentTerm[i]
            )
            c.append(
                z3.Implies(about, z3.And(p <= s.loglen[i], entry_term(s, i, p) == m.mprevLogTerm))
            )
    return z3.And(c)


def requests_follow_entries_of_their_term_z3(s: SymState) -> Any:
    """RequestsFollowEntriesOfTheirTerm (see the Python predicate)."""
    c = []
    for m in s.slots:
        for i in range(s.shape.servers):
            for k in range(1, s.shape.log + 1):
                ours = z3.And(
                    is_message(m, AER),
                    s.loglen[i] >= k,
                    k <= m.mprevLogIndex,
                    s.logterm[i][k - 1] == m.mterm,
                )
                c.append(z3.Implies(ours, m.mprevLogTerm == m.mterm))
        for o in s.slots:
            ours = z3.And(
                is_message(m, AER),
                is_message(o, AER),
                o.nentries == 1,
                o.eterm == m.mterm,
                o.mprevLogIndex + 1 <= m.mprevLogIndex,
            )
            c.append(z3.Implies(ours, m.mprevLogTerm == m.mterm))
    return z3.And(c)


def requests_of_a_term_agree_z3(s: SymState) -> Any:
    """RequestsOfATermAgree (see the Python predicate)."""
    c = []
    for a in s.slots:
        for b in s.slots:
            same = z3.And(is_message(a, AER), is_message(b, AER), a.mterm == b.mterm)
            pa, pb = a.mprevLogIndex, b.mprevLogIndex
            both_entries = z3.And(a.nentries == 1, b.nentries == 1, pa == pb)
            c.append(
                z3.Implies(
                    z3.And(same, both_entries), z3.And(a.eterm == b.eterm, a.evalue == b.evalue)
                )
            )
            c.append(z3.Implies(z3.And(same, pa >= 1, pa == pb), a.mprevLogTerm == b.mprevLogTerm))
            c.append(
                z3.Implies(z3.And(same, a.nentries == 1, pa + 1 == pb), a.eterm == b.mprevLogTerm)
            )
    return z3.And(c)


def append_entries_requests_agree_with_their_term_z3(s: SymState) -> Any:
    """AppendEntriesRequestsAgreeWithTheirTerm (see the Python predicate)."""
    c = []
    for m in s.slots:
        for i in range(s.shape.servers):
            for k in range(1, s.shape.log + 1):
                ours = z3.And(is_message(m, AER), s.loglen[i] >= k, s.logterm[i][k - 1] == m.mterm)
                c.append(z3.Implies(ours, z_agrees(s, i, m, k)))
    return z3.And(c)


def vote_requests_carry_the_candidate_log_z3(s: SymState) -> Any:
    """VoteRequestsCarryTheCandidateLog (see the Python predicate)."""
    c = []
    for m in s.slots:
        for x in range(s.shape.servers):
            from_candidate = z3.And(
                is_message(m, RVREQ),
                m.msource == x,
                s.state[x] == CANDIDATE,
                s.currentTerm[x] == m.mterm,
            )
            carries = z3.And(m.mlastLogTerm == z_last_term(s, x), m.mlastLogIndex == s.loglen[x])
            c.append(z3.Implies(from_candidate, carries))
    return z3.And(c)
