"""The spec's options (spec/options.py) are model-checked like raft.tla: the properties hold
with each option on at small bounds, and each option's mutant is caught. With every option off
the spec is raft.tla (tests/spec_tests/test_tlc_figures.py keeps TLC's counts)."""

from __future__ import annotations

import pytest
from raftkit.modelcheck.cli.app import main as raftmc
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import OPTION_MUTANTS
from raftkit.spec.params import Params

# (bounds, seconds measured on the 2-core CI machine)
FAST = {
    "batch": dict(servers=2, batch=2, max_term=3, max_log=2),  # 5,536 states, 4 s
    "prevote": dict(servers=2, prevote=True, max_term=3, max_log=1, ghost=True),  # 4,844, 2 s
    "noop": dict(servers=2, noop=True, max_term=3, max_log=1),  # 1,523, 1 s
    "stepdown": dict(servers=2, stepdown=True, ghost=True, max_term=3, max_log=1),  # 9,666, 5 s
}
SLOW = {
    "snapshots": dict(servers=2, batch=2, snapshots=True, max_term=3, max_log=2, ghost=True),
    "all": dict(
        servers=2,
        batch=2,
        prevote=True,
        noop=True,
        snapshots=True,
        stepdown=True,
        max_term=2,
        max_log=2,
        ghost=True,
    ),  # fmt: skip
    "noop-3": dict(servers=3, noop=True, max_term=2, max_log=1, max_inflight=1),  # 103,680, 2 min
}
CHEAP_MUTANTS = ["prevote-keeps-tally", "noop-overwrites-last", "stepdown-forgets-vote"]


def _holds(bounds):
    result = check(RaftModel(Params(**bounds), symmetry=True))
    assert result.result == "ok", result.violation and result.violation.property
    assert result.sometimes["LeaderElected"]
    return result


@pytest.mark.parametrize("name", sorted(FAST))
def test_properties_hold_with_option_on(name):
    r = _holds(FAST[name])
    if name != "prevote":
        assert r.sometimes["EntryCommitted"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_properties_hold_with_options_on_larger(name):
    _holds(SLOW[name])


def _found(name):
    m = OPTION_MUTANTS[name]
    model = RaftModel(Params(mutant=name, **m.bounds), symmetry=True)
    result = check(model)
    assert result.result == "violation"
    assert result.violation.property == m.breaks
    replay(model, result.violation.trace)
    return result


@pytest.mark.parametrize("name", CHEAP_MUTANTS)
def test_option_mutant_is_caught(name):
    _found(name)


def test_option_without_its_bug_passes_the_mutants_bounds():
    ok = check(RaftModel(Params(**OPTION_MUTANTS["noop-overwrites-last"].bounds)))
    assert ok.result == "ok"


# (The bounds of append-ignores-conflicts and compact-uncommitted, three servers and three terms,
# take the readable spec hours to exhaust; their mutants are found in minutes.)
@pytest.mark.slow
@pytest.mark.parametrize("name", CHEAP_MUTANTS)
def test_each_option_without_its_bug_passes_the_mutants_bounds(name):
    ok = check(RaftModel(Params(**OPTION_MUTANTS[name].bounds), symmetry=True))
    assert ok.result == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(OPTION_MUTANTS) - set(CHEAP_MUTANTS)))
def test_option_mutant_is_caught_slow(name):
    _found(name)


def test_defaults_are_raft_tla():
    assert not Params().extended
    assert Params(batch=1).extended and Params(prevote=True).extended


def test_cli_runs_options_on_the_readable_spec(capsys):
    status = raftmc(["check", "--servers", "2", "--noop", "--max-term", "3", "--max-log", "1",
                     "--json"])  # fmt: skip
    assert status == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["distinct_states"] == 1523


def test_cli_option_mutant(capsys):
    assert raftmc(["check", "--mutant", "prevote-keeps-tally", "--json"]) == 1
    capsys.readouterr()


def test_snapshots_need_batch(capsys):
    with pytest.raises(SystemExit) as exc:
        raftmc(["check", "--snapshots"])
    assert exc.value.code == 2
    assert "--snapshots needs --batch" in capsys.readouterr().err
