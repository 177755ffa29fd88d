"""Raft's liveness properties (spec/liveness.py): each liveness bug is found as a lasso that is
a real, fair behaviour of the readable spec; the unmutated spec passes the same bounds; the
fairness of message delivery is what protects them from message loss.

The checks run on the compiled model that ``raftmc check`` uses; every lasso is converted back
and replayed through the readable spec, which is the reference.
"""

import json
import random
import subprocess
import sys
from dataclasses import replace
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.modelcheck.engine.model import Fairness
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec import liveness as L
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import LIVENESS_MUTANTS, Mutant
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.symmetry import relabel

FOUND = [Mutant.ENTRY_TERM_IS_CURRENT_TERM, *LIVENESS_MUTANTS]
PROPERTIES = {p.name: p for p in L.LIVENESS}


def params_of(mutant: Mutant, with_mutant: bool = True) -> Params:
    finding = L.liveness_finding(mutant)
    return Params(mutant=mutant if with_mutant else None, **finding.bounds)


def assert_real_fair_lasso(fast: FastRaftModel, violation) -> None:
    """The lasso is a behaviour of the readable spec, its cycle closes, P holds at the trigger
    and Q never from there on, and every fairness condition is met by the cycle."""
    params = fast.params
    export = getattr(fast, "export_state", lambda s: s)  # the readable spec's states are its own
    trace = [(label, export(s)) for label, s in violation.trace]
    reference = RaftModel(params, symmetry=False)
    replay(reference, trace)
    states = [s for _label, s in trace]
    loop = violation.loop
    if violation.cycle:
        # The last step leads back to the state where the cycle starts.
        assert states[-1] == states[loop]
    else:
        # A behaviour that stops: no fair action may change the state there.
        assert loop == len(states) - 1
    prop = PROPERTIES[violation.property]
    assert prop.trigger(states[violation.trigger])
    assert not any(prop.goal(s) for s in states[violation.trigger :])
    assert violation.fairness and all(note.met for note in violation.fairness)


@pytest.mark.parametrize("mutant", FOUND, ids=str)
def test_liveness_bug_is_found_as_a_real_fair_lasso(mutant):
    fast = FastRaftModel(params_of(mutant))
    live = check_liveness(fast)
    assert live.result == "violation"
    assert live.violation.kind == "liveness"
    assert live.violation.property == L.liveness_finding(mutant).breaks
    assert live.properties[live.violation.property].holds is False
    assert_real_fair_lasso(fast, live.violation)


def test_the_lasso_of_entry_term_is_current_term_is_the_nextindex_seesaw():
    live = check_liveness(FastRaftModel(params_of(Mutant.ENTRY_TERM_IS_CURRENT_TERM)))
    cycle = [label[0] for label, _s in live.violation.cycle]
    # The leader's request is rejected, it backs off, the request below is accepted, and so on.
    assert cycle.count("AppendEntries") == 2
    assert cycle.count("HandleAppendEntriesResponse") == 2
    assert "ClientRequest" not in cycle and "Timeout" not in cycle


def test_entry_term_is_current_term_is_no_liveness_bug_with_one_entry():
    """With one entry, prevLogIndex 0 always matches: the mutant only adds rejections, and the
    correct spec's verdicts stay (why its finding needs max_log 2)."""
    bounds = {**L.liveness_finding(Mutant.ENTRY_TERM_IS_CURRENT_TERM).bounds, "max_log": 1}
    live = check_liveness(FastRaftModel(Params(mutant=Mutant.ENTRY_TERM_IS_CURRENT_TERM, **bounds)))
    assert live.result == "ok"


@pytest.mark.parametrize(
    "bounds",
    sorted({tuple(sorted(L.liveness_finding(m).bounds.items())) for m in FOUND}),
    ids=str,
)
def test_unmutated_spec_passes_every_liveness_property_at_the_mutants_bounds(bounds):
    live = check_liveness(FastRaftModel(Params(**dict(bounds))))
    assert live.result == "ok"
    assert set(live.properties) == set(PROPERTIES)
    assert all(v.holds for v in live.properties.values())


def test_readable_and_compiled_models_agree():
    params = params_of(Mutant.KEEP_NEXT_INDEX_ON_REJECT)
    fast = check_liveness(FastRaftModel(params))
    slow = check_liveness(RaftModel(params))
    assert (fast.states, fast.edges) == (slow.states, slow.edges)
    assert {k: v.holds for k, v in fast.properties.items()} == {
        k: v.holds for k, v in slow.properties.items()
    }
    assert len(fast.violation.trace) == len(slow.violation.trace)


class WeakDelivery(RaftModel):
    """The spec with weak instead of strong fairness of delivery: a link that may lose a
    message every time it is sent."""

    def properties(self):
        props = super().properties()
        weak = tuple(
            replace(f, kind="weak") if f.actions == L.DELIVERY else f for f in props.fairness
        )
        return replace(props, fairness=weak)


LOSSY = Params(servers=2, max_term=2, max_log=1, faults=True)


def test_message_loss_threatens_replication_unless_delivery_is_strongly_fair():
    strong = check_liveness(RaftModel(LOSSY))
    assert strong.result == "ok", strong.violation
    weak = check_liveness(WeakDelivery(LOSSY))
    assert weak.result == "violation"
    cycle = [label[0] for label, _s in weak.violation.cycle]
    # The leader sends, the network drops, forever.
    assert "DropMessage" in cycle and "AppendEntries" in cycle
    assert weak.properties["CommitKnown"].holds is False


def test_timeout_restart_and_loss_are_not_fair():
    fair = {a for f in L.RAFT_FAIRNESS for a in f.actions}
    assert not fair & {"Timeout", "Restart", "DropMessage", "DuplicateMessage", "ClientRequest"}
    assert all(f.per_instance for f in L.RAFT_FAIRNESS)
    assert Fairness("strong", L.DELIVERY, per_instance=True) in L.RAFT_FAIRNESS


def _walks(params: Params, walks: int, length: int) -> list:
    """States met on seeded random walks from the initial state (deep ones included, which a
    breadth-first sample of the same size would not reach)."""
    rng = random.Random(7)
    model = RaftModel(params)
    seen: dict = {}
    for _ in range(walks):
        s = next(model.init_states())
        for _ in range(length):
            seen.setdefault(s, None)
            successors = [t for _label, t in next_steps(params, s) if model.within_bounds(t)]
            if not successors:
                break
            s = rng.choice(successors)
    return list(seen)


STATES = _walks(Params(servers=3, max_term=3, max_log=2, max_inflight=2), 80, 80)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(STATES), st.permutations(range(3)))
def test_triggers_and_goals_do_not_depend_on_the_servers_names(s, perm):
    # Each is stated over the set of servers, as the TLA+ form is (TLC checks it without
    # symmetry, on states named differently): renaming the servers changes no verdict.
    renamed = relabel(s, tuple(perm))
    for prop in L.LIVENESS:
        assert prop.trigger(renamed) == prop.trigger(s)
        assert prop.goal(renamed) == prop.goal(s)


def test_the_sample_has_states_where_each_trigger_and_each_goal_holds():
    # Otherwise the renaming test above would prove nothing.
    for prop in L.LIVENESS:
        assert any(prop.trigger(s) for s in STATES), prop.name
        assert any(prop.goal(s) for s in STATES), prop.name


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(STATES))
def test_a_lone_candidate_leaves_nothing_to_replicate(s):
    # A lone candidate means no leader: the other two properties are not triggered.
    if L.lone_candidate(s):
        assert L.newest_term_leader(s) is None
        assert not L.leader_log_pending(s) and not L.commit_pending(s)


def _raftmc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "check", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )


def test_raftmc_check_reports_the_mutant_as_a_liveness_violation():
    done = _raftmc("--mutant", "entry-term-is-current-term", "--json")
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    v = out["violation"]
    assert v["kind"] == "liveness" and v["property"] == "LeaderLogReplicated"
    assert v["prefix"][0]["action"] is None and len(v["cycle"]) == 6
    assert v["cycle"][-1]["state"] == v["prefix"][-1]["state"]
    assert out["parameters"]["max_log"] == 2
    text = _raftmc("--mutant", "entry-term-is-current-term")
    assert "repeat forever" in text.stdout and "Why this is a fair behaviour:" in text.stdout


def test_raftmc_check_liveness_on_reports_the_lemma_first():
    done = _raftmc("--mutant", "entry-term-is-current-term", "--liveness", "on", "--json")
    out = json.loads(done.stdout)
    assert out["violation"]["property"] == "AppendEntriesPrevLogTermMatches"
    assert "liveness" not in out


def test_raftmc_check_writes_the_lasso_as_itf_with_its_loop_and_in_the_report(tmp_path):
    itf = tmp_path / "lasso.itf.json"
    report = tmp_path / "report"
    done = _raftmc("--mutant", "keep-next-index-on-reject", "--itf", str(itf), "--json",
                   "--report", str(report))
    assert done.returncode == 1, done.stderr
    v = json.loads(done.stdout)["violation"]
    trace = json.loads(itf.read_text())
    # The prefix ends in the state the cycle starts from; the cycle's last step returns there
    # and is written as loopAction, not as a state.
    assert trace["loop"] == len(v["prefix"]) - 1
    assert len(trace["states"]) == len(v["prefix"]) + len(v["cycle"]) - 1
    assert trace["#meta"]["loopAction"] == v["cycle"][-1]["action"]
    html = (report / "index.html").read_text()
    n = len(trace["states"]) + 1
    start = trace["loop"] + 1
    assert f"steps {start + 1} to {n} repeat forever (state {n} is state {start})" in html
    assert f"back to step {start}: the cycle repeats forever" in html
    # The sequence chart draws the cycle as an arrow from the last row back up to its start.
    chart = ElementTree.parse(report / "img" / "sequence.svg").getroot()
    loops = [p for p in chart.iter("{http://www.w3.org/2000/svg}path")
             if p.get("stroke") == "#b91c1c"]
    assert len(loops) == 1
    assert "repeats forever" in (report / "img" / "sequence.svg").read_text()


def test_every_liveness_mutant_names_a_liveness_property():
    names = {p.name for p in L.LIVENESS}
    assert names == {lv.name for lv in RaftModel(Params()).properties().leads_to}
    for mutant in FOUND:
        assert L.liveness_finding(mutant).breaks in names
    assert L.liveness_finding(Mutant.COMMIT_OLD_TERM) is None


# --- the quotient graph under per-instance fairness (engine/liveness/cover.py) ---------------

SMALL = dict(values=1, max_dup=1, max_inflight=1)
QUOTIENT_CASES = [
    Params(servers=2, max_term=2, max_log=0, **SMALL),
    Params(servers=2, max_term=2, max_log=1, **SMALL),
    Params(servers=3, max_term=2, max_log=0, **SMALL),
    Params(servers=2, max_term=2, max_log=1, faults=True),
    Params(servers=2, max_term=3, max_log=1, faults=True, **SMALL),
    *(params_of(m) for m in FOUND),
    Params(servers=3, max_term=2, max_log=0, mutant=Mutant.KEEP_NEXT_INDEX_ON_REJECT, **SMALL),
    Params(servers=3, max_term=2, max_log=0, mutant=Mutant.CANDIDATE_SKIPS_OWN_VOTE, **SMALL),
]


class FastWeakDelivery(FastRaftModel):
    """WeakDelivery on the compiled model."""

    def properties(self):
        props = super().properties()
        weak = tuple(
            replace(f, kind="weak") if f.actions == L.DELIVERY else f for f in props.fairness
        )
        return replace(props, fairness=weak)


def assert_quotient_agrees(make, params: Params) -> None:
    """With symmetry the graph is the quotient, and every verdict, the property violated first
    and its lasso's prefix length are those of the graph without symmetry; its lasso is a real
    fair behaviour."""
    full = check_liveness(make(params, symmetry=False))
    model = make(params)
    reduced = check_liveness(model)
    assert reduced.symmetry and reduced.notes == []
    assert reduced.states < full.states
    assert reduced.properties == full.properties
    assert (reduced.violation is None) == (full.violation is None)
    if full.violation is not None:
        v, w = reduced.violation, full.violation
        assert (v.property, v.trigger, v.loop) == (w.property, w.trigger, w.loop)
        assert_real_fair_lasso(model, v)


@pytest.mark.parametrize("params", QUOTIENT_CASES, ids=str)
def test_the_quotient_gives_the_verdicts_and_prefixes_of_the_full_graph(params):
    assert_quotient_agrees(FastRaftModel, params)


def test_the_quotient_agrees_on_lost_messages_through_the_readable_spec():
    # Violations whose fair loops take per-message instances (DropMessage, deliveries).
    assert_quotient_agrees(WeakDelivery, LOSSY)
    assert check_liveness(WeakDelivery(LOSSY)).result == "violation"


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, params",
    [
        (FastRaftModel, Params(servers=3, max_term=2, max_log=1, **SMALL)),
        (FastWeakDelivery, Params(servers=3, max_term=2, max_log=0, faults=True, **SMALL)),
    ],
    ids=["three-servers-one-entry", "three-servers-lossy-weak-delivery"],
)
def test_the_quotient_agrees_with_three_servers(make, params):
    assert_quotient_agrees(make, params)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(STATES))
def test_triggers_and_goals_read_only_the_servers(s):
    # The compiled model keeps their verdicts per tuple of servers.
    bare = s._replace(messages=(), history=(), ghost=())
    for prop in L.LIVENESS:
        assert prop.trigger(bare) == prop.trigger(s)
        assert prop.goal(bare) == prop.goal(s)


@pytest.mark.parametrize("make", [FastRaftModel, RaftModel], ids=["compiled", "readable"])
def test_the_witness_maps_every_member_of_a_class_onto_one_state(make):
    # The contract of SymmetryWitness that the cover relies on: g_s(s) is the same state for
    # every member s of a class, g_s being the element canonical_witness names.
    params = Params(servers=3, max_term=3, max_log=1)
    model = make(params)
    perms = model.symmetries()
    export = getattr(model, "export_state", lambda s: s)
    to_model = getattr(getattr(model, "compiled", None), "from_spec", lambda s: s)
    for s in STATES[::40]:
        s = s._replace(history=(), ghost=())
        images = set()
        for h in perms:
            member = to_model(relabel(s, h))
            _key, g = model.canonical_witness(member)
            images.add(relabel(export(member), perms[g]))
        assert len(images) == 1
