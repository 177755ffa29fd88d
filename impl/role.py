"""The roles a server plays."""

from __future__ import annotations

from enum import Enum


class Role(Enum):
    """Figure 2's server states, plus the pre-candidate of PreVote (dissertation §9.6). The value
    is the name traces and ``/status`` use."""

    FOLLOWER = "follower"
    PRECANDIDATE = "precandidate"
    CANDIDATE = "candidate"
    LEADER = "leader"
