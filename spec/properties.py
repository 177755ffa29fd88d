"""The five safety properties of Raft (Figure 3 of the paper), and what must be reachable.

Each property is checked in the strongest form that raises no false alarm on the unmutated spec.
Three of them speak of history ("at most one leader can be elected in a given term", "committed
in a given term", "applied") which a single state does not show:

* Without ``--ghost`` they are checked on what one state shows. ElectionSafety then sees only
  leaders of one term that exist at the same time. LeaderCompleteness and StateMachineSafety
  take an entry as committed when a server's commitIndex covers it: a server in term t only
  learns of commits made in terms <= t, so every leader of a term >= t must hold the entry.
  (The naive "every leader holds every committed entry" is wrong: a stale leader of an old term
  may legally lack an entry a newer leader committed.)
* With ``--ghost`` the ghost variables (see ``state.Ghost``) record every election and every
  commit, and the properties are checked over the whole behaviour so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .state import MType, Role, Server, State, could_win

Label = tuple[Any, ...]


def election_safety(s: State) -> bool:
    """Election Safety: at most one leader can be elected in a given term (§5.2).

    State form: no two servers are leaders of the same term. With ghost state: no term has two
    BecomeLeader steps by different servers in the behaviour so far.
    """
    terms = [srv.currentTerm for srv in s.servers if srv.state == Role.Leader]
    if len(terms) != len(set(terms)):
        return False
    if s.ghost:
        elected_terms = [term for term, _leader in s.ghost.elected]
        return len(elected_terms) == len(set(elected_terms))
    return True


def leader_append_only(before: State, label: Label, after: State) -> bool:
    """Leader Append-Only: a leader never overwrites or deletes entries in its log (§5.3).

    A property of each step: a server that is leader of the same term before and after the step
    has its old log as a prefix of its new one.
    """
    for old, new in zip(before.servers, after.servers, strict=True):
        if (
            old.state == Role.Leader
            and new.state == Role.Leader
            and old.currentTerm == new.currentTerm
            and new.log[: len(old.log)] != old.log
        ):
            return False
    return True


def log_matching(s: State) -> bool:
    """Log Matching: if two logs contain an entry with the same index and term, the logs are
    identical in all entries up through that index (§5.3).
    """
    logs = [srv.log for srv in s.servers]
    for a in range(len(logs)):
        for b in range(a + 1, len(logs)):
            x, y = logs[a], logs[b]
            # The last index where the terms agree decides: the prefixes up to it must be equal.
            for k in range(min(len(x), len(y)), 0, -1):
                if x[k - 1].term == y[k - 1].term:
                    if x[:k] != y[:k]:
                        return False
                    break
    return True


def leader_completeness(s: State) -> bool:
    """Leader Completeness: if a log entry is committed in a given term, that entry will be
    present in the logs of the leaders for all higher-numbered terms (§5.4).

    State form: an entry covered by server i's commitIndex was committed in a term no later than
    i's currentTerm, so every leader whose term is at least i's holds it at the same index.
    With ghost state: every recorded commit (index, entry, term) is in the log of every leader
    of a term >= that term.
    """
    leaders = [srv for srv in s.servers if srv.state == Role.Leader]
    if not leaders:
        return True
    for srv in s.servers:
        top = min(srv.commitIndex, len(srv.log))
        for leader in leaders:
            if leader is srv or leader.currentTerm < srv.currentTerm:
                continue
            if leader.log[:top] != srv.log[:top]:
                return False
    if s.ghost:
        for index, entry, term in s.ghost.committed:
            for leader in leaders:
                if leader.currentTerm >= term and (
                    len(leader.log) < index or leader.log[index - 1] != entry
                ):
                    return False
    return True


def state_machine_safety(s: State) -> bool:
    """State Machine Safety: if a server has applied a log entry at a given index to its state
    machine, no other server will ever apply a different log entry for the same index (§5.4.3).

    State form: the entries covered by two servers' commitIndex agree. With ghost state: no two
    commits recorded in the behaviour so far put different entries at one index.
    """
    prefixes = [srv.log[: min(srv.commitIndex, len(srv.log))] for srv in s.servers]
    for a in range(len(prefixes)):
        for b in range(a + 1, len(prefixes)):
            k = min(len(prefixes[a]), len(prefixes[b]))
            if prefixes[a][:k] != prefixes[b][:k]:
                return False
    if s.ghost:
        seen: dict[int, Any] = {}
        for index, entry, _term in s.ghost.committed:
            if seen.setdefault(index, entry) != entry:
                return False
    return True


# --- the same four, on one pair of servers ---------------------------------------------------
#
# Each of the four state forms above (without ghost variables) is a conjunction over pairs of
# servers: a state has it exactly when every pair of its servers does. The compiled form
# decides them pair by pair, caching each pair's verdict; the tests hold these to the whole-
# state predicates on every pair met in exhaustive runs.


def election_safety_pair(a: Server, b: Server) -> bool:
    """ElectionSafety on two servers: not two leaders of one term."""
    return not (
        a.state == Role.Leader and b.state == Role.Leader and a.currentTerm == b.currentTerm
    )


def log_matching_pair(a: Server, b: Server) -> bool:
    """LogMatching on two servers: the last index where their terms agree decides."""
    x, y = a.log, b.log
    for k in range(min(len(x), len(y)), 0, -1):
        if x[k - 1].term == y[k - 1].term:
            return x[:k] == y[:k]
    return True


def leader_completeness_pair(a: Server, b: Server) -> bool:
    """LeaderCompleteness on two servers: a leader of a term >= the other's holds what the
    other committed."""
    for srv, ldr in ((a, b), (b, a)):
        if ldr.state == Role.Leader and ldr.currentTerm >= srv.currentTerm:
            top = min(srv.commitIndex, len(srv.log))
            if ldr.log[:top] != srv.log[:top]:
                return False
    return True


def state_machine_safety_pair(a: Server, b: Server) -> bool:
    """StateMachineSafety on two servers: their committed prefixes agree."""
    pa = a.log[: min(a.commitIndex, len(a.log))]
    pb = b.log[: min(b.commitIndex, len(b.log))]
    k = min(len(pa), len(pb))
    return pa[:k] == pb[:k]


# --- helper lemmas: invariants of raft.tla beyond the paper's five -----------------------------


def append_entries_prev_log_term_matches(s: State) -> bool:
    """Lemma: an AppendEntries request from a server that is still leader of the request's term
    carries, as prevLogTerm, the term of that leader's entry at prevLogIndex.

    A leader's log only grows during its term (Leader Append-Only), so what it said about its
    log stays true while it leads. Figure 2's consistency check rests on this: a follower's
    "entry at prevLogIndex whose term matches prevLogTerm" is then the leader's entry.
    """
    servers = s.servers
    for m, _count in s.messages:
        if m.mtype != MType.AppendEntriesRequest or m.mprevLogIndex == 0:
            continue
        leader = servers[m.msource]
        if leader.state != Role.Leader or leader.currentTerm != m.mterm:
            continue
        log = leader.log
        if len(log) < m.mprevLogIndex or log[m.mprevLogIndex - 1].term != m.mprevLogTerm:
            return False
    return True


def electable_logs_hold_committed(s: State) -> bool:
    """Lemma: a server whose log could win an election holds every committed entry.

    A log could win an election when it is at least as up-to-date (§5.4.1) as the logs of a
    majority of the servers, its own included: that majority would grant the vote. An entry is
    committed here when some server's commitIndex covers it. This is the argument of §5.4.3
    (Leader Completeness) made a state property: it fails as soon as a committed entry could be
    lost, several elections before a leader lacking it exists. The commit rule of §5.4.2
    (count replicas only for entries of the leader's current term, Figure 8) is what keeps it.
    """
    servers = s.servers
    committed = [srv.log[: min(srv.commitIndex, len(srv.log))] for srv in servers]
    longest = max(committed, key=len)
    if not longest:
        return True
    logs = [srv.log for srv in servers]
    for log in logs:
        if all(log[: len(c)] == c for c in committed):
            continue
        if could_win(logs, log):
            return False
    return True


# --- what must be reachable ------------------------------------------------------------------


def leader_elected(s: State) -> bool:
    """Sometimes: some server becomes leader."""
    return any(srv.state == Role.Leader for srv in s.servers)


def entry_committed(s: State) -> bool:
    """Sometimes: some server's commitIndex covers an entry of its log."""
    return any(srv.commitIndex > 0 and srv.log for srv in s.servers)


def conflicting_entry_overwritten(before: State, label: Label, after: State) -> bool:
    """Sometimes (a step): a follower removes a conflicting entry so the leader's can replace it."""
    if label[0] != "HandleAppendEntriesRequest":
        return False
    i = label[1]
    return len(after.servers[i].log) < len(before.servers[i].log)


class Kind(Enum):
    """What a property says of behaviours (Stateright's expectation, TLC's kinds)."""

    #: Every reachable state has it.
    INVARIANT = "invariant"
    #: Every step ``(before, action, after)`` has it.
    ACTION = "action"
    #: Some reachable state has it (a guard against vacuous success).
    SOMETIMES = "sometimes"
    #: Some step has it.
    SOMETIMES_STEP = "sometimes-step"


class Form(Enum):
    """How the compiled form (``modelcheck/compiled``) decides a property without looking at a
    whole state: on the parts of a state the property reads, each verdict cached."""

    #: A conjunction over pairs of servers (``pair`` gives the verdict of one pair).
    PAIRWISE = "pairwise"
    #: A conjunction over (message, the server that sent it).
    PER_MESSAGE = "per-message"
    #: Over all servers together, reading only their logs and commitIndex, and each one's place
    #: (membership's configurations name servers by place).
    LOGS = "logs"
    #: Of one step of one server (or one state's servers, for a sometimes property): decided
    #: when a step's table entry is built.
    STEP = "step"


@dataclass(frozen=True)
class Property:
    """One property of the spec: its name, what kind of property it is, the Python predicate,
    where it comes from, and the forms it has beside the predicate.

    ``symbolic`` says that it has a Z3 formula (``modelcheck/symbolic/properties.py`` or, for a
    proof's lemma, ``modelcheck/symbolic/lemmas.py``); ``form`` how the compiled form decides it
    (None: it has no compiled form, and ``raftmc check`` says so and runs the readable spec).
    """

    name: str
    kind: Kind
    predicate: Callable[..., bool]
    #: Where it comes from: a section of the Raft paper, or "lemma" for a helper invariant.
    section: str
    form: Form | None = None
    symbolic: bool = False
    #: PAIRWISE only: the verdict on two servers.
    pair: Callable[[Any, Any], bool] | None = None

    @property
    def doc(self) -> str:
        """The first paragraph of the predicate's docstring, on one line."""
        return (self.predicate.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


ELECTION_SAFETY = Property("ElectionSafety", Kind.INVARIANT, election_safety, "§5.2",
                           Form.PAIRWISE, True, pair=election_safety_pair)
LOG_MATCHING = Property("LogMatching", Kind.INVARIANT, log_matching, "§5.3", Form.PAIRWISE,
                        True, pair=log_matching_pair)
LEADER_COMPLETENESS = Property("LeaderCompleteness", Kind.INVARIANT, leader_completeness,
                               "§5.4", Form.PAIRWISE, True, pair=leader_completeness_pair)
STATE_MACHINE_SAFETY = Property("StateMachineSafety", Kind.INVARIANT, state_machine_safety,
                                "§5.4.3", Form.PAIRWISE, True, pair=state_machine_safety_pair)
APPEND_ENTRIES_PREV_LOG_TERM_MATCHES = Property(
    "AppendEntriesPrevLogTermMatches", Kind.INVARIANT, append_entries_prev_log_term_matches,
    "lemma, Figure 2", Form.PER_MESSAGE, True)
ELECTABLE_LOGS_HOLD_COMMITTED = Property(
    "ElectableLogsHoldCommitted", Kind.INVARIANT, electable_logs_hold_committed,
    "lemma, §5.4.3", Form.LOGS, True)
LEADER_APPEND_ONLY = Property("LeaderAppendOnly", Kind.ACTION, leader_append_only, "§5.3",
                              Form.STEP, True)
LEADER_ELECTED = Property("LeaderElected", Kind.SOMETIMES, leader_elected, "§5.2", Form.STEP,
                          True)
ENTRY_COMMITTED = Property("EntryCommitted", Kind.SOMETIMES, entry_committed, "§5.3",
                           Form.STEP, True)
CONFLICTING_ENTRY_OVERWRITTEN = Property(
    "ConflictingEntryOverwritten", Kind.SOMETIMES_STEP, conflicting_entry_overwritten, "§5.3",
    Form.STEP)

#: Every property ``raftmc check`` checks, in the order it reports them.
PROPERTIES: Sequence[Property] = (
    ELECTION_SAFETY,
    LOG_MATCHING,
    LEADER_COMPLETENESS,
    STATE_MACHINE_SAFETY,
    APPEND_ENTRIES_PREV_LOG_TERM_MATCHES,
    ELECTABLE_LOGS_HOLD_COMMITTED,
    LEADER_APPEND_ONLY,
    LEADER_ELECTED,
    ENTRY_COMMITTED,
    CONFLICTING_ENTRY_OVERWRITTEN,
)


def of_kind(kind: Kind) -> tuple[Property, ...]:
    """The spec's properties of one kind, in their order."""
    return tuple(p for p in PROPERTIES if p.kind is kind)


INVARIANTS = of_kind(Kind.INVARIANT)
ACTION_PROPERTIES = of_kind(Kind.ACTION)
SOMETIMES = of_kind(Kind.SOMETIMES)
SOMETIMES_STEPS = of_kind(Kind.SOMETIMES_STEP)
