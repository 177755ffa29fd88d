"""Known-bug variants of the spec (mutants): a checker that never fails proves nothing.

Each mutant is one wrong line in one action of ``actions.py`` (search for its name there). Each
names the property it breaks and bounds at which the checker finds a shortest counterexample;
the unmutated spec passes the same bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Mutant(StrEnum):
    """The known-bug variants of the spec, by name (``--mutant NAME``)."""

    COMMIT_OLD_TERM = "commit-old-term"
    VOTE_WITHOUT_LOG_CHECK = "vote-without-log-check"
    ENTRY_TERM_IS_CURRENT_TERM = "entry-term-is-current-term"
    TRUNCATE_ON_ANY_APPEND = "truncate-on-any-append"
    FORGET_VOTE_ON_RESTART = "forget-vote-on-restart"
    # Liveness bugs: no safety property can name them (spec/liveness.py).
    KEEP_NEXT_INDEX_ON_REJECT = "keep-next-index-on-reject"
    CANDIDATE_SKIPS_OWN_VOTE = "candidate-skips-own-vote"
    # The options' own (spec/options.py).
    PREVOTE_KEEPS_TALLY = "prevote-keeps-tally"
    NOOP_OVERWRITES_LAST = "noop-overwrites-last"
    APPEND_IGNORES_CONFLICTS = "append-ignores-conflicts"
    COMPACT_UNCOMMITTED = "compact-uncommitted"
    STEPDOWN_FORGETS_VOTE = "stepdown-forgets-vote"
    # The membership option's (spec/membership.py).
    CONFIG_CHANGE_BEFORE_NOOP_COMMIT = "config-change-before-noop-commit"
    CONCURRENT_CONFIG_CHANGES = "concurrent-config-changes"


@dataclass(frozen=True)
class Variant:
    """A mutant: the property it breaks, what is wrong, and bounds at which the checker finds
    it (Params fields besides the defaults).

    ``checks`` names the invariants and action properties its run checks, as the INVARIANT
    lines of a TLC cfg (empty: every one). A mutant names them when a lemma or another property
    fails earlier on the way to the one it is about, and would end the search there.
    """

    name: Mutant
    breaks: str
    description: str
    bounds: dict[str, object] = field(default_factory=dict)
    checks: tuple[str, ...] = ()


MUTANTS: dict[Mutant, Variant] = {
    m.name: m
    for m in (
        Variant(
            name=Mutant.COMMIT_OLD_TERM,
            breaks="ElectableLogsHoldCommitted",
            description=(
                "AdvanceCommitIndex commits an entry of an earlier term by counting replicas "
                "(the scenario of Figure 8 in the Raft paper). The lemma names it at the "
                "commit, when a server lacking the entry can still win an election; "
                "LeaderCompleteness itself fails one election later, at max term 5."
            ),
            bounds={"max_term": 4, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.VOTE_WITHOUT_LOG_CHECK,
            breaks="LeaderCompleteness",
            description=(
                "HandleRequestVoteRequest grants a vote without checking that the candidate's "
                "log is at least as up-to-date as the voter's (§5.4.1)."
            ),
            bounds={"max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.ENTRY_TERM_IS_CURRENT_TERM,
            breaks="AppendEntriesPrevLogTermMatches",
            description=(
                "AppendEntries sends the leader's currentTerm as prevLogTerm instead of the "
                "term of the entry at prevLogIndex. In raft.tla this only makes followers "
                "reject more (a follower's entry of the leader's term came from that leader), "
                "so the five safety properties still hold: followers behind an entry of an "
                "earlier term never catch up. The lemma on AppendEntries requests catches it."
            ),
            bounds={"max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.TRUNCATE_ON_ANY_APPEND,
            breaks="ElectableLogsHoldCommitted",
            description=(
                "HandleAppendEntriesRequest truncates the log at prevLogIndex on every accepted "
                "request, even when the entries already match, so an old, reordered request "
                "erases entries that later ones added (a committed entry is lost)."
            ),
            bounds={"max_term": 2, "max_log": 1, "max_inflight": 2},
        ),
        Variant(
            name=Mutant.FORGET_VOTE_ON_RESTART,
            breaks="ElectionSafety",
            description="Restart loses votedFor, so a server can vote twice in one term.",
            bounds={"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": True},
        ),
    )
}

# Mutants of the options (spec/options.py): each option's own way to go wrong. Kept apart from
# MUTANTS, which are raft.tla's and which the compiled model and the Z3 encoding implement too;
# ``--mutant`` accepts both (ALL_MUTANTS).
OPTION_MUTANTS: dict[Mutant, Variant] = {
    m.name: m
    for m in (
        Variant(
            name=Mutant.PREVOTE_KEEPS_TALLY,
            breaks="ElectionSafety",
            description=(
                "Timeout after a won PreVote round keeps the pre-votes as votes: pre-votes "
                "promise nothing, so two servers become leaders of the same term (option prevote)."
            ),
            bounds={"prevote": True, "max_term": 2, "max_log": 0, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.NOOP_OVERWRITES_LAST,
            breaks="LeaderAppendOnly",
            description=(
                "AppendNoop writes the new leader's no-op over its last entry instead of after "
                "it, an off-by-one (option noop)."
            ),
            bounds={"noop": True, "servers": 2, "max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.APPEND_IGNORES_CONFLICTS,
            breaks="ElectableLogsHoldCommitted",
            description=(
                "A follower handling a request of several entries skips rule 3 (delete a "
                "conflicting entry and all that follow it) and acknowledges a match it does not "
                "have (option batch)."
            ),
            bounds={"batch": 1, "max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.COMPACT_UNCOMMITTED,
            breaks="ElectableLogsHoldCommitted",
            description=(
                "Compact snapshots entries that are not committed yet; after a restart the "
                "server counts what its snapshot covers as committed, though no majority holds "
                "it (option snapshots)."
            ),
            bounds={
                "batch": 1,
                "snapshots": True,
                "faults": True,
                "max_term": 3,
                "max_log": 1,
                "max_inflight": 1,
            },  # fmt: skip
        ),
        Variant(
            name=Mutant.STEPDOWN_FORGETS_VOTE,
            breaks="ElectionSafety",
            description=(
                "StepDown clears votedFor in the same term, so the server votes again and a "
                "second leader is elected in its term (option stepdown; needs --ghost)."
            ),
            bounds={
                "stepdown": True,
                "ghost": True,
                "max_term": 2,
                "max_log": 0,
                "max_inflight": 1,
            },  # fmt: skip
        ),
    )
}

# Liveness bugs: each breaks a property of spec/liveness.py, found as a lasso by the temporal
# check; every safety property holds.
LIVENESS_MUTANTS: dict[Mutant, Variant] = {
    m.name: m
    for m in (
        Variant(
            name=Mutant.KEEP_NEXT_INDEX_ON_REJECT,
            breaks="LeaderLogReplicated",
            description=(
                "HandleAppendEntriesResponse leaves nextIndex as it was when a follower rejects "
                "a request, instead of decrementing it: the leader retries the same request "
                "forever and a follower that lacks the entry before it never catches up."
            ),
            bounds={"servers": 2, "max_term": 4, "max_log": 1, "max_inflight": 1},
        ),
        Variant(
            name=Mutant.CANDIDATE_SKIPS_OWN_VOTE,
            breaks="ElectionProgress",
            description=(
                "RequestVote never asks the candidate itself, so it never votes for itself: "
                "with two servers no candidate can gather a majority."
            ),
            bounds={"servers": 2, "max_term": 2, "max_log": 0, "max_inflight": 1},
        ),
    )
}

# Mutants of the membership option (spec/membership.py), kept apart because their bounds, four
# servers for the first, take the readable spec far longer than the other options' mutants.
MEMBERSHIP_MUTANTS: dict[Mutant, Variant] = {
    m.name: m
    for m in (
        Variant(
            name=Mutant.CONFIG_CHANGE_BEFORE_NOOP_COMMIT,
            breaks="ElectionSafety",
            description=(
                "AddServer and RemoveServer do not wait until an entry of the leader's term is "
                "committed: the single-server rule as the dissertation gave it before the fix "
                "of 2015. Two leaders of successive terms each remove a different server from "
                "the four they inherited; the majorities of the two new configurations need not "
                "meet, and two terms later each configuration elects a leader: two leaders of "
                "one term. Its run checks ElectionSafety alone: the lemma and "
                "LeaderCompleteness fail on the way, when the second change commits (the "
                "README's story; option membership)."
            ),
            bounds={
                "membership": True,
                "servers": 4,
                "values": 0,
                "candidates": 2,
                "max_term": 5,
                "max_log": 1,
                "max_inflight": 1,
            },  # fmt: skip
            checks=("ElectionSafety",),
        ),
        Variant(
            name=Mutant.CONCURRENT_CONFIG_CHANGES,
            breaks="ElectableLogsHoldCommitted",
            description=(
                "AddServer and RemoveServer do not wait until the previous configuration entry "
                "is committed (Figure 4.3 of the dissertation, step 3): a leader of three "
                "servers removes two in a row, commits alone in a configuration of one, and a "
                "server that lacks those entries can still win an election in the old "
                "configuration (option membership)."
            ),
            bounds={
                "membership": True,
                "max_changes": 2,
                "max_term": 2,
                "max_log": 3,
                "max_inflight": 1,
            },  # fmt: skip
        ),
    )
}

ALL_MUTANTS: dict[Mutant, Variant] = {
    **MUTANTS, **OPTION_MUTANTS, **LIVENESS_MUTANTS, **MEMBERSHIP_MUTANTS
}
