"""The membership option as users meet it: Z3 refuses it in one line, the checker runs it in the
compiled spec (the readable spec with another option), the mutants are listed."""

from __future__ import annotations

import json

import pytest
from raftkit.modelcheck.cli.app import main
from raftkit.modelcheck.compiled import FastRaftModel, Uncompiled
from raftkit.spec.mutants import MEMBERSHIP_MUTANTS
from raftkit.spec.params import Params


def _run(argv, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    return status, capsys.readouterr()


@pytest.mark.parametrize(
    "argv",
    [
        ["prove", "--membership", "--invariant", "ElectionSafety"],
        ["bmc", "--membership", "--depth", "2"],
        ["check", "--membership", "--z3", "--servers", "2"],
    ],
)
def test_z3_refuses_membership_in_one_line(argv, capsys):
    pytest.importorskip("z3")
    status, out = _run(argv, capsys)
    assert status == 2
    assert out.err.count("\n") == 1 and "--membership" in out.err and "Traceback" not in out.err


def test_the_compiled_model_runs_membership_but_not_with_ghost_variables():
    assert FastRaftModel(Params(membership=True)).properties().invariants
    with pytest.raises(Uncompiled, match="ghost"):
        FastRaftModel(Params(membership=True, ghost=True))


def test_check_runs_membership_in_the_compiled_spec(capsys):
    status, out = _run(["check", "--membership", "--servers", "2", "--max-term", "2"], capsys)
    assert status == 0
    assert "exploring the compiled spec" in out.out and out.err == ""
    assert "ConfigurationCommitted" in out.out
    # With an option of spec/options.py, the readable spec.
    status, out = _run(["check", "--membership", "--noop", "--servers", "2", "--max-term", "2"],
                       capsys)
    assert status == 0
    assert "exploring the readable spec" in out.out


def test_membership_flags_without_the_option_are_usage_errors(capsys):
    status, out = _run(["check", "--max-changes", "2"], capsys)
    assert status == 2 and "--max-changes needs --membership" in out.err
    status, out = _run(["check", "--values", "0"], capsys)
    assert status == 2 and "--values" in out.err


def test_the_freedoms_conformance_runs_are_flags_of_check(capsys):
    # With them a leader sends to spares, so runs differ from those without: both were explored.
    argv = ["check", "--membership", "--servers", "3", "--init-config", "2", "--values", "0",
            "--noop", "--max-term", "2", "--max-log", "1", "--json"]
    status, out = _run(argv, capsys)
    plain = json.loads(out.out)
    status_free, out = _run([*argv, "--catch-up", "--stand-until-removed"], capsys)
    free = json.loads(out.out)
    assert status == status_free == 0
    assert free["parameters"]["catch_up"] and free["parameters"]["stand_until_removed"]
    assert "catch_up" not in plain["parameters"]
    assert free["distinct_states"] > plain["distinct_states"]
    for flag in ("--catch-up", "--stand-until-removed"):
        status, out = _run(["check", flag], capsys)
        assert status == 2 and f"{flag} needs --membership" in out.err


def test_mutants_lists_the_membership_mutants(capsys):
    status, out = _run(["mutants", "--json"], capsys)
    assert status == 0
    listed = {m["name"]: m for m in json.loads(out.out)}
    for name, m in MEMBERSHIP_MUTANTS.items():
        assert listed[name]["breaks"] == m.breaks
        assert listed[name].get("checks", []) == list(m.checks)
    assert listed["config-change-before-noop-commit"]["checks"] == ["ElectionSafety"]


def test_a_mutant_that_names_its_checks_runs_them_unless_invariant_says_otherwise(capsys):
    # Smaller bounds than the mutant's own, so the run is quick; the checks are still its.
    small = ["--mutant", "config-change-before-noop-commit", "--max-term", "2"]
    status, out = _run(["check", *small, "--json"], capsys)
    assert status == 0 and json.loads(out.out)["checked_only"] == ["ElectionSafety"]
    status, out = _run(["check", *small], capsys)
    assert status == 0 and "checking ElectionSafety only" in out.out
    status, out = _run(["check", *small, "--invariant", "LeaderCompleteness", "--json"], capsys)
    assert status == 0 and json.loads(out.out)["checked_only"] == ["LeaderCompleteness"]


def test_itf_shows_a_configuration_entry_as_the_set_of_its_members(tmp_path, capsys):
    itf = tmp_path / "trace.itf.json"
    status, _out = _run(["check", "--mutant", "concurrent-config-changes", "--itf", str(itf)],
                        capsys)
    assert status == 1
    states = json.loads(itf.read_text())["states"]
    values = [e["value"] for s in states for log in s["log"]["#map"] for e in log[1]]
    configs = [v["#set"] for v in values if isinstance(v, dict)]
    assert configs and all(isinstance(m, list) and m for m in configs)
    assert all(v.startswith("v") and not v.startswith("v-") for v in values if isinstance(v, str))
