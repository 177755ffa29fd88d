"""Liveness under per-instance fairness on the quotient graph (the cover of liveness/cover.py):
on small symmetric models it gives the verdicts and the prefix lengths of the graph without
symmetry, its lassos are real fair behaviours, and judging the quotient alone would be wrong."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.engine.liveness import build_graph, check_liveness
from raftkit.modelcheck.engine.liveness.fair import compile_conditions, fair_states
from raftkit.modelcheck.engine.liveness.lasso import shortest_prefix
from raftkit.modelcheck.engine.model import Eventually, Fairness, LeadsTo, Properties
from raftkit.modelcheck.engine.trace import replay
from toy_models import Processes

WAIT, HOLD, POKED = 0, 1, 2


def token_ring(witness: bool = True) -> Processes:
    """Two processes pass a token back and forth (Pass(i): the holder hands it over); a waiting
    process may be poked (Poke(i)), the goal. Each instance is weakly fair.

    Passing forever is fair: Poke(1) is possible only while process 0 holds the token, Poke(0)
    only while 1 does, so neither is possible all the time. The quotient has one class for
    both token positions, with the single step Pass(0) back to itself and Poke(1) possible:
    judged on the quotient alone, WF(Poke(1)) is never met, and the loop is wrongly unfair."""

    def step(s):
        for i, v in enumerate(s):
            if v == HOLD and WAIT in s[:i] + s[i + 1 :]:
                yield ("Pass", i), tuple(HOLD if k != i and w == WAIT else WAIT if k == i else w
                                         for k, w in enumerate(s))
            if v == WAIT:
                yield ("Poke", i), s[:i] + (POKED,) + s[i + 1 :]

    fairness = (Fairness("weak", ("Pass", "Poke"), per_instance=True),)
    return Processes(
        inits=[(HOLD, WAIT)],
        step=step,
        props=Properties(eventually=(Eventually("Poked", lambda s: POKED in s),),
                         fairness=fairness),
        names=["Pass", "Poke"],
        witness=witness,
    )


def naive_quotient_violates(model: Processes) -> bool:
    """The verdict of per-instance fairness judged on the quotient's own labels: what the
    cover replaces."""
    graph = build_graph(model, [model.props.eventually[0].holds], symmetry=True)
    conditions = compile_conditions(model.props.fairness, graph.labels, model.format_label)
    allowed = ~graph.values[0]
    fair = fair_states(graph, graph.sources(), allowed, conditions)
    triggers = graph.initial[allowed[graph.initial]]
    return shortest_prefix(graph, triggers, allowed, fair) is not None


def test_the_cover_finds_the_fair_loop_a_naive_quotient_misses():
    full = check_liveness(token_ring(), symmetry=False)
    reduced = check_liveness(token_ring())
    assert (full.states, reduced.states) == (4, 2)
    assert reduced.symmetry and reduced.notes == []
    assert full.properties["Poked"].holds is False
    assert reduced.properties["Poked"].holds is False
    assert not naive_quotient_violates(token_ring())
    v = reduced.violation
    # A concrete loop, both instances of Pass taken, found from the quotient.
    assert [label for label, _ in v.trace[1:]] == [("Pass", 0), ("Pass", 1)]
    assert [s for _, s in v.trace] == [(HOLD, WAIT), (WAIT, HOLD), (HOLD, WAIT)]
    assert v.loop == full.violation.loop == 0
    assert all(note.met for note in v.fairness)
    replay(token_ring(), v.trace)


def test_a_model_that_does_not_name_its_symmetry_goes_without():
    live = check_liveness(token_ring(witness=False))
    assert not live.symmetry and live.states == 4
    assert "per-instance fairness" in live.notes[0]


@st.composite
def process_models(draw):
    """Two or three interchangeable processes with values 0..2 and rules that are the same for
    every process: a step of one process guarded by the others' values, or of a pair of
    processes; a symmetric goal (and trigger), per-instance weak or strong fairness."""
    count = draw(st.integers(2, 3))
    values = draw(st.integers(2, 3))
    value = st.integers(0, values - 1)
    guard = st.one_of(
        st.none(),
        st.tuples(st.sampled_from(["some", "none"]), value),
        st.tuples(st.just("pair"), value, value),
    )
    rules = draw(
        st.lists(
            st.tuples(st.sampled_from("AB"), value, value, guard).filter(lambda r: r[1] != r[2]),
            min_size=1,
            max_size=4,
        )
    )
    goal = (draw(value), draw(st.integers(1, count)))
    trigger = draw(st.none() | st.tuples(value, st.integers(1, count)))
    fairness = draw(
        st.lists(
            st.builds(
                Fairness,
                st.sampled_from(["weak", "strong"]),
                st.sampled_from([("A",), ("B",), ("A", "B")]),
                st.just(True),
            ),
            min_size=1,
            max_size=2,
        )
    )
    return count, rules, goal, trigger, fairness


def processes(count, rules, goal, trigger, fairness) -> Processes:
    def step(s):
        for i, v in enumerate(s):
            others = s[:i] + s[i + 1 :]
            for name, before, after, guard in rules:
                if v != before:
                    continue
                if guard is not None and guard[0] == "pair":
                    for j, w in enumerate(s):
                        if j != i and w == guard[1]:
                            t = list(s)
                            t[i], t[j] = after, guard[2]
                            yield (name, i, j), tuple(t)
                elif guard is None or (guard[0] == "some") == (guard[1] in others):
                    yield (name, i), s[:i] + (after,) + s[i + 1 :]

    def at_least(y, c):
        return lambda s: s.count(y) >= c

    if trigger is None:
        props = Properties(eventually=(Eventually("G", at_least(*goal)),), fairness=fairness)
    else:
        props = Properties(
            leads_to=(LeadsTo("G", at_least(*trigger), at_least(*goal)),), fairness=fairness
        )
    return Processes(inits=[(0,) * count], step=step, props=props, names=["A", "B"],
                     count=count)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(process_models(), st.booleans())
def test_the_cover_gives_the_verdicts_and_prefixes_of_the_full_graph(m, beyond):
    full = check_liveness(processes(*m), symmetry=False, beyond_bounds_enables=beyond)
    reduced = check_liveness(processes(*m), beyond_bounds_enables=beyond)
    assert reduced.notes == [] and reduced.states <= full.states
    assert reduced.properties == full.properties
    if full.violation is None:
        assert reduced.violation is None
        return
    v = reduced.violation
    # Lifting keeps lengths: the prefix is as short as on the full graph.
    assert v.loop == full.violation.loop
    replay(processes(*m), v.trace)
    if v.cycle:
        assert v.trace[-1][1] == v.trace[v.loop][1]
    assert all(note.met for note in v.fairness)
