"""Random argument vectors for `raftmc`: whatever a careless or hostile user types, the answer
is an exit status from the documented set and never a traceback.

Run in-process (`main(argv)`), and kept short: every search gets a time limit or small bounds
appended (the last occurrence of a flag wins), and `raftmc bench`'s runs are replaced by
empty ones (its checks of the values happen before them and are what is fuzzed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.cli import bench, main
from raftkit.modelcheck.cli.errors import STATUS_MEANINGS
from raftkit.spec.mutants import ALL_MUTANTS

DOCUMENTED = set(STATUS_MEANINGS)
LIFERAFT = Path(__file__).parent / "conformance" / "thirdparty" / "liferaft" / "trace" / "n1.jsonl"

SMALL = st.sampled_from(["1", "2", "3"])
INTS = st.sampled_from(["-1", "0", "5", "7", "64", "65", "1000", "99999999999"])
# No letters but x, y, z: a junk value can never spell "auto" (a local Ray cluster).
JUNK = st.text(alphabet="-=,.:/0123456789xyz é", max_size=6)
ODD = st.sampled_from(["1.5", "-0.5", "nan", "inf", "1e309", ""])
# Mostly values a command accepts, so that runs get past the checks as often as not.
VALUES = st.one_of(SMALL, SMALL, SMALL, INTS, JUNK, ODD)

MODEL = [
    "--servers", "--values", "--max-term", "--max-log", "--max-dup", "--max-inflight", "--batch",
]
SWITCHES = [
    "--faults", "--no-faults", "--history", "--ghost", "--prevote", "--noop", "--snapshots",
    "--stepdown", "--symmetry", "--no-symmetry", "--json",
]
CHECK = [
    "--max-states", "--max-seconds", "--workers", "--frontier-budget", "--checkpoint-every",
]
CHECK_SWITCHES = ["--exact-store", "--z3", "--reference"]
CHECK_PATHS = ["--spill-dir", "--checkpoint", "--resume", "--report", "--itf"]
GRAPH = ["--node-limit", "--max-states", "--around", "--radius", "--counterexamples"]


def _flag_and_value(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return values.map(lambda v: [name, v])


@st.composite
def argvs(draw: st.DrawFn, tmp: str) -> list[str]:
    paths = st.sampled_from(
        [tmp, f"{tmp}/out", f"{tmp}/out/x.json", f"{tmp}/junk.jsonl", "/dev/full", "/nonexistent/x"]
    )
    mutants = st.sampled_from([*ALL_MUTANTS, "no-such-bug"])
    command = draw(
        st.sampled_from(
            ["check"] * 4 + ["graph"] * 3 + ["mutants", "conform", "bench", "prove", "bmc", "", "x"]
        )
    )
    tokens: list[st.SearchStrategy[list[str]]] = [JUNK.map(lambda j: [j])]
    if command not in ("mutants", "conform", "bench"):
        tokens += [
            st.sampled_from(MODEL).flatmap(lambda f: _flag_and_value(f, VALUES)),
            st.sampled_from(SWITCHES).map(lambda f: [f]),
            mutants.map(lambda m: ["--mutant", m]),
        ]
    if command == "mutants":
        tokens += [st.just(["--json"])]
    elif command == "check":
        tokens += [
            st.sampled_from(CHECK).flatmap(lambda f: _flag_and_value(f, VALUES)),
            st.sampled_from(CHECK_SWITCHES).map(lambda f: [f]),
            st.sampled_from(CHECK_PATHS).flatmap(lambda f: _flag_and_value(f, paths)),
            st.sampled_from(["127.0.0.1:1", "host", "x:y"]).map(lambda a: ["--ray", a]),
        ]
    elif command == "graph":
        tokens += [
            st.sampled_from(GRAPH).flatmap(lambda f: _flag_and_value(f, VALUES)),
            st.sampled_from(["dot", "svg", "png", "json", "gif"]).map(lambda f: ["--format", f]),
            st.sampled_from(["roles", "terms", "nope"]).map(lambda q: ["--quotient", q]),
            st.just(["--counterexample-only"]),
            paths.map(lambda p: ["-o", p]),
        ]
    elif command == "conform":
        tokens += [
            st.sampled_from([str(LIFERAFT), f"{tmp}/junk.jsonl", "/nonexistent/t"]).map(
                lambda p: [p]
            ),
            st.sampled_from(["batch", "snapshots", "nope", ""]).map(lambda o: ["--options", o]),
            _flag_and_value("--max-interpretations", VALUES),
            st.sampled_from(["--keep-going", "--json"]).map(lambda f: [f]),
            paths.map(lambda p: ["--report", p]),
        ]
    elif command == "bench":
        tokens += [
            st.sampled_from(["--configs", "--workers", "--scaling", "--repeat"]).flatmap(
                lambda f: _flag_and_value(f, st.one_of(VALUES, st.just("A,B")))
            ),
            st.sampled_from(["on", "off", "both", "x"]).map(lambda s: ["--symmetry", s]),
        ]
    elif command in ("prove", "bmc"):
        tokens += [
            st.sampled_from(["ElectionSafety", "LogMatching", "Nope"]).map(
                lambda p: ["--invariant" if command == "prove" else "--reach", p]
            ),
            st.sampled_from(["--depth", "--from-depth", "--max-seconds"]).flatmap(
                lambda f: _flag_and_value(f, VALUES)
            ),
            st.sampled_from(["--no-lemmas", "--integers"]).map(lambda f: [f]),
        ]
    argv = [command] if command else []
    for token in draw(st.lists(st.one_of(tokens), max_size=4)):
        argv += token
    # Whatever was drawn, a search ends soon: the last occurrence of a flag wins.
    argv += {
        "check": ["--max-seconds", "1"],
        "graph": ["--max-states", "300"],
        "prove": ["--servers", "1", "--max-term", "1", "--max-log", "0", "--max-seconds", "1"],
        "bmc": ["--servers", "1", "--max-term", "1", "--depth", "1", "--max-seconds", "1"],
    }.get(command, [])
    return argv


def _status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2


@pytest.fixture(scope="module")
def tmp():
    with tempfile.TemporaryDirectory(prefix="raftmc-fuzz-") as d:
        (Path(d) / "junk.jsonl").write_bytes(b'{"event": 1}\n\xff\x00 not json\n')
        yield d


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_arguments_end_in_a_documented_status_without_traceback(data, tmp, capsys):
    argv = data.draw(argvs(tmp), label="argv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench, "run", lambda *args, **kwargs: [])
        patch.setattr(bench, "scaling", lambda *args, **kwargs: [])
        status = _status(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out, argv
    assert status in DOCUMENTED, (argv, status, err)
    if status == 2 and err:
        assert len(err.strip().splitlines()) == 1, (argv, err)
