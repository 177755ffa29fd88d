"""The actions of Raft, one function per action of raft.tla, in raft.tla's order.

Read this file beside raft.tla (ongardie/raft.tla) and Figure 2 of the Raft paper ("In Search of
an Understandable Consensus Algorithm", Ongaro and Ousterhout). Each function takes the
parameters ``p``, a state ``s`` and the action's arguments, and returns the next state, or
``None`` when the action is not enabled. ``i`` is the server acting (or receiving), ``j`` the
other server, ``m`` a message.

Known-bug variants (mutants, see ``mutants.py``) appear where the bug would be, behind
``p.mutant is Mutant....``: each is one wrong line in one action.

raft.tla's history variables (``elections``, ``voterLog``, ``allLogs`` and the ``mlog`` field of
messages) are kept only with ``p.history``; our ghost variables only with ``p.ghost``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .action import ActionDef, Arg, each_server, each_value, local, network, receiving, register
from .mutants import Mutant
from .params import Params
from .state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Election,
    Entry,
    Log,
    Message,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
    is_quorum,
    last_term,
    log_up_to_date,
    set_add,
    with_message,
    without_message,
)

# --- small helpers -------------------------------------------------------------------------


def _set_server(s: State, i: int, server: Server) -> State:
    servers = s.servers
    return s._replace(servers=servers[:i] + (server,) + servers[i + 1 :])


def _set_voter_log(s: State, i: int, voter_log: tuple) -> State:
    h = s.history
    if not h:
        return s
    vl = h.voterLog
    return s._replace(history=h._replace(voterLog=vl[:i] + (voter_log,) + vl[i + 1 :]))


def _send(s: State, m: Message) -> State:
    """raft.tla's ``Send``."""
    return s._replace(messages=with_message(m, s.messages))


def _discard(s: State, m: Message) -> State:
    """raft.tla's ``Discard``."""
    return s._replace(messages=without_message(m, s.messages))


def _reply(s: State, response: Message, request: Message) -> State:
    """raft.tla's ``Reply``: send the response and consume the request in one step."""
    return s._replace(messages=without_message(request, with_message(response, s.messages)))


def _replace_at(t: tuple, k: int, value: object) -> tuple:
    return t[:k] + (value,) + t[k + 1 :]


# --- server actions ------------------------------------------------------------------------


def restart(p: Params, s: State, i: int) -> State:
    """Restart(i): server i restarts from stable storage.

    Figure 2, "Persistent state on all servers: currentTerm, votedFor, log[] (updated on stable
    storage before responding to RPCs)": everything else is volatile and is lost.
    """
    srv = s.servers[i]
    n = p.servers
    new = srv._replace(
        state=Role.Follower,
        votesResponded=(),
        votesGranted=(),
        nextIndex=(1,) * n,
        matchIndex=(0,) * n,
        commitIndex=0,
    )
    if p.mutant is Mutant.FORGET_VOTE_ON_RESTART:
        # BUG: votedFor is persistent state; losing it lets a server vote twice in one term.
        new = new._replace(votedFor=NIL)
    return _set_voter_log(_set_server(s, i, new), i, ())


def timeout(p: Params, s: State, i: int) -> State | None:
    """Timeout(i): server i times out and starts a new election.

    Figure 2, Followers: "If election timeout elapses without receiving AppendEntries RPC from
    current leader or granting vote to candidate: convert to candidate". Candidates: "On
    conversion to candidate, start election: increment currentTerm". As in raft.tla, the vote
    for itself is not cast here: it travels as a RequestVote from i to i like any other.
    """
    srv = s.servers[i]
    if srv.state not in (Role.Follower, Role.Candidate):
        return None
    new = srv._replace(
        state=Role.Candidate,
        currentTerm=srv.currentTerm + 1,
        votedFor=NIL,
        votesResponded=(),
        votesGranted=(),
    )
    return _set_voter_log(_set_server(s, i, new), i, ())


def request_vote(p: Params, s: State, i: int, j: int) -> State | None:
    """RequestVote(i, j): candidate i asks server j for its vote.

    Figure 2, Candidates: "Send RequestVote RPCs to all other servers" with arguments term,
    candidateId, lastLogIndex, lastLogTerm.
    """
    srv = s.servers[i]
    if srv.state != Role.Candidate or j in srv.votesResponded:
        return None
    if p.mutant is Mutant.CANDIDATE_SKIPS_OWN_VOTE and j == i:
        # BUG: the candidate's own vote counts towards the majority like any other.
        return None
    return _send(
        s,
        RequestVoteRequest(
            mtype=MType.RequestVoteRequest,
            mterm=srv.currentTerm,
            mlastLogTerm=last_term(srv.log),
            mlastLogIndex=len(srv.log),
            msource=i,
            mdest=j,
        ),
    )


def append_entries(p: Params, s: State, i: int, j: int) -> State | None:
    """AppendEntries(i, j): leader i sends j an AppendEntries request with at most one entry.

    Figure 2, Leaders: "If last log index >= nextIndex for a follower: send AppendEntries RPC
    with log entries starting at nextIndex"; with no entry to send it is a heartbeat. Arguments:
    term, leaderId, prevLogIndex, prevLogTerm, entries[], leaderCommit.
    """
    if i == j:
        return None
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return None
    log = srv.log
    next_index = srv.nextIndex[j]
    prev_log_index = next_index - 1
    prev_log_term = log[prev_log_index - 1].term if prev_log_index > 0 else 0
    if p.mutant is Mutant.ENTRY_TERM_IS_CURRENT_TERM and prev_log_index > 0:
        # BUG: the leader's current term is not the term of the entry at prevLogIndex.
        prev_log_term = srv.currentTerm
    last_entry = min(len(log), next_index)
    entries = log[next_index - 1 : last_entry]
    return _send(
        s,
        AppendEntriesRequest(
            mtype=MType.AppendEntriesRequest,
            mterm=srv.currentTerm,
            mprevLogIndex=prev_log_index,
            mprevLogTerm=prev_log_term,
            mentries=entries,
            mlog=log if p.history else (),
            mcommitIndex=min(srv.commitIndex, last_entry),
            msource=i,
            mdest=j,
        ),
    )


def become_leader(p: Params, s: State, i: int) -> State | None:
    """BecomeLeader(i): candidate i has votes from a majority and becomes leader.

    Figure 2, Candidates: "If votes received from majority of servers: become leader". Leaders,
    volatile state "(Reinitialized after election)": nextIndex = last log index + 1,
    matchIndex = 0.
    """
    srv = s.servers[i]
    if srv.state != Role.Candidate or not is_quorum(srv.votesGranted, p.servers):
        return None
    return lead(p, s, i)


def lead(p: Params, s: State, i: int) -> State:
    """What BecomeLeader(i) does once the votes are counted: i becomes leader with Figure 2's
    reinitialized volatile state (and, with history, its election is recorded)."""
    srv = s.servers[i]
    n = p.servers
    new = srv._replace(
        state=Role.Leader,
        nextIndex=(len(srv.log) + 1,) * n,
        matchIndex=(0,) * n,
    )
    s = _set_server(s, i, new)
    h = s.history
    if h:
        election = Election(
            eterm=srv.currentTerm,
            eleader=i,
            elog=srv.log,
            evotes=srv.votesGranted,
            evoterLog=h.voterLog[i],
        )
        s = s._replace(history=h._replace(elections=set_add(h.elections, election)))
    return s


def client_request(p: Params, s: State, i: int, v: int) -> State | None:
    """ClientRequest(i, v): leader i appends the client's command v to its log.

    Figure 2, Leaders: "If command received from client: append entry to local log".
    """
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return None
    entry = Entry(term=srv.currentTerm, value=v)
    return _set_server(s, i, srv._replace(log=srv.log + (entry,)))


def advance_commit_index(p: Params, s: State, i: int) -> State | None:
    """AdvanceCommitIndex(i): leader i commits the entries a majority has stored.

    Figure 2, Leaders: "If there exists an N such that N > commitIndex, a majority of
    matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N". As in raft.tla the
    step is always enabled for a leader and may change nothing.
    """
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return None
    n = p.servers
    new_commit = agreed_commit_index(p, srv, i, range(n), lambda agree: is_quorum(agree, n))
    return _set_server(s, i, srv._replace(commitIndex=new_commit))


def agreed_commit_index(
    p: Params, srv: Server, i: int, voters: Iterable[int], majority: Callable[[tuple], bool]
) -> int:
    """The commitIndex of AdvanceCommitIndex for leader ``srv`` (server i): the largest N whose
    entry ``majority`` of ``voters`` stores, if that entry is of the current term; else the
    commitIndex it had."""
    log = srv.log
    match = srv.matchIndex
    voters = tuple(voters)

    def agree(index: int) -> tuple[int, ...]:
        # The leader counts itself: its own log always has the entry.
        return tuple(k for k in voters if k == i or match[k] >= index)

    agree_indexes = [index for index in range(1, len(log) + 1) if majority(agree(index))]
    if agree_indexes:
        top = max(agree_indexes)
        if log[top - 1].term == srv.currentTerm or p.mutant is Mutant.COMMIT_OLD_TERM:
            # (The mutant is the BUG of Figure 8: counting replicas of an entry from an earlier
            # term does not make it committed.)
            return top
    return srv.commitIndex


# --- message handlers: i = recipient, j = sender, m = message --------------------------------


def handle_request_vote_request(
    p: Params, s: State, i: int, j: int, m: RequestVoteRequest
) -> State | None:
    """HandleRequestVoteRequest(i, j, m): server i answers j's RequestVote with mterm <= its term.

    Figure 2, RequestVote RPC, receiver: "1. Reply false if term < currentTerm. 2. If votedFor is
    null or candidateId, and candidate's log is at least as up-to-date as receiver's log, grant
    vote" (§5.2, §5.4: up-to-date means a later last term, or the same last term and a log at
    least as long).
    """
    srv = s.servers[i]
    if m.mterm > srv.currentTerm:
        return None
    log = srv.log
    log_ok = log_up_to_date(log, m.mlastLogTerm, m.mlastLogIndex)
    if p.mutant is Mutant.VOTE_WITHOUT_LOG_CHECK:
        # BUG: the election restriction (§5.4.1) is what makes leaders hold every committed entry.
        log_ok = True
    grant = m.mterm == srv.currentTerm and log_ok and srv.votedFor in (NIL, j)
    if grant:
        s = _set_server(s, i, srv._replace(votedFor=j))
    response = RequestVoteResponse(
        mtype=MType.RequestVoteResponse,
        mterm=srv.currentTerm,
        mvoteGranted=grant,
        mlog=log if p.history else (),
        msource=i,
        mdest=j,
    )
    return _reply(s, response, m)


def handle_request_vote_response(
    p: Params, s: State, i: int, j: int, m: RequestVoteResponse
) -> State | None:
    """HandleRequestVoteResponse(i, j, m): server i tallies j's vote of its current term.

    Figure 2, Candidates: "If votes received from majority of servers: become leader" — this step
    counts one vote; BecomeLeader checks for the majority. As in raft.tla, votes are tallied
    whatever i's role: they are only looked at by a candidate.
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm:
        return None
    new = srv._replace(votesResponded=set_add(srv.votesResponded, j))
    if m.mvoteGranted:
        new = new._replace(votesGranted=set_add(srv.votesGranted, j))
        h = s.history
        if h:
            voter_log = h.voterLog[i]
            # raft.tla's @@ keeps the left side: a voter's first recorded log stays.
            if all(voter != j for voter, _ in voter_log):
                s = _set_voter_log(s, i, tuple(sorted((*voter_log, (j, m.mlog)))))
    return _discard(_set_server(s, i, new), m)


def _accepts(srv: Server, m: AppendEntriesRequest) -> bool:
    """raft.tla's guard of "accept request": a follower of the request's term whose log has
    the entry at prevLogIndex with prevLogTerm (Figure 2, receiver rule 2, passed)."""
    return m.mterm == srv.currentTerm and srv.state == Role.Follower and _log_ok(srv.log, m)


def _log_ok(log: Log, m: AppendEntriesRequest) -> bool:
    prev = m.mprevLogIndex
    return prev == 0 or (0 < prev <= len(log) and m.mprevLogTerm == log[prev - 1].term)


def reject_append_entries_request(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "reject request": a stale term, or a follower
    whose log does not match at prevLogIndex.

    Figure 2, AppendEntries RPC, receiver: "1. Reply false if term < currentTerm. 2. Reply
    false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm."
    """
    srv = s.servers[i]
    stale = m.mterm < srv.currentTerm
    mismatch = (
        m.mterm == srv.currentTerm and srv.state == Role.Follower and not _log_ok(srv.log, m)
    )
    if not (stale or mismatch):
        return None
    response = AppendEntriesResponse(
        mtype=MType.AppendEntriesResponse,
        mterm=srv.currentTerm,
        msuccess=False,
        mmatchIndex=0,
        msource=i,
        mdest=j,
    )
    return _reply(s, response, m)


def return_to_follower_state(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "return to follower state": a candidate hears
    from the leader of its term.

    Figure 2, Candidates: "If AppendEntries RPC received from new leader: convert to
    follower". As in raft.tla the message stays, to be handled again as a follower.
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm or srv.state != Role.Candidate:
        return None
    return _set_server(s, i, srv._replace(state=Role.Follower))


def already_done_with_request(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "accept request", "already done with request":
    the log holds the request's entries; set commitIndex and reply success.

    Figure 2, receiver: "5. If leaderCommit > commitIndex, set commitIndex =
    min(leaderCommit, index of last new entry)". As in raft.tla, commitIndex is set to the
    request's, which may lower it when the request is old (raft.tla: "that doesn't really
    affect anything"); the reply's matchIndex is prevLogIndex + the entries sent.
    """
    srv = s.servers[i]
    if not _accepts(srv, m):
        return None
    log, prev, entries = srv.log, m.mprevLogIndex, m.mentries
    if p.mutant is Mutant.TRUNCATE_ON_ANY_APPEND:
        # (The mutant: see ``conflict_remove_one_entry``.)
        done = log[prev:] == entries
    else:
        done = not entries or (len(log) > prev and log[prev].term == entries[0].term)
    if not done:
        return None
    response = AppendEntriesResponse(
        mtype=MType.AppendEntriesResponse,
        mterm=srv.currentTerm,
        msuccess=True,
        mmatchIndex=prev + len(entries),
        msource=i,
        mdest=j,
    )
    s = _set_server(s, i, srv._replace(commitIndex=m.mcommitIndex))
    return _reply(s, response, m)


def conflict_remove_one_entry(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "accept request", "conflict: remove 1 entry".

    Figure 2, receiver: "3. If an existing entry conflicts with a new one (same index but
    different terms), delete the existing entry and all that follow it." As in raft.tla one
    entry goes per step (the last), and the message stays.
    """
    srv = s.servers[i]
    if not _accepts(srv, m):
        return None
    log, prev, entries = srv.log, m.mprevLogIndex, m.mentries
    if p.mutant is Mutant.TRUNCATE_ON_ANY_APPEND:
        # BUG: cutting the log at prevLogIndex even when the entries already match lets an old,
        # reordered request erase entries that later requests added (and that may be committed).
        if log[prev:] == entries:
            return None
        return _set_server(s, i, srv._replace(log=log[:prev] + entries))
    if not entries or len(log) <= prev or log[prev].term == entries[0].term:
        return None
    return _set_server(s, i, srv._replace(log=log[:-1]))


def no_conflict_append_entry(
    p: Params, s: State, i: int, j: int, m: AppendEntriesRequest
) -> State | None:
    """HandleAppendEntriesRequest(i, j, m), "accept request", "no conflict: append entry".

    Figure 2, receiver: "4. Append any new entries not already in the log." As in raft.tla
    the log ends at prevLogIndex; the entry is appended and the message stays, to be answered
    by "already done with request".
    """
    srv = s.servers[i]
    if p.mutant is Mutant.TRUNCATE_ON_ANY_APPEND:
        return None  # the mutant's conflict branch does it
    if not _accepts(srv, m) or not m.mentries or len(srv.log) != m.mprevLogIndex:
        return None
    return _set_server(s, i, srv._replace(log=srv.log + (m.mentries[0],)))


def handle_append_entries_response(
    p: Params, s: State, i: int, j: int, m: AppendEntriesResponse
) -> State | None:
    """HandleAppendEntriesResponse(i, j, m): leader i learns how far j's log matches its own.

    Figure 2, Leaders: "If successful: update nextIndex and matchIndex for follower. If
    AppendEntries fails because of log inconsistency: decrement nextIndex and retry". As in
    raft.tla there is no role check: responses of i's current term are handled even if i is no
    longer leader.
    """
    srv = s.servers[i]
    if m.mterm != srv.currentTerm:
        return None
    if m.msuccess:
        new = srv._replace(
            nextIndex=_replace_at(srv.nextIndex, j, m.mmatchIndex + 1),
            matchIndex=_replace_at(srv.matchIndex, j, m.mmatchIndex),
        )
    elif p.mutant is Mutant.KEEP_NEXT_INDEX_ON_REJECT:
        # BUG: "decrement nextIndex and retry"; retrying the same request never succeeds.
        new = srv
    else:
        new = srv._replace(nextIndex=_replace_at(srv.nextIndex, j, max(srv.nextIndex[j] - 1, 1)))
    return _discard(_set_server(s, i, new), m)


def update_term(p: Params, s: State, i: int, j: int, m: Message) -> State | None:
    """UpdateTerm(i, j, m): a message with a newer term makes i adopt it and become follower.

    Figure 2, Rules for All Servers: "If RPC request or response contains term T > currentTerm:
    set currentTerm = T, convert to follower". The message stays, to be handled next.
    """
    srv = s.servers[i]
    if m.mterm <= srv.currentTerm:
        return None
    new = srv._replace(currentTerm=m.mterm, state=Role.Follower, votedFor=NIL)
    return _set_server(s, i, new)


def drop_stale_response(p: Params, s: State, i: int, j: int, m: Message) -> State | None:
    """DropStaleResponse(i, j, m): a response from an older term is ignored and removed.

    Figure 2 (implicitly, §5.1): "If a server receives a request with a stale term number, it
    rejects the request"; responses of old terms carry nothing a server may act on.
    """
    if m.mterm >= s.servers[i].currentTerm:
        return None
    return _discard(s, m)


def duplicate_message(p: Params, s: State, m: Message) -> State:
    """DuplicateMessage(m): the network delivers a message twice (§5.1: RPCs may be repeated)."""
    return _send(s, m)


def drop_message(p: Params, s: State, m: Message) -> State:
    """DropMessage(m): the network loses a message (§5.1: RPCs may be lost)."""
    return _discard(s, m)


# --- Next ----------------------------------------------------------------------------------

#: raft.tla's ``Next``, one row per disjunct, in raft.tla's order (``Receive(m)`` spelled out as
#: its alternatives, each handler branch a row of its own). Every enabled row is a successor;
#: ``next.py`` walks the table, and options (``options.py``) overlay rows by action name.
NEXT: tuple[ActionDef, ...] = register(
    (
        local("Timeout", timeout),
        local("Restart", restart, fault=True),
        local("RequestVote", request_vote, Arg.SERVER, each=each_server),
        local("BecomeLeader", become_leader),
        local("ClientRequest", client_request, Arg.VALUE, each=each_value),
        local("AdvanceCommitIndex", advance_commit_index),
        local("AppendEntries", append_entries, Arg.SERVER, each=each_server),
        # Receive(m): "Any RPC with a newer term causes the recipient to advance its term
        # first. Responses with stale terms are ignored."
        receiving("UpdateTerm", update_term, *MType),
        receiving("HandleRequestVoteRequest", handle_request_vote_request,
                  MType.RequestVoteRequest),
        receiving("HandleRequestVoteResponse", handle_request_vote_response,
                  MType.RequestVoteResponse),
        receiving("HandleAppendEntriesRequest", reject_append_entries_request,
                  MType.AppendEntriesRequest),
        receiving("HandleAppendEntriesRequest", return_to_follower_state,
                  MType.AppendEntriesRequest),
        receiving("HandleAppendEntriesRequest", already_done_with_request,
                  MType.AppendEntriesRequest),
        receiving("HandleAppendEntriesRequest", conflict_remove_one_entry,
                  MType.AppendEntriesRequest),
        receiving("HandleAppendEntriesRequest", no_conflict_append_entry,
                  MType.AppendEntriesRequest),
        receiving("HandleAppendEntriesResponse", handle_append_entries_response,
                  MType.AppendEntriesResponse),
        receiving("DropStaleResponse", drop_stale_response,
                  MType.RequestVoteResponse, MType.AppendEntriesResponse),
        network("DuplicateMessage", duplicate_message),
        network("DropMessage", drop_message),
    )
)
