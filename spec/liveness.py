"""Raft's liveness properties: what must eventually happen, and the fairness that makes it so.

Raft guarantees safety always and progress only when the system behaves well for long enough
(§5.6: "as long as the system satisfies [the timing requirement] ... Raft will be able to elect
and maintain a steady leader"). raft.tla has no clocks; "behaves well" is modelled as fairness
on some actions and none on others:

* **fair** (each instance on its own, ``\\A i, j : WF_vars(A(i, j))``): the leader's and the
  candidate's own work, which Figure 2 tells them to do and to retry (AppendEntries,
  AdvanceCommitIndex, RequestVote, BecomeLeader);
* **strongly fair** (each message on its own): the delivery of a message, by whichever
  alternative of ``Receive`` handles it. Strong fairness is the fair-loss link: a message that
  is in flight again and again (a leader retransmits it, the network drops it) is eventually
  delivered. Without DropMessage it changes nothing, since a message stays deliverable until
  it is delivered;
* **not fair**: Timeout, Restart, ClientRequest, DuplicateMessage and DropMessage. A behaviour
  may take them (any finite number of times, or forever when that is possible), or stop taking
  them. "Timeouts and restarts stop eventually" is then not an assumption the checker needs:
  terms only grow, so a behaviour within the bounds times out finitely often, and a leader's
  restart ends its leadership, which every property below counts as the end of the stability
  it speaks of.

Every trigger and goal below reads only the servers' variables, not the network: the compiled
model keeps their verdicts per tuple of servers (a test checks it on sampled states).

A property that assumed a fair Timeout would hold vacuously within the bounds (every behaviour
would have to raise the term beyond ``--max-term``): see docs/liveness.md, "The bounds".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..modelcheck.engine.model import Fairness
from .mutants import LIVENESS_MUTANTS, Mutant
from .state import Role, Server, State, is_quorum, log_up_to_date

#: The actions of a leader or a candidate that Figure 2 tells it to take (and retry).
SERVER_WORK = ("RequestVote", "BecomeLeader", "AdvanceCommitIndex", "AppendEntries")
#: The alternatives of raft.tla's ``Receive(m)``: one of them delivers a message.
DELIVERY = (
    "UpdateTerm",
    "HandleRequestVoteRequest",
    "HandleRequestVoteResponse",
    "HandleAppendEntriesRequest",
    "HandleAppendEntriesResponse",
    "DropStaleResponse",
)

#: The fairness every liveness property of Raft assumes (the ``WF``/``SF`` conjuncts of Spec).
RAFT_FAIRNESS: tuple[Fairness, ...] = (
    Fairness("weak", SERVER_WORK, per_instance=True),
    Fairness("strong", DELIVERY, per_instance=True),
)


# --- what a state says about stability -------------------------------------------------------


def newest_term_leader(s: State) -> Server | None:
    """The leader of the newest term any server has reached, if there is one."""
    newest = max(srv.currentTerm for srv in s.servers)
    for srv in s.servers:
        if srv.state == Role.Leader and srv.currentTerm == newest:
            return srv
    return None


def _own_term_top(leader: Server) -> int:
    """The index of the leader's last entry of its own term, 0 if it has none."""
    for index in range(len(leader.log), 0, -1):
        if leader.log[index - 1].term == leader.currentTerm:
            return index
    return 0


def replicated(s: State) -> bool:
    """Every server stores the leader's whole log (§5.3: "until all followers eventually store
    all log entries"), and every server's commitIndex covers the leader's entries of its own
    term (raft.tla has no no-op entry at the start of a term, §8: an entry of an earlier term is
    committed only with one of the leader's term after it, §5.4.2).

    A follower's log may go on beyond the leader's: an uncommitted entry of an older term past
    the leader's last index is deleted only when the leader sends an entry at that index
    (§5.3), and nothing makes a leader with nothing new to send do so."""
    leader = newest_term_leader(s)
    if leader is None:
        return False
    top = _own_term_top(leader)
    n = len(leader.log)
    return all(srv.log[:n] == leader.log and srv.commitIndex >= top for srv in s.servers)


def leader_log_pending(s: State) -> bool:
    """A leader of the newest term holds entries that are not yet on every server, or of its
    own term and not yet known committed by every server."""
    return newest_term_leader(s) is not None and not replicated(s)


def leader_log_done(s: State) -> bool:
    """The leader's log is replicated and committed everywhere, or there is no leader of the
    newest term any more (a server timed out past it, or it restarted)."""
    return newest_term_leader(s) is None or replicated(s)


def commit_pending(s: State) -> bool:
    """A leader of the newest term has committed an entry that some server does not know is
    committed yet."""
    leader = newest_term_leader(s)
    return leader is not None and any(srv.commitIndex < leader.commitIndex for srv in s.servers)


def commit_known(s: State) -> bool:
    """Every server's commitIndex has caught up with the leader's, or there is no leader of the
    newest term any more."""
    leader = newest_term_leader(s)
    return leader is None or all(srv.commitIndex >= leader.commitIndex for srv in s.servers)


def lone_candidate(s: State) -> bool:
    """No server leads, a single candidate holds the newest term, its log is at least as
    up-to-date as every server's (§5.4.1), and the servers that have not refused it their vote
    form a majority.

    The last condition is raft.tla's, found by this check: a candidate asks itself for its vote
    by a message like any other. If it times out again before handling its own request, it
    answers that stale request with a refusal of its new term, records itself as having
    responded, and never asks itself again in that term; with two servers it can then never
    win, whoever else votes for it.
    """
    if any(srv.state == Role.Leader for srv in s.servers):
        return False
    newest = max(srv.currentTerm for srv in s.servers)
    candidates = [
        srv for srv in s.servers if srv.state == Role.Candidate and srv.currentTerm == newest
    ]
    if len(candidates) != 1:
        return False
    c = candidates[0]
    log = c.log
    if not all(log_up_to_date(srv.log, log[-1].term if log else 0, len(log)) for srv in s.servers):
        return False
    open_votes = tuple(k for k in range(len(s.servers))
                       if k in c.votesGranted or k not in c.votesResponded)
    return is_quorum(open_votes, len(s.servers))


def election_settled(s: State) -> bool:
    """A leader is elected, or the election is no longer a lone candidate's (another server
    timed out, or the candidate's log fell behind a message from an earlier leader)."""
    return not lone_candidate(s)


# --- the properties ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Liveness:
    """One liveness property of Raft: ``trigger ~> goal`` under :data:`RAFT_FAIRNESS` (and
    ``fairness`` of its own), where it comes from, and what makes it true in raft.tla's model."""

    name: str
    section: str
    trigger: Callable[[State], bool]
    goal: Callable[[State], bool]
    #: Why it holds: the assumptions behind it, in words.
    assumption: str
    fairness: Sequence[Fairness] = field(default_factory=tuple)

    @property
    def doc(self) -> str:
        """``P ~> Q`` in words: the first lines of the trigger's and the goal's docstrings."""
        first = [(f.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
                 for f in (self.trigger, self.goal)]
        return f"{first[0]} ~> {first[1]}"


LEADER_LOG_REPLICATED = Liveness(
    "LeaderLogReplicated",
    "§5.3",
    leader_log_pending,
    leader_log_done,
    "§5.3: the leader retries AppendEntries indefinitely until all followers eventually store "
    "all log entries. Holds while the cluster stays stable under the leader (no server times "
    "out past it, it does not restart): those steps end the leader's term, which counts as the "
    "goal; fairness on the leader's AppendEntries to each follower and AdvanceCommitIndex, and "
    "on the delivery of each message.",
)
ELECTION_PROGRESS = Liveness(
    "ElectionProgress",
    "§5.2",
    lone_candidate,
    election_settled,
    "§5.2: a candidate wins an election if it receives votes from a majority; split votes need "
    "another timeout, so the property speaks of a lone candidate whose log every server would "
    "vote for. Fairness on RequestVote to each server, on BecomeLeader, and on delivery.",
)
COMMIT_KNOWN = Liveness(
    "CommitKnown",
    "§5.3",
    commit_pending,
    commit_known,
    "§5.3: the leader includes the highest index it knows to be committed in future "
    "AppendEntries RPCs (including heartbeats) so that the other servers eventually find out. "
    "Threatened by message loss (a heartbeat dropped every time) and restarts (a follower "
    "forgets commitIndex): holds with strong fairness of delivery, a fair-loss link; with weak "
    "fairness the network may drop every heartbeat forever.",
)

#: Every liveness property ``raftmc check`` checks, in the order it reports them.
LIVENESS: Sequence[Liveness] = (LEADER_LOG_REPLICATED, ELECTION_PROGRESS, COMMIT_KNOWN)


@dataclass(frozen=True)
class LivenessFinding:
    """A mutant that is a liveness bug: the property it breaks (as a lasso) and the bounds at
    which the checker finds it (Params fields besides the defaults)."""

    mutant: Mutant
    breaks: str
    bounds: dict[str, object]
    why: str


def liveness_finding(mutant: Mutant | str | None) -> LivenessFinding | None:
    """How the temporal check finds ``mutant``, if it is a liveness bug: the liveness mutants of
    ``mutants.py`` at their own bounds, and the mutants of :data:`LIVENESS_FINDINGS`."""
    if mutant in LIVENESS_FINDINGS:
        return LIVENESS_FINDINGS[Mutant(mutant)]
    if mutant in LIVENESS_MUTANTS:
        v = LIVENESS_MUTANTS[Mutant(mutant)]
        return LivenessFinding(v.name, v.breaks, v.bounds, v.description)
    return None


#: Mutants of ``mutants.MUTANTS`` (found there by a safety lemma) that are liveness bugs, found
#: as lassos at bounds of their own.
LIVENESS_FINDINGS: dict[Mutant, LivenessFinding] = {
    f.mutant: f
    for f in (
        LivenessFinding(
            Mutant.ENTRY_TERM_IS_CURRENT_TERM,
            "LeaderLogReplicated",
            {"servers": 2, "max_term": 3, "max_log": 2, "max_inflight": 1},
            "a follower holding the leader's entry of an earlier term rejects every request "
            "whose prevLogIndex is that entry, and accepts the one below it: the leader's "
            "nextIndex goes up and down forever and the entry of its own term never arrives. "
            "It needs two entries: with one, prevLogIndex 0 always matches.",
        ),
    )
}
