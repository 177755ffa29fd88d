"""Schedules of the protocol core that tests replay step by step.

``config_change_before_noop_commit`` is the counterexample Ongaro posted to raft-dev in 2015 for
the single-server membership changes of his dissertation (§4.1), in the form the spec's mutant
of that name finds it: four servers; a leader of term 1 removes one server before its no-op is
committed, a leader of term 2 removes another from the configuration it inherited, and in term 3
each of the two new configurations elects a leader. The fix (a leader changes the configuration
only after an entry of its own term is committed) refuses the first change, and the schedule
stops there. ``before_2015_fix`` plants the bug in the core for a test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Config
from ..events import Observer
from ..membership_changes import ConfigChangeRefused
from ..messages import Message, NodeId, RequestVote, RequestVoteResponse
from ..node import Node
from ..ready import Ready
from .sim import MemoryStorage

NOOP_RULE = "the leader has not committed an entry of its term yet"
TICKS = 5  # the election timeout, in ticks


def before_2015_fix(
    may_change: Callable[[Node], str | None],
) -> Callable[[Node], str | None]:
    """``Node._may_change_configuration`` without the rule of 2015 (the planted bug): a leader
    may change the configuration before an entry of its term is committed."""

    def bugged(node: Node) -> str | None:
        reason = may_change(node)
        return None if reason == NOOP_RULE else reason

    return bugged


@dataclass
class Outcome:
    """What the schedule led to: the leaders of each term, and the change refused (if any)."""

    leaders: dict[int, set[NodeId]] = field(default_factory=dict)
    refused: str | None = None


class _Cluster:
    """Four nodes with no timers of their own: the schedule says who campaigns, and which
    messages arrive (the others are lost)."""

    def __init__(self, observer: Observer | None) -> None:
        self.ids = ("n1", "n2", "n3", "n4")
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.queue: list[Message] = []
        self.nodes = {
            i: Node(
                Config(i, self.ids, pre_vote=False, check_quorum=True, election_tick=TICKS),
                random.Random(i),
                observer=observer,
            )
            for i in self.ids
        }
        for i in self.ids:
            self.handle(i, self.nodes[i].start())

    def handle(self, i: NodeId, ready: Ready) -> None:
        self.storage[i].save(ready)
        self.queue.extend(ready.messages)

    def isolate_leader(self, i: NodeId) -> None:
        """Let leader ``i`` hear from nobody for an election timeout: check-quorum makes it a
        follower of the same term."""
        for _ in range(TICKS):
            self.handle(i, self.nodes[i].tick())
        self.queue.clear()

    def elect(self, links: set[tuple[NodeId, NodeId]]) -> None:
        """Deliver the vote requests on ``links`` and their answers, until none is left; every
        other message is lost (so the winner's first entries reach nobody)."""
        both = links | {(b, a) for a, b in links}
        while self.queue:
            m = self.queue.pop(0)
            if (m.src, m.dst) in both and isinstance(m, RequestVote | RequestVoteResponse):
                self.handle(m.dst, self.nodes[m.dst].step(m))


def config_change_before_noop_commit(observer: Observer | None = None) -> Outcome:
    """Run the 2015 schedule; see the module docstring."""
    c = _Cluster(observer)
    out = Outcome()

    def note_leaders() -> None:
        for i, n in c.nodes.items():
            if n.is_leader:
                out.leaders.setdefault(n.term, set()).add(i)

    # Term 1: n1 is elected by everyone, then loses every message it sends, and steps down
    # after an election timeout.
    c.handle("n1", c.nodes["n1"].campaign())
    c.elect({("n1", "n2"), ("n1", "n3"), ("n1", "n4")})
    note_leaders()
    try:
        c.handle("n1", c.nodes["n1"].remove_node("n4"))  # {n1, n2, n3}, uncommitted
    except ConfigChangeRefused as exc:
        out.refused = exc.reason
        return out
    c.isolate_leader("n1")
    # Term 2: n2 is elected by n3 and n4 (a majority of {n1..n4}) and removes n3 from the
    # configuration it has, the initial one, before its own no-op is committed.
    c.handle("n2", c.nodes["n2"].campaign())
    c.elect({("n2", "n3"), ("n2", "n4")})
    note_leaders()
    try:
        c.handle("n2", c.nodes["n2"].remove_node("n3"))  # {n1, n2, n4}, uncommitted
    except ConfigChangeRefused as exc:
        out.refused = exc.reason
        return out
    c.isolate_leader("n2")
    # Term 3: n1 needs two votes of {n1, n2, n3}: its own and n3's (it learns term 2 from n3's
    # refusal first); n2 needs two of {n1, n2, n4}: its own and n4's.
    for _ in range(2):
        c.handle("n1", c.nodes["n1"].campaign())
        c.elect({("n1", "n3")})
    c.handle("n2", c.nodes["n2"].campaign())
    c.elect({("n2", "n4")})
    note_leaders()
    return out
