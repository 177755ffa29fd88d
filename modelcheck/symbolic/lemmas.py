"""Helper lemmas: invariants of raft.tla that make the paper's properties inductive.

ElectionSafety holds in every reachable state, but not in every state where it holds: a state
with two candidates of one term whose vote sets overlap satisfies it and steps to one that does
not. An inductive proof (``raftmc prove``) needs the facts that rule such states out. Each
lemma is here twice, as in ``properties.py`` and ``properties_z3.py``: a Python predicate on a
:class:`~raftkit.spec.state.State` and a Z3 formula on a
:class:`~raftkit.modelcheck.symbolic.symstate.SymState`, with one name. docs/z3-proofs.md
explains why each is needed.

"Active" below means a candidate or a leader: the only roles whose votesGranted matter, and
the only ones that reached their role in their current term through Timeout, which empties the
vote sets (a follower keeps votes of an older term after UpdateTerm).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import z3

from ...spec.properties import Kind, Property
from ...spec.state import NIL, MType, Role, State, candidate_votes
from . import lemmas_commit as lc
from . import lemmas_requests as lr
from .symstate import (
    CANDIDATE,
    LEADER,
    SymState,
    entry_term,
    entry_value,
    pairs,
    quorum,
    same_entry,
)
from .symstate import candidate_votes as z_candidate_votes

# --- Python predicates ---------------------------------------------------------------------------


def _active(role: int) -> bool:
    return role in (Role.Candidate, Role.Leader)


def _granted_responses(s: State) -> list[Any]:
    return [m for m, _ in s.messages if m.mtype == MType.RequestVoteResponse and m.mvoteGranted]


def votes_granted_are_votes(s: State) -> bool:
    """VotesGrantedAreVotes: a vote counted by an active server i was cast for i in i's term:
    the voter's term is at least i's, and if equal the voter's votedFor is i."""
    for i, srv in enumerate(s.servers):
        if not _active(srv.state):
            continue
        for j in srv.votesGranted:
            voter = s.servers[j]
            if voter.currentTerm < srv.currentTerm:
                return False
            if voter.currentTerm == srv.currentTerm and voter.votedFor != i:
                return False
    return True


def granted_responses_are_votes(s: State) -> bool:
    """GrantedResponsesAreVotes: a granted RequestVote response from j to i of term t means j
    voted for i in t: j's term is at least t, and if equal j's votedFor is i."""
    for m in _granted_responses(s):
        voter = s.servers[m.msource]
        if voter.currentTerm < m.mterm:
            return False
        if voter.currentTerm == m.mterm and voter.votedFor != m.mdest:
            return False
    return True


def active_votes_disjoint(s: State) -> bool:
    """ActiveVotesDisjoint: two active servers of the same term counted no vote in common."""
    for a, b in pairs(len(s.servers)):
        x, y = s.servers[a], s.servers[b]
        if _active(x.state) and _active(y.state) and x.currentTerm == y.currentTerm:
            if set(x.votesGranted) & set(y.votesGranted):
                return False
    return True


def granted_response_not_counted_elsewhere(s: State) -> bool:
    """GrantedResponseNotCountedElsewhere: a vote still in flight from j to i in term t is not
    already counted by another active server of term t."""
    for m in _granted_responses(s):
        for k, srv in enumerate(s.servers):
            if (
                k != m.mdest
                and _active(srv.state)
                and srv.currentTerm == m.mterm
                and m.msource in srv.votesGranted
            ):
                return False
    return True


def granted_responses_one_candidate(s: State) -> bool:
    """GrantedResponsesOneCandidate: the granted responses of one voter in one term all go to
    the same server."""
    dest: dict[tuple[int, int], int] = {}
    for m in _granted_responses(s):
        if dest.setdefault((m.msource, m.mterm), m.mdest) != m.mdest:
            return False
    return True


def leader_has_quorum(s: State) -> bool:
    """LeaderHasQuorum: a leader's votesGranted is a majority (votes are never taken back)."""
    n = len(s.servers)
    return all(2 * len(srv.votesGranted) > n for srv in s.servers if srv.state == Role.Leader)


def entry_terms_at_most_current_term(s: State) -> bool:
    """EntryTermsAtMostCurrentTerm: no log holds an entry of a term later than its server's
    currentTerm (entries are created by a leader in its term, and copied only by followers that
    have adopted the sender's term)."""
    return all(e.term <= srv.currentTerm for srv in s.servers for e in srv.log)


def message_terms_at_most_sender_term(s: State) -> bool:
    """MessageTermsAtMostSenderTerm: a message's mterm is at most its sender's currentTerm, and
    an AppendEntries request's entry and prevLogTerm are at most its mterm."""
    for m, _ in s.messages:
        if m.mterm > s.servers[m.msource].currentTerm:
            return False
        if m.mtype == MType.AppendEntriesRequest:
            if m.mprevLogTerm > m.mterm or any(e.term > m.mterm for e in m.mentries):
                return False
    return True


def append_entries_match_logs(s: State) -> bool:
    """AppendEntriesMatchLogs: Log Matching between a request and a log: where a log holds an
    entry of the same index and term as an AppendEntries request's entry, it is the same entry,
    and the log's entry before it has the request's prevLogTerm."""
    for m, _ in s.messages:
        if m.mtype != MType.AppendEntriesRequest or not m.mentries:
            continue
        index, entry = m.mprevLogIndex + 1, m.mentries[0]
        for srv in s.servers:
            log = srv.log
            if len(log) >= index and log[index - 1].term == entry.term:
                if log[index - 1] != entry:
                    return False
                if index > 1 and log[index - 2].term != m.mprevLogTerm:
                    return False
    return True


def append_entries_requests_agree(s: State) -> bool:
    """AppendEntriesRequestsAgree: Log Matching between two AppendEntries requests: two requests
    carrying an entry of the same index and term carry the same entry and (past index 1) the
    same prevLogTerm (both copied it from logs that agree up to it)."""
    seen: dict[tuple[int, int], tuple[Any, int]] = {}
    for m, _ in s.messages:
        if m.mtype != MType.AppendEntriesRequest or not m.mentries:
            continue
        entry = m.mentries[0]
        key = (m.mprevLogIndex + 1, entry.term)
        # At index 1 there is no previous entry to agree on.
        mine = (entry, m.mprevLogTerm if m.mprevLogIndex else 0)
        if seen.setdefault(key, mine) != mine:
            return False
    return True


def _terms_in_use(s: State) -> set[int]:
    """Terms that have had a leader: a leader's current term; the term of every entry in a log
    or in an AppendEntries request, and a request's prevLogTerm (only the leader of a term
    creates its entries); the term of every AppendEntries request (only leaders send them) and
    of every successful response (a follower accepts only a request of its current term)."""
    terms = {srv.currentTerm for srv in s.servers if srv.state == Role.Leader}
    terms.update(e.term for srv in s.servers for e in srv.log)
    for m, _ in s.messages:
        if m.mtype == MType.AppendEntriesRequest:
            terms.add(m.mterm)
            terms.update(e.term for e in m.mentries)
            if m.mprevLogIndex:
                terms.add(m.mprevLogTerm)
        elif m.mtype == MType.AppendEntriesResponse and m.msuccess:
            terms.add(m.mterm)
    return terms


def votes_for_servers_of_the_term(s: State) -> bool:
    """VotesForServersOfTheTerm: a vote for i in term t (a voter's votedFor in its term t, or a
    granted response to i of term t) has i at term t or later (a vote answers i's RequestVote of
    term t, sent by i in term t)."""
    for voter in s.servers:
        if voter.votedFor != NIL and s.servers[voter.votedFor].currentTerm < voter.currentTerm:
            return False
    return all(s.servers[m.mdest].currentTerm >= m.mterm for m in _granted_responses(s))


def elected_terms_have_voter_majority(s: State) -> bool:
    """ElectedTermsHaveVoterMajority: for a term t that had a leader (a leader of t exists, or an
    entry of term t does), a majority of servers are past t, or in t with their vote cast."""
    n = len(s.servers)
    for t in _terms_in_use(s):
        cast = sum(
            1
            for srv in s.servers
            if srv.currentTerm > t or (srv.currentTerm == t and srv.votedFor != NIL)
        )
        if 2 * cast <= n:
            return False
    return True


def elected_terms_no_second_winner(s: State) -> bool:
    """ElectedTermsNoSecondWinner: in a term t that had a leader, no candidate of t holds or can
    still get the votes of a majority (those voted for the leader)."""
    n = len(s.servers)
    terms = _terms_in_use(s)
    for i, srv in enumerate(s.servers):
        if srv.state == Role.Candidate and srv.currentTerm in terms:
            if 2 * len(candidate_votes(s, i)[1]) > n:
                return False
    return True


def leader_holds_entries_of_its_term(s: State) -> bool:
    """LeaderHoldsEntriesOfItsTerm: a leader of term t holds, at the same index, every entry of
    term t in a log or an AppendEntries request (only it creates entries of t, and a leader
    never removes entries)."""
    for leader in s.servers:
        if leader.state != Role.Leader:
            continue
        t, own = leader.currentTerm, leader.log
        found = [(k, e) for srv in s.servers for k, e in enumerate(srv.log) if e.term == t]
        for m, _ in s.messages:
            if m.mtype == MType.AppendEntriesRequest:
                found.extend((m.mprevLogIndex, e) for e in m.mentries if e.term == t)
        for k, e in found:
            if len(own) <= k or own[k] != e:
                return False
    return True


# --- Z3 formulas ----------------------------------------------------------------------------------


def _z_active(s: SymState, i: int) -> Any:
    return z3.Or(s.state[i] == CANDIDATE, s.state[i] == LEADER)


def _z_granted(slot: Any) -> Any:
    return z3.And(slot.present, slot.mtype == int(MType.RequestVoteResponse), slot.mvoteGranted)


def _z_voted_for(s: SymState, voter: Any, term: Any, candidate: Any) -> Any:
    """The voter (symbolic server index allowed) is at term >= t, and at t voted for candidate."""
    c = []
    for j in range(s.shape.servers):
        c.append(
            z3.Implies(
                voter == j,
                z3.And(
                    s.currentTerm[j] >= term,
                    z3.Implies(s.currentTerm[j] == term, s.votedFor[j] == candidate),
                ),
            )
        )
    return z3.And(c)


def votes_granted_are_votes_z3(s: SymState) -> Any:
    """VotesGrantedAreVotes (see the Python predicate)."""
    n = s.shape.servers
    return z3.And(
        [
            z3.Implies(
                z3.And(_z_active(s, i), s.votesGranted[i][j]),
                _z_voted_for(s, z3.IntVal(j), s.currentTerm[i], i),
            )
            for i in range(n)
            for j in range(n)
        ]
    )


def granted_responses_are_votes_z3(s: SymState) -> Any:
    """GrantedResponsesAreVotes (see the Python predicate)."""
    return z3.And(
        [z3.Implies(_z_granted(m), _z_voted_for(s, m.msource, m.mterm, m.mdest)) for m in s.slots]
    )


def active_votes_disjoint_z3(s: SymState) -> Any:
    """ActiveVotesDisjoint (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for a, b in pairs(n):
        both = z3.And(_z_active(s, a), _z_active(s, b), s.currentTerm[a] == s.currentTerm[b])
        common = z3.Or([z3.And(s.votesGranted[a][j], s.votesGranted[b][j]) for j in range(n)])
        c.append(z3.Not(z3.And(both, common)))
    return z3.And(c)


def granted_response_not_counted_elsewhere_z3(s: SymState) -> Any:
    """GrantedResponseNotCountedElsewhere (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for m in s.slots:
        for k in range(n):
            counted = z3.Or([z3.And(m.msource == j, s.votesGranted[k][j]) for j in range(n)])
            c.append(
                z3.Not(
                    z3.And(
                        _z_granted(m),
                        m.mdest != k,
                        _z_active(s, k),
                        s.currentTerm[k] == m.mterm,
                        counted,
                    )
                )
            )
    return z3.And(c)


def granted_responses_one_candidate_z3(s: SymState) -> Any:
    """GrantedResponsesOneCandidate (see the Python predicate)."""
    c = []
    for a, b in pairs(len(s.slots)):
        x, y = s.slots[a], s.slots[b]
        same_vote = z3.And(_z_granted(x), _z_granted(y), x.msource == y.msource, x.mterm == y.mterm)
        c.append(z3.Implies(same_vote, x.mdest == y.mdest))
    return z3.And(c)


def leader_has_quorum_z3(s: SymState) -> Any:
    """LeaderHasQuorum (see the Python predicate)."""
    n = s.shape.servers
    return z3.And(
        [z3.Implies(s.state[i] == LEADER, quorum(s.votesGranted[i], n)) for i in range(n)]
    )


def entry_terms_at_most_current_term_z3(s: SymState) -> Any:
    """EntryTermsAtMostCurrentTerm (see the Python predicate)."""
    n, L = s.shape.servers, s.shape.log
    # Entries past the end are 0 in a well-formed state, so every slot of the log can be asked.
    return z3.And([s.logterm[i][k] <= s.currentTerm[i] for i in range(n) for k in range(L)])


def message_terms_at_most_sender_term_z3(s: SymState) -> Any:
    """MessageTermsAtMostSenderTerm (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for m in s.slots:
        sender = z3.And([z3.Implies(m.msource == j, m.mterm <= s.currentTerm[j]) for j in range(n)])
        ae = z3.Implies(
            m.mtype == int(MType.AppendEntriesRequest),
            z3.And(m.mprevLogTerm <= m.mterm, m.eterm <= m.mterm),
        )
        c.append(z3.Implies(m.present, z3.And(sender, ae)))
    return z3.And(c)


def append_entries_match_logs_z3(s: SymState) -> Any:
    """AppendEntriesMatchLogs (see the Python predicate)."""
    c = []
    for m in s.slots:
        index = m.mprevLogIndex + 1
        for i in range(s.shape.servers):
            same = z3.And(
                m.present,
                m.mtype == int(MType.AppendEntriesRequest),
                m.nentries == 1,
                s.loglen[i] >= index,
                entry_term(s, i, index) == m.eterm,
            )
            holds = z3.And(
                entry_value(s, i, index) == m.evalue,
                z3.Implies(index > 1, entry_term(s, i, m.mprevLogIndex) == m.mprevLogTerm),
            )
            c.append(z3.Implies(same, holds))
    return z3.And(c)


def append_entries_requests_agree_z3(s: SymState) -> Any:
    """AppendEntriesRequestsAgree (see the Python predicate)."""
    c = []
    for a, b in pairs(len(s.slots)):
        x, y = s.slots[a], s.slots[b]
        both = z3.And(
            *[
                z3.And(m.present, m.mtype == int(MType.AppendEntriesRequest), m.nentries == 1)
                for m in (x, y)
            ],
            x.mprevLogIndex == y.mprevLogIndex,
            x.eterm == y.eterm,
        )
        prev = z3.Implies(x.mprevLogIndex > 0, x.mprevLogTerm == y.mprevLogTerm)
        c.append(z3.Implies(both, z3.And(x.evalue == y.evalue, prev)))
    return z3.And(c)


def _z_terms_in_use(s: SymState) -> list[tuple[Any, Any]]:
    """(condition, term) pairs: the terms of :func:`_terms_in_use`."""
    n, L = s.shape.servers, s.shape.log
    out = [(s.state[i] == LEADER, s.currentTerm[i]) for i in range(n)]
    out += [(s.loglen[i] > k, s.logterm[i][k]) for i in range(n) for k in range(L)]
    out += [
        (z3.And(m.present, m.mtype == int(MType.AppendEntriesRequest), m.nentries == 1), m.eterm)
        for m in s.slots
    ]
    out += [
        (z3.And(m.present, m.mtype == int(MType.AppendEntriesRequest)), m.mterm) for m in s.slots
    ]
    out += [
        (
            z3.And(m.present, m.mtype == int(MType.AppendEntriesRequest), m.mprevLogIndex >= 1),
            m.mprevLogTerm,
        )
        for m in s.slots
    ]
    out += [
        (z3.And(m.present, m.mtype == int(MType.AppendEntriesResponse), m.msuccess), m.mterm)
        for m in s.slots
    ]
    return out


def votes_for_servers_of_the_term_z3(s: SymState) -> Any:
    """VotesForServersOfTheTerm (see the Python predicate)."""
    n = s.shape.servers
    votes = [
        z3.Implies(s.votedFor[j] == i, s.currentTerm[i] >= s.currentTerm[j])
        for j in range(n)
        for i in range(n)
    ]
    responses = [
        z3.Implies(z3.And(_z_granted(m), m.mdest == i), s.currentTerm[i] >= m.mterm)
        for m in s.slots
        for i in range(n)
    ]
    return z3.And(votes + responses)


def elected_terms_have_voter_majority_z3(s: SymState) -> Any:
    """ElectedTermsHaveVoterMajority (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for used, t in _z_terms_in_use(s):
        cast = [
            z3.Or(s.currentTerm[j] > t, z3.And(s.currentTerm[j] == t, s.votedFor[j] != NIL))
            for j in range(n)
        ]
        c.append(z3.Implies(used, quorum(cast, n)))
    return z3.And(c)


def elected_terms_no_second_winner_z3(s: SymState) -> Any:
    """ElectedTermsNoSecondWinner (see the Python predicate)."""
    n = s.shape.servers
    c = []
    for i in range(n):
        t = s.currentTerm[i]
        used = z3.Or([z3.And(u, term == t) for u, term in _z_terms_in_use(s)])
        may = z_candidate_votes(s, i)[1]
        c.append(z3.Implies(z3.And(s.state[i] == CANDIDATE, used), z3.Not(quorum(may, n))))
    return z3.And(c)


def leader_holds_entries_of_its_term_z3(s: SymState) -> Any:
    """LeaderHoldsEntriesOfItsTerm (see the Python predicate)."""
    n, L = s.shape.servers, s.shape.log
    c = []
    for ld in range(n):
        t = s.currentTerm[ld]
        for i in range(n):
            if i == ld:
                continue
            for k in range(L):
                has = z3.And(s.loglen[i] > k, s.logterm[i][k] == t)
                c.append(
                    z3.Implies(
                        z3.And(s.state[ld] == LEADER, has),
                        z3.And(s.loglen[ld] > k, same_entry(s, ld, i, k)),
                    )
                )
        for m in s.slots:
            has = z3.And(
                m.present, m.mtype == int(MType.AppendEntriesRequest), m.nentries == 1, m.eterm == t
            )
            index = m.mprevLogIndex + 1
            c.append(
                z3.Implies(
                    z3.And(s.state[ld] == LEADER, has),
                    z3.And(
                        s.loglen[ld] >= index,
                        entry_term(s, ld, index) == m.eterm,
                        entry_value(s, ld, index) == m.evalue,
                    ),
                )
            )
    return z3.And(c)


# --- the registry ---------------------------------------------------------------------------------


#: The Z3 formula of each lemma (the lemmas are spec properties of kind invariant, section
#: "lemma", checked by proofs rather than by ``raftmc check``).
LEMMA_FORMULAS: dict[Property, Callable[[SymState], Any]] = {}


def _lemma(
    name: str, holds: Callable[[State], bool], formula: Callable[[SymState], Any]
) -> Property:
    """A helper invariant, as a Python predicate and as a Z3 formula."""
    prop = Property(name, Kind.INVARIANT, holds, "lemma", symbolic=True)
    LEMMA_FORMULAS[prop] = formula
    return prop


# Towards StateMachineSafety (lemmas_commit.py).
_COMMIT = (
    _lemma(
        "AppendEntriesNotToSelf",
        lr.append_entries_not_to_self,
        lr.append_entries_not_to_self_z3,
    ),
    _lemma(
        "AppendEntriesRequestShape",
        lr.append_entries_request_shape,
        lr.append_entries_request_shape_z3,
    ),
    _lemma("CommitIndexWithinLog", lc.commit_index_within_log, lc.commit_index_within_log_z3),
    _lemma("LogTermsNeverDecrease", lr.log_terms_never_decrease, lr.log_terms_never_decrease_z3),
    _lemma(
        "RequestsMatchTheSenderLog",
        lr.requests_match_the_sender_log,
        lr.requests_match_the_sender_log_z3,
    ),
    _lemma(
        "AppendEntriesRequestsFromTheTermLeader",
        lr.append_entries_requests_from_the_term_leader,
        lr.append_entries_requests_from_the_term_leader_z3,
    ),
    _lemma(
        "LeaderHoldsRequestPrevEntries",
        lr.leader_holds_request_prev_entries,
        lr.leader_holds_request_prev_entries_z3,
    ),
    _lemma(
        "RequestsFollowEntriesOfTheirTerm",
        lr.requests_follow_entries_of_their_term,
        lr.requests_follow_entries_of_their_term_z3,
    ),
    _lemma("RequestsOfATermAgree", lr.requests_of_a_term_agree, lr.requests_of_a_term_agree_z3),
    _lemma(
        "AppendEntriesRequestsAgreeWithTheirTerm",
        lr.append_entries_requests_agree_with_their_term,
        lr.append_entries_requests_agree_with_their_term_z3,
    ),
    _lemma(
        "ElectableLogsHoldAcked",
        lc.electable_logs_hold_acked,
        lc.electable_logs_hold_acked_z3,
    ),
    _lemma(
        "AckedEntriesStayWithTheirHolders",
        lc.acked_entries_stay_with_their_holders,
        lc.acked_entries_stay_with_their_holders_z3,
    ),
    _lemma("MatchIndexAgrees", lc.match_index_agrees, lc.match_index_agrees_z3),
    _lemma("SuccessResponsesAgree", lc.success_responses_agree, lc.success_responses_agree_z3),
    _lemma(
        "MatchedServersReachedTheTerm",
        lc.matched_servers_reached_the_term,
        lc.matched_servers_reached_the_term_z3,
    ),
    _lemma(
        "VoteRequestsCarryTheCandidateLog",
        lr.vote_requests_carry_the_candidate_log,
        lr.vote_requests_carry_the_candidate_log_z3,
    ),
    _lemma(
        "CandidateLogCoversItsVoters",
        lc.candidate_log_covers_its_voters,
        lc.candidate_log_covers_its_voters_z3,
    ),
    _lemma("RequestsHoldCommitted", lc.requests_hold_committed, lc.requests_hold_committed_z3),
    _lemma(
        "CommittedEntriesHaveACommit",
        lc.committed_entries_have_a_commit,
        lc.committed_entries_have_a_commit_z3,
    ),
    _lemma(
        "RequestCommitsHaveACommit",
        lc.request_commits_have_a_commit,
        lc.request_commits_have_a_commit_z3,
    ),
    _lemma("AckedEntriesAreCommits", lc.acked_entries_are_commits, lc.acked_entries_are_commits_z3),
    _lemma(
        "ConflictingRequestsAreOutdated",
        lc.conflicting_requests_are_outdated,
        lc.conflicting_requests_are_outdated_z3,
    ),
)

LEMMAS: dict[str, Property] = {
    lemma.name: lemma
    for lemma in (
        _lemma("VotesGrantedAreVotes", votes_granted_are_votes, votes_granted_are_votes_z3),
        _lemma(
            "GrantedResponsesAreVotes", granted_responses_are_votes, granted_responses_are_votes_z3
        ),
        _lemma("ActiveVotesDisjoint", active_votes_disjoint, active_votes_disjoint_z3),
        _lemma(
            "GrantedResponseNotCountedElsewhere",
            granted_response_not_counted_elsewhere,
            granted_response_not_counted_elsewhere_z3,
        ),
        _lemma(
            "GrantedResponsesOneCandidate",
            granted_responses_one_candidate,
            granted_responses_one_candidate_z3,
        ),
        _lemma("LeaderHasQuorum", leader_has_quorum, leader_has_quorum_z3),
        _lemma(
            "EntryTermsAtMostCurrentTerm",
            entry_terms_at_most_current_term,
            entry_terms_at_most_current_term_z3,
        ),
        _lemma("AppendEntriesMatchLogs", append_entries_match_logs, append_entries_match_logs_z3),
        _lemma(
            "MessageTermsAtMostSenderTerm",
            message_terms_at_most_sender_term,
            message_terms_at_most_sender_term_z3,
        ),
        _lemma(
            "AppendEntriesRequestsAgree",
            append_entries_requests_agree,
            append_entries_requests_agree_z3,
        ),
        _lemma(
            "VotesForServersOfTheTerm",
            votes_for_servers_of_the_term,
            votes_for_servers_of_the_term_z3,
        ),
        _lemma(
            "ElectedTermsHaveVoterMajority",
            elected_terms_have_voter_majority,
            elected_terms_have_voter_majority_z3,
        ),
        _lemma(
            "ElectedTermsNoSecondWinner",
            elected_terms_no_second_winner,
            elected_terms_no_second_winner_z3,
        ),
        _lemma(
            "LeaderHoldsEntriesOfItsTerm",
            leader_holds_entries_of_its_term,
            leader_holds_entries_of_its_term_z3,
        ),
        *_COMMIT,
    )
}

#: The lemmas of lemmas_commit.py: with the LogMatching set they make StateMachineSafety
#: inductive (docs/z3-proofs.md). BMC's strengthening leaves them out: with them it was slower
#: (houdini.py).
COMMIT_LEMMAS: tuple[str, ...] = tuple(lemma.name for lemma in _COMMIT)

# One leader per term: what ElectionSafety needs, and what LogMatching builds on.
_ELECTION = (
    "VotesGrantedAreVotes",
    "GrantedResponsesAreVotes",
    "ActiveVotesDisjoint",
    "GrantedResponseNotCountedElsewhere",
    "GrantedResponsesOneCandidate",
    "LeaderHasQuorum",
)

#: The lemmas `raftmc prove --invariant NAME` uses unless --lemma or --no-lemmas says otherwise.
DEFAULT_LEMMAS: dict[str, Sequence[str]] = {
    "ElectionSafety": _ELECTION,
    # Only the leader of a term creates that term's entries (LeaderHoldsEntriesOfItsTerm); a
    # term has at most one leader, and once it had one no candidate of the term can win
    # (the election lemmas, ElectedTerms*); requests carry entries that match logs.
    "LogMatching": (
        "EntryTermsAtMostCurrentTerm",
        "MessageTermsAtMostSenderTerm",
        "AppendEntriesMatchLogs",
        *_ELECTION,
        "VotesForServersOfTheTerm",
        "ElectedTermsHaveVoterMajority",
        "ElectedTermsNoSecondWinner",
        "LeaderHoldsEntriesOfItsTerm",
        "AppendEntriesRequestsAgree",
    ),
}

# Commitment: what a leader counts as stored on a majority, and what a commit promises, from
# the commit's term on (lemmas_commit.py), on top of one leader per term and Log Matching.
DEFAULT_LEMMAS["StateMachineSafety"] = (
    "LogMatching",
    "LeaderCompleteness",
    "ElectionSafety",
    "ElectableLogsHoldCommitted",
    *DEFAULT_LEMMAS["LogMatching"],
    *COMMIT_LEMMAS,
)

__all__ = [
    "LEMMAS",
    "DEFAULT_LEMMAS",
    "COMMIT_LEMMAS",
    "NIL",
]
