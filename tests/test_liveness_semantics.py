"""Small models whose liveness verdicts are known by hand: stuttering and deadlocks, weak against
strong fairness, per-instance against quantified fairness, leads-to, the bounds, symmetry."""

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.modelcheck.engine.model import Eventually, Fairness, LeadsTo, Properties
from raftkit.modelcheck.engine.result import LivenessResult
from raftkit.modelcheck.engine.trace import ReplayError, replay
from toy_models import Toy, actions_graph


def WF(*actions, per_instance=False):
    return Fairness("weak", actions, per_instance)


def SF(*actions, per_instance=False):
    return Fairness("strong", actions, per_instance)


def states(trace):
    return [s for _, s in trace]


def detour(*fairness):
    """0 -A-> 2 (the goal), 0 -B-> 1 -C-> 0: A is possible in 0 only."""
    return actions_graph(
        3,
        [(0, 2, "A", 0), (0, 1, "B", 0), (1, 0, "C", 0)],
        [0],
        properties=Properties(
            eventually=(Eventually("ReachTwo", lambda s: s == 2),), fairness=fairness
        ),
    )


def test_without_fairness_a_behaviour_may_stop_at_once():
    live = check_liveness(detour())
    v = live.violation
    assert (v.property, v.kind) == ("ReachTwo", "liveness")
    assert v.trace == [(None, 0)] and v.loop == 0 and v.cycle == [] and v.fairness == []


def test_weak_fairness_is_met_by_a_cycle_that_disables_the_action():
    v = check_liveness(detour(WF("A"), WF("B", "C"))).violation
    assert states(v.trace) == [0, 1, 0] and v.loop == 0
    notes = {n.fairness: n for n in v.fairness}
    assert (notes["WF(A)"].enabled, notes["WF(A)"].states, notes["WF(A)"].taken) == (1, 2, [])
    assert notes["WF(B|C)"].taken == [2, 3]
    assert all(n.met for n in v.fairness)


def test_strong_fairness_forbids_that_cycle():
    live = check_liveness(detour(SF("A"), WF("B", "C")))
    assert live.result == "ok" and live.properties["ReachTwo"].holds


def test_strong_fairness_alone_lets_the_behaviour_stop_where_the_action_is_impossible():
    # Nothing forces B or C: the behaviour may go to 1 and stay there, where A is impossible.
    v = check_liveness(detour(SF("A"))).violation
    assert states(v.trace) == [0, 1] and v.cycle == []


def test_a_deadlock_stutters_forever_whatever_the_fairness():
    model = actions_graph(
        3,
        [(0, 1, "A", 0), (0, 2, "B", 0)],
        [0],
        properties=Properties(
            eventually=(Eventually("ReachTwo", lambda s: s == 2),),
            fairness=(WF("A", "B"), SF("A", "B")),
        ),
    )
    v = check_liveness(model).violation
    assert states(v.trace) == [0, 1] and v.loop == 1 and v.cycle == []
    assert [(n.fairness, n.enabled, n.states) for n in v.fairness] == [
        ("WF(A|B)", 0, 1),
        ("SF(A|B)", 0, 1),
    ]


def test_a_step_that_changes_nothing_is_stuttering_and_satisfies_no_fairness():
    # Wait loops on 0 without changing it; fairness of Wait does not force Go.
    model = actions_graph(
        2,
        [(0, 0, "Wait", 0), (0, 1, "Go", 0)],
        [0],
        properties=Properties(
            eventually=(Eventually("Gone", lambda s: s == 1),), fairness=(WF("Wait"),)
        ),
    )
    live = check_liveness(model)
    assert live.stuttering_steps == 1 and live.edges == 1
    v = live.violation
    assert v.trace == [(None, 0)] and v.cycle == []
    assert v.fairness[0].enabled == 0  # a Wait step is not a step of Wait's fairness
    with_go = check_liveness(
        actions_graph(
            2,
            [(0, 0, "Wait", 0), (0, 1, "Go", 0)],
            [0],
            properties=Properties(
                eventually=(Eventually("Gone", lambda s: s == 1),), fairness=(WF("Go"),)
            ),
        )
    )
    assert with_go.result == "ok"


def flags(*fairness):
    """(t, done): Step(0) toggles t forever, Step(1) sets done once."""

    def step(s):
        t, done = s
        yield ("Step", 0), (1 - t, done)
        if not done:
            yield ("Step", 1), (t, 1)

    return Toy(
        inits=[(0, 0)],
        step=step,
        props=Properties(
            eventually=(Eventually("Done", lambda s: s[1] == 1),), fairness=fairness
        ),
        names=["Step"],
    )


def test_fairness_of_an_action_as_a_whole_lets_one_instance_starve():
    v = check_liveness(flags(WF("Step"))).violation
    assert [label for label, _ in v.cycle] == [("Step", 0), ("Step", 0)]
    assert v.fairness[0].fairness == "WF(Step)" and v.fairness[0].taken == [2, 3]


def test_per_instance_fairness_does_not():
    live = check_liveness(flags(WF("Step", per_instance=True)))
    assert live.result == "ok"
    assert live.properties["Done"].fairness == ["WF(Step(..))"]


def test_per_instance_notes_name_each_instance():
    # Strong fairness per instance, and a cycle where Step(1) is impossible: none.
    model = flags(WF("Step", per_instance=True))
    model.props = Properties(
        leads_to=(LeadsTo("Never", lambda s: s[1] == 1, lambda s: False),),
        fairness=(WF("Step", per_instance=True),),
    )
    v = check_liveness(model).violation
    assert [n.fairness for n in v.fairness] == ["WF(Step(0))"]
    assert states(v.trace)[v.trigger][1] == 1


def test_leads_to_starts_counting_at_the_trigger():
    # 0 -> 1 -> 2 -> 3 -> 4, 4 -> 3 (A); P at 2, Q at 4 only: 3 and 4 alternate, so Q holds
    # infinitely often, but a behaviour may stop at 3 without fairness, and with it cannot.
    edges = [(0, 1, "A", 0), (1, 2, "A", 0), (2, 3, "A", 0), (3, 4, "A", 0), (4, 3, "A", 0)]

    def model(*fairness):
        return actions_graph(
            5,
            edges,
            [0],
            properties=Properties(
                leads_to=(LeadsTo("TwoLeadsToFour", lambda s: s == 2, lambda s: s == 4),),
                fairness=fairness,
            ),
        )

    v = check_liveness(model()).violation
    assert states(v.trace) == [0, 1, 2] and v.trigger == 2 and v.cycle == []
    assert check_liveness(model(WF("A"))).result == "ok"


def test_a_trigger_where_the_goal_already_holds_asks_nothing():
    model = actions_graph(
        2,
        [(0, 1, "A", 0)],
        [0],
        properties=Properties(leads_to=(LeadsTo("Same", lambda s: s == 1, lambda s: s == 1),)),
    )
    assert check_liveness(model).result == "ok"


def counter(top, goal, beyond=True):
    """Inc from 0 forever; the bounds stop the graph at ``top``."""
    return Toy(
        inits=[0],
        step=lambda n: [(("Inc",), n + 1)],
        bounds=lambda n: n <= top,
        props=Properties(
            eventually=(Eventually("ReachGoal", lambda n: n == goal),), fairness=(WF("Inc"),)
        ),
        names=["Inc"],
    )


def test_a_step_beyond_the_bounds_makes_its_action_possible_as_in_tlc():
    live = check_liveness(counter(3, 5))
    assert live.result == "ok"
    assert live.edges_beyond_bounds == 1
    verdict = live.properties["ReachGoal"]
    assert verdict.holds and verdict.beyond_bounds


def test_steps_beyond_the_bounds_are_kept_only_for_actions_under_fairness():
    unfair = counter(3, 5)
    unfair.props = Properties(eventually=unfair.props.eventually)
    live = check_liveness(unfair)
    assert (live.edges, live.edges_beyond_bounds) == (3, 0)
    assert check_liveness(counter(3, 5), beyond_bounds_enables=False).edges_beyond_bounds == 0


def test_with_those_steps_not_counted_the_bounds_cut_the_behaviour():
    v = check_liveness(counter(3, 5), beyond_bounds_enables=False).violation
    assert states(v.trace) == [0, 1, 2, 3] and v.cycle == []


def test_a_goal_within_the_bounds_needs_no_warning():
    live = check_liveness(counter(6, 5))
    assert live.properties["ReachGoal"].holds and not live.properties["ReachGoal"].beyond_bounds


def swap(fairness):
    """(a, b) -> (b, a): with the two places interchangeable, one class and a step inside it."""
    return Toy(
        inits=[(0, 1)],
        step=lambda s: [(("Swap",), (s[1], s[0]))],
        canon=lambda s: tuple(sorted(s)),
        props=Properties(eventually=(Eventually("Never", lambda s: False),), fairness=fairness),
        names=["Swap"],
    )


def test_a_loop_of_the_quotient_is_replayed_until_a_real_state_repeats():
    live = check_liveness(swap((WF("Swap"),)))
    assert live.symmetry and live.states == 1 and live.edges == 1
    v = live.violation
    assert states(v.trace) == [(0, 1), (1, 0), (0, 1)] and v.loop == 0
    replay(swap(()), v.trace)


def test_per_instance_fairness_turns_symmetry_off():
    live = check_liveness(swap((WF("Swap", per_instance=True),)))
    assert not live.symmetry and live.states == 2
    assert "per-instance fairness (WF(Swap(..)))" in live.notes[0]


def test_without_a_symmetry_nothing_is_said_about_it():
    live = check_liveness(flags(WF("Step", per_instance=True)))
    assert not live.symmetry and live.notes == []
    assert not check_liveness(flags(WF("Step"))).symmetry


def tokens(symmetry, *fairness):
    """Three tokens 0..2; Bump(i) raises token i below 2, Reset(i) lowers one at 2 to 0."""

    def step(s):
        for i, v in enumerate(s):
            if v < 2:
                yield ("Bump", i), s[:i] + (v + 1,) + s[i + 1 :]
            else:
                yield ("Reset", i), s[:i] + (0,) + s[i + 1 :]

    return Toy(
        inits=[(0, 0, 0)],
        step=step,
        canon=(lambda s: tuple(sorted(s))) if symmetry else (lambda s: s),
        props=Properties(
            eventually=(Eventually("AllAtTop", lambda s: s == (2, 2, 2)),),
            leads_to=(LeadsTo("TopLeadsToZero", lambda s: 2 in s, lambda s: 0 in s),),
            fairness=fairness,
        ),
        names=["Bump", "Reset"],
    )


@pytest.mark.parametrize(
    "fairness",
    [(), (WF("Bump"),), (WF("Bump", "Reset"),), (SF("Reset"), WF("Bump")), (SF("Bump", "Reset"),)],
)
def test_the_quotient_gives_the_verdicts_of_the_full_graph(fairness):
    full = check_liveness(tokens(False, *fairness), symmetry=False)
    reduced = check_liveness(tokens(True, *fairness))
    assert reduced.symmetry and reduced.states < full.states
    assert reduced.properties == full.properties
    for live, model in ((full, tokens(False, *fairness)), (reduced, tokens(True, *fairness))):
        if live.violation is not None:
            replay(model, live.violation.trace)
            assert all(n.met for n in live.violation.fairness)
    if full.violation is not None:
        # Every member of a class is as far from the initial state, so the quotient's prefix is
        # as short; its replay may add rounds of the cycle before a real state repeats.
        assert reduced.violation.loop >= full.violation.loop


def test_exact_and_fingerprint_keys_agree():
    a = check_liveness(tokens(True, WF("Bump")), store="fingerprint")
    b = check_liveness(tokens(True, WF("Bump")), store="exact")
    assert (a.states, a.edges, a.properties) == (b.states, b.edges, b.properties)
    assert a.violation.trace == b.violation.trace


def test_a_symmetry_that_breaks_the_property_is_reported_not_hidden():
    # canonical() merges 1 (the goal) and 2 (not), and successors() changes its order after the
    # first call: the graph stores 2 and finds a state that stops short of the goal, the replay
    # meets 1 instead.
    calls = []

    def step(s):
        if s == 0:
            calls.append(s)
            yield from ([(("Go",), 2), (("Go",), 1)] if len(calls) == 1 else [(("Go",), 1)])

    model = Toy(
        inits=[0],
        step=step,
        canon=lambda s: 1 if s in (1, 2) else s,
        props=Properties(
            eventually=(Eventually("ReachOne", lambda s: s == 1),), fairness=(WF("Go"),)
        ),
    )
    with pytest.raises(ReplayError, match="symmetry of the property"):
        check_liveness(model)


def test_limits_leave_the_properties_undecided():
    live = check_liveness(counter(100, 50), max_states=10)
    assert live.result == "incomplete" and live.stopped_by == "max_states"
    assert live.properties["ReachGoal"].holds is None and live.violation is None


def test_time_limit_and_progress():
    snaps = []
    endless = Toy(
        inits=[0],
        step=lambda n: [(("Inc",), n + 1)],
        props=Properties(eventually=(Eventually("Never", lambda n: False),)),
        names=["Inc"],
    )
    live = check_liveness(endless, max_seconds=0.3, progress=snaps.append, progress_interval=0)
    assert (live.result, live.stopped_by) == ("incomplete", "max_seconds")
    assert live.properties["Never"].holds is None and live.states > 100
    assert snaps and all(s.distinct <= live.states for s in snaps)
    assert [s.generated for s in snaps] == sorted(s.generated for s in snaps)


def test_no_initial_state_within_the_bounds_leaves_nothing_to_violate():
    model = Toy(
        inits=[9],
        step=lambda n: [],
        bounds=lambda n: n < 5,
        props=Properties(eventually=(Eventually("Never", lambda n: False),)),
    )
    live = check_liveness(model)
    assert (live.result, live.states, live.depth) == ("ok", 0, 0)
    assert live.properties["Never"].holds


def test_a_model_without_temporal_properties_has_nothing_to_decide():
    live = check_liveness(actions_graph(2, [(0, 1, "A", 0)], [0]))
    assert (live.result, live.properties, live.states, live.edges) == ("ok", {}, 2, 1)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"store": "bloom"}, "unknown store"),
        ({"max_states": 0}, "max_states"),
        ({"max_seconds": 0}, "max_seconds"),
        ({"edge_budget": 0}, "edge_budget"),
        ({"spill_dir": "/no/such/dir"}, "does not exist"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        check_liveness(detour(), **options)


def test_bad_fairness_is_refused():
    with pytest.raises(ValueError, match="weak"):
        Fairness("medium", ("A",))
    with pytest.raises(ValueError, match="action names"):
        Fairness("weak", ())
    assert Fairness("weak", "A").actions == ("A",)
    assert Fairness("strong", ["A", "B"], per_instance=True).name == "SF(A(..)|B(..))"


def test_the_liveness_check_joins_a_safety_run():
    model = detour(WF("A"))
    result = check(model)
    assert result.result == "ok"
    result.add_liveness(check_liveness(model))
    assert result.result == "violation" and result.violation.kind == "liveness"
    safe = check(detour(SF("A"), WF("B", "C")))
    safe.add_liveness(check_liveness(detour(SF("A"), WF("B", "C"))))
    assert safe.result == "ok" and safe.liveness.properties["ReachTwo"].holds
    stopped = check(detour())
    stopped.add_liveness(LivenessResult("incomplete", {}, stopped_by="max_seconds"))
    assert (stopped.result, stopped.stopped_by) == ("incomplete", "max_seconds")
