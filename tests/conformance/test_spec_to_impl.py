"""spec -> impl: paths generated from the spec (breadth-first to a depth, and random walks)
drive the implementation core step by step; after every step the core's state equals the
spec's. And lockstep: a hypothesis state machine drives both through random schedules."""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from raftkit.spec.model import format_label, within_bounds

from .spec_driver import PARAMS, ImplCluster, driver_steps, initial


def _show(path):
    return " ; ".join(format_label(x) for labels in path for x in labels)


def _step_both(impl, labels, t, path, before=None):
    impl.apply(labels)
    diff = impl.differences(t)
    if before is not None:
        diff += impl.check_sends(before, t)
    assert not diff, f"after {_show(path)}:\n" + "\n".join(diff)


def explore_bfs(depth: int) -> tuple[int, int]:
    """Every path of the completed spec steps up to ``depth`` (states met twice are expanded
    once), with the core cloned at each branch. Returns (paths, steps)."""
    frontier = [(initial(), ImplCluster(PARAMS), [])]
    seen = {initial()}
    paths = steps = 0
    for _ in range(depth):
        nxt = []
        for s, impl, path in frontier:
            for labels, t in driver_steps(PARAMS, s):
                if t in seen or not within_bounds(PARAMS, t):
                    continue
                seen.add(t)
                branch = copy.deepcopy(impl)
                _step_both(branch, labels, t, [*path, labels], s)
                steps += 1
                nxt.append((t, branch, [*path, labels]))
        paths += len(nxt)
        frontier = nxt
    return paths, steps


FAULTS = {"Restart", "DuplicateMessage", "DropMessage"}


def choose(options, pick: int):
    """Faults are always enabled (three restarts per state): take them one time in ten, or
    walks would rarely get as far as an election."""
    calm = [o for o in options if o[0][0][0] not in FAULTS]
    pool = calm if calm and pick % 10 else options
    return pool[(pick // 10) % len(pool)]


def random_walks(walks: int, length: int, seed: int, p=PARAMS) -> int:
    rng = random.Random(seed)
    steps = 0
    for _ in range(walks):
        s, impl, path = initial(), ImplCluster(p), []
        for _ in range(length):
            options = [(lb, t) for lb, t in driver_steps(p, s) if within_bounds(p, t)]
            if not options:
                break
            labels, t = choose(options, rng.randrange(1 << 30))
            path.append(labels)
            _step_both(impl, labels, t, path, s)
            s = t
            steps += 1
    return steps


def test_bfs_paths_drive_the_core():
    paths, steps = explore_bfs(7)
    assert steps > 500


def test_random_walks_drive_the_core():
    assert random_walks(40, 60, seed=1) > 1000


@pytest.mark.slow
def test_bfs_paths_drive_the_core_deeper():
    explore_bfs(10)


@pytest.mark.slow
def test_many_random_walks_drive_the_core():
    import dataclasses

    random_walks(1000, 150, seed=2, p=dataclasses.replace(PARAMS, max_term=4, max_log=3,
                                                          max_inflight=3))  # fmt: skip


class Lockstep(RuleBasedStateMachine):
    """The core and the spec, one (completed) spec step each, chosen by hypothesis."""

    @initialize()
    def start(self):
        self.spec = initial()
        self.impl = ImplCluster(PARAMS)
        self.path = []

    @rule(pick=st.integers(min_value=0, max_value=1 << 20))
    def step(self, pick):
        options = [(lb, t) for lb, t in driver_steps(PARAMS, self.spec)
                   if within_bounds(PARAMS, t)]  # fmt: skip
        if not options:
            return
        labels, t = choose(options, pick)
        self.path.append(labels)
        self.impl.apply(labels)
        self.sends = self.impl.check_sends(self.spec, t)
        self.spec = t

    @invariant()
    def agree(self):
        if hasattr(self, "impl"):
            diff = self.impl.differences(self.spec) + getattr(self, "sends", [])
            assert not diff, f"after {_show(self.path)}:\n" + "\n".join(diff)


Lockstep.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
test_lockstep = Lockstep.TestCase
