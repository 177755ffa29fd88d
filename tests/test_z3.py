"""Python and Z3 agree: property verdicts, successors, every explored state, inductive proofs.

The Z3 side (spec/symbolic.py, spec/properties_z3.py, spec/actions_z3.py, spec/lemmas.py) says
everything a second time; these tests hold the two sayings to the same verdicts, on generated
states no run reaches as well as on reachable ones. Bounded model checking is in test_bmc.py.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import deque

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck import check
from raftkit.modelcheck.cli.app import main
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.symbolic import actions as actions_z3
from raftkit.modelcheck.symbolic.bitvec import BitVecRewriter, width_for
from raftkit.modelcheck.symbolic.check import Evaluator, Z3CheckedModel, Z3Disagreement
from raftkit.modelcheck.symbolic.lemmas import (
    COMMIT_LEMMAS,
    DEFAULT_LEMMAS,
    LEMMA_FORMULAS,
    LEMMAS,
)
from raftkit.modelcheck.symbolic.properties import ACTION_PROPERTIES as Z3_ACTIONS
from raftkit.modelcheck.symbolic.properties import INVARIANTS as Z3_INVARIANTS
from raftkit.modelcheck.symbolic.properties import SOMETIMES as Z3_SOMETIMES
from raftkit.modelcheck.symbolic.prove import known_names, predicate_of, prove
from raftkit.modelcheck.symbolic.symstate import (
    Shape,
    Substitution,
    SymState,
    concrete_state,
    concrete_values,
    well_formed,
)
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.properties import ACTION_PROPERTIES, INVARIANTS, SOMETIMES
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
_LEMMA_FORMULAS = {name: LEMMA_FORMULAS[lemma](_SUB.sym) for name, lemma in LEMMAS.items()}
_SOMETIMES_FORMULAS = {name: fn(_SUB.sym) for name, fn in Z3_SOMETIMES.items()}


def test_every_property_has_a_z3_formula_of_the_same_name():
    assert [p.name for p in INVARIANTS] == list(Z3_INVARIANTS)
    assert [p.name for p in ACTION_PROPERTIES] == list(Z3_ACTIONS)
    assert {p.name for p in SOMETIMES} == set(Z3_SOMETIMES)
    for p in INVARIANTS:
        # The same name, and the Z3 function named after the Python one.
        assert Z3_INVARIANTS[p.name].__name__ == p.predicate.__name__


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_python_and_z3_agree_on_generated_states(s):
    _SUB.set_state(s)
    assert _SUB.value(_WF), "the generator and well_formed disagree"
    verdicts = _EVAL.verdicts(s)
    for p in INVARIANTS:
        assert verdicts[p.name] == p.predicate(s), p.name
    for name, lemma in LEMMAS.items():
        assert _SUB.value(_LEMMA_FORMULAS[name]) == lemma.predicate(s), name
    for p in SOMETIMES:
        assert _SUB.value(_SOMETIMES_FORMULAS[p.name]) == p.predicate(s), p.name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), states())
def test_python_and_z3_agree_on_action_properties(before, after):
    verdicts = _pair_value(before, after)
    for p in ACTION_PROPERTIES:
        assert verdicts[p.name] == p.predicate(before, ("Any",), after), p.name


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
            assert lemma.predicate(s), name
        for _label, t in next_steps(p, s):
            if t not in seen and within_bounds(p, t):
                seen.add(t)
                queue.append(t)


@pytest.mark.parametrize(
    "p, distinct",
    [
        (Params(servers=3, values=1, max_term=2, max_log=1, max_inflight=1), 57_021),
        pytest.param(
            Params(servers=3, values=1, max_term=2, max_log=1, max_inflight=1, faults=True),
            322_580,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_every_lemma_holds_in_every_reachable_state(p, distinct):
    # All states (symmetry classes) of a small configuration, by the compiled model: a lemma
    # false in a reachable state would make every proof that uses it meaningless.
    model = FastRaftModel(p, symmetry=True)
    bm = model.batch()
    frontier = bm.initial()
    seen = {bm.key(s) for s in frontier}
    while frontier:
        level = []
        for k in range(0, len(frontier), 2048):
            chunk = frontier[k : k + 2048]
            for fast in chunk:
                s = model.export_state(fast)
                for name, lemma in LEMMAS.items():
                    assert lemma.predicate(s), (name, s)
            keys, succs = [], []
            bm.expand(chunk, keys, succs, [], [])
            for key, t in zip(keys, succs, strict=True):
                if key not in seen:
                    seen.add(key)
                    level.append(t)
        frontier = level
    assert len(seen) == distinct


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


def test_overlapping_receive_alternatives_are_each_a_step(monkeypatch):
    """Receive's alternatives are steps with guards of their own in the Z3 relation too: with
    HandleRequestVoteResponse's guard loosened to ``m.mterm <= currentTerm`` (in the explicit
    spec and in Z3 alike), a stale vote has two successors, DropStaleResponse's and the
    handler's, and Z3 gives exactly the explicit spec's successors."""
    from raftkit.spec import actions
    from raftkit.spec.action import receiving
    from raftkit.spec.state import set_add

    def loose(p, s, i, j, m):
        srv = s.servers[i]
        if m.mterm > srv.currentTerm:
            return None
        new = srv._replace(votesResponded=set_add(srv.votesResponded, j))
        if m.mvoteGranted:
            new = new._replace(votesGranted=set_add(srv.votesGranted, j))
        return actions._discard(actions._set_server(s, i, new), m)

    def loose_z3(p, sym, i, j, k):
        step = original(p, sym, i, j, k)
        m = sym.slots[k]
        guard = z3.And(
            actions_z3._addressed(sym, k, i, j, MType.RequestVoteResponse),
            m.mterm <= sym.currentTerm[i],
        )
        return dataclasses.replace(step, enabled=guard)

    original = actions_z3.handle_request_vote_response
    monkeypatch.setattr(actions_z3, "handle_request_vote_response", loose_z3)
    monkeypatch.setattr(actions, "NEXT", tuple(
        receiving(d.name, loose, *d.mtypes) if d.name == "HandleRequestVoteResponse" else d
        for d in actions.NEXT
    ))
    p = Params(servers=2, max_term=3, max_log=0, max_inflight=1)
    sym = SymState.fresh(Shape.for_params(p), "o.")
    steps = actions_z3.next_steps(p, sym)
    sub = Substitution(sym)
    both = 0
    for s in _sample_reachable(p, 150, seed=7):
        expected = sorted(next_steps(p, s), key=repr)
        assert _symbolic_successors(p, sym, steps, sub, s) == expected
        names = [label[0] for label, _t in expected]
        both += "DropStaleResponse" in names and "HandleRequestVoteResponse" in names
    assert both > 0


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
        assert _BV.value(_BV_FORMULAS[p.name]) == p.predicate(s), p.name


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


@pytest.mark.slow
def test_state_machine_safety_is_inductive_with_its_lemmas_at_default_bounds():
    r = prove(Params(), "StateMachineSafety", DEFAULT_LEMMAS["StateMachineSafety"])
    assert r.result == "proved"
    assert set(COMMIT_LEMMAS) <= set(r.lemmas)


def test_state_machine_safety_is_inductive_with_its_lemmas_on_two_servers():
    p = Params(servers=2, max_log=2)
    assert prove(p, "StateMachineSafety", DEFAULT_LEMMAS["StateMachineSafety"]).result == "proved"


@pytest.mark.parametrize(
    "mutant, action",
    [
        ("commit-old-term", "AdvanceCommitIndex"),
        ("vote-without-log-check", "HandleRequestVoteRequest"),
    ],
)
def test_a_mutant_that_breaks_state_machine_safety_breaks_its_proof(mutant, action):
    # The proof above is not vacuous: at its own bounds, every other action is the unmutated
    # one, for which the set is inductive, so the CTI must be a step of the mutated action, and
    # a real one. (At three servers the same question takes Z3 30-100 s.)
    p = Params(servers=2, max_log=2, mutant=mutant)
    r = prove(p, "StateMachineSafety", DEFAULT_LEMMAS["StateMachineSafety"])
    assert r.result == "cti" and r.replayed and r.broken
    assert r.cti[1][0][0] == action


# A cross-check of two encodings (every prove test already solves bit-vectors): about 100 s of
# Z3 on 2 cores, so it runs with the slow tests.
@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    invariant=st.sampled_from(sorted(Z3_INVARIANTS)),
    lemmas=st.lists(st.sampled_from(known_names()), max_size=8, unique=True),
    servers=st.integers(2, 3),
    max_log=st.integers(0, 1),
    faults=st.booleans(),
    mutant=st.sampled_from([None, *MUTANTS]),
    shipped=st.sampled_from([None, "ElectionSafety", "LogMatching"]),
)
def test_prove_over_bit_vectors_agrees_with_integers(
    invariant, lemmas, servers, max_log, faults, mutant, shipped
):
    # The same verdict both ways, and every counterexample to induction a real one by the
    # Python predicates and the explicit spec: every conjunct holds before, what it names is
    # broken after, and the step is one the explicit spec takes. ``shipped`` asks for a proof
    # with its lemmas instead (inductive without a mutant), so "proved" is compared too.
    if shipped is not None:
        invariant, lemmas = shipped, list(DEFAULT_LEMMAS[shipped])
    p = Params(servers=servers, max_term=2, max_log=max_log, faults=faults, mutant=mutant)
    bits, ints = prove(p, invariant, lemmas), prove(p, invariant, lemmas, bitvec=False)
    assert bits.result == ints.result
    for r in (bits, ints):
        if r.result == "cti":
            (_, pre), (_, post) = r.cti
            assert all(predicate_of(n)(pre) for n in [invariant, *lemmas])
            assert r.broken and not any(predicate_of(n)(post) for n in r.broken)
            assert r.replayed


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
    assert status == 0 and out["result"] == "proved" and out["solver"] == "bit-vectors"
    assert out["lemmas"] == list(DEFAULT_LEMMAS["ElectionSafety"])
    # --integers: the integer formulas as they are, the same verdicts.
    for flags, verdict in (([], "proved"), (["--no-lemmas"], "cti")):
        main(["prove", "--invariant", "ElectionSafety", "--max-log", "0", "--max-term", "2",
              "--integers", "--json", *flags])
        out = json.loads(capsys.readouterr().out)
        assert (out["result"], out["solver"]) == (verdict, "integers")


def test_prove_cli_usage_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["prove", "--invariant", "Nope"])
    assert exc.value.code == 2
    assert "--invariant" in capsys.readouterr().err


def test_check_z3_reports_the_slowdown(capsys):
    status = main(["check", "--z3", "--servers", "2", "--max-log", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    z = out["z3"]
    assert z["states_evaluated"] >= out["distinct_states"]
    assert z["slowdown"] >= 1.0


def test_every_property_that_declares_a_formula_has_one():
    """spec/properties.py says which properties have a Z3 formula; the symbolic package has
    exactly those (and every lemma has one): a property added with ``symbolic=True`` and no
    formula, or a formula without the flag, fails here rather than silently."""
    from raftkit.modelcheck.symbolic.properties import FORMULAS
    from raftkit.spec.properties import PROPERTIES

    assert {p for p in PROPERTIES if p.symbolic} == set(FORMULAS)
    assert set(LEMMA_FORMULAS) == set(LEMMAS.values())
    assert all(lemma.symbolic for lemma in LEMMAS.values())
