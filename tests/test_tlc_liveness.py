"""TLC and raftmc give the same liveness verdicts: the properties and fairness of
spec/liveness.py written in TLA+ over raft.tla (benchmarks/tla/RaftLiveness.tla).

Skipped only when Java or tla2tools.jar is missing (scripts/setup-system.sh installs Java, the
test extra the jar). The wider comparison is in docs/liveness.md.
"""

import pytest
from raftkit.modelcheck.benchmark import tlc
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine.liveness import check_liveness
from raftkit.spec.liveness import LIVENESS
from raftkit.spec.mutants import LIVENESS_MUTANTS, Mutant
from raftkit.spec.params import Params

NO_TLC = tlc.unavailable(fetch=False)
needs_tlc = pytest.mark.skipif(NO_TLC is not None, reason=f"TLC cannot run here: {NO_TLC}")

BOUNDS = LIVENESS_MUTANTS[Mutant.CANDIDATE_SKIPS_OWN_VOTE].bounds


def _tlc(params: Params, spec: str, prop: str) -> tlc.TlcResult:
    return tlc.check(
        params, False, module="RaftLiveness", specification=spec, properties=[prop], timeout=600
    )


@needs_tlc
def test_tlc_finds_the_mutant_raftmc_finds():
    run = _tlc(Params(**BOUNDS), "SkipOwnVoteSpec", "ElectionProgress")
    assert run.verdict == "property" and run.violated == "ElectionProgress", run.message
    live = check_liveness(FastRaftModel(Params(mutant=Mutant.CANDIDATE_SKIPS_OWN_VOTE, **BOUNDS)))
    assert live.violation.property == "ElectionProgress"


@pytest.mark.slow
@needs_tlc
@pytest.mark.parametrize(
    ("mutant", "spec"),
    [(None, "LiveSpec"), (Mutant.CANDIDATE_SKIPS_OWN_VOTE, "SkipOwnVoteSpec")],
    ids=["correct", "candidate-skips-own-vote"],
)
def test_tlc_and_raftmc_agree_on_every_liveness_verdict(mutant, spec):
    params = Params(**BOUNDS)
    model = FastRaftModel(Params(mutant=mutant, **BOUNDS))
    live = check_liveness(model)
    # TLC explores without symmetry: the same graph as the check without its quotient.
    full = check_liveness(model, symmetry=False)
    for prop in LIVENESS:
        run = _tlc(params, spec, prop.name)
        assert run.verdict in ("ok", "property"), run.message
        assert (run.verdict == "ok") is live.properties[prop.name].holds, prop.name
        assert live.properties[prop.name].holds is full.properties[prop.name].holds, prop.name
        if run.verdict == "ok":
            assert run.distinct == full.states
    if mutant is not None:
        assert not live.properties["ElectionProgress"].holds
