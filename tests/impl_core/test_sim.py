"""Many seeded runs of the simulated cluster: delays, drops, duplicates, reordering, partitions,
crashes and restarts. After each run the five safety properties held throughout (checked as the
run goes and at the end), the persist-before-send contract held for every message, reads were
linearizable, and every acknowledged write is in the final state exactly once.

A failure names its seed: ``Simulation(config, seed).run()`` replays it exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.impl.testing.sim import SimConfig, Simulation, run_seed

CHUNK = 40

# (name, config, chunks in the default run, chunks in the slow run)
PROFILES = [
    ("3-nodes", SimConfig(), 6, 50),
    ("5-nodes", SimConfig(nodes=5, ticks=250), 2, 15),
    ("no-prevote", SimConfig(pre_vote=False, check_quorum=False), 1, 10),
    (
        "lossy-slow",
        SimConfig(drop_rate=0.15, max_delay=8, duplicate_rate=0.1, election_tick=20),
        1,
        10,
    ),
    ("crashy", SimConfig(crash_rate=0.02, partition_rate=0.03, snapshot_every=8), 1, 10),
]


def run_chunk(cfg: SimConfig, chunk: int) -> dict[str, int]:
    totals = {"acked": 0, "crashes": 0, "snapshots": 0, "leaders": 0}
    for seed in range(chunk * CHUNK, (chunk + 1) * CHUNK):
        r = run_seed(seed, cfg)
        totals["acked"] += r.acked_writes
        totals["crashes"] += r.crashes
        totals["snapshots"] += r.snapshots_installed
        totals["leaders"] += len(r.leaders)
    return totals


@pytest.mark.parametrize(
    ("cfg", "chunk"),
    [
        pytest.param(cfg, c, id=f"{name}-{c * CHUNK}..{(c + 1) * CHUNK - 1}")
        for name, cfg, n, _ in PROFILES
        for c in range(n)
    ],
)
def test_seeds(cfg, chunk):
    totals = run_chunk(cfg, chunk)
    # Guard against a vacuous run: the faults and the workload really happened.
    assert totals["acked"] > 0 and totals["leaders"] >= CHUNK
    if cfg.crash_rate:
        assert totals["crashes"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cfg", "chunk"),
    [
        pytest.param(cfg, c, id=f"{name}-{c * CHUNK}..{(c + 1) * CHUNK - 1}")
        for name, cfg, n, slow_n in PROFILES
        for c in range(n, slow_n)
    ],
)
def test_seeds_slow(cfg, chunk):
    run_chunk(cfg, chunk)


def test_snapshots_are_installed_somewhere():
    totals = run_chunk(SimConfig(crash_rate=0.02, snapshot_every=8), 0)
    assert totals["snapshots"] > 0


def test_runs_are_deterministic():
    def trace(seed):
        out = []
        Simulation(
            SimConfig(ticks=120),
            seed,
            observer=lambda e: out.append((e.node, e.kind, e.msg.id if e.msg else None, e.state)),
        ).run()
        return out

    assert trace(11) == trace(11)
    assert trace(11) != trace(12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    nodes=st.sampled_from([1, 2, 3, 4, 5]),
    pre_vote=st.booleans(),
    check_quorum=st.booleans(),
    drop=st.floats(0, 0.3),
    dup=st.floats(0, 0.2),
    max_delay=st.integers(0, 4),  # round trips stay below the election timeout
    crash=st.floats(0, 0.03),
    snapshot_every=st.sampled_from([0, 3, 10, 50]),
    max_entries=st.integers(1, 8),
    max_inflight=st.integers(1, 8),
)
def test_random_configurations(
    seed, nodes, pre_vote, check_quorum, drop, dup, max_delay, crash, snapshot_every,
    max_entries, max_inflight,
):  # fmt: skip
    cfg = SimConfig(
        nodes=nodes,
        ticks=200,
        settle_ticks=600,
        pre_vote=pre_vote,
        check_quorum=check_quorum,
        drop_rate=drop,
        duplicate_rate=dup,
        max_delay=max_delay,
        crash_rate=crash,
        snapshot_every=snapshot_every,
        max_entries_per_msg=max_entries,
        max_inflight=max_inflight,
    )
    Simulation(cfg, seed).run()
