"""The compiled model with the membership option is the readable spec, state for state.

Membership actions read and write one server (its log holds its configuration), so the compiled
tables run them as they run raft.tla's. What differs is symmetry: only renamings within a class
(spare or not, may stand or not) keep behaviours, and they rename the members of configuration
entries. From every reachable state of small configurations: the same successors, the same
bounds, keys equal exactly when the readable spec's canonical forms are; whole searches give
the same counts and the same counterexamples.
"""

import pytest
from compiled_walks import assert_same_state_by_state
from raftkit.modelcheck.compiled import FastRaftModel, Uncompiled
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec.model import RaftModel
from raftkit.spec.params import Params
from spec_walks import param_ids

CONFIGS = [
    Params(servers=3, membership=True, init_config=2, max_term=2, max_log=2),
    Params(servers=3, membership=True, init_config=2, max_term=2, max_log=2, candidates=2),
    Params(servers=3, membership=True, init_config=2, max_term=2, max_log=2, catch_up=True,
           stand_until_removed=True),
    Params(servers=3, membership=True, max_changes=2, max_term=2, max_log=3,
           mutant="concurrent-config-changes"),
    Params(servers=4, membership=True, values=0, candidates=2, max_term=2, max_log=1,
           mutant="config-change-before-noop-commit"),
]  # fmt: skip


@pytest.mark.parametrize("p", CONFIGS, ids=param_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_same_successors_bounds_and_keys(p, symmetry):
    assert_same_state_by_state(p, symmetry, 1500 if symmetry else 800)


#: Whole searches, small enough for the readable spec (seconds each, every one commits a
#: configuration): at the mutants' own bounds, without the lemma to stop them, it takes minutes.
WHOLE = [
    *(p for p in CONFIGS if p.mutant is None),
    Params(servers=3, membership=True, max_changes=2, max_term=2, max_log=2, candidates=1,
           mutant="concurrent-config-changes"),
    Params(servers=4, membership=True, values=0, candidates=1, max_term=2, max_log=1,
           mutant="config-change-before-noop-commit"),
]  # fmt: skip


@pytest.mark.parametrize("p", WHOLE, ids=param_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_whole_searches_agree(p, symmetry):
    readable = RaftModel(p, symmetry)
    fast = FastRaftModel(p, symmetry)
    a, b = check(readable), check(fast)
    assert (a.result, a.distinct_states, a.states_generated, a.depth) == (
        b.result, b.distinct_states, b.states_generated, b.depth
    )
    assert a.sometimes == b.sometimes
    if a.violation is not None:
        assert a.violation.property == b.violation.property
        assert len(a.violation.trace) == len(b.violation.trace)
        replay(fast, b.violation.trace)




def test_the_other_options_still_run_the_readable_spec():
    with pytest.raises(Uncompiled, match="spec/options.py"):
        FastRaftModel(Params(membership=True, noop=True))
    with pytest.raises(Uncompiled, match="ghost"):
        FastRaftModel(Params(membership=True, ghost=True))
