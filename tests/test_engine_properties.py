"""Invariants, action properties, sometimes properties and counterexample traces."""

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import ReplayError, replay
from toy_models import Toy, dials, props, tokens


def states(trace):
    return [state for _, state in trace]


@pytest.mark.parametrize("store", ["fingerprint", "exact"])
def test_invariant_violated_at_known_depth_gives_shortest_replayable_trace(store):
    model = dials(2, 3, invariants={"NotCorner": lambda s: s != (2, 3)})
    result = check(model, store=store)
    assert result.result == "violation"
    v = result.violation
    assert (v.property, v.kind) == ("NotCorner", "invariant")
    # (2, 3) is 5 steps from (0, 0): 6 states, the last one the corner.
    assert len(v.trace) == 6
    assert v.trace[0] == (None, (0, 0))
    assert v.trace[-1][1] == (2, 3)
    replay(model, v.trace)
    assert result.depth == 6
    # The corner is the last state found at its level, so everything else was found first.
    assert result.distinct_states == 12


def test_trace_replays_step_by_step_through_successors():
    model = dials(3, 3, invariants={"SumBelow4": lambda s: s[0] + s[1] < 4})
    trace = check(model).violation.trace
    assert len(trace) == 5
    for (_, before), (label, after) in zip(trace, trace[1:], strict=False):
        assert (label, after) in model.successors(before)


def test_invariant_on_initial_state():
    model = dials(2, 2, invariants={"Never": lambda s: False})
    result = check(model)
    assert result.violation.trace == [(None, (0, 0))]
    assert (result.distinct_states, result.states_generated, result.depth) == (1, 1, 1)


def test_out_of_bounds_successor_is_checked_against_invariants():
    # a = 3 is out of bounds: never stored, but its invariant violation is still found, and
    # the trace ends with that successor.
    model = dials(2, 3, invariants={"AAtMost2": lambda s: s[0] <= 2})
    result = check(model)
    assert result.violation.property == "AAtMost2"
    assert states(result.violation.trace) == [(0, 0), (1, 0), (2, 0), (3, 0)]
    assert result.violation.trace[-1][0] == ("IncA",)
    replay(model, result.violation.trace)


def test_out_of_bounds_states_are_not_counted_or_reached():
    model = dials(
        2,
        3,
        invariants={"AAtMost3": lambda s: s[0] <= 3},
        sometimes={"AIs3": lambda s: s[0] == 3, "Corner": lambda s: s == (2, 3)},
        steps={"StepToA3": lambda s, a, t: t[0] == 3, "StepToA2": lambda s, a, t: t[0] == 2},
    )
    result = check(model)
    assert result.result == "ok"
    assert result.distinct_states == 12
    assert result.sometimes == {
        "AIs3": False,
        "Corner": True,
        "StepToA3": False,
        "StepToA2": True,
    }


def test_action_property_violation_ends_with_the_step():
    model = dials(2, 3, actions={"NoIncBAtA2": lambda s, a, t: not (s[0] == 2 and a[0] == "IncB")})
    result = check(model)
    v = result.violation
    assert (v.property, v.kind) == ("NoIncBAtA2", "action")
    assert states(v.trace) == [(0, 0), (1, 0), (2, 0), (2, 1)]
    assert v.trace[-1][0] == ("IncB",)
    replay(model, v.trace)


def test_action_property_checked_on_steps_to_seen_states():
    # The only step back to an already seen state is Stay; the property forbids it at (1, 1).
    model = dials(
        2, 2, stay=True, actions={"NoStay11": lambda s, a, t: not (a[0] == "Stay" and s == (1, 1))}
    )
    v = check(model).violation
    assert v.kind == "action"
    assert states(v.trace)[-2:] == [(1, 1), (1, 1)]


def test_action_property_checked_on_out_of_bounds_steps():
    model = dials(
        2, 3, actions={"IncANotFrom2": lambda s, a, t: not (a[0] == "IncA" and s[0] == 2)}
    )
    v = check(model).violation
    assert states(v.trace) == [(0, 0), (1, 0), (2, 0), (3, 0)]


def test_sometimes_on_initial_state():
    result = check(dials(1, 1, sometimes={"Origin": lambda s: s == (0, 0)}))
    assert result.sometimes == {"Origin": True}


def test_symmetric_counterexample_is_a_real_behaviour():
    # With symmetry the queue holds whichever relabelling came first; the rebuilt trace must
    # still be a path of actual successors, not of canonical forms.
    model = tokens(3, 3, symmetry=True, invariants={"SumBelow7": lambda s: sum(s) < 7})
    result = check(model)
    trace = result.violation.trace
    assert len(trace) == 8
    assert sum(trace[-1][1]) == 7
    replay(model, trace)


def test_symmetric_action_violation_replays():
    model = tokens(3, 2, symmetry=True, actions={"NoThirdAtTop": lambda s, a, t: t.count(2) < 3})
    trace = check(model).violation.trace
    assert len(trace) == 7
    assert trace[-1][1] == (2, 2, 2)
    replay(model, trace)


def test_broken_symmetry_is_reported_not_hidden():
    # canonical() merges 1 and 2, which do not behave alike, and successors() changes its
    # order between calls: the search stores 2 and finds 3, the replay meets 1 and cannot.
    calls = []

    def step(s):
        if s == 0:
            calls.append(s)
            yield from ([(("Go",), 2), (("Go",), 1)] if len(calls) == 1 else [(("Go",), 1)])
        elif s == 2:
            yield ("Go",), 3

    model = Toy(
        inits=[0],
        step=step,
        canon=lambda s: 1 if s in (1, 2) else s,
        props=props(invariants={"Not3": lambda s: s != 3}),
    )
    with pytest.raises(ReplayError, match="symmetry"):
        check(model)


def test_replay_rejects_a_fake_trace():
    model = dials(2, 2)
    with pytest.raises(ReplayError, match="step 2"):
        replay(model, [(None, (0, 0)), (("IncA",), (2, 0))])
    with pytest.raises(ReplayError, match="initial"):
        replay(model, [(None, (1, 0))])
