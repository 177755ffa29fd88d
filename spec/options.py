"""Options: what real implementations do beyond raft.tla, as actions of the spec.

raft.tla is the protocol of Ongaro's dissertation, chapter 3, reduced to its essentials. An
implementation such as ``raftkit.impl`` does more, and every behaviour it can show in a trace must
be an action of the spec, or conformance testing would have nothing to compare it with. Each
option below is a ``Params`` field, off by default; with all of them off the spec is raft.tla,
step for step (``actions.py``), and its state counts are TLC's.

``batch`` (several entries per AppendEntries; dissertation §10.2.1, "batching and pipelining")
    A leader may send any slice of up to ``batch`` entries of its log to a follower, anchored at
    any index it holds. nextIndex is then only a hint: every anchor is correct, because the
    follower's consistency check (Figure 2, receiver rule 2) decides. leaderCommit may be the
    leader's whole commitIndex: the follower caps it at the last entry the request vouches for
    (rule 5). The follower handles a request in up to three steps, as raft.tla does, but with
    Figure 2's wording: delete a conflicting entry *and all that follow it* (rule 3), append
    *any* new entries (rule 4), then reply. matchIndex and a follower's commitIndex never move
    backwards: a reordered old response or request must not undo what is known.
``prevote`` (dissertation §9.6)
    Before a real election a server asks "would you vote for me in term t+1?". Nobody changes
    term or vote for a PreVote; a server refuses it while it believes a leader is alive (leader
    stickiness; the spec lets any server refuse). Only a pre-candidate with a majority of
    pre-votes may start the election (Timeout). votesResponded and votesGranted hold the
    pre-votes of a pre-candidate.
``noop`` (dissertation §6.4)
    A new leader appends an entry of its own term with no command, so that committing it commits
    every earlier entry (a leader cannot commit entries of past terms by counting, §5.4.2).
``snapshots`` (dissertation chapter 5, Figure 13 of the Raft paper)
    A server may compact the committed prefix of its log into a snapshot. A leader sends its
    snapshot (InstallSnapshot) to a follower it cannot serve from its log. The spec keeps the
    whole log of every server, so that the safety properties still see every entry: compaction
    only moves ``snapshotIndex``, below which the entries may no longer be sent as entries.
``stepdown`` (dissertation §6.2 check-quorum, §9.6)
    A leader or (pre-)candidate may return to follower in its own term: a leader that has not
    heard from a majority for an election timeout, a candidate whose election is lost.

Every option has a mutant (``mutants.py``) that the checker catches. ``conform.py`` in
``raftkit.modelcheck`` replays implementation traces against these actions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import actions as A
from .action import Action, ActionDef, Arg, each_server, local, receiving, register
from .mutants import Mutant
from .params import Params
from .state import (
    NIL,
    RESPONSES,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    InstallSnapshotRequest,
    InstallSnapshotResponse,
    MType,
    PreVoteRequest,
    PreVoteResponse,
    RequestVoteResponse,
    Role,
    Server,
    State,
    is_quorum,
    last_term,
    log_up_to_date,
    server_name,
    set_add,
    with_message,
    without_message,
)

# The value of a no-op entry. Client values are 1..Params.values.
NOOP = 0


# --- helpers -------------------------------------------------------------------------------


# The same as raft.tla's actions use.
_set = A._set_server
_reply = A._reply


# --- server actions ------------------------------------------------------------------------


def restart(p: Params, s: State, i: int) -> State:
    """Restart(i) with snapshots: as raft.tla's, but what the snapshot covers stays committed.

    Figure 13: the snapshot is persistent, and only committed entries are ever compacted.
    """
    t = A.restart(p, s, i)
    srv = t.servers[i]
    return _set(t, i, srv._replace(commitIndex=srv.snapshotIndex))


def prevote_timeout(p: Params, s: State, i: int) -> State | None:
    """PreVoteTimeout(i): the election timer fires; with PreVote, first ask around (§9.6).

    Neither term nor vote changes. The pre-candidate's own pre-vote counts at once: a pre-vote
    changes nothing, so there is nothing to persist or to send to oneself.
    """
    srv = s.servers[i]
    if srv.state == Role.Leader:
        return None
    new = srv._replace(state=Role.PreCandidate, votesResponded=(i,), votesGranted=(i,))
    return _set(s, i, new)


def timeout(p: Params, s: State, i: int) -> State | None:
    """Timeout(i): start a real election. With PreVote, only with a majority of pre-votes.

    Figure 2, Candidates: "On conversion to candidate, start election: increment currentTerm".
    """
    if not p.prevote:
        return A.timeout(p, s, i)
    srv = s.servers[i]
    if srv.state != Role.PreCandidate or not is_quorum(srv.votesGranted, p.servers):
        return None
    return start_election(p, s, i)


def start_election(p: Params, s: State, i: int) -> State:
    """What Timeout(i) does with PreVote once the pre-votes are counted: candidate of the next
    term, with no votes yet (its own vote travels as a RequestVote, as in raft.tla)."""
    srv = s.servers[i]
    votes: tuple[int, ...] = ()
    if p.mutant is Mutant.PREVOTE_KEEPS_TALLY:
        # BUG: pre-votes promise nothing; counting them as votes elects two leaders in a term.
        votes = srv.votesGranted
    new = srv._replace(
        state=Role.Candidate,
        currentTerm=srv.currentTerm + 1,
        votedFor=NIL,
        votesResponded=votes,
        votesGranted=votes,
    )
    return _set(s, i, new)


def request_prevote(p: Params, s: State, i: int, j: int) -> State | None:
    """RequestPreVote(i, j): pre-candidate i asks j whether it would vote for i in term t+1."""
    srv = s.servers[i]
    if srv.state != Role.PreCandidate or i == j or j in srv.votesResponded:
        return None
    m = PreVoteRequest(
        MType.PreVoteRequest, srv.currentTerm + 1, last_term(srv.log), len(srv.log), i, j
    )
    return s._replace(messages=with_message(m, s.messages))


def append_noop(p: Params, s: State, i: int) -> State | None:
    """AppendNoop(i): a leader without an entry of its term appends a no-op (§6.4).

    Committing it (AdvanceCommitIndex counts only entries of the current term, §5.4.2) commits
    every entry before it.
    """
    srv = s.servers[i]
    if srv.state != Role.Leader or last_term(srv.log) == srv.currentTerm:
        return None
    noop = Entry(term=srv.currentTerm, value=NOOP)
    if p.mutant is Mutant.NOOP_OVERWRITES_LAST and srv.log:
        # BUG: an off-by-one writes the no-op over the leader's last entry instead of after it.
        return _set(s, i, srv._replace(log=srv.log[:-1] + (noop,)))
    return _set(s, i, srv._replace(log=srv.log + (noop,)))


def append_entries(
    p: Params, s: State, i: int, j: int, prev: int, count: int, whole_commit: bool
) -> State | None:
    """AppendEntries(i, j, prev, count, whole_commit): several entries per request (``batch``).

    Figure 2, Leaders: "send AppendEntries RPC with log entries starting at nextIndex". Any
    anchor ``prev`` the leader holds (not compacted) is correct: the follower's check decides.
    leaderCommit is the leader's commitIndex, or (raft.tla's choice) capped at the last entry
    sent; either is safe because the follower caps it too (receiver rule 5).
    """
    srv = s.servers[i]
    if srv.state != Role.Leader or i == j:
        return None
    log = srv.log
    if not srv.snapshotIndex <= prev <= len(log) or not 0 <= count <= min(p.batch, len(log) - prev):
        return None
    commit = srv.commitIndex if whole_commit else min(srv.commitIndex, prev + count)
    m = AppendEntriesRequest(
        mtype=MType.AppendEntriesRequest,
        mterm=srv.currentTerm,
        mprevLogIndex=prev,
        mprevLogTerm=log[prev - 1].term if prev > 0 else 0,
        mentries=log[prev : prev + count],
        mlog=(),
        mcommitIndex=commit,
        msource=i,
        mdest=j,
    )
    return s._replace(messages=with_message(m, s.messages))


def send_snapshot(p: Params, s: State, i: int, j: int) -> State | None:
    """InstallSnapshot(i, j): leader i sends j its snapshot (Figure 13, in one piece)."""
    srv = s.servers[i]
    k = srv.snapshotIndex
    if srv.state != Role.Leader or i == j or k == 0:
        return None
    m = InstallSnapshotRequest(
        MType.InstallSnapshotRequest, srv.currentTerm, k, srv.log[k - 1].term, srv.log[:k], i, j
    )
    return s._replace(messages=with_message(m, s.messages))


def compact(p: Params, s: State, i: int, k: int) -> State | None:
    """Compact(i, k): server i snapshots its state machine through entry k (chapter 5).

    Only committed entries may be compacted: a snapshot is applied state.
    """
    srv = s.servers[i]
    if not srv.snapshotIndex < k <= _compactable(p, srv):
        return None
    return _set(s, i, srv._replace(snapshotIndex=k))


def _compactable(p: Params, srv: Any) -> int:
    if p.mutant is Mutant.COMPACT_UNCOMMITTED:
        # BUG: a snapshot of entries not yet committed; after a restart the server takes them
        # as committed (what a snapshot covers is committed), though no majority may hold them.
        return len(srv.log)
    return srv.commitIndex


def step_down(p: Params, s: State, i: int) -> State | None:
    """StepDown(i): a leader or (pre-)candidate returns to follower in its own term.

    §6.2 (check-quorum): a leader that has not heard from a majority for an election timeout
    steps down. A candidate whose election is lost (or a pre-candidate refused) gives up. The
    term does not change, so the vote of this term is kept (Figure 2: votedFor is persistent).
    """
    srv = s.servers[i]
    if srv.state == Role.Follower:
        return None
    new = srv._replace(state=Role.Follower)
    if p.mutant is Mutant.STEPDOWN_FORGETS_VOTE:
        # BUG: resetting the vote in the same term lets a server vote twice in one term.
        new = new._replace(votedFor=NIL)
    return _set(s, i, new)


# --- message handlers: i = recipient, j = sender -------------------------------------------


def grant_prevote(p: Params, s: State, i: int, j: int, m: PreVoteRequest) -> State | None:
    """HandlePreVoteRequest(i, j, m), granted: i would vote for j in term m.mterm (§9.6).

    As for a vote (Figure 2, RequestVote RPC, receiver rule 2, and §5.4.1): the proposed term
    is newer than i's and j's log is at least as up-to-date as i's. Nothing changes at i.
    """
    srv = s.servers[i]
    if not (
        m.mterm > srv.currentTerm
        and log_up_to_date(srv.log, m.mlastLogTerm, m.mlastLogIndex)
    ):
        return None
    return _reply(s, PreVoteResponse(MType.PreVoteResponse, m.mterm, True, i, j), m)


def refuse_prevote(p: Params, s: State, i: int, j: int, m: PreVoteRequest) -> State | None:
    """HandlePreVoteRequest(i, j, m), refused: always allowed (§9.6: a server that believes a
    leader is alive refuses). The refusal carries i's term, so a stale pre-candidate learns it.
    """
    term = s.servers[i].currentTerm
    return _reply(s, PreVoteResponse(MType.PreVoteResponse, term, False, i, j), m)


def handle_prevote_response(
    p: Params, s: State, i: int, j: int, m: PreVoteResponse
) -> State | None:
    """HandlePreVoteResponse(i, j, m): a pre-candidate tallies a pre-vote for its next term.

    A granted pre-vote echoes term currentTerm + 1, a refusal carries the responder's term.
    Stale answers are DropStaleResponse's, a refusal of a newer term is UpdateTerm's; answers
    to an old round are discarded.
    """
    srv = s.servers[i]
    t = srv.currentTerm
    if m.mterm < t or (not m.mvoteGranted and m.mterm > t):
        return None
    relevant = srv.state == Role.PreCandidate and (
        (m.mvoteGranted and m.mterm == t + 1) or (not m.mvoteGranted and m.mterm == t)
    )
    s2 = s._replace(messages=without_message(m, s.messages))
    if not relevant:
        return s2
    new = srv._replace(votesResponded=set_add(srv.votesResponded, j))
    if m.mvoteGranted:
        new = new._replace(votesGranted=set_add(srv.votesGranted, j))
    return _set(s2, i, new)


def handle_request_vote_response(
    p: Params, s: State, i: int, j: int, m: RequestVoteResponse
) -> State | None:
    """HandleRequestVoteResponse(i, j, m) with PreVote: only a candidate tallies votes.

    (raft.tla tallies in any role; with PreVote the same variables hold pre-votes, which a real
    vote of the same term must not join.)
    """
    if not p.prevote:
        return A.handle_request_vote_response(p, s, i, j, m)
    srv = s.servers[i]
    if m.mterm != srv.currentTerm:
        return None
    if srv.state != Role.Candidate:
        return s._replace(messages=without_message(m, s.messages))
    return A.handle_request_vote_response(p, s, i, j, m)


def return_to_follower_state(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest | InstallSnapshotRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "return to follower state", for a candidate or,
    with PreVote, a pre-candidate: it hears from the leader of its term (Figure 2, Candidates:
    "If AppendEntries RPC received from new leader: convert to follower"). The message stays.
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm or srv.state not in (Role.Candidate, Role.PreCandidate):
        return None
    return _set(s, i, srv._replace(state=Role.Follower))


def _batch_conflict(srv: Server, m: AppendEntriesRequest) -> int:
    """The index of the first of the request's entries that conflicts with the log (same
    index, different term), or 0."""
    for k, e in enumerate(m.mentries):
        index = m.mprevLogIndex + k + 1
        if index <= len(srv.log) and srv.log[index - 1].term != e.term:
            return index
    return 0


def _batch_accepts(p: Params, srv: Server, m: AppendEntriesRequest) -> bool:
    """Accept request with several entries: a follower of the request's term, the log
    matching at prevLogIndex (rule 2), no conflicting entry left (rule 3)."""
    if not A._accepts(srv, m):
        return False
    # (The mutant append-ignores-conflicts is the BUG of skipping rule 3: a stale entry
    # survives under a new one's index and the reply claims a match the log does not have.)
    return p.mutant is Mutant.APPEND_IGNORES_CONFLICTS or not _batch_conflict(srv, m)


def delete_conflicting_entries(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m) with ``batch``, rule 3 (the message stays).

    Figure 2, receiver: "3. If an existing entry conflicts with a new one (same index but
    different terms), delete the existing entry and all that follow it."
    """
    srv = s.servers[i]
    if p.mutant is Mutant.APPEND_IGNORES_CONFLICTS or not A._accepts(srv, m):
        return None
    index = _batch_conflict(srv, m)
    if not index:
        return None
    return _set(s, i, srv._replace(log=srv.log[: index - 1]))


def append_new_entries(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m) with ``batch``, rule 4 (the message stays).

    Figure 2, receiver: "4. Append any new entries not already in the log."
    """
    srv = s.servers[i]
    prev, entries = m.mprevLogIndex, m.mentries
    if not _batch_accepts(p, srv, m) or prev + len(entries) <= len(srv.log):
        return None
    return _set(s, i, srv._replace(log=srv.log + entries[len(srv.log) - prev :]))


def reply_success(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m) with ``batch``: the log holds the entries; move
    commitIndex and reply success.

    Figure 2, receiver: "5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit,
    index of last new entry)." commitIndex never moves backwards here (a reordered old request
    must not undo what is known).
    """
    srv = s.servers[i]
    last_new = m.mprevLogIndex + len(m.mentries)
    if not _batch_accepts(p, srv, m) or last_new > len(srv.log):
        return None
    commit = max(srv.commitIndex, min(m.mcommitIndex, last_new))
    # The reply may vouch for the follower's whole committed prefix even when the request
    # covered less: committed entries are in the leader's log (Leader Completeness, §5.4).
    response = AppendEntriesResponse(
        MType.AppendEntriesResponse, srv.currentTerm, True, max(last_new, srv.commitIndex), i, j
    )
    return _reply(_set(s, i, srv._replace(commitIndex=commit)), response, m)


def handle_append_entries_response(
    p: Params, s: State, i: int, j: int, m: AppendEntriesResponse
) -> State | None:
    """HandleAppendEntriesResponse(i, j, m) with ``batch``: matchIndex never moves backwards.

    Figure 2, Leaders: "If successful: update nextIndex and matchIndex for follower". Responses
    may arrive out of order; an older one must not lower what a newer one established.
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm:
        return None
    if m.msuccess:
        match = max(srv.matchIndex[j], m.mmatchIndex)
        new = srv._replace(
            nextIndex=A._replace_at(srv.nextIndex, j, match + 1),
            matchIndex=A._replace_at(srv.matchIndex, j, match),
        )
    else:
        new = srv._replace(nextIndex=A._replace_at(srv.nextIndex, j, max(srv.nextIndex[j] - 1, 1)))
    return _set(s._replace(messages=without_message(m, s.messages)), i, new)


def reject_install_snapshot(
    p: Params, s: State, i: int, j: int, m: InstallSnapshotRequest
) -> State | None:
    """HandleInstallSnapshotRequest(i, j, m), stale: Figure 13, receiver implementation, "1.
    Reply immediately if term < currentTerm"."""
    srv = s.servers[i]
    if m.mterm >= srv.currentTerm:
        return None
    response = InstallSnapshotResponse(MType.InstallSnapshotResponse, srv.currentTerm, 0, i, j)
    return _reply(s, response, m)


def install_snapshot(
    p: Params, s: State, i: int, j: int, m: InstallSnapshotRequest
) -> State | None:
    """HandleInstallSnapshotRequest(i, j, m), a follower of the leader's term: Figure 13.

    "6. If existing log entry has same index and term as snapshot's last included entry,
    retain log entries following it and reply. 7. Discard the entire log." A snapshot no newer
    than i's commitIndex changes nothing. The reply tells the leader how far i's log now
    matches (its commitIndex). (A candidate first returns to follower:
    ``return_to_follower_state``.)
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm or srv.state != Role.Follower:
        return None
    k = m.mlastIncludedIndex
    new = srv
    if k > srv.commitIndex:
        log = srv.log
        keep = k <= len(log) and log[k - 1].term == m.mlastIncludedTerm
        suffix = log[k:] if keep else ()
        new = srv._replace(log=m.msnapshot + suffix, commitIndex=k, snapshotIndex=k)
    response = InstallSnapshotResponse(
        MType.InstallSnapshotResponse, srv.currentTerm, new.commitIndex, i, j
    )
    return _reply(_set(s, i, new), response, m)


def handle_install_snapshot_response(
    p: Params, s: State, i: int, j: int, m: InstallSnapshotResponse
) -> State | None:
    """HandleInstallSnapshotResponse(i, j, m): the follower's log now matches up to mmatchIndex."""
    srv = s.servers[i]
    if m.mterm != srv.currentTerm:
        return None
    match = max(srv.matchIndex[j], m.mmatchIndex)
    new = srv._replace(
        nextIndex=A._replace_at(srv.nextIndex, j, match + 1),
        matchIndex=A._replace_at(srv.matchIndex, j, match),
    )
    return _set(s._replace(messages=without_message(m, s.messages)), i, new)


def update_term(p: Params, s: State, i: int, j: int, m: Any) -> State | None:
    """UpdateTerm(i, j, m), except for PreVote: a pre-vote's term is only proposed (§9.6)."""
    if m.mtype == MType.PreVoteRequest or (m.mtype == MType.PreVoteResponse and m.mvoteGranted):
        return None
    return A.update_term(p, s, i, j, m)


# --- Next ----------------------------------------------------------------------------------


def _append_entries_args(p: Params, s: State, i: int) -> Iterable[tuple[int, int, int, bool]]:
    """AppendEntries(i, j, prev, count, whole_commit): every follower, every anchor i holds
    (not compacted), up to ``batch`` entries, and leaderCommit whole or capped (once when the
    two agree)."""
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return ()
    n = len(srv.log)
    out = []
    for j in range(p.servers):
        for prev in range(srv.snapshotIndex, n + 1):
            for count in range(min(p.batch, n - prev) + 1):
                capped = min(srv.commitIndex, prev + count)
                for whole in (False, True) if capped != srv.commitIndex else (False,):
                    out.append((j, prev, count, whole))
    return out


def _compact_args(p: Params, s: State, i: int) -> Iterable[tuple[int]]:
    srv = s.servers[i]
    return [(k,) for k in range(srv.snapshotIndex + 1, _compactable(p, srv) + 1)]


def _show_append_entries(a: Action) -> str:
    i, j, prev, count, whole = a.args
    shown = ", whole commit" if whole else ""
    return (
        f"AppendEntries({server_name(i)}, {server_name(j)}, prev {prev}, {count} entries{shown})"
    )


def _put(rows: list[ActionDef], name: str, new: Iterable[ActionDef]) -> list[ActionDef]:
    """Replace the rows of action ``name`` by ``new``, where the first of them stood."""
    at = next(k for k, d in enumerate(rows) if d.name == name)
    kept = [d for d in rows if d.name != name]
    return kept[:at] + list(new) + kept[at:]


def _after(rows: list[ActionDef], name: str, new: Iterable[ActionDef]) -> list[ActionDef]:
    """Insert ``new`` after the last row of action ``name``."""
    at = max(k for k, d in enumerate(rows) if d.name == name) + 1
    return rows[:at] + list(new) + rows[at:]


_AER = MType.AppendEntriesRequest


def overlay(
    base: tuple[ActionDef, ...],
    *,
    batch: bool,
    prevote: bool,
    noop: bool,
    snapshots: bool,
    stepdown: bool,
) -> tuple[ActionDef, ...]:
    """raft.tla's Next (``base``) with the options' rows put in, by action name."""
    rows = _put(list(base), "DropStaleResponse",
                [receiving("DropStaleResponse", A.drop_stale_response, *RESPONSES)])
    if prevote:
        rows = _put(rows, "Timeout", [
            local("Timeout", timeout),
            local("PreVoteTimeout", prevote_timeout),
            local("RequestPreVote", request_prevote, Arg.SERVER, each=each_server),
        ])
        rows = _put(rows, "UpdateTerm", [receiving("UpdateTerm", update_term, *MType)])
        rows = _put(rows, "HandleRequestVoteResponse", [receiving(
            "HandleRequestVoteResponse", handle_request_vote_response,
            MType.RequestVoteResponse)])
        rows = _after(rows, "DropStaleResponse", [
            receiving("HandlePreVoteRequest", grant_prevote, MType.PreVoteRequest),
            receiving("HandlePreVoteRequest", refuse_prevote, MType.PreVoteRequest),
            receiving("HandlePreVoteResponse", handle_prevote_response, MType.PreVoteResponse),
        ])
    if snapshots:
        rows = _put(rows, "Restart", [local("Restart", restart, fault=True)])
    if noop:
        rows = _after(rows, "BecomeLeader", [local("AppendNoop", append_noop)])
    if batch:
        rows = _put(rows, "AppendEntries", [local(
            "AppendEntries", append_entries, Arg.SERVER, Arg.INDEX, Arg.INDEX, Arg.FLAG,
            each=_append_entries_args, fmt=_show_append_entries)])
        rows = _put(rows, "HandleAppendEntriesRequest", [
            receiving("HandleAppendEntriesRequest", A.reject_append_entries_request, _AER),
            receiving("HandleAppendEntriesRequest", return_to_follower_state, _AER),
            receiving("HandleAppendEntriesRequest", delete_conflicting_entries, _AER),
            receiving("HandleAppendEntriesRequest", append_new_entries, _AER),
            receiving("HandleAppendEntriesRequest", reply_success, _AER),
        ])
        rows = _put(rows, "HandleAppendEntriesResponse", [receiving(
            "HandleAppendEntriesResponse", handle_append_entries_response,
            MType.AppendEntriesResponse)])
    elif prevote:
        rows = _put(rows, "HandleAppendEntriesRequest", [
            receiving("HandleAppendEntriesRequest", A.reject_append_entries_request, _AER),
            receiving("HandleAppendEntriesRequest", return_to_follower_state, _AER),
            receiving("HandleAppendEntriesRequest", A.already_done_with_request, _AER),
            receiving("HandleAppendEntriesRequest", A.conflict_remove_one_entry, _AER),
            receiving("HandleAppendEntriesRequest", A.no_conflict_append_entry, _AER),
        ])
    if snapshots:
        rows = _after(rows, "AppendEntries", [
            local("InstallSnapshot", send_snapshot, Arg.SERVER, each=each_server),
            local("Compact", compact, Arg.INDEX, each=_compact_args),
        ])
        isr = MType.InstallSnapshotRequest
        rows = _after(rows, "HandlePreVoteResponse" if prevote else "DropStaleResponse", [
            receiving("HandleInstallSnapshotRequest", reject_install_snapshot, isr),
            receiving("HandleInstallSnapshotRequest", return_to_follower_state, isr),
            receiving("HandleInstallSnapshotRequest", install_snapshot, isr),
            receiving("HandleInstallSnapshotResponse", handle_install_snapshot_response,
                      MType.InstallSnapshotResponse),
        ])
    if stepdown:
        at = "Compact" if snapshots else "AppendEntries"
        rows = _after(rows, at, [local("StepDown", step_down)])
    return register(rows)
