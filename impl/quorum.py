"""Majorities of a set of voters: the size of one, the largest index a majority has stored, and
where an election stands.

Every decision that Raft takes by counting (Figure 2: a candidate "receives votes from a majority
of servers"; a leader commits "N such that a majority of matchIndex[i] >= N") is one of the
functions below, over the voters the caller names, so that there is one definition of a majority.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import Enum

from .messages import NodeId


class VoteOutcome(Enum):
    """Where a (pre-)election stands: a majority granted, a majority refused, or neither yet."""

    WON = "won"
    LOST = "lost"
    PENDING = "pending"


def majority(voters: int) -> int:
    """How many of ``voters`` servers make a majority."""
    return voters // 2 + 1


def committed_index(indices: list[int]) -> int:
    """The largest index stored by a majority, given the match index of every voter (Figure 2,
    rules for leaders: "a majority of matchIndex[i] >= N"). 0 for no voters."""
    if not indices:
        return 0
    return sorted(indices, reverse=True)[majority(len(indices)) - 1]


def vote_outcome(votes: Mapping[NodeId, bool], voters: Collection[NodeId]) -> VoteOutcome:
    """Tally the answers of ``votes`` that come from ``voters`` (answers of others do not count)."""
    granted = refused = 0
    for voter, ok in votes.items():
        if voter in voters:
            if ok:
                granted += 1
            else:
                refused += 1
    need = majority(len(voters))
    if granted >= need:
        return VoteOutcome.WON
    if refused >= need:
        return VoteOutcome.LOST
    return VoteOutcome.PENDING
