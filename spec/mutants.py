"""Known-bug variants of the spec (mutants): a checker that never fails proves nothing.

Each mutant is one wrong line in one action of ``actions.py`` (search for its name there). Each
names the property it breaks and bounds at which the checker finds a shortest counterexample;
the unmutated spec passes the same bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    name: str
    breaks: str
    description: str
    # Params fields (besides the defaults) at which the bug shows.
    bounds: dict[str, object] = field(default_factory=dict)


MUTANTS: dict[str, Mutant] = {
    m.name: m
    for m in (
        Mutant(
            name="commit-old-term",
            breaks="LeaderCompleteness",
            description=(
                "AdvanceCommitIndex commits an entry of an earlier term by counting replicas "
                "(the scenario of Figure 8 in the Raft paper)."
            ),
            bounds={"max_term": 5, "max_log": 1, "max_inflight": 1},
        ),
        Mutant(
            name="vote-without-log-check",
            breaks="LeaderCompleteness",
            description=(
                "HandleRequestVoteRequest grants a vote without checking that the candidate's "
                "log is at least as up-to-date as the voter's (§5.4.1)."
            ),
            bounds={"max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Mutant(
            name="entry-term-is-current-term",
            breaks="AppendEntriesPrevLogTermMatches",
            description=(
                "AppendEntries sends the leader's currentTerm as prevLogTerm instead of the "
                "term of the entry at prevLogIndex."
            ),
            bounds={"max_term": 3, "max_log": 1, "max_inflight": 1},
        ),
        Mutant(
            name="truncate-on-any-append",
            breaks="LeaderCompleteness",
            description=(
                "HandleAppendEntriesRequest truncates the log at prevLogIndex on every accepted "
                "request, even when the entries already match, so an old, reordered request "
                "erases entries that later ones added."
            ),
            bounds={"max_term": 3, "max_log": 1, "max_inflight": 2},
        ),
        Mutant(
            name="forget-vote-on-restart",
            breaks="ElectionSafety",
            description="Restart loses votedFor, so a server can vote twice in one term.",
            bounds={"max_term": 2, "max_log": 0, "max_inflight": 1, "faults": True},
        ),
    )
}
