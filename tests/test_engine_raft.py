"""The engine on the Raft spec: both stores agree, and counterexamples replay through the spec."""

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay

RaftModel = pytest.importorskip("raftkit.spec.model").RaftModel
Params = pytest.importorskip("raftkit.spec.params").Params

# RAFT-TLA-NOTES configuration A without history: TLC's figures.
CONFIG_A = Params(servers=3, values=1, max_term=2, max_log=0, max_dup=1, max_inflight=1)


def test_fingerprint_and_exact_stores_agree_on_raft_with_symmetry():
    a = check(RaftModel(CONFIG_A), store="fingerprint")
    b = check(RaftModel(CONFIG_A), store="exact")
    assert (a.distinct_states, a.states_generated, a.depth) == (10362, 88594, 40)
    assert (b.distinct_states, b.states_generated, b.depth) == (10362, 88594, 40)
    assert {n: (c.enabled, c.distinct) for n, c in a.coverage.items()} == {
        n: (c.enabled, c.distinct) for n, c in b.coverage.items()
    }


@pytest.mark.slow
def test_fingerprint_and_exact_stores_agree_on_raft_without_symmetry():
    for store in ("fingerprint", "exact"):
        r = check(RaftModel(CONFIG_A, symmetry=False), store=store)
        assert (r.distinct_states, r.states_generated, r.depth) == (61805, 528679, 40), store


def test_two_server_raft_is_small_and_safe():
    # Not a TLC figure: a smoke test that runs in well under a second.
    r = check(RaftModel(Params(servers=2, max_term=2, max_log=1)))
    assert r.result == "ok"
    assert r.sometimes["LeaderElected"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vote-without-log-check", "entry-term-is-current-term"])
def test_mutant_counterexample_replays_through_the_spec(name):
    from raftkit.spec.mutants import MUTANTS

    mutant = MUTANTS[name]
    model = RaftModel(Params(mutant=name, **mutant.bounds))
    result = check(model)
    assert result.result == "violation"
    assert result.violation.property == mutant.breaks
    replay(model, result.violation.trace)
