"""The batched search (one process, worker processes, a frontier spilled to disk) on toy models
with the batch protocol: the same counts, coverage, sometimes verdicts and shortest
counterexamples as the plain search, which these toys' hand counts already pin down."""

import pytest
from raftkit.modelcheck.engine import check, replay
from toy_batch import BatchToy
from toy_models import dials, tokens


def _figures(r):
    # Which action first reached a state shared by two parents of one level depends on the
    # order states are expanded in (workers interleave): only the sum of "distinct" is fixed.
    return (
        r.result,
        r.distinct_states,
        r.states_generated,
        r.depth,
        {k: v.enabled for k, v in r.coverage.items() if v.enabled},
        sum(v.distinct for v in r.coverage.values()),
        r.sometimes,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_two_dials_as_the_plain_search_counts_them(workers):
    toy = dials(12, 9, stay=True, sometimes={"Corner": lambda s: s == (12, 9)})
    plain = check(toy)
    batched = check(BatchToy(toy), workers=workers)
    assert _figures(batched) == _figures(plain)
    assert (batched.distinct_states, batched.depth) == (13 * 10, 12 + 9 + 1)
    assert batched.store == "fingerprint" and plain.store == "fingerprint"


@pytest.mark.parametrize("workers", [1, 2])
def test_symmetric_tokens(workers):
    toy = tokens(4, 5, symmetry=True, wrap=True)
    plain = check(toy)
    batched = check(BatchToy(toy), workers=workers)
    assert _figures(batched) == _figures(plain)


def test_a_spilled_frontier_changes_nothing(tmp_path):
    toy = tokens(6, 4, symmetry=False)
    plain = check(toy)
    spilled = check(BatchToy(toy), frontier_budget=1000, spill_dir=str(tmp_path))
    assert _figures(spilled) == _figures(plain)
    assert plain.max_queue > 1000  # the frontier did outgrow the budget


@pytest.mark.parametrize("workers", [1, 2])
def test_a_violation_with_a_shortest_trace_that_replays(workers):
    toy = dials(20, 20, invariants={"SmallSum": lambda s: s[0] + s[1] < 9})
    plain = check(toy)
    batched = check(BatchToy(toy), workers=workers)
    assert batched.result == plain.result == "violation"
    assert batched.violation.property == "SmallSum"
    assert len(batched.violation.trace) == len(plain.violation.trace) == 10
    replay(toy, batched.violation.trace)


def test_an_action_property_is_found_too():
    toy = dials(8, 8, actions={"NoBJump": lambda s, label, t: not (t[1] == 5)})
    plain = check(toy)
    batched = check(BatchToy(toy))
    assert batched.violation.kind == plain.violation.kind == "action"
    assert len(batched.violation.trace) == len(plain.violation.trace)
