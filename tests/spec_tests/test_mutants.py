"""Known bugs are found with shortest counterexamples; the unmutated spec passes the same bounds."""

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.trace import replay
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params

# States in the shortest counterexample (initial state included), as measured by the checker.
# Breadth-first search makes them minimal, so any change here is a change of semantics.
EXPECTED = {
    "vote-without-log-check": 26,
    "entry-term-is-current-term": 25,
    "forget-vote-on-restart": 19,
}
CHEAP = ["forget-vote-on-restart"]


def model(name=None, **extra):
    bounds = dict(MUTANTS[name].bounds) if name else {}
    bounds.update(extra)
    return RaftModel(Params(mutant=name, **bounds), symmetry=True)


def assert_found(name):
    m = model(name)
    result = check(m)
    assert result.result == "violation"
    assert result.violation.property == MUTANTS[name].breaks
    replay(m, result.violation.trace)
    assert len(result.violation.trace) == EXPECTED[name]
    return result


@pytest.mark.parametrize("name", CHEAP)
def test_cheap_mutant_is_found_with_a_shortest_counterexample(name):
    assert_found(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(CHEAP)))
def test_mutant_is_found_with_a_shortest_counterexample(name):
    assert_found(name)


@pytest.mark.parametrize("name", CHEAP)
def test_unmutated_spec_passes_the_bounds_of_a_cheap_mutant(name):
    bounds = MUTANTS[name].bounds
    result = check(RaftModel(Params(**bounds), symmetry=True))
    assert result.result == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(CHEAP)))
def test_unmutated_spec_passes_the_bounds_of_each_mutant(name):
    result = check(RaftModel(Params(**MUTANTS[name].bounds), symmetry=True))
    assert result.result == "ok"


def test_every_mutant_names_a_property_the_model_checks():
    names = {p.name for p in RaftModel(Params()).properties().invariants}
    names |= {p.name for p in RaftModel(Params()).properties().action_properties}
    for mutant in MUTANTS.values():
        assert mutant.breaks in names


def test_the_violating_state_of_a_counterexample_really_breaks_the_property():
    result = assert_found("forget-vote-on-restart")
    m = model("forget-vote-on-restart")
    props = {p.name: p.holds for p in m.properties().invariants}
    trace = result.violation.trace
    assert not props["ElectionSafety"](trace[-1][1])
    assert all(props["ElectionSafety"](s) for _label, s in trace[:-1])
