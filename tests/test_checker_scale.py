"""The compact stores, the spilling frontier, worker processes and the benchmark command."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.fpset import _GOLDEN, FingerprintSet, Frontier
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params

A = {"servers": 3, "values": 1, "max_term": 2, "max_log": 0, "max_dup": 1, "max_inflight": 1}


#: The table's multiplier (Fibonacci hashing), to spread small values or to defeat it.
_G = int(_GOLDEN)


def _add_like_a_set(fs: FingerprintSet, seen: set[int], fps: list[int]) -> None:
    """Add ``fps`` as one batch; the table must answer as a Python set would (zero stored as 1)."""
    new = fs.add_batch(np.array(fps, dtype=np.uint64))
    expect = []
    for f in fps:
        f = f or 1
        expect.append(f not in seen)
        seen.add(f)
    assert new.tolist() == expect
    assert len(fs) == len(seen)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 300), max_size=400), max_size=8))
# Batches of repeats and of fingerprints already stored: the table grew for them once (found by
# hypothesis in a CI-like run; a benchmark row showed 16.5 bytes per state), so bytes per state
# broke the bound below.
@example([[0] * 13])
@example([[5], [5] * 13])
@example([list(range(40)), list(range(40))])
# A table near its load, then a batch small beside it, all repeats: sized by the batch, it grew.
@example([list(range(300)), list(range(300, 480)), list(range(150))])
def test_fingerprint_set_is_a_set(batches):
    fs = FingerprintSet(capacity=16)
    seen = set()
    for batch in batches:
        # Small values spread by a multiplier, zero included (stored as 1: a collision with 1).
        _add_like_a_set(fs, seen, [(v * _G) % 2**64 for v in batch])
        # After every batch, not only at the end (a search may stop after any): the table
        # is its first 16 slots, or at most 1/MIN_LOAD slots per state plus 16.
        assert fs.nbytes <= 8 * max(16, len(fs) / FingerprintSet.MIN_LOAD + 16)


# Fingerprints k * G^-1 (G the table's multiplier) mix to k, below 2^32: all share home slot 0,
# so they form one long cluster, which the windowed probe rounds must walk.
_G_INV = pow(_G, -1, 2**64)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.booleans(), st.integers(1, 200)), max_size=300),
        min_size=1,
        max_size=6,
    )
)
def test_fingerprint_set_is_a_set_with_long_clusters(batches):
    fs = FingerprintSet(capacity=16)
    seen = set()
    for batch in batches:
        _add_like_a_set(fs, seen, [(k * (_G_INV if same else _G)) % 2**64 for same, k in batch])


def test_fingerprint_set_bytes_per_state_at_scale():
    fs = FingerprintSet()
    rng = np.random.default_rng(7)
    for _ in range(20):
        fs.add_batch(rng.integers(1, 2**63, 50_000, dtype=np.int64).view(np.uint64))
    assert len(fs) == 1_000_000
    assert 8 / FingerprintSet.MAX_LOAD <= fs.nbytes / len(fs) <= 16.01


def test_frontier_spills_and_keeps_order(tmp_path):
    f = Frontier(budget=10, spill_dir=str(tmp_path))
    for k in range(0, 100, 7):
        f.extend(list(range(k, min(k + 7, 100))))
    assert len(f) == 100 and f.spilled_total > 0
    assert [x for chunk in f.chunks(9) for x in chunk] == list(range(100))
    assert len(f) == 0 and not list(tmp_path.iterdir())


def _counts(r):
    return (r.result, r.distinct_states, r.states_generated, r.depth)


def test_spilling_search_counts_as_in_memory():
    p = Params(**A)
    assert _counts(check(FastRaftModel(p), frontier_budget=500)) == ("ok", 10362, 88594, 40)


@pytest.mark.parametrize("history", [False, True])
@pytest.mark.parametrize("symmetry", [True, False])
def test_two_workers_count_as_one(history, symmetry):
    p = Params(**A, history=history)
    one = check(FastRaftModel(p, symmetry))
    two = check(FastRaftModel(p, symmetry), workers=2)
    assert _counts(two) == _counts(one)
    assert two.sometimes == one.sometimes
    assert {k: v.enabled for k, v in two.coverage.items()} == {
        k: v.enabled for k, v in one.coverage.items()
    }
    assert sum(v.distinct for v in two.coverage.values()) == two.distinct_states - 1


def test_workers_find_a_shortest_counterexample():
    name = "forget-vote-on-restart"
    p = Params(mutant=name, **MUTANTS[name].bounds)
    one = check(FastRaftModel(p))
    two = check(FastRaftModel(p), workers=3)
    assert two.result == "violation" and two.violation.property == MUTANTS[name].breaks
    assert len(two.violation.trace) == len(one.violation.trace)
    replay(RaftModel(p), two.violation.trace)


def test_raftmc_check_workers_and_reference_agree():
    args = ["--max-term", "2", "--max-log", "0", "--json"]
    outs = []
    for extra in ([], ["--workers", "2"], ["--reference"]):
        proc = subprocess.run(
            [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *args, *extra],
            capture_output=True, text=True, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        outs.append((out["distinct_states"], out["states_generated"], out["depth"]))
    assert outs == [(10362, 88594, 40)] * 3


def test_raftmc_bench_json_matches_tlc():
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "bench", "--configs", "A",
         "--workers", "1", "--symmetry", "on", "--repeat", "3", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["runs"]
    assert (row["distinct"], row["generated"], row["depth"]) == (13058, 112270, 40)
    assert row["tlc_ok"] is True
    assert 0 < row["bytes_per_state"] <= 16.01
    # Three runs, the row being the middle one; A has no TLC seconds in the issue.
    runs = row["all_seconds"]
    assert len(runs) == 3 and runs == sorted(runs) and row["seconds"] == runs[1]
    assert row["tlc_seconds"] is None and row["times_tlc"] is None


def test_bench_rows_compare_with_tlc_measured_beside_them():
    from raftkit.modelcheck.benchmark.runs import Row, side_by_side, table

    row = Row("D", False, 1, True, 705_532, 8_683_474, 39, 7.3, 10.2, 123, 0.8, True,
              tlc_seconds=36.5, all_seconds=[6.1, 7.3, 9.0],
              cpu_seconds=8.1, tlc_all_seconds=[35.0, 36.5, 40.0], wall_seconds=8.0,
              tlc_wall_seconds=37.6, tlc_counts=(705_532, 8_683_474, 39), tlc_cpu_seconds=40.5)
    assert row.times_tlc == pytest.approx(36.5 / 7.3)
    assert row.times_tlc_wall == pytest.approx(37.6 / 8.0)
    assert row.times_tlc_cpu == pytest.approx(40.5 / 8.1)
    line = side_by_side([row]).splitlines()[-1]
    assert (
        "| 36.5 | 35.0-40.0 (3) | 7.3 | 6.1-9.0 (3) | 5.0 | 37.6 | 8.0 | 4.7 | 40.5 | 8.1 | 5.0 "
        "| match |"
    ) in line
    # Without TLC beside it, no time of TLC's is shown: only the counts are compared.
    plain = table([row]).splitlines()
    assert "TLC s" not in plain[0] and plain[-1].endswith("| 0.8 | match |")
    differ = Row("D", False, 1, True, 705_531, 8_683_474, 39, 7.3, 10.2, 123, 0.8, False,
                 tlc_seconds=36.5, tlc_counts=(705_532, 8_683_474, 39))
    assert side_by_side([differ]).endswith("| MISMATCH (TLC 705,532 / 8,683,474 / 39) |")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers"),
        (["--workers", "2", "--reference"], "--workers"),
        (["--frontier-budget", "5"], "--frontier-budget"),
    ],
)
def test_bad_scale_flags_are_one_line_usage_errors(args, message):
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *args],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
