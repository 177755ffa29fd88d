"""Faithfulness, measured: our counts equal TLC's on Ongaro's raft.tla with the same bounds.

Reference figures: TLC 2.15 on ongardie/raft.tla (commit 6ecbdbc) with a state constraint for the
bounds, as benchmarks/tla runs it.
"""

import pytest
from raftkit.modelcheck.engine import check
from raftkit.spec.model import RaftModel
from raftkit.spec.params import Params

A = dict(servers=3, values=1, max_term=2, max_log=0, max_dup=1, max_inflight=1, faults=False)
B = dict(A, max_log=1)
D = dict(A, faults=True)
E = dict(A, max_inflight=2)


def run(bounds, *, history, symmetry):
    result = check(RaftModel(Params(**bounds, history=history), symmetry=symmetry))
    assert result.result == "ok", result.violation
    return result.distinct_states, result.states_generated, result.depth


@pytest.mark.parametrize(
    "history, symmetry, expected",
    [
        # Without symmetry the readable spec takes 25-35 s here; the compiled model's counts
        # are compared with TLC's own in tests/test_tlc_agrees.py, and the two forms' successors
        # with each other in tests/test_compiled_identity.py.
        pytest.param(False, False, (61_805, 528_679, 40), marks=pytest.mark.slow),
        (False, True, (10_362, 88_594, 40)),
        pytest.param(True, False, (77_933, 670_375, 40), marks=pytest.mark.slow),
        (True, True, (13_058, 112_270, 40)),
    ],
)
def test_configuration_a(history, symmetry, expected):
    assert run(A, history=history, symmetry=symmetry) == expected


@pytest.mark.parametrize(
    "bounds, expected",
    [(B, (85_352, None, None)), (D, (118_001, None, None)), (E, (227_417, None, None))],
    ids=["B", "D", "E"],
)
@pytest.mark.slow
def test_history_with_symmetry_b_d_e(bounds, expected):
    distinct, _generated, _depth = run(bounds, history=True, symmetry=True)
    assert distinct == expected[0]


@pytest.mark.parametrize(
    "bounds, expected",
    [(B, (511_055, 4_088_992, 48)), (D, (705_532, 8_683_474, 39))],
    ids=["B", "D"],
)
@pytest.mark.slow
def test_history_without_symmetry_b_d(bounds, expected):
    assert run(bounds, history=True, symmetry=False) == expected
