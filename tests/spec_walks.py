"""Reachable states of the readable spec, for tests that check a claim state by state."""

from __future__ import annotations

from collections import deque

from raftkit.spec.model import within_bounds
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import State, init_state


def param_ids(p: Params) -> str:
    """A test id naming the parameters that differ from off."""
    return ",".join(f"{k}={v}" for k, v in p.describe().items() if v not in (False, None, 0))


def reachable(p: Params, limit: int = 4000) -> list[State]:
    """In-bounds states reachable in the readable spec, breadth-first, at most ``limit``."""
    first = init_state(p)
    seen = {first}
    queue = deque([first])
    out = []
    while queue and len(out) < limit:
        s = queue.popleft()
        out.append(s)
        for _label, t in next_steps(p, s):
            if within_bounds(p, t) and t not in seen:
                seen.add(t)
                queue.append(t)
    return out
