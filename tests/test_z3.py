"""Python and Z3 agree: property verdicts, successors, inductive proofs, bounded model checking.

The Z3 side (spec/symbolic.py, spec/properties_z3.py, spec/actions_z3.py, spec/lemmas.py) says
everything a second time; these tests hold the two sayings to the same verdicts, on generated
states no run reaches as well as on reachable ones.
"""

from __future__ import annotations

import json
import random
from collections import deque

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck import check, replay
from raftkit.modelcheck.bitvec import BitVecRewriter, width_for
from raftkit.modelcheck.bmc import bmc
from raftkit.modelcheck.cli import main
from raftkit.modelcheck.houdini import inductive_subset
from raftkit.modelcheck.prove import known_names, predicate_of, prove
from raftkit.modelcheck.z3check import Evaluator, Z3CheckedModel, Z3Disagreement
from raftkit.spec import actions_z3
from raftkit.spec.actions import next_steps
from raftkit.spec.compiled import FastRaftModel
from raftkit.spec.lemmas import DEFAULT_LEMMAS, LEMMAS
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params
from raftkit.spec.properties import ACTION_PROPERTIES, INVARIANTS, SOMETIMES
from raftkit.spec.properties_z3 import ACTION_PROPERTIES as Z3_ACTIONS
from raftkit.spec.properties_z3 import INVARIANTS as Z3_INVARIANTS
from raftkit.spec.properties_z3 import SOMETIMES as Z3_SOMETIMES
from raftkit.spec.state import (
    NIL,
    AppendEntriesRequest,
    AppendEntriesResponse,
    Entry,
    MType,
    RequestVoteRequest,
    RequestVoteResponse,
    Role,
    Server,
    State,
    init_state,
)
from raftkit.spec.symbolic import (
    Shape,
    Substitution,
    SymState,
    concrete_state,
    concrete_values,
    well_formed,
)

SMALL = Params(servers=3, values=2, max_term=2, max_log=2, max_inflight=2, max_dup=2)
SHAPE = Shape.for_params(SMALL)


# --- well-formed states, reachable or not ------------------------------------------------------


@st.composite
def logs(draw: st.DrawFn, shape: Shape) -> tuple[Entry, ...]:
    n = draw(st.integers(0, shape.log))
    # Few distinct terms and values, so that logs often share entries (LogMatching's premise).
    terms = sorted(draw(st.lists(st.integers(1, shape.max_term), min_size=n, max_size=n)))
    if draw(st.booleans()):
        terms = draw(st.permutations(terms))
    return tuple(Entry(t, draw(st.integers(1, shape.values))) for t in terms)


@st.composite
def messages(draw: st.DrawFn, shape: Shape) -> object:
    n, T, L = shape.servers, shape.max_term, shape.log
    mtype = draw(st.sampled_from(list(MType)[:4]))
    common = {
        "mtype": mtype,
        "mterm": draw(st.integers(1, T)),
        "msource": draw(st.integers(0, n - 1)),
        "mdest": draw(st.integers(0, n - 1)),
    }
    if mtype == MType.RequestVoteRequest:
        return RequestVoteRequest(
            mlastLogTerm=draw(st.integers(0, T)), mlastLogIndex=draw(st.integers(0, L)), **common
        )
    if mtype == MType.RequestVoteResponse:
        return RequestVoteResponse(mvoteGranted=draw(st.booleans()), mlog=(), **common)
    if mtype == MType.AppendEntriesRequest:
        entries = ()
        if draw(st.booleans()):
            entries = (Entry(draw(st.integers(1, T)), draw(st.integers(1, shape.values))),)
        return AppendEntriesRequest(
            mprevLogIndex=draw(st.integers(0, L)),
            mprevLogTerm=draw(st.integers(0, T)),
            mentries=entries,
            mlog=(),
            mcommitIndex=draw(st.integers(0, L)),
            **common,
        )
    return AppendEntriesResponse(
        msuccess=draw(st.booleans()), mmatchIndex=draw(st.integers(0, L)), **common
    )


@st.composite
def states(draw: st.DrawFn, shape: Shape = SHAPE) -> State:
    """Any well-formed state of the shape: the type invariant, nothing more."""
    n, L = shape.servers, shape.log
    servers = []
    for _ in range(n):
        log = draw(logs(shape))
        role = draw(st.sampled_from(list(Role)[:3]))
        top_next = len(log) + 1 if role == Role.Leader else L + 1
        servers.append(
            Server(
                currentTerm=draw(st.integers(1, shape.max_term)),
                state=role,
                votedFor=draw(st.integers(NIL, n - 1)),
                log=log,
                commitIndex=draw(st.integers(0, L)),
                votesResponded=tuple(sorted(draw(st.sets(st.integers(0, n - 1))))),
                votesGranted=tuple(sorted(draw(st.sets(st.integers(0, n - 1))))),
                nextIndex=tuple(draw(st.integers(1, top_next)) for _ in range(n)),
                matchIndex=tuple(draw(st.integers(0, L)) for _ in range(n)),
            )
        )
    bag = draw(st.dictionaries(messages(shape), st.integers(1, shape.count), max_size=shape.slots))
    return State(tuple(servers), tuple(sorted(bag.items())), (), ())


def _pair_value(before: State, after: State) -> dict[str, bool]:
    """Z3's verdict of each action property on the step before -> after (by substitution)."""
    a, b = SymState.fresh(SHAPE, "a."), SymState.fresh(SHAPE, "b.")
    pairs = []
    for sym, s in ((a, before), (b, after)):
        for t, v in zip(sym.terms(), concrete_values(SHAPE, s), strict=True):
            pairs.append((t, z3.BoolVal(v) if z3.is_bool(t) else z3.IntVal(v)))
    return {
        name: z3.is_true(z3.simplify(z3.substitute(fn(a, b), *pairs)))
        for name, fn in Z3_ACTIONS.items()
    }


_EVAL = Evaluator(SHAPE, list(Z3_INVARIANTS))
_SUB = Substitution(SymState.fresh(SHAPE, "w."))
_WF = well_formed(_SUB.sym)
_LEMMA_FORMULAS = {name: lemma.formula(_SUB.sym) for name, lemma in LEMMAS.items()}
_SOMETIMES_FORMULAS = {name: fn(_SUB.sym) for name, fn in Z3_SOMETIMES.items()}


def test_every_property_has_a_z3_formula_of_the_same_name():
    assert [p.name for p in INVARIANTS] == list(Z3_INVARIANTS)
    assert [p.name for p in ACTION_PROPERTIES] == list(Z3_ACTIONS)
    assert {p.name for p in SOMETIMES} == set(Z3_SOMETIMES)
    for p in INVARIANTS:
        # The same name, and the Z3 function named after the Python one.
        assert Z3_INVARIANTS[p.name].__name__ == p.fn.__name__


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_python_and_z3_agree_on_generated_states(s):
    _SUB.set_state(s)
    assert _SUB.value(_WF), "the generator and well_formed disagree"
    verdicts = _EVAL.verdicts(s)
    for p in INVARIANTS:
        assert verdicts[p.name] == p.fn(s), p.name
    for name, lemma in LEMMAS.items():
        assert _SUB.value(_LEMMA_FORMULAS[name]) == lemma.holds(s), name
    for p in SOMETIMES:
        assert _SUB.value(_SOMETIMES_FORMULAS[p.name]) == p.fn(s), p.name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), states())
def test_python_and_z3_agree_on_action_properties(before, after):
    verdicts = _pair_value(before, after)
    for p in ACTION_PROPERTIES:
        assert verdicts[p.name] == p.fn(before, ("Any",), after), p.name


def test_the_state_survives_the_round_trip_through_z3():
    s = init_state(SMALL)
    _SUB.set_state(s)
    assert concrete_state(_SUB.sym, _SUB.value) == s


def _check_both_ways(p: Params, at_least: int) -> None:
    # The engine calls the wrapped invariants on every distinct state and every out-of-bounds
    # successor; any disagreement raises Z3Disagreement.
    model = Z3CheckedModel(RaftModel(p, symmetry=True), p)
    result = check(model)
    assert result.result == "ok"
    assert model.stats.states >= result.distinct_states > at_least


def test_every_reachable_state_is_checked_both_ways():
    _check_both_ways(Params(servers=2, values=1, max_term=3, max_log=1, max_inflight=1), 100)


@pytest.mark.slow
def test_every_reachable_state_of_three_servers_is_checked_both_ways():
    _check_both_ways(Params(servers=3, values=1, max_term=2, max_log=1, max_inflight=1), 10_000)


def test_reachable_states_are_well_formed_and_lemmas_hold():
    p = Params(servers=3, values=1, max_term=2, max_log=1, max_inflight=1)
    sub = Substitution(SymState.fresh(Shape.for_params(p), "r."))
    wf = well_formed(sub.sym)
    seen = {init_state(p)}
    queue = deque(seen)
    while queue and len(seen) < 3000:
        s = queue.popleft()
        sub.set_state(s)
        assert sub.value(wf)
        for name, lemma in LEMMAS.items():
            assert lemma.holds(s), name
        for _label, t in next_steps(p, s):
            if t not in seen and within_bounds(p, t):
                seen.add(t)
                queue.append(t)


def test_a_disagreement_is_an_internal_error_naming_state_and_property():
    p = Params(servers=3, values=1, max_term=2, max_log=0, max_inflight=1)
    model = Z3CheckedModel(RaftModel(p), p)
    model.evaluator.verdicts = lambda s: dict.fromkeys(model.evaluator.names, False)  # type: ignore[method-assign]
    with pytest.raises(Z3Disagreement, match="ElectionSafety.*currentTerm"):
        check(model)


# --- the transition relation ----------------------------------------------------------------------


def _symbolic_successors(p: Params, sym: SymState, steps: list, sub: Substitution, s: State):
    sub.set_state(s)
    out = []
    for step in steps:
        if sub.value(step.enabled):
            label = actions_z3.label_of(step, sub.value, sym)
            out.append((label, concrete_state(step.after, sub.value)))
    return sorted(out, key=repr)


def _sample_reachable(p: Params, count: int, seed: int) -> list[State]:
    rng = random.Random(seed)
    seen = {init_state(p)}
    frontier = [init_state(p)]
    picked = []
    while frontier and len(picked) < count:
        s = frontier.pop(rng.randrange(len(frontier)))
        picked.append(s)
        for _label, t in next_steps(p, s):
            if t not in seen and within_bounds(p, t):
                seen.add(t)
                frontier.append(t)
    return picked


# The merged form is built from the per-receiver one, so one configuration checks the latter.
@pytest.mark.parametrize(
    ("mutant", "merge"), [(None, False), (None, True), *((m, True) for m in MUTANTS)]
)
def test_symbolic_actions_give_the_same_successors(mutant, merge):
    _assert_same_successors(mutant, merge, Substitution, 6)


def _assert_same_successors(mutant, merge: bool, substitution, samples: int) -> None:
    p = Params(max_term=2, max_log=1, max_inflight=2, max_dup=2, faults=True, mutant=mutant)
    sym = SymState.fresh(Shape.for_params(p), "t.")
    steps = actions_z3.next_steps(p, sym, merge_receivers=merge)
    sub = substitution(sym)
    for s in _sample_reachable(p, samples, seed=len(mutant or "")):
        expected = sorted(next_steps(p, s), key=repr)
        assert _symbolic_successors(p, sym, steps, sub, s) == expected


class _BitVecSubstitution:
    """``Substitution``'s interface over the bit-vector forms ``raftmc bmc`` solves."""

    def __init__(self, sym: SymState) -> None:
        self.sym = sym
        self.rewrite = BitVecRewriter(width_for(sym.shape))
        self._consts = [self.rewrite(t) for t in sym.terms()]
        self._pairs: list = []

    def set_state(self, s: State) -> None:
        values = concrete_values(self.sym.shape, s)
        self._pairs = [
            (c, z3.BoolVal(v) if z3.is_bool(c) else z3.BitVecVal(v, c.size()))
            for c, v in zip(self._consts, values, strict=True)
        ]

    def value(self, term):
        r = z3.simplify(z3.substitute(self.rewrite(term), *self._pairs))
        if z3.is_true(r) or z3.is_false(r):
            return z3.is_true(r)
        return r.as_signed_long()


_BV = _BitVecSubstitution(SymState.fresh(SHAPE, "v."))
_BV_FORMULAS = {name: fn(_BV.sym) for name, fn in Z3_INVARIANTS.items()}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_the_bit_vector_forms_keep_every_verdict(s):
    _BV.set_state(s)
    for p in INVARIANTS:
        assert _BV.value(_BV_FORMULAS[p.name]) == p.fn(s), p.name


@pytest.mark.parametrize("mutant", [None, *MUTANTS])
def test_the_bit_vector_forms_give_the_same_successors(mutant):
    _assert_same_successors(mutant, True, _BitVecSubstitution, 3)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(Shape.for_params(Params(max_term=2, max_log=1, max_inflight=1))))
def test_symbolic_actions_agree_on_unreachable_states(s):
    p = Params(max_term=2, max_log=1, max_inflight=1, faults=True)
    if not within_bounds(p, s):
        return
    sym = SymState.fresh(Shape.for_params(p), "u.")
    steps = actions_z3.next_steps(p, sym)
    assert _symbolic_successors(p, sym, steps, Substitution(sym), s) == sorted(
        next_steps(p, s), key=repr
    )


# --- inductive proofs -----------------------------------------------------------------------------

QUICK = Params(servers=3, values=1, max_term=2, max_log=0, max_inflight=1)


def test_election_safety_alone_is_not_inductive_and_the_cti_replays():
    r = prove(QUICK, "ElectionSafety", [])
    assert r.result == "cti"
    assert r.broken == ["ElectionSafety"]
    (_, pre), (label, post) = r.cti
    assert predicate_of("ElectionSafety")(pre) and not predicate_of("ElectionSafety")(post)
    assert r.replayed and (label, post) in list(next_steps(QUICK, pre))


@pytest.mark.slow
def test_election_safety_is_inductive_with_its_lemmas_at_default_bounds():
    r = prove(Params(), "ElectionSafety", DEFAULT_LEMMAS["ElectionSafety"])
    assert r.result == "proved"


def test_forget_vote_on_restart_breaks_the_election_safety_proof():
    p = Params(max_term=2, max_log=0, faults=True, mutant="forget-vote-on-restart")
    r = prove(p, "ElectionSafety", DEFAULT_LEMMAS["ElectionSafety"])
    assert r.result == "cti" and r.replayed
    assert r.cti[1][0][0] == "Restart"


def test_log_matching_is_inductive_with_its_lemmas():
    r = prove(Params(max_term=2, max_log=1), "LogMatching", DEFAULT_LEMMAS["LogMatching"])
    assert r.result == "proved"


@pytest.mark.slow
def test_log_matching_is_inductive_with_its_lemmas_on_logs_of_two_values():
    # Two requests in flight: AppendEntriesRequestsAgree is needed (minutes).
    p = Params(max_term=3, max_log=2, values=2, max_inflight=2)
    assert prove(p, "LogMatching", DEFAULT_LEMMAS["LogMatching"]).result == "proved"


def test_log_matching_needs_the_leader_to_hold_the_entries_of_its_term():
    # Without it a leader appends an entry where another log already holds a different entry of
    # the leader's term: unreachable, but only that lemma says so.
    lemmas = [x for x in DEFAULT_LEMMAS["LogMatching"] if x != "LeaderHoldsEntriesOfItsTerm"]
    p = Params(max_term=3, max_log=2, values=2)
    r = prove(p, "LogMatching", lemmas)
    assert r.result == "cti" and r.replayed
    assert r.cti[1][0][0] == "ClientRequest"


def test_prove_cli_prints_the_cti_in_the_counterexample_format(capsys):
    status = main(
        [
            "prove",
            "--invariant",
            "ElectionSafety",
            "--no-lemmas",
            "--max-log",
            "0",
            "--max-term",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "1. A well-formed state within the bounds" in out
    assert "2. " in out and "state[" in out


def test_prove_cli_json(capsys):
    # Also the fast proof of ElectionSafety with its shipped lemmas (small bounds).
    status = main(
        ["prove", "--invariant", "ElectionSafety", "--max-log", "0", "--max-term", "2", "--json"]
    )
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "proved"
    assert out["lemmas"] == list(DEFAULT_LEMMAS["ElectionSafety"])


def test_prove_cli_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["prove", "--invariant", "Nope"])
    assert exc.value.code == 2
    assert "--invariant" in capsys.readouterr().err


def test_bmc_refuses_options_without_an_encoding_in_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bmc", "--depth", "2", "--batch", "2"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "raftmc: error: the options beyond raft.tla (--batch, --prevote, ...) have no symbolic "
        "encoding"
    ]


# --- bounded model checking -------------------------------------------------------------------


def _bfs_depth(p: Params, reached) -> int:
    """Steps of a shortest behaviour to a state where ``reached`` holds (explicit search)."""
    start = init_state(p)
    depth = {start: 0}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        if reached(s):
            return depth[s]
        if not within_bounds(p, s):
            continue
        for _label, t in next_steps(p, s):
            if t not in depth:
                depth[t] = depth[s] + 1
                queue.append(t)
    raise AssertionError("never reached")


@pytest.mark.parametrize(
    "servers", [1, pytest.param(3, marks=pytest.mark.slow)], ids=["1-server", "3-servers"]
)
def test_bmc_finds_a_shortest_election_and_it_replays(servers):
    p = Params(servers=servers, max_term=2, max_log=0, max_inflight=1)
    r = bmc(p, 10, reach="LeaderElected")
    assert r.result == "violation"
    trace = r.violation.trace
    replay(RaftModel(p, symmetry=False), trace)
    assert len(trace) - 1 == _bfs_depth(p, SOMETIMES[0].fn) == r.depth


def test_bmc_from_depth_asks_only_from_there():
    p = Params(servers=1, max_term=2, max_log=0, max_inflight=1)
    shortest = _bfs_depth(p, SOMETIMES[0].fn)
    same = bmc(p, shortest + 3, reach="LeaderElected", start=shortest)
    assert same.result == "violation" and same.depth == shortest and same.start == shortest
    # Depths below the start are not asked about, so a longer behaviour is what comes back.
    later = bmc(p, shortest + 3, reach="LeaderElected", start=shortest + 1)
    assert later.result == "violation" and later.depth == shortest + 1
    assert len(later.violation.trace) == shortest + 2
    replay(RaftModel(p, symmetry=False), later.violation.trace)
    assert bmc(QUICK, 3, start=2).result == "ok"


def test_bmc_cli_from_depth(capsys):
    status = main(["bmc", "--depth", "2", "--from-depth", "1", "--no-lemmas", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["from_depth"] == 1
    with pytest.raises(SystemExit) as exc:
        main(["bmc", "--depth", "2", "--from-depth", "3"])
    assert exc.value.code == 2
    assert "--from-depth" in capsys.readouterr().err


def test_bmc_cli_json(capsys):
    status = main(["bmc", "--depth", "2", "--max-log", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["depth"] == 2
    assert len(out["per_depth_seconds"]) == 3
    assert "ElectionSafety" in out["lemmas"] and out["lemma_seconds"] > 0
    status = main(["bmc", "--depth", "2", "--max-log", "0", "--no-lemmas", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["lemmas"] == []


def test_bmc_max_seconds_stops_a_query_in_progress(capsys):
    # One question, at depth 24 of the default bounds: it takes minutes (docs/z3-proofs.md), so
    # a limit checked only between depths would not stop it for minutes.
    start = 24
    r = bmc(Params(), start, start=start, max_seconds=4.0, strengthen=False)
    assert (r.result, r.stopped_by) == ("incomplete", "max_seconds")
    assert r.depth == start - 1  # the depths below were unrolled (skipped), not this one
    assert r.seconds < 30
    # The lemma search is stopped the same way, before any depth.
    r = bmc(QUICK, 5, max_seconds=0.5)
    assert (r.result, r.stopped_by, r.depth, r.lemmas) == ("incomplete", "max_seconds", -1, [])
    assert r.seconds < 30
    assert main(["bmc", "--depth", "5", "--max-log", "0", "--max-term", "2",
                 "--max-seconds", "0.5"]) == 3
    out = capsys.readouterr().out
    assert "incomplete: time limit before the first depth (finding the lemmas)" in out
    # And an induction check (LogMatching with its lemmas takes seconds on the defaults).
    assert main(["prove", "--invariant", "LogMatching", "--max-seconds", "0.2", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["result"], out["stopped_by"]) == ("incomplete", "max_seconds")


def test_bmc_interrupted_is_incomplete_not_a_traceback(monkeypatch, capsys):
    def stop_after_two(depth, seconds):
        if depth == 2:
            raise KeyboardInterrupt

    p = Params(servers=1, max_term=2, max_log=0, max_inflight=1)
    r = bmc(p, 6, progress=stop_after_two)
    assert (r.result, r.depth, r.stopped_by) == ("incomplete", 2, "interrupted")
    from raftkit.modelcheck import prove as prove_module

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prove_module, "prove", ctrl_c)
    monkeypatch.setattr("raftkit.modelcheck.houdini.prove", ctrl_c)
    # Ctrl-C in the lemma search ends bmc with a result, as its time limit does.
    r = bmc(p, 6)
    assert (r.result, r.depth, r.stopped_by, r.lemmas) == ("incomplete", -1, "interrupted", [])
    assert main(["bmc", "--depth", "3", "--servers", "1"]) == 3
    out = capsys.readouterr().out
    assert "incomplete: interrupted before the first depth (finding the lemmas)" in out
    assert main(["bmc", "--depth", "3", "--servers", "1", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["result"], out["stopped_by"], out["depth"]) == ("incomplete", "interrupted", -1)
    assert main(["prove", "--invariant", "ElectionSafety"]) == 3
    err = [x for x in capsys.readouterr().err.splitlines() if "interrupted" in x]
    assert err == ["raftmc: interrupted: no verdict"]


def test_houdini_keeps_an_inductive_subset_without_what_a_mutant_breaks():
    plain = inductive_subset(QUICK)
    assert {"ElectionSafety", "LogMatching", *DEFAULT_LEMMAS["ElectionSafety"]} <= set(plain.kept)
    assert prove(QUICK, plain.kept[0], plain.kept[1:]).result == "proved"
    name = "forget-vote-on-restart"
    p = Params(mutant=name, **MUTANTS[name].bounds)
    broken = inductive_subset(p)
    assert "ElectionSafety" not in broken.kept
    assert "ElectionSafety" in [n for n, _ in broken.dropped]
    assert set(broken.kept) | {n for n, _ in broken.dropped} == set(known_names())
    assert prove(p, broken.kept[0], broken.kept[1:]).result == "proved"


@pytest.mark.parametrize(
    "p, reach, depth",
    [
        (Params(servers=1, max_term=2, max_log=0, max_inflight=1), "LeaderElected", None),
        (Params(servers=2, max_term=2, max_log=1, max_inflight=1), "EntryCommitted", None),
        (QUICK, None, 4),
        (Params(mutant="forget-vote-on-restart", **MUTANTS["forget-vote-on-restart"].bounds),
         None, 6),
    ],
    ids=["1-server-election", "2-server-commit", "quick-ok", "mutant-ok-to-6"],
)
def test_bmc_answers_the_same_with_and_without_the_inductive_lemmas(p, reach, depth):
    # The lemmas hold in every reachable state, so requiring them changes no answer: a sometimes
    # property is reached at its breadth-first depth either way, and nothing breaks within a
    # depth shorter than the mutant's counterexample either way.
    if reach is not None:
        depth = _bfs_depth(p, next(s.fn for s in SOMETIMES if s.name == reach))
    strong = bmc(p, depth, reach=reach)
    bare = bmc(p, depth, reach=reach, strengthen=False)
    assert strong.lemmas and not bare.lemmas
    assert (strong.result, strong.depth) == (bare.result, bare.depth)
    assert strong.result == ("violation" if reach is not None else "ok")
    assert strong.depth == depth
    if strong.violation is not None:
        assert len(strong.violation.trace) == len(bare.violation.trace) == depth + 1
        replay(RaftModel(p, symmetry=False), strong.violation.trace)


def _bfs_counterexample_length(p: Params) -> int:
    # The compiled form, proven identical to the readable spec by test_compiled_identity.py:
    # the same lengths (measured: 19, 18, 25 states for three mutants either way) in a tenth of
    # the time (commit-old-term's bounds: about a minute, against most of 922 s).
    result = check(FastRaftModel(p, symmetry=True))
    assert result.violation is not None
    return len(result.violation.trace)


def _bmc_finds_with_the_bfs_length(
    name: str, only_at_that_depth: bool = False, max_seconds: float | None = None
) -> None:
    m = MUTANTS[name]
    p = Params(mutant=name, **m.bounds)
    expected = _bfs_counterexample_length(p)
    steps = expected - 1
    r = bmc(p, steps, start=steps if only_at_that_depth else 0, max_seconds=max_seconds)
    assert r.result == "violation", f"{r.result} after depth {r.depth} in {r.seconds:.0f} s"
    assert r.depth == steps
    assert len(r.violation.trace) == expected
    replay(RaftModel(p, symmetry=False), r.violation.trace)


# Mutants BMC finds with the breadth-first length in the default suite. Measured (2-core machine
# shared with other jobs): forget-vote-on-restart (19 states), 57-68 s with its breadth-first run.
QUICK_BMC_MUTANTS = ["forget-vote-on-restart"]


@pytest.mark.parametrize("name", QUICK_BMC_MUTANTS)
def test_bmc_finds_the_quick_mutants_with_the_bfs_length(name):
    _bmc_finds_with_the_bfs_length(name)


# commit-old-term needs 41 steps at max term 4, beyond this encoding's reach (docs/z3-proofs.md,
# Limits). Its case runs with a budget so that the slow suite ends, and is a strict expected
# failure: the day BMC finds it within the budget the case fails as XPASS, and this goes.
BMC_OUT_OF_REACH = {"commit-old-term": 1800.0}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            m,
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,  # "incomplete" within the budget; a crash still fails
                reason="open: BMC does not reach 41 steps at max term 4 (issue 4)",
            ),
        )
        if m in BMC_OUT_OF_REACH
        else m
        for m in MUTANTS
        if m not in QUICK_BMC_MUTANTS
    ],
)
def test_bmc_finds_each_mutant_with_the_bfs_length(name):
    # With the inductive lemmas (docs/z3-proofs.md), measured from depth 0 on 2026-11-27:
    # truncate-on-any-append (18 states) in about 300 s, entry-term-is-current-term (25) in
    # 1,331 s, vote-without-log-check (26) in 2,828 s, each with the BFS length and replayed.
    _bmc_finds_with_the_bfs_length(name, max_seconds=BMC_OUT_OF_REACH.get(name))


# With the depths below the breadth-first length left unasked (``--from-depth``), the deep
# mutants come within reach: each is found at exactly that depth, and replays. Seen passing
# on 2026-11-27, other core busy: entry-term-is-current-term 1,740 s, vote-without-log-check
# 341 s (one SAT query's time varies widely between runs).
FROM_DEPTH_MUTANTS = ["entry-term-is-current-term", "vote-without-log-check"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FROM_DEPTH_MUTANTS)
def test_bmc_from_the_bfs_depth_finds_the_deep_mutants(name):
    _bmc_finds_with_the_bfs_length(name, only_at_that_depth=True)


def test_check_z3_reports_the_slowdown(capsys):
    status = main(["check", "--z3", "--servers", "2", "--max-log", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    z = out["z3"]
    assert z["states_evaluated"] >= out["distinct_states"]
    assert z["slowdown"] >= 1.0
