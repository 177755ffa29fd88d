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

from collections.abc import Iterator
from typing import Any, NamedTuple

from . import actions as A
from .params import Params
from .state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    Ghost,
    History,
    Log,
    MType,
    RequestVoteResponse,
    Role,
    State,
    is_quorum,
    last_term,
    log_up_to_date,
    server_name,
    set_add,
    with_message,
    without_message,
)

Label = tuple[Any, ...]

# The value of a no-op entry. Client values are 1..Params.values.
NOOP = 0


class OptServer(NamedTuple):
    """raft.tla's per-server variables plus ``snapshotIndex`` (``snapshots`` option).

    The field names and order of ``state.Server`` are kept, so raft.tla's actions and the
    properties read an ``OptServer`` as they read a ``Server``.
    """

    currentTerm: int
    state: Role
    votedFor: int
    log: Log
    commitIndex: int
    votesResponded: tuple[int, ...]
    votesGranted: tuple[int, ...]
    nextIndex: tuple[int, ...]
    matchIndex: tuple[int, ...]
    # Entries 1..snapshotIndex are compacted: kept here for the properties, never sent as entries.
    snapshotIndex: int = 0


class PreVoteRequest(NamedTuple):
    mtype: MType
    # The term the sender would campaign in: its currentTerm + 1. Receivers do not adopt it.
    mterm: int
    mlastLogTerm: int
    mlastLogIndex: int
    msource: int
    mdest: int


class PreVoteResponse(NamedTuple):
    mtype: MType
    # Granted: the request's term. Refused: the responder's currentTerm.
    mterm: int
    mvoteGranted: bool
    msource: int
    mdest: int


class InstallSnapshotRequest(NamedTuple):
    mtype: MType
    mterm: int
    mlastIncludedIndex: int
    mlastIncludedTerm: int
    # The snapshot's content: the entries it covers (a state machine's state stands for them).
    msnapshot: Log
    msource: int
    mdest: int


class InstallSnapshotResponse(NamedTuple):
    mtype: MType
    mterm: int
    mmatchIndex: int
    msource: int
    mdest: int


def init_options_state(p: Params) -> State:
    """raft.tla's Init, with ``OptServer`` records."""
    n = p.servers
    server = OptServer(1, Role.Follower, NIL, (), 0, (), (), (1,) * n, (0,) * n, 0)
    ghost: Ghost | tuple[()] = Ghost(elected=(), committed=()) if p.ghost else ()
    history: History | tuple[()] = ()
    return State(servers=(server,) * n, messages=(), history=history, ghost=ghost)


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
    votes: tuple[int, ...] = ()
    if p.mutant == "prevote-keeps-tally":
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
    if p.mutant == "noop-overwrites-last" and srv.log:
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
    if p.mutant == "compact-uncommitted":
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
    if p.mutant == "stepdown-forgets-vote":
        # BUG: resetting the vote in the same term lets a server vote twice in one term.
        new = new._replace(votedFor=NIL)
    return _set(s, i, new)


# --- message handlers: i = recipient, j = sender -------------------------------------------


def handle_prevote_request(
    p: Params, s: State, i: int, j: int, m: PreVoteRequest, grant_if_able: bool = True
) -> State | None:
    """HandlePreVoteRequest(i, j, m): i says whether it would vote for j in term m.mterm.

    §9.6: grant if the proposed term is newer and j's log is at least as up-to-date as i's;
    i may refuse anyway while it believes a leader is alive (``grant_if_able`` False). Nothing
    changes at i. A refusal carries i's term, so a stale pre-candidate learns it.
    """
    srv = s.servers[i]
    can = m.mterm > srv.currentTerm and log_up_to_date(srv.log, m.mlastLogTerm, m.mlastLogIndex)
    grant = can and grant_if_able
    if not can and not grant_if_able:
        return None  # the "refuse anyway" branch adds nothing when refusing is forced
    term = m.mterm if grant else srv.currentTerm
    return _reply(s, PreVoteResponse(MType.PreVoteResponse, term, grant, i, j), m)


def handle_prevote_response(
    p: Params, s: State, i: int, j: int, m: PreVoteResponse
) -> State | None:
    """HandlePreVoteResponse(i, j, m): a pre-candidate tallies a pre-vote for its next term.

    A granted pre-vote echoes term currentTerm + 1, a refusal carries the responder's term
    (when newer, UpdateTerm has handled it first). Answers to an old round are discarded.
    """
    srv = s.servers[i]
    t = srv.currentTerm
    relevant = srv.state == Role.PreCandidate and (
        (m.mvoteGranted and m.mterm == t + 1) or (not m.mvoteGranted and m.mterm == t)
    )
    if m.mterm < t:
        return None  # DropStaleResponse
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


def handle_append_entries_request(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m) for requests of several entries (``batch``).

    Figure 2, AppendEntries RPC, receiver: "1. Reply false if term < currentTerm. 2. Reply false
    if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm. 3. If an
    existing entry conflicts with a new one (same index but different terms), delete the
    existing entry and all that follow it. 4. Append any new entries not already in the log.
    5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
    entry)." As in raft.tla, one step per branch: rule 3 (the message stays), rule 4 (the
    message stays), then the reply. A (pre-)candidate first returns to follower.
    """
    srv = s.servers[i]
    if m.mterm > srv.currentTerm:
        return None
    log = srv.log
    prev = m.mprevLogIndex
    log_ok = prev == 0 or (prev <= len(log) and log[prev - 1].term == m.mprevLogTerm)
    if m.mterm < srv.currentTerm or (srv.state == Role.Follower and not log_ok):
        response = AppendEntriesResponse(
            MType.AppendEntriesResponse, srv.currentTerm, False, 0, i, j
        )
        return _reply(s, response, m)
    if srv.state in (Role.Candidate, Role.PreCandidate):
        return _set(s, i, srv._replace(state=Role.Follower))
    if srv.state != Role.Follower:
        return None
    entries = m.mentries
    if p.mutant != "append-ignores-conflicts":
        for k, e in enumerate(entries):
            index = prev + k + 1
            if index <= len(log) and log[index - 1].term != e.term:
                # Rule 3: the conflicting entry and all that follow it go.
                return _set(s, i, srv._replace(log=log[: index - 1]))
    # (The mutant is the BUG of skipping rule 3: a stale entry survives under a new one's index
    # and the reply below claims a match the log does not have.)
    if prev + len(entries) > len(log):
        # Rule 4: append the entries past the end of the log.
        return _set(s, i, srv._replace(log=log + entries[len(log) - prev :]))
    last_new = prev + len(entries)
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


def handle_install_snapshot_request(
    p: Params, s: State, i: int, j: int, m: InstallSnapshotRequest
) -> State | None:
    """HandleInstallSnapshotRequest(i, j, m): Figure 13, receiver implementation.

    "1. Reply immediately if term < currentTerm. ... 6. If existing log entry has same index and
    term as snapshot's last included entry, retain log entries following it and reply. 7.
    Discard the entire log." A snapshot no newer than i's commitIndex changes nothing. The reply
    tells the leader how far i's log now matches (its commitIndex).
    """
    srv = s.servers[i]
    if m.mterm > srv.currentTerm:
        return None
    if m.mterm < srv.currentTerm:
        response = InstallSnapshotResponse(MType.InstallSnapshotResponse, srv.currentTerm, 0, i, j)
        return _reply(s, response, m)
    if srv.state in (Role.Candidate, Role.PreCandidate):
        return _set(s, i, srv._replace(state=Role.Follower))
    if srv.state != Role.Follower:
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

_RESPONSES = (
    MType.RequestVoteResponse,
    MType.AppendEntriesResponse,
    MType.PreVoteResponse,
    MType.InstallSnapshotResponse,
)


def receive(p: Params, s: State, m: Any) -> Iterator[tuple[Label, State]]:
    """Receive(m) with options: UpdateTerm first, stale responses dropped, else the handler."""
    i, j = m.mdest, m.msource
    t = update_term(p, s, i, j, m)
    if t is not None:
        yield ("UpdateTerm", i, j, m), t
        return
    mtype = m.mtype
    if mtype in _RESPONSES and m.mterm < s.servers[i].currentTerm:
        yield ("DropStaleResponse", i, j, m), s._replace(messages=without_message(m, s.messages))
        return
    if mtype == MType.PreVoteRequest:
        for grant in (True, False):
            t = handle_prevote_request(p, s, i, j, m, grant)
            if t is not None:
                yield ("HandlePreVoteRequest", i, j, m), t
        return
    if mtype == MType.RequestVoteRequest:
        name, t = "HandleRequestVoteRequest", A.handle_request_vote_request(p, s, i, j, m)
    elif mtype == MType.RequestVoteResponse:
        name, t = "HandleRequestVoteResponse", handle_request_vote_response(p, s, i, j, m)
    elif mtype == MType.AppendEntriesRequest:
        name = "HandleAppendEntriesRequest"
        if p.batch:
            t = handle_append_entries_request(p, s, i, j, m)
        elif s.servers[i].state == Role.PreCandidate and m.mterm == s.servers[i].currentTerm:
            t = _set(s, i, s.servers[i]._replace(state=Role.Follower))
        else:
            t = A.handle_append_entries_request(p, s, i, j, m)
    elif mtype == MType.AppendEntriesResponse:
        name = "HandleAppendEntriesResponse"
        if p.batch:
            t = handle_append_entries_response(p, s, i, j, m)
        else:
            t = A.handle_append_entries_response(p, s, i, j, m)
    elif mtype == MType.PreVoteResponse:
        name, t = "HandlePreVoteResponse", handle_prevote_response(p, s, i, j, m)
    elif mtype == MType.InstallSnapshotRequest:
        name, t = "HandleInstallSnapshotRequest", handle_install_snapshot_request(p, s, i, j, m)
    else:
        name, t = "HandleInstallSnapshotResponse", handle_install_snapshot_response(p, s, i, j, m)
    if t is not None:
        yield (name, i, j, m), t


def option_action_names(p: Params) -> tuple[str, ...]:
    """The actions of Next with these options."""
    names = ["Timeout"]
    if p.prevote:
        names += ["PreVoteTimeout", "RequestPreVote"]
    if p.faults:
        names.append("Restart")
    names += ["RequestVote", "BecomeLeader"]
    if p.noop:
        names.append("AppendNoop")
    names += ["ClientRequest", "AdvanceCommitIndex", "AppendEntries"]
    if p.snapshots:
        names += ["InstallSnapshot", "Compact"]
    if p.stepdown:
        names.append("StepDown")
    names += [
        "UpdateTerm",
        "HandleRequestVoteRequest",
        "HandleRequestVoteResponse",
        "HandleAppendEntriesRequest",
        "HandleAppendEntriesResponse",
        "DropStaleResponse",
    ]
    if p.prevote:
        names += ["HandlePreVoteRequest", "HandlePreVoteResponse"]
    if p.snapshots:
        names += ["HandleInstallSnapshotRequest", "HandleInstallSnapshotResponse"]
    if p.faults:
        names += ["DuplicateMessage", "DropMessage"]
    return tuple(names)


def option_steps(p: Params, s: State) -> Iterator[tuple[Label, State]]:
    """Next with options: raft.tla's actions, some replaced, and the options' own."""
    servers = range(p.servers)

    def one(label: Label, t: State | None) -> Iterator[tuple[Label, State]]:
        if t is not None:
            yield label, t

    for i in servers:
        yield from one(("Timeout", i), timeout(p, s, i))
        if p.prevote:
            yield from one(("PreVoteTimeout", i), prevote_timeout(p, s, i))
    if p.faults:
        for i in servers:
            yield ("Restart", i), restart(p, s, i)
    for i in servers:
        for j in servers:
            yield from one(("RequestVote", i, j), A.request_vote(p, s, i, j))
            if p.prevote:
                yield from one(("RequestPreVote", i, j), request_prevote(p, s, i, j))
    for i in servers:
        yield from one(("BecomeLeader", i), A.become_leader(p, s, i))
        if p.noop:
            yield from one(("AppendNoop", i), append_noop(p, s, i))
        for v in range(1, p.values + 1):
            yield from one(("ClientRequest", i, v), A.client_request(p, s, i, v))
        yield from one(("AdvanceCommitIndex", i), A.advance_commit_index(p, s, i))
    for i in servers:
        srv = s.servers[i]
        if srv.state != Role.Leader:
            continue
        for j in servers:
            if p.batch:
                n = len(srv.log)
                for prev in range(srv.snapshotIndex, n + 1):
                    for count in range(min(p.batch, n - prev) + 1):
                        capped = min(srv.commitIndex, prev + count)
                        for whole in (False, True) if capped != srv.commitIndex else (False,):
                            yield from one(
                                ("AppendEntries", i, j, prev, count, whole),
                                append_entries(p, s, i, j, prev, count, whole),
                            )
            else:
                t = A.append_entries(p, s, i, j)
                if t is not None and p.snapshots is False:
                    yield ("AppendEntries", i, j), t
            if p.snapshots:
                yield from one(("InstallSnapshot", i, j), send_snapshot(p, s, i, j))
    if p.snapshots:
        for i in servers:
            srv = s.servers[i]
            for k in range(srv.snapshotIndex + 1, _compactable(p, srv) + 1):
                yield ("Compact", i, k), compact(p, s, i, k)  # type: ignore[misc]
    if p.stepdown:
        for i in servers:
            yield from one(("StepDown", i), step_down(p, s, i))
    for m, _count in s.messages:
        yield from receive(p, s, m)
    if p.faults:
        for m, _count in s.messages:
            yield ("DuplicateMessage", m), A.duplicate_message(p, s, m)
        for m, _count in s.messages:
            yield ("DropMessage", m), A.drop_message(p, s, m)


# --- for people ----------------------------------------------------------------------------

OPTION_LABELS = frozenset(
    {"PreVoteTimeout", "RequestPreVote", "AppendNoop", "InstallSnapshot", "Compact", "StepDown"}
)


def message_brief(m: Any) -> str:
    """One line for a message of an option's type."""
    route = f"{server_name(m.msource)}->{server_name(m.mdest)}"
    if m.mtype == MType.PreVoteRequest:
        return f"PreVoteRequest {route} term {m.mterm} last {m.mlastLogIndex}@{m.mlastLogTerm}"
    if m.mtype == MType.PreVoteResponse:
        return f"PreVoteResponse {route} term {m.mterm} {'granted' if m.mvoteGranted else 'denied'}"
    if m.mtype == MType.InstallSnapshotRequest:
        return (
            f"InstallSnapshotRequest {route} term {m.mterm} "
            f"last {m.mlastIncludedIndex}@{m.mlastIncludedTerm}"
        )
    return f"InstallSnapshotResponse {route} term {m.mterm} match {m.mmatchIndex}"


def format_option_label(label: Label) -> str:
    """``PreVoteTimeout(s1)``, ``Compact(s2, 3)``, ``AppendEntries(s1, s2, prev 2, 3 entries)``."""
    name, *args = label
    if name in ("PreVoteTimeout", "AppendNoop", "StepDown"):
        return f"{name}({server_name(args[0])})"
    if name in ("RequestPreVote", "InstallSnapshot"):
        return f"{name}({server_name(args[0])}, {server_name(args[1])})"
    if name == "Compact":
        return f"{name}({server_name(args[0])}, {args[1]})"
    if name == "AppendEntries":
        whole = ", whole commit" if args[4] else ""
        return (
            f"AppendEntries({server_name(args[0])}, {server_name(args[1])}, prev {args[2]}, "
            f"{args[3]} entries{whole})"
        )
    return f"{name}({args})"
