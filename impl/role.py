"""The roles a server plays, and the error of asking a server that is not the leader."""

from __future__ import annotations

from enum import Enum

from .messages import NodeId


class Role(Enum):
    """Figure 2's server states, plus the pre-candidate of PreVote (dissertation §9.6). The value
    is the name traces and ``/status`` use."""

    FOLLOWER = "follower"
    PRECANDIDATE = "precandidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class NotLeader(Exception):
    """Raised by a leader-only input (``propose``, ``read_index``, membership changes) on a node
    that is not the leader, or on a leader handing leadership over."""

    def __init__(self, leader_id: NodeId | None) -> None:
        super().__init__(f"not the leader; leader is {leader_id!r}")
        self.leader_id = leader_id
