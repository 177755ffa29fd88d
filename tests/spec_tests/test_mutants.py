"""Known bugs are found with shortest counterexamples; the unmutated spec passes the same bounds.

The searches run on the compiled model that ``raftmc check`` uses (``modelcheck/compiled``, proven
identical to the readable spec by its own tests); every counterexample is then converted back
and replayed through the readable spec, which is the reference.
"""

import pytest
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params

# States in the shortest counterexample (initial state included), as measured by the checker.
# Breadth-first search makes them minimal, so any change here is a change of semantics.
EXPECTED = {
    "vote-without-log-check": 26,
    "entry-term-is-current-term": 25,
    "forget-vote-on-restart": 19,
    "truncate-on-any-append": 18,
    "commit-old-term": 42,
}
# Found within seconds; the others need millions of states.
CHEAP = [
    "vote-without-log-check",
    "entry-term-is-current-term",
    "forget-vote-on-restart",
    "truncate-on-any-append",
]


def params_of(name, mutant=True):
    return Params(mutant=name if mutant else None, **MUTANTS[name].bounds)


def assert_found(name):
    p = params_of(name)
    fast = FastRaftModel(p, symmetry=True)
    result = check(fast)
    assert result.result == "violation"
    assert result.violation.property == MUTANTS[name].breaks
    trace = [(label, fast.export_state(s)) for label, s in result.violation.trace]
    reference = RaftModel(p, symmetry=True)
    replay(reference, trace)
    assert len(trace) == EXPECTED[name]
    # The last state (or step) really breaks the property, and no earlier one does.
    props = reference.properties()
    broken = [q for q in props.invariants if q.name == MUTANTS[name].breaks]
    if broken:
        holds = broken[0].holds
        assert not holds(trace[-1][1])
        assert all(holds(s) for _label, s in trace[:-1])
    return trace


@pytest.mark.parametrize("name", CHEAP)
def test_mutant_is_found_with_a_shortest_counterexample(name):
    assert_found(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(CHEAP)))
def test_expensive_mutant_is_found_with_a_shortest_counterexample(name):
    assert_found(name)


def _bounds_of(names):
    return sorted({tuple(sorted(MUTANTS[n].bounds.items())) for n in names})


@pytest.mark.parametrize("bounds", _bounds_of(CHEAP), ids=str)
def test_unmutated_spec_passes_the_bounds_of_the_cheap_mutants(bounds):
    result = check(FastRaftModel(Params(**dict(bounds)), symmetry=True))
    assert result.result == "ok"
    assert result.sometimes["LeaderElected"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(CHEAP)))
def test_unmutated_spec_passes_the_bounds_of_an_expensive_mutant(name):
    # commit-old-term's bounds: 16.9 million distinct states, about four minutes.
    result = check(FastRaftModel(params_of(name, mutant=False), symmetry=True))
    assert result.result == "ok"
    assert all(result.sometimes.values())


def test_every_mutant_names_a_property_the_model_checks():
    props = RaftModel(Params()).properties()
    names = {p.name for p in props.invariants} | {p.name for p in props.action_properties}
    for mutant in MUTANTS.values():
        assert mutant.breaks in names


def test_the_readable_spec_finds_a_mutant_too():
    # The reference model, not only the compiled one, finds the same shortest counterexample.
    p = params_of("forget-vote-on-restart")
    result = check(RaftModel(p, symmetry=True))
    assert result.violation.property == "ElectionSafety"
    assert len(result.violation.trace) == EXPECTED["forget-vote-on-restart"]
    replay(RaftModel(p, symmetry=True), result.violation.trace)
