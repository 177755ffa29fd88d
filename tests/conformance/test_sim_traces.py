"""impl -> spec: traces of the simulated cluster (crashes, partitions, drops, duplicates,
reordering, snapshots) are replayed against the spec, seed by seed."""

from __future__ import annotations

import pytest

from .helpers import PROFILES, sim_trace, validate_lines

DEFAULT_SEEDS = 4
SLOW_SEEDS = 100


def _check(name: str, seed: int) -> int:
    lines = sim_trace(PROFILES[name], seed)
    outcome = validate_lines(lines, f"{name}-seed-{seed}")
    assert outcome.ok, outcome.failure and outcome.failure.to_json()
    assert outcome.events == len(lines)
    return outcome.events


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_sim_traces_conform(name):
    events = sum(_check(name, seed) for seed in range(DEFAULT_SEEDS))
    assert events > 1000


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROFILES))
def test_sim_traces_conform_many_seeds(name):
    for seed in range(DEFAULT_SEEDS, SLOW_SEEDS):
        _check(name, seed)
