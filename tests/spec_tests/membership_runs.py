"""Drive the spec with membership by hand: elections, replication and changes as short calls,
each step one of ``next_steps``' own successors (so a step the spec does not allow fails)."""

from __future__ import annotations

from typing import Any

from raftkit.spec.next import next_steps, receive
from raftkit.spec.params import Params
from raftkit.spec.state import State


def step(p: Params, s: State, *label: Any) -> State:
    """The successor of ``s`` by the local step ``label`` (e.g. ``"AddServer", 0, 2``)."""
    for got, t in next_steps(p, s):
        if tuple(got) == label:
            return t
    raise AssertionError(f"{label} is not enabled")


def enabled(p: Params, s: State, *label: Any) -> bool:
    return any(tuple(got) == label for got, _t in next_steps(p, s))


def deliver_all(p: Params, s: State) -> State:
    """Handle every message in flight, oldest alternative first, until the network is empty."""
    for _ in range(100):
        if not s.messages:
            return s
        m = s.messages[0][0]
        steps = list(receive(p, s, m))
        assert steps, f"no handler for {m}"
        s = steps[0][1]
    raise AssertionError("messages keep coming")


def elect(p: Params, s: State, i: int, voters: tuple[int, ...]) -> State:
    """Server i times out and becomes leader with the votes of ``voters`` (itself included)."""
    s = step(p, s, "Timeout", i)
    for v in voters:
        s = deliver_all(p, step(p, s, "RequestVote", i, v))
    return step(p, s, "BecomeLeader", i)


def replicate(p: Params, s: State, i: int, j: int, rounds: int = 4) -> State:
    """Leader i sends j AppendEntries until j's log matches i's (one entry per request)."""
    for _ in range(rounds):
        if s.servers[j].log == s.servers[i].log:
            break
        s = deliver_all(p, step(p, s, "AppendEntries", i, j))
    return s


def commit(p: Params, s: State, i: int) -> State:
    return step(p, s, "AdvanceCommitIndex", i)
