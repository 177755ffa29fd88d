"""`raftmc` as a user runs it: exit statuses, one-line errors, JSON, and TLC's figures."""

import json
import os
import re
import subprocess
import sys

import pytest
from raftkit.modelcheck.cli.app import main

# raft.tla without history, 3 servers, MaxTerm 2, MaxLogLen 0, MaxDup 1, MaxInFlight 1, one
# value, no faults, as TLC counts it (RAFT-TLA-NOTES, configuration A).
SMALL = ["--max-term", "2", "--max-log", "0", "--max-inflight", "1", "--values", "1"]


def raftmc(*args, timeout=300):
    env = dict(os.environ, COLUMNS="120")
    return subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--servers", "7"], "--servers must be between 1 and 5 (got 7)"),
        (["check", "--servers", "three"], "--servers"),
        (["check", "--max-term", "0"], "--max-term"),
        (["check", "--bogus"], "unrecognized arguments: --bogus"),
        (["check", "--mutant", "no-such-bug"], "unknown mutant 'no-such-bug'"),
        (["check", "--max-states", "0"], "--max-states must be at least 1 (got 0)"),
        (["check", "--max-seconds", "-1"], "--max-seconds must be positive"),
        (["check", "--max-seconds", "soon"], "--max-seconds"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args, message):
    proc = raftmc(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("raftmc: error: ")
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("keep me\n")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["check", "--checkpoint", "{f}/ckpt"], "--checkpoint: cannot create {f}/ckpt: {f} is not"),
        (["check", "--resume", "{f}"], "--resume: {f} exists and is not a directory"),
        (["check", "--spill-dir", "{f}"], "--spill-dir: {f} exists and is not a directory"),
        (["check", "--report", "{f}/r"], "--report: cannot create {f}/r: {f} is not a directory"),
        (["check", "--itf", "{d}"], "--itf: {d} is a directory"),
        (["check", "--itf", "{f}/x/t.itf.json"], "--itf: cannot write {f}/x/t.itf.json: {f} is"),
        (["graph", "-o", "{f}/g.dot"], "--output: cannot write {f}/g.dot: {f} is not a directory"),
        (["check", "--ray", "127.0.0.1:1"], "--ray: nothing answers at 127.0.0.1:1"),
        (["check", "--ray", "headnode"], "--ray: expected 'auto' or HOST:PORT"),
        (["bench", "--workers", "0"], "--workers must each be at least 1 (got 0)"),
        (["bench", "--configs", ","], "--configs: none given"),
        (["bench", "--repeat", "0"], "--repeat must be at least 1 (got 0)"),
    ],
)
def test_paths_that_cannot_be_written_are_refused_before_the_run(args, message, a_file):
    # Refused in one line before any search, so a long run never ends in a failed write; the
    # file in the way is left as it was.
    fill = {"f": str(a_file), "d": str(a_file.parent)}
    proc = raftmc(*[a.format(**fill) for a in args])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("raftmc: error: "), proc.stderr
    assert message.format(**fill) in lines[0]
    assert a_file.read_text() == "keep me\n"


def test_graph_output_directories_are_created(tmp_path):
    out = tmp_path / "new" / "dir" / "g.dot"
    proc = raftmc("graph", "--max-term", "1", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("digraph")


def test_help_documents_flags_defaults_and_exit_status():
    proc = raftmc("check", "--help")
    assert proc.returncode == 0
    for flag in (
        "--servers",
        "--values",
        "--max-term",
        "--max-log",
        "--max-dup",
        "--max-inflight",
        "--faults",
        "--no-faults",
        "--symmetry",
        "--no-symmetry",
        "--mutant",
        "--history",
        "--ghost",
        "--json",
        "--max-states",
        "--max-seconds",
        "--exact-store",
    ):
        assert flag in proc.stdout
    assert "(default: 3)" in proc.stdout
    assert "exit status" in proc.stdout
    statuses = dict(re.findall(r"^  (\d+) +(.*)$", proc.stdout, re.M))
    assert statuses["3"].startswith("incomplete")
    assert statuses["4"].startswith("a file could not be read or written")
    assert statuses["6"].startswith("a worker process")
    assert statuses["130"].startswith("Ctrl-C")


def test_json_run_matches_tlc_with_symmetry():
    proc = raftmc("check", *SMALL, "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = json.loads(proc.stdout)
    for key in (
        "result",
        "distinct_states",
        "states_generated",
        "depth",
        "seconds",
        "coverage",
        "sometimes",
        "collision_probability",
        "parameters",
    ):
        assert key in out
    assert out["result"] == "ok"
    # TLC: 10,362 distinct and 88,594 generated with symmetry; depth 40 as without.
    assert (out["distinct_states"], out["states_generated"], out["depth"]) == (10362, 88594, 40)
    assert out["parameters"]["servers"] == 3
    assert out["parameters"]["symmetry"] is True
    assert out["sometimes"]["LeaderElected"] is True
    assert set(out["coverage"]["Timeout"]) == {"enabled", "distinct"}


def test_people_output(capsys):
    status = main(["check", *SMALL])
    out = capsys.readouterr().out
    assert status == 0
    assert "10,362" in out and "88,594" in out
    assert "Coverage" in out and "Sometimes" in out
    assert "no violation" in out


def test_limit_gives_exit_3():
    proc = raftmc("check", *SMALL, "--max-states", "500", "--json")
    assert proc.returncode == 3
    out = json.loads(proc.stdout)
    assert out["result"] == "incomplete"
    assert out["stopped_by"] == "max_states"


def test_mutants_lists_each_with_the_property_it_breaks():
    # Every mutant --mutant accepts, raft.tla's and the options' alike: an option mutant once
    # appeared only in the error message of an unknown name.
    from raftkit.spec.mutants import ALL_MUTANTS, MUTANTS, OPTION_MUTANTS

    assert OPTION_MUTANTS and set(MUTANTS) < set(ALL_MUTANTS)
    proc = raftmc("mutants")
    assert proc.returncode == 0
    for m in ALL_MUTANTS.values():
        assert m.name in proc.stdout
        assert m.breaks in proc.stdout
        assert f"raftmc check --mutant {m.name}" in proc.stdout
    listed = json.loads(raftmc("mutants", "--json").stdout)
    assert {m["name"] for m in listed} == set(ALL_MUTANTS)


@pytest.mark.slow
def test_json_run_matches_tlc_without_symmetry():
    proc = raftmc("check", *SMALL, "--no-symmetry", "--json")
    out = json.loads(proc.stdout)
    # TLC: 61,805 distinct, 528,679 generated, depth 40.
    assert (out["distinct_states"], out["states_generated"], out["depth"]) == (61805, 528679, 40)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["forget-vote-on-restart"])
def test_mutant_is_found_and_its_trace_replays(name):
    from raftkit.modelcheck.engine import check
    from raftkit.modelcheck.engine.trace import replay
    from raftkit.spec.model import RaftModel
    from raftkit.spec.mutants import MUTANTS
    from raftkit.spec.params import Params

    mutant = MUTANTS[name]
    model = RaftModel(Params(mutant=name, **mutant.bounds))
    result = check(model)
    assert result.result == "violation"
    assert result.violation.property == mutant.breaks
    replay(model, result.violation.trace)

    proc = raftmc("check", "--mutant", name, "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["violation"]["property"] == mutant.breaks
    assert out["violation"]["trace"][0]["action"] is None
    assert len(out["violation"]["trace"]) == len(result.violation.trace)


def test_mutant_bounds_are_defaults_and_flags_win():
    from raftkit.modelcheck.cli.app import build_parser
    from raftkit.modelcheck.cli.model_flags import params_from_args
    from raftkit.spec.mutants import MUTANTS

    name = "forget-vote-on-restart"
    bounds = MUTANTS[name].bounds
    args = build_parser().parse_args(["check", "--mutant", name, "--max-term", "1"])
    params = params_from_args(args)
    assert params.mutant == name
    assert params.max_term == 1
    for field, value in bounds.items():
        if field != "max_term":
            assert getattr(params, field) == value


def test_no_flags_give_the_spec_defaults():
    from raftkit.modelcheck.cli.app import build_parser
    from raftkit.modelcheck.cli.model_flags import params_from_args
    from raftkit.spec.params import Params

    assert params_from_args(build_parser().parse_args(["check"])) == Params()


@pytest.mark.parametrize(
    "argv", [["prove", "--invariant", "ElectionSafety"], ["bmc", "--depth", "2"], ["check", "--z3"]]
)
def test_z3_commands_without_z3_say_how_to_install_it(argv, monkeypatch, capsys):
    # z3-solver is an extra (raftkit[z3]): without it, one line and the usage status.
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "z3" else real(name, *a)
    )
    assert _exit_status(main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "raftkit[z3]" in err


def _exit_status(fn, argv):
    try:
        return fn(argv)
    except SystemExit as exc:
        return exc.code


def _option_mutant_with(field):
    """An option mutant whose bounds turn ``field`` on (looked up: names may change)."""
    from raftkit.spec.mutants import OPTION_MUTANTS

    return next(m for m in OPTION_MUTANTS.values() if m.bounds.get(field))


def test_a_flag_that_clashes_with_a_mutants_bounds_names_both(capsys):
    # The user never typed --snapshots: the message must say where it came from.
    mutant = _option_mutant_with("snapshots")
    with pytest.raises(SystemExit) as exited:
        main(["check", "--mutant", mutant.name, "--batch", "0"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"raftmc: error: --batch 0 conflicts with --mutant {mutant.name}, "
                             "which runs with ")
    assert "--snapshots" in err[0].split("which runs with", 1)[1]


def test_a_bad_flag_next_to_a_mutant_is_the_flags_fault(capsys):
    mutant = _option_mutant_with("snapshots")
    with pytest.raises(SystemExit):
        main(["check", "--mutant", mutant.name, "--servers", "7"])
    err = capsys.readouterr().err
    assert err == "raftmc: error: --servers must be between 1 and 5 (got 7)\n"


@pytest.mark.parametrize("scaling", ["-5", "0", "100,-1"])
def test_bench_refuses_a_bad_scaling_before_running_anything(scaling, capsys, monkeypatch):
    from raftkit.modelcheck.cli import bench

    def ran(*args, **kwargs):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(bench.runs, "run", ran)
    monkeypatch.setattr(bench.runs, "scaling", ran)
    with pytest.raises(SystemExit) as exited:
        main(["bench", f"--scaling={scaling}"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"raftmc: error: --scaling: state counts must each be at least 1 "
                   f"(got {scaling})\n")


def test_a_full_disk_is_named():
    # -o names the file; standard output is called so.
    proc = raftmc("graph", "--max-term", "1", "-o", "/dev/full")
    assert proc.returncode == 4
    assert proc.stderr == "raftmc: error: /dev/full: No space left on device\n"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "raftkit.modelcheck.cli", "mutants"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
        )
    assert proc.returncode == 4
    assert proc.stderr == "raftmc: error: standard output: No space left on device\n"


def test_counterexamples_show_mlog_only_with_history(capsys):
    # mlog is raft.tla's history variable: without --history it is always empty, and noise.
    assert main(["check", "--mutant", "forget-vote-on-restart"]) == 1
    text = capsys.readouterr().out
    assert "RequestVoteResponse" in text and "mvoteGranted" in text
    assert "mlog" not in text
    assert main(["check", "--mutant", "forget-vote-on-restart", "--history", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    messages = [m for step in out["violation"]["trace"] for m in step["state"]["messages"]]
    responses = [m for m in messages if m["mtype"] == "RequestVoteResponse"]
    assert responses and all("mlog" in m for m in responses)


def test_graph_depths_are_the_checkers_levels(capsys):
    flags = ["--servers", "2", "--max-term", "2", "--max-log", "0"]
    assert main(["graph", *flags, "--format", "json", "--node-limit", "10000"]) == 0
    nodes = json.loads(capsys.readouterr().out)["nodes"]
    assert main(["check", *flags, "--json"]) == 0
    depth = json.loads(capsys.readouterr().out)["depth"]
    assert [n["depth"] for n in nodes if n["initial"]] == [1]
    assert max(n["depth"] for n in nodes) == depth


def test_one_server_runs_compiled_with_workers_and_as_the_readable_spec():
    # One server once crashed the compiled model, and with two workers hung the parent.
    runs = []
    for extra in ([], ["--workers", "2"], ["--reference"]):
        proc = raftmc("check", "--servers", "1", "--json", *extra, timeout=600)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        runs.append((out["result"], out["distinct_states"], out["states_generated"], out["depth"]))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][1] > 1


def test_check_runs_where_z3_cannot_be_imported():
    # The README's first command installs no extra: raftmc check must not need z3-solver, and
    # prove says how to get it.
    blocked = (
        "import sys; sys.modules['z3'] = None; "
        "from raftkit.modelcheck.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    run = [sys.executable, "-c", blocked]
    checked = subprocess.run([*run, "check", "--max-term", "1"], capture_output=True, text=True,
                             timeout=300)
    assert checked.returncode == 0, checked.stderr
    assert "no violation" in checked.stdout
    proved = subprocess.run([*run, "prove", "--invariant", "ElectionSafety"],
                            capture_output=True, text=True, timeout=300)
    assert proved.returncode == 2
    assert proved.stderr.count("\n") == 1 and "raftkit[z3]" in proved.stderr
    helped = subprocess.run([*run, "prove", "--help"], capture_output=True, text=True, timeout=300)
    assert helped.returncode == 0 and "they need Z3" in helped.stdout


@pytest.mark.parametrize(
    "pure, extra, form",
    [
        ("1", [], "compiled spec, Python loop"),
        ("0", ["--reference"], "readable spec (spec/actions.py)"),
        ("0", ["--ghost"], "compiled spec, Python loop"),
    ],
)
def test_check_says_which_form_of_the_spec_it_explores(monkeypatch, pure, extra, form):
    monkeypatch.setenv("RAFTKIT_PURE_PYTHON", pure)
    tiny = ["--servers", "2", "--max-term", "1", "--max-log", "0"]
    done = raftmc("check", *tiny, *extra, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["form"] == form
    people = raftmc("check", *tiny, *extra)
    assert f"raftmc: exploring the {form}\n" in people.stdout


def test_check_says_when_the_c_loop_runs(monkeypatch):
    from raftkit.modelcheck.compiled import flat

    monkeypatch.setenv("RAFTKIT_PURE_PYTHON", "0")
    done = raftmc("check", "--servers", "2", "--max-term", "1", "--max-log", "0", "--json")
    built = flat._cloop is not None
    assert json.loads(done.stdout)["form"] == (
        "compiled spec, C loop" if built else "compiled spec, Python loop"
    )


def test_check_ghost_with_a_mutant_prints_the_counterexample():
    # The ghost variables run in the compiled form's table-building loop, which once raised
    # the violation again while the trace was being rebuilt: a traceback instead of a trace.
    done = raftmc("check", "--ghost", "--mutant", "truncate-on-any-append")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "ElectableLogsHoldCommitted is violated" in done.stdout


def test_invariant_checks_only_the_properties_named():
    # concurrent-config-changes breaks the lemma ElectableLogsHoldCommitted after a few
    # thousand states; with LogMatching alone the search goes past that state, never naming
    # the lemma, until its state limit.
    every = json.loads(raftmc("check", "--mutant", "concurrent-config-changes", "--json").stdout)
    assert every["violation"]["property"] == "ElectableLogsHoldCommitted"
    limit = 3 * every["distinct_states"]
    done = raftmc("check", "--mutant", "concurrent-config-changes", "--invariant", "LogMatching",
                  "--max-states", str(limit), "--json")
    out = json.loads(done.stdout)
    assert (out["result"], out["stopped_by"]) == ("incomplete", "max_states")
    # LogMatching has a compiled form, membership too: the compiled spec runs it.
    assert out["form"].startswith("compiled spec")
    # A JSON reader learns which properties the verdict covers.
    assert out["checked_only"] == ["LogMatching"] and "checked_only" not in every
    alone = raftmc("check", "--mutant", "concurrent-config-changes", "--invariant",
                   "ElectableLogsHoldCommitted", "--json")
    assert json.loads(alone.stdout)["violation"]["trace"] == every["violation"]["trace"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--invariant", "Nope"], "--invariant: unknown Nope (known: ElectionSafety,"),
        (["--invariant", "ElectionSafety", "--workers", "2"],
         "--workers, --checkpoint, --resume and --ray do not run --invariant"),
    ],
)
def test_invariant_refuses_in_one_line(args, message):
    done = raftmc("check", "--servers", "2", "--max-term", "1", *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
