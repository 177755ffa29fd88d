"""Random small models with random fairness: the liveness check agrees with a brute force that
enumerates every candidate loop, its prefixes are shortest, and its lassos are real, fair
behaviours that violate the property."""

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from liveness_reference import conditions, distances, fair_loop_states, is_fair, verdict
from raftkit.modelcheck.engine.liveness import build_graph, check_liveness
from raftkit.modelcheck.engine.liveness.fair import compile_conditions, fair_states
from raftkit.modelcheck.engine.liveness.lasso import fair_loop, shortest_prefix
from raftkit.modelcheck.engine.model import Eventually, Fairness, LeadsTo, Properties
from raftkit.modelcheck.engine.trace import replay
from toy_models import Toy, actions_graph

NAMES = ("A", "B", "C")


@st.composite
def models(draw, max_edges=11):
    nodes = draw(st.integers(1, 6))
    node = st.integers(0, nodes - 1)
    edges = draw(
        st.lists(
            st.tuples(node, node, st.sampled_from(NAMES), st.integers(0, 1)),
            max_size=max_edges,
            unique=True,
        )
    )
    inits = draw(st.lists(node, min_size=1, max_size=2))
    oob = draw(st.sets(node, max_size=nodes // 3))
    fairness = draw(
        st.lists(
            st.builds(
                Fairness,
                st.sampled_from(["weak", "strong"]),
                st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True).map(
                    tuple
                ),
                st.booleans(),
            ),
            max_size=3,
        )
    )
    goal = draw(st.sets(node))
    trigger = draw(st.none() | st.sets(node))
    return nodes, edges, inits, oob, fairness, goal, trigger


def build(nodes, edges, inits, oob, fairness, goal, trigger):
    if trigger is None:
        props = Properties(
            eventually=(Eventually("Goal", lambda s: s in goal),), fairness=tuple(fairness)
        )
    else:
        props = Properties(
            leads_to=(LeadsTo("Goal", lambda s: s in trigger, lambda s: s in goal),),
            fairness=tuple(fairness),
        )
    return actions_graph(nodes, edges, inits, oob, props)


def check_lasso(model, v, edges, oob, fairness, goal, trigger, beyond_enables):
    """The lasso is a behaviour of the model that violates the property and is fair."""
    replay(model, v.trace)
    states = [s for _, s in v.trace]
    if trigger is None:
        assert v.trigger == 0
    else:
        assert states[v.trigger] in trigger
    assert not any(s in goal for s in states[v.trigger :])
    assert v.trigger <= v.loop < len(states)
    cycle = v.trace[v.loop + 1 :]
    if cycle:
        assert states[-1] == states[v.loop]
        loop_states = set(states[v.loop : -1])
        steps = []
        for (_, before), (label, after) in zip(v.trace[v.loop : -1], cycle, strict=True):
            steps.append((before, after, label[0], label[1]))
    else:
        loop_states, steps = {states[v.loop]}, []
    assert is_fair(loop_states, steps, conditions(fairness, edges), edges, frozenset(oob),
                   beyond_enables)
    assert all(note.met for note in v.fairness)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), st.booleans())
def test_verdicts_and_shortest_prefixes_agree_with_brute_force(m, beyond_enables):
    nodes, edges, inits, oob, fairness, goal, trigger = m
    expected = verdict(nodes, edges, inits, oob, trigger, goal, fairness, beyond_enables)
    model = build(*m)
    for store in ("fingerprint", "exact"):
        live = check_liveness(model, store=store, beyond_bounds_enables=beyond_enables)
        assert live.properties["Goal"].holds is (expected is None), store
        if expected is None:
            assert live.result == "ok" and live.violation is None
            continue
        assert live.result == "violation"
        v = live.violation
        assert (v.property, v.kind) == ("Goal", "liveness")
        assert v.loop == expected, "the prefix is not a shortest one"
        check_lasso(model, v, edges, oob, fairness, goal, trigger, beyond_enables)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models())
def test_beyond_bounds_flag_is_the_verdict_with_those_steps_not_counted(m):
    nodes, edges, inits, oob, fairness, goal, trigger = m
    strict = verdict(nodes, edges, inits, oob, trigger, goal, fairness, True)
    cut = verdict(nodes, edges, inits, oob, trigger, goal, fairness, False)
    live = check_liveness(build(*m))
    flag = live.properties["Goal"].beyond_bounds
    assert flag is (strict is None and cut is not None)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), st.integers(1, 3))
def test_spilling_steps_to_disk_changes_nothing(m, budget):
    model = build(*m)
    fair = frozenset(a for f in m[4] for a in f.actions)  # as the check builds it
    in_memory = build_graph(model, beyond_actions=fair)
    on_disk = build_graph(model, edge_budget=budget, beyond_actions=fair)
    assert (on_disk.edges_on_disk > 0) == (in_memory.edges >= budget)
    assert on_disk.edges_on_disk <= on_disk.edges
    assert np.array_equal(on_disk.target, in_memory.target)
    assert np.array_equal(on_disk.label, in_memory.label)
    memory = check_liveness(model)
    disk = check_liveness(model, edge_budget=budget)
    assert disk.edges_on_disk == on_disk.edges_on_disk
    assert disk.properties == memory.properties
    if memory.violation is not None:
        assert disk.violation.trace == memory.violation.trace
        assert disk.violation.loop == memory.violation.loop


@st.composite
def graphs_with_region(draw):
    """A denser graph (loops are what fairness is about), a region of allowed states and
    fairness that is often strong."""
    nodes = draw(st.integers(2, 5))
    node = st.integers(0, nodes - 1)
    edges = draw(
        st.lists(
            st.tuples(node, node, st.sampled_from(NAMES), st.integers(0, 1)),
            min_size=2,
            max_size=11,
            unique=True,
        )
    )
    oob = draw(st.sets(node, max_size=1))
    fairness = draw(
        st.lists(
            st.builds(
                Fairness,
                st.sampled_from(["weak", "strong", "strong"]),
                st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True).map(
                    tuple
                ),
                st.booleans(),
            ),
            min_size=1,
            max_size=3,
        )
    )
    allowed = draw(st.sets(node)) - oob
    return nodes, edges, oob, fairness, allowed


# Strong fairness failing in a component leaves a fair loop among its other states, found after
# one round of refinement, and after two (random graphs rarely build these).
ONE_ROUND = (
    4,
    [(0, 1, "B", 0), (1, 2, "B", 0), (2, 1, "B", 1), (1, 0, "B", 1), (0, 3, "A", 0)],
    set(),
    [Fairness("strong", ("A",)), Fairness("weak", ("B",))],
    {0, 1, 2},
)
TWO_ROUNDS = (
    6,
    [
        (0, 5, "A", 0), (0, 1, "C", 0), (1, 0, "B", 0), (1, 2, "B", 0), (2, 1, "B", 0),
        (2, 3, "B", 0), (3, 2, "B", 0), (2, 5, "C", 1), (1, 4, "B", 1), (4, 1, "B", 1),
    ],
    set(),
    [Fairness("strong", ("A",)), Fairness("strong", ("C",)), Fairness("weak", ("B",))],
    {0, 1, 2, 3, 4},
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_region(), st.booleans())
@example(ONE_ROUND, True)
@example(TWO_ROUNDS, True)
def test_states_on_fair_loops_agree_with_enumerating_every_loop(g, beyond_enables):
    nodes, edges, oob, fairness, allowed = g
    model = actions_graph(nodes, edges, range(nodes), oob)
    graph = build_graph(model)
    numbers = {key: i for i, key in enumerate(graph.keys)}
    state_of = {numbers[hash(s)]: s for s in range(nodes) if s not in oob}
    mask = np.array([state_of[i] in allowed for i in range(graph.states)], dtype=bool)
    conds = compile_conditions(fairness, graph.labels, model.format_label)
    fair = fair_states(graph, graph.sources(), mask, conds, beyond_enables)
    found = {state_of[i] for i in np.flatnonzero(fair >= 0)}
    expected = fair_loop_states(
        allowed, edges, conditions(fairness, edges), frozenset(oob), beyond_enables
    )
    assert found == expected
    # A fair loop can be built from every one of those states, and it is fair.
    for i in np.flatnonzero(fair >= 0):
        loop = fair_loop(graph, fair, int(i), conds, beyond_enables)
        states = [state_of[int(i)]] + [state_of[s] for s, _ in loop]
        assert states[-1] == states[0]
        steps = [
            (a, b, graph.labels[label][0], graph.labels[label][1])
            for a, b, label in zip(states, states[1:], [lb for _, lb in loop], strict=False)
        ]
        visited = set(states[:-1]) if loop else {states[0]}
        assert all(s in allowed for s in visited)
        assert is_fair(visited, steps, conditions(fairness, edges), edges, frozenset(oob),
                       beyond_enables)


@st.composite
def larger_graphs(draw):
    """Sparse graphs (long paths) with a few triggers and targets, so that a deep trigger near a
    target and a shallow one far from it are common."""
    nodes = draw(st.integers(1, 30))
    node = st.integers(0, nodes - 1)
    edges = draw(
        st.lists(
            st.tuples(node, node, st.sampled_from(NAMES), st.integers(0, 1)),
            max_size=2 * nodes,
            unique=True,
        )
    )
    inits = draw(st.lists(node, min_size=1, max_size=2))
    allowed = set(range(nodes)) - draw(st.sets(node, max_size=nodes // 4))
    triggers = draw(st.sets(node, min_size=1, max_size=4))
    targets = draw(st.sets(node, min_size=1, max_size=3))
    return nodes, edges, inits, allowed, triggers, targets


@settings(max_examples=300, deadline=None)
@given(larger_graphs())
# Trigger 0 is at depth 0 and five steps from the target 7; trigger 3 at depth 3 and two steps
# from it: the shortest prefix goes through the deeper trigger.
@example(
    (
        9,
        [
            (0, 1, "A", 0), (1, 2, "A", 0), (2, 3, "A", 0), (0, 4, "B", 0), (4, 5, "B", 0),
            (5, 6, "B", 0), (6, 7, "B", 0), (3, 8, "A", 0), (8, 7, "A", 0),
        ],
        [0],
        set(range(9)),
        {0, 3},
        {7},
    )
)
def test_prefix_is_shortest_through_a_trigger_at_its_own_depth(g):
    # The search for a prefix does not care why a state is a target; any set will do, so
    # larger graphs can be compared with a relaxation to a fixpoint.
    nodes, edges, inits, allowed, triggers, targets = g
    model = actions_graph(nodes, edges, inits)
    graph = build_graph(model)
    numbers = {key: i for i, key in enumerate(graph.keys)}
    reach = {s for s in range(nodes) if hash(s) in numbers}
    depth = distances({s: 0 for s in inits}, edges, reach)
    starts = {t: depth[t] for t in triggers & allowed & reach}
    dist = distances(starts, edges, allowed)
    lengths = [dist[t] for t in targets & allowed if t in dist]

    def mask(states):
        out = np.zeros(graph.states, dtype=bool)
        out[[numbers[hash(s)] for s in states & reach]] = True
        return out

    fair = np.where(mask(targets & allowed), 0, -1)
    found = shortest_prefix(
        graph, np.flatnonzero(mask(triggers & allowed)), mask(allowed), fair
    )
    if not lengths:
        assert found is None
        return
    path, labels, trigger = found
    assert len(path) - 1 == min(lengths)
    states = [int(graph.keys[i]) for i in path]
    assert states[0] in inits and states[trigger] in triggers and states[-1] in targets
    assert all(s in allowed for s in states[trigger:])
    for (a, b), label in zip(zip(states, states[1:], strict=False), labels, strict=True):
        named = [e for e in edges if e[:2] == (a, b)]
        assert named and (label < 0 or graph.labels[label] in [e[2:] for e in named])


SYMMETRIC_GOALS = {
    "sum is 2": lambda s: sum(s) == 2,
    "one at the top": lambda s: max(s) == 2,
    "all equal": lambda s: len(set(s)) == 1,
    "some zero": lambda s: 0 in s,
    "never": lambda s: False,
}


def symmetric_tokens(count, moves, symmetry, fairness, goal, trigger):
    """``count`` interchangeable tokens 0..2 moved by some of Bump (+1 below 2), Reset (2 -> 0),
    Drop (-1 above 0) and Rotate (all tokens shift one place, a step inside a class)."""

    def step(s):
        for i, v in enumerate(s):
            if "Bump" in moves and v < 2:
                yield ("Bump", i), s[:i] + (v + 1,) + s[i + 1 :]
            if "Reset" in moves and v == 2:
                yield ("Reset", i), s[:i] + (0,) + s[i + 1 :]
            if "Drop" in moves and v > 0:
                yield ("Drop", i), s[:i] + (v - 1,) + s[i + 1 :]
        if "Rotate" in moves:
            yield ("Rotate",), s[1:] + s[:1]

    goal_fn = SYMMETRIC_GOALS[goal]
    if trigger is None:
        props = Properties(eventually=(Eventually("G", goal_fn),), fairness=tuple(fairness))
    else:
        props = Properties(
            leads_to=(LeadsTo("G", SYMMETRIC_GOALS[trigger], goal_fn),), fairness=tuple(fairness)
        )
    return Toy(
        inits=[(0,) * count],
        step=step,
        canon=(lambda s: tuple(sorted(s))) if symmetry else (lambda s: s),
        props=props,
        names=list(moves),
    )


MOVES = ("Bump", "Reset", "Drop", "Rotate")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 3),
    st.sets(st.sampled_from(MOVES), min_size=1),
    st.lists(
        st.builds(
            Fairness,
            st.sampled_from(["weak", "strong"]),
            st.lists(st.sampled_from(MOVES), min_size=1, max_size=2, unique=True).map(tuple),
            st.booleans(),
        ),
        max_size=3,
    ),
    st.sampled_from(sorted(SYMMETRIC_GOALS)),
    st.none() | st.sampled_from(sorted(SYMMETRIC_GOALS)),
)
def test_the_quotient_under_symmetry_decides_as_the_full_graph(count, moves, fairness, goal,
                                                                trigger):
    args = (count, frozenset(moves))
    full_model = symmetric_tokens(*args, False, fairness, goal, trigger)
    reduced_model = symmetric_tokens(*args, True, fairness, goal, trigger)
    full = check_liveness(full_model)
    reduced = check_liveness(reduced_model)
    assert reduced.properties == full.properties
    assert reduced.states <= full.states
    for live, model in ((full, full_model), (reduced, reduced_model)):
        if live.violation is not None:
            replay(model, live.violation.trace)
            assert all(note.met for note in live.violation.fairness)
    if full.violation is not None:
        assert reduced.violation.loop >= full.violation.loop
