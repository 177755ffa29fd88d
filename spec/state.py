"""The state of a Raft cluster, variable for variable as in raft.tla.

raft.tla keeps one function per variable (``currentTerm[i]``, ``log[i]``, ...). Here the same
variables are grouped per server, because a step changes one or two servers and an immutable
tuple per server lets it rebuild only those. The names are raft.tla's, so the spec can be read
beside it and beside Figure 2 of the Raft paper.

Every value is built from ints, bools and tuples: the checker hashes states, and Python's hash of
such values is the same in every process (a ``str`` or ``None`` inside a state would not be).
Sets are kept as sorted tuples so that states are totally ordered, which the symmetry reduction
needs to pick one representative per class.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple, TypeAlias

from .params import Params


class Role(IntEnum):
    """raft.tla's ``state`` values: Follower, Candidate, Leader."""

    Follower = 0
    Candidate = 1
    Leader = 2
    # Only with the PreVote option (spec/options.py).
    PreCandidate = 3


class MType(IntEnum):
    """raft.tla's message types."""

    RequestVoteRequest = 0
    RequestVoteResponse = 1
    AppendEntriesRequest = 2
    AppendEntriesResponse = 3
    # Only with options (spec/options.py).
    PreVoteRequest = 4
    PreVoteResponse = 5
    InstallSnapshotRequest = 6
    InstallSnapshotResponse = 7


# raft.tla's reserved value ``Nil`` (votedFor when a server has not voted in its term). Servers
# are numbered 0..N-1 and shown as s1..sN.
NIL = -1


class Entry(NamedTuple):
    """A log entry: ``[term |-> t, value |-> v]``."""

    term: int
    value: int


Log: TypeAlias = tuple[Entry, ...]


class RequestVoteRequest(NamedTuple):
    mtype: MType
    mterm: int
    mlastLogTerm: int
    mlastLogIndex: int
    msource: int
    mdest: int


class RequestVoteResponse(NamedTuple):
    mtype: MType
    mterm: int
    mvoteGranted: bool
    # History variable of raft.tla: the voter's log. Empty unless Params.history.
    mlog: Log
    msource: int
    mdest: int


class AppendEntriesRequest(NamedTuple):
    mtype: MType
    mterm: int
    mprevLogIndex: int
    mprevLogTerm: int
    mentries: Log
    # History variable of raft.tla: the leader's whole log. Empty unless Params.history.
    mlog: Log
    mcommitIndex: int
    msource: int
    mdest: int


class AppendEntriesResponse(NamedTuple):
    mtype: MType
    mterm: int
    msuccess: bool
    mmatchIndex: int
    msource: int
    mdest: int


class PreVoteRequest(NamedTuple):
    """PreVote option (dissertation §9.6): "would you vote for me in term ``mterm``?"."""

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
    """Snapshots option (Figure 13 of the Raft paper), the snapshot sent in one piece."""

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


Message: TypeAlias = (
    RequestVoteRequest
    | RequestVoteResponse
    | AppendEntriesRequest
    | AppendEntriesResponse
    | PreVoteRequest
    | PreVoteResponse
    | InstallSnapshotRequest
    | InstallSnapshotResponse
)

#: The message types that answer a request (raft.tla's DropStaleResponse drops them when stale).
RESPONSES = frozenset(
    {
        MType.RequestVoteResponse,
        MType.AppendEntriesResponse,
        MType.PreVoteResponse,
        MType.InstallSnapshotResponse,
    }
)

# raft.tla's ``messages``: a bag (message -> count). Here: (message, count) pairs sorted by
# message, with no zero counts, so equal bags are equal tuples.
Bag: TypeAlias = tuple[tuple[Message, int], ...]


class Server(NamedTuple):
    """The per-server variables of raft.tla for one server ``i``."""

    currentTerm: int
    state: Role
    votedFor: int
    log: Log
    commitIndex: int
    votesResponded: tuple[int, ...]
    votesGranted: tuple[int, ...]
    nextIndex: tuple[int, ...]
    matchIndex: tuple[int, ...]
    # Only the snapshots option moves it (spec/options.py): entries 1..snapshotIndex are
    # compacted, kept in ``log`` for the properties but never sent as entries.
    snapshotIndex: int = 0


# A function from voters to their logs (raft.tla's ``voterLog[i]``), as sorted (voter, log) pairs.
VoterLog: TypeAlias = tuple[tuple[int, Log], ...]


class Election(NamedTuple):
    """One record of raft.tla's ``elections`` history variable."""

    eterm: int
    eleader: int
    elog: Log
    evotes: tuple[int, ...]
    evoterLog: VoterLog


class History(NamedTuple):
    """raft.tla's history variables, present only with ``Params.history``."""

    elections: tuple[Election, ...]
    allLogs: tuple[Log, ...]
    voterLog: tuple[VoterLog, ...]


class Ghost(NamedTuple):
    """Ghost state of our own, present only with ``Params.ghost``.

    It records what the paper's properties talk about but a state does not show: who was elected
    in which term, and which entry was committed at which index in which term. With it,
    ElectionSafety, LeaderCompleteness and StateMachineSafety are checked over the whole
    behaviour rather than over one state at a time.
    """

    # (term, leader) for every BecomeLeader step so far.
    elected: tuple[tuple[int, int], ...]
    # (index, entry, term): a server's commitIndex passed ``index`` while ``entry`` was there
    # and the server was in ``term``.
    committed: tuple[tuple[int, Entry, int], ...]


class State(NamedTuple):
    """A whole cluster: the servers, the network, and optional history and ghost variables."""

    servers: tuple[Server, ...]
    messages: Bag
    history: History | tuple[()]
    ghost: Ghost | tuple[()]


def init_state(p: Params) -> State:
    """raft.tla's ``Init``: every server a follower in term 1 with an empty log, no messages."""
    n = p.servers
    server = Server(
        currentTerm=1,
        state=Role.Follower,
        votedFor=NIL,
        log=(),
        commitIndex=0,
        votesResponded=(),
        votesGranted=(),
        nextIndex=(1,) * n,
        matchIndex=(0,) * n,
    )
    history: History | tuple[()] = ()
    if p.history:
        history = History(elections=(), allLogs=(), voterLog=((),) * n)
    ghost: Ghost | tuple[()] = Ghost(elected=(), committed=()) if p.ghost else ()
    return State(servers=(server,) * n, messages=(), history=history, ghost=ghost)


# --- helpers on the values above -------------------------------------------------------------


def last_term(log: Log) -> int:
    """raft.tla's ``LastTerm``: the term of the last entry, or 0 for an empty log."""
    return log[-1].term if log else 0


def log_up_to_date(log: Log, last_log_term: int, last_log_index: int) -> bool:
    """§5.4.1: a log ending in (last_log_term, last_log_index) is at least as up-to-date as
    ``log``: a later last term, or the same last term and at least as long."""
    mine = last_term(log)
    return last_log_term > mine or (last_log_term == mine and last_log_index >= len(log))


def could_win(logs: Sequence[Log], log: Log) -> bool:
    """§5.4.1: ``log`` is at least as up-to-date as a majority of ``logs`` (the servers' logs,
    its own among them), so a candidate holding it could collect their votes."""
    mine, size = last_term(log), len(log)
    return 2 * sum(1 for other in logs if log_up_to_date(other, mine, size)) > len(logs)


def candidate_votes(s: State, c: int) -> tuple[set[int], set[int]]:
    """For candidate c in its term t: the servers that voted for it (counted in votesGranted,
    granted in a RequestVote response on its way, or votedFor c in t), and those together with
    the servers yet to vote in t (still before t, or in t with votedFor Nil): the votes it
    has, and the votes it has or may still get (§5.2: one vote per server per term)."""
    t = s.servers[c].currentTerm
    voted = set(s.servers[c].votesGranted)
    for m, _ in s.messages:
        if m.mtype == MType.RequestVoteResponse and m.mvoteGranted:
            if m.mdest == c and m.mterm == t:
                voted.add(m.msource)
    for v, srv in enumerate(s.servers):
        if srv.currentTerm == t and srv.votedFor == c:
            voted.add(v)
    may = set(voted)
    for v, srv in enumerate(s.servers):
        if srv.currentTerm < t or (srv.currentTerm == t and srv.votedFor == NIL):
            may.add(v)
    return voted, may


def is_quorum(voters: tuple[int, ...], n: int) -> bool:
    """raft.tla's ``Quorum``: a strict majority of the ``n`` servers."""
    return 2 * len(voters) > n


def set_add(items: tuple, x: object) -> tuple:
    """``items \\cup {x}`` for a set kept as a sorted tuple."""
    if x in items:
        return items
    return tuple(sorted((*items, x)))


def with_message(m: Message, bag: Bag) -> Bag:
    """raft.tla's ``WithMessage``: one more copy of ``m`` in the bag."""
    counts = dict(bag)
    counts[m] = counts.get(m, 0) + 1
    return tuple(sorted(counts.items()))


def without_message(m: Message, bag: Bag) -> Bag:
    """raft.tla's ``WithoutMessage``: one copy fewer; a message with no copy left is gone."""
    counts = dict(bag)
    count = counts.get(m, 0)
    if count == 0:
        return bag
    if count == 1:
        del counts[m]
    else:
        counts[m] = count - 1
    return tuple(sorted(counts.items()))


def server_name(i: int) -> str:
    """How people see server ``i``: s1, s2, ..."""
    return "Nil" if i == NIL else f"s{i + 1}"


def message_brief(m: Message) -> str:
    """One line for a message: its type, route, term and what it says."""
    route = f"{server_name(m.msource)}->{server_name(m.mdest)}"
    head = f"{MType(m.mtype).name} {route} term {m.mterm}"
    if isinstance(m, RequestVoteRequest | PreVoteRequest):
        return f"{head} last {m.mlastLogIndex}@{m.mlastLogTerm}"
    if isinstance(m, RequestVoteResponse | PreVoteResponse):
        return f"{head} {'granted' if m.mvoteGranted else 'denied'}"
    if isinstance(m, AppendEntriesRequest):
        from .configuration import value_text  # (it builds on this module)

        entries = ",".join(f"{e.term}:{value_text(e)}" for e in m.mentries)
        return (
            f"{head} prev {m.mprevLogIndex}@{m.mprevLogTerm}"
            f" entries [{entries}] commit {m.mcommitIndex}"
        )
    if isinstance(m, AppendEntriesResponse):
        return f"{head} {'ok' if m.msuccess else 'fail'} match {m.mmatchIndex}"
    if isinstance(m, InstallSnapshotRequest):
        return f"{head} last {m.mlastIncludedIndex}@{m.mlastIncludedTerm}"
    return f"{head} match {m.mmatchIndex}"
