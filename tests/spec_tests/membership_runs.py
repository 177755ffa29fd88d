"""Drive the spec with membership by hand: elections, replication and changes as short calls,
each step one of ``next_steps``' own successors (so a step the spec does not allow fails)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from raftkit.spec.next import next_steps, receive
from raftkit.spec.params import Params
from raftkit.spec.state import State

# The steps taken since ``recording`` began, as the checker's traces have them.
_trace: list[tuple[Any, State]] | None = None


@contextmanager
def recording(s: State) -> Iterator[list[tuple[Any, State]]]:
    """Record every step the helpers below take from ``s``: ``[(None, s), (label, s1), ...]``."""
    global _trace
    _trace = [(None, s)]
    try:
        yield _trace
    finally:
        _trace = None


def _took(label: Any, t: State) -> State:
    if _trace is not None:
        _trace.append((label, t))
    return t


def step(p: Params, s: State, *label: Any) -> State:
    """The successor of ``s`` by the local step ``label`` (e.g. ``"AddServer", 0, 2``)."""
    for got, t in next_steps(p, s):
        if tuple(got) == label:
            return _took(got, t)
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
        s = _took(*steps[0])
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


def story_2015(bug: Params) -> list[tuple[Any, State]]:
    """The 2015 bug as a behaviour of the mutant ``config-change-before-noop-commit`` (Ongaro's
    raft-dev scenario with four servers, one removal per leader): s1 (term 2) removes s2 and
    tells no one; s2 (term 3) removes s1 and tells s3 only; in term 4 s1 wins {s1, s4} of
    {s1, s3, s4} and s3 wins {s2, s3} of {s2, s3, s4}. Returns the trace."""
    from raftkit.spec.state import init_state

    s = init_state(bug)
    with recording(s) as trace:
        s = elect(bug, s, 0, (0, 2, 3))
        s = step(bug, s, "RemoveServer", 0, 1)
        # s2 times out twice (s3 and s4 voted in term 2); s1 hears term 3 and refuses its vote.
        s = elect(bug, step(bug, s, "Timeout", 1), 1, (1, 0, 2, 3))
        s = replicate(bug, step(bug, s, "RemoveServer", 1, 0), 1, 2)
        s = elect(bug, s, 0, (0, 3))
        elect(bug, s, 2, (2, 1))
        return list(trace)
