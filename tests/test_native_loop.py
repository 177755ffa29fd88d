"""The cached loop in C (``modelcheck/compiled/_cloop.c``) is the generated Python loop, byte for
byte: the same keys, successors, actions, parts, bases and generated counts from the same states,
the same coverage and sometimes-properties, the same searches and counterexamples; and without
the extension (not built, or switched off by ``$RAFTKIT_PURE_PYTHON``) the Python loop runs and
gives the same results.

Two models of the same parameters, one per loop, are driven in lockstep: every table entry
either makes is made by the same Python methods, called in the same order, so their ids agree
and their outputs can be compared as they are.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from raftkit.modelcheck.compiled import FastRaftModel, flat
from raftkit.modelcheck.engine import check
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params

built = pytest.mark.skipif(flat._cloop is None, reason="the C loop is not built here")

SHORT = [
    Params(servers=3, max_term=2, max_log=0, max_inflight=1),
    Params(servers=3, max_term=2, max_log=0, max_inflight=1, history=True),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, faults=True, max_dup=2),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, history=True, faults=True),
    Params(servers=2, max_term=3, max_log=2, max_inflight=1, mutant="commit-old-term"),
]

#: The benchmark's configurations B, D and E (three servers), with and without history.
LONG = [
    Params(servers=3, max_term=2, max_log=1, max_inflight=1, history=h) for h in (False, True)
] + [
    Params(servers=3, max_term=2, max_log=0, max_inflight=1, faults=True, history=h)
    for h in (False, True)
] + [
    Params(servers=3, max_term=2, max_log=0, max_inflight=2, history=h) for h in (False, True)
] + [
    Params(servers=4, max_term=2, max_log=0, max_inflight=1),
    Params(servers=2, max_term=3, max_log=2, max_inflight=2, values=2, faults=True,
           history=True),
]


def _ids(p: Params) -> str:
    return ",".join(f"{k}={v}" for k, v in p.describe().items() if v not in (False, None, 0))


def _loops(c):
    """The cached loops of a flat model, with how many lists each appends to."""
    out = [("expand", c.expand, 5), ("expand_parts", c.expand_parts, 6)]
    if c.expand_delta is not None:
        out += [("expand_delta", c.expand_delta, 6),
                ("expand_parts_delta", c.expand_parts_delta, 7)]
    return out


def _run(fn, states, lists):
    out = [[] for _ in range(lists - 1)]
    try:
        return fn(states, *out), out
    except Exception as e:  # noqa: BLE001 - the violation raised is compared
        return (type(e).__name__, str(e)), None


def _tables(c):
    """What a loop leaves behind in its model: coverage (cells folded in or not), the
    sometimes-properties reached."""
    return (c.reached, list(c._enabled), [(cell[0], acts) for cell, acts in c._fcells])


def _lockstep(p: Params, symmetry: bool, limit: int, batch: int, small: bool = False) -> int:
    """Breadth-first over ``p`` through both loops, every variant on every batch; returns the
    number of states expanded. ``small``: caches emptied often (their bounds tiny)."""
    py = FastRaftModel(p, symmetry, native=False).compiled
    c = FastRaftModel(p, symmetry, native=True).compiled
    assert not py.native and c.native
    assert type(c.expand).__name__ == "Loop" and type(py.expand).__name__ == "function"
    if small:
        for m in (py, c):
            m.STEP_CACHE, m.CAND_CACHE = 40, 60
    level = py.initial()
    assert c.initial() == level
    seen = {py.key(s) for s in level}
    done = 0
    while level and done < limit:
        nxt = []
        for start in range(0, len(level), batch):
            chunk = level[start : start + batch]
            for (name, fp, lists), (_, fc, _) in zip(_loops(py), _loops(c), strict=True):
                got_py, out_py = _run(fp, chunk, lists)
                got_c, out_c = _run(fc, chunk, lists)
                assert got_c == got_py, name
                assert out_c == out_py, name
                assert _tables(c) == _tables(py), name
                if out_py is None:
                    return done  # a violation, raised the same by both: no state after it
                if name == "expand":
                    keys, succs = out_py[0], out_py[1]
                    for k, t in zip(keys, succs, strict=True):
                        if k not in seen:
                            seen.add(k)
                            nxt.append(t)
            done += len(chunk)
        level = nxt
    return done


@built
@pytest.mark.parametrize("p", SHORT, ids=_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_the_c_loop_appends_what_the_python_loop_appends(p, symmetry):
    assert _lockstep(p, symmetry, limit=1500, batch=61) > 0


@built
@pytest.mark.parametrize("symmetry", [True, False])
def test_the_c_loop_survives_its_caches_being_emptied(symmetry):
    # Caches emptied every few dozen entries: the C loop holds what it reads, so a table
    # cleared under it (by _prepare, which it calls) changes nothing it appends.
    p = Params(servers=3, max_term=2, max_log=0, max_inflight=1, history=True, faults=True)
    assert _lockstep(p, symmetry, limit=800, batch=37, small=True) >= 800


@built
@pytest.mark.slow
@pytest.mark.parametrize("p", LONG, ids=_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_the_c_loop_appends_what_the_python_loop_appends_long(p, symmetry):
    _lockstep(p, symmetry, limit=60_000, batch=2048)


def _summary(result) -> dict:
    v = result.violation
    return {
        "counts": [result.result, result.distinct_states, result.states_generated,
                   result.depth],
        "coverage": {k: [c.enabled, c.distinct] for k, c in sorted(result.coverage.items())},
        "sometimes": result.sometimes,
        "violation": None if v is None else [v.property, v.kind, repr(v.trace)],
    }


def _searched(p: Params, symmetry: bool, native: bool, workers: int = 1) -> dict:
    return _summary(check(FastRaftModel(p, symmetry, native=native), workers=workers))


def _mutants() -> list[Params]:
    """The mutants the compiled model runs (those of spec/options.py's options do not)."""
    every = (Params(mutant=name, **MUTANTS[name].bounds) for name in sorted(MUTANTS))
    return [p for p in every if not p.extended]


@built
@pytest.mark.parametrize(
    ("p", "symmetry"),
    [(Params(servers=2, max_term=2, max_log=1, max_inflight=2, faults=True, history=True), s)
     for s in (True, False)]
    + [(Params(servers=3, max_term=2, max_log=0, max_inflight=1, faults=True, history=True),
        True)],
    ids=lambda v: _ids(v) if isinstance(v, Params) else f"symmetry={v}",
)
def test_searches_agree(p, symmetry):
    assert _searched(p, symmetry, True) == _searched(p, symmetry, False)


@built
def test_counterexamples_agree():
    p = Params(mutant="forget-vote-on-restart", **MUTANTS["forget-vote-on-restart"].bounds)
    native = _searched(p, True, True)
    assert native["violation"] is not None
    assert native == _searched(p, True, False)


@built
@pytest.mark.slow
@pytest.mark.parametrize("p", _mutants(), ids=_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_counterexamples_agree_long(p, symmetry):
    native = _searched(p, symmetry, True)
    assert native["violation"] is not None
    assert native == _searched(p, symmetry, False)


@built
@pytest.mark.slow
@pytest.mark.parametrize("p", LONG[:6], ids=_ids)
@pytest.mark.parametrize("symmetry", [True, False])
@pytest.mark.parametrize("workers", [1, 2])
def test_searches_agree_long(p, symmetry, workers):
    assert _searched(p, symmetry, True, workers) == _searched(p, symmetry, False, workers)


_PROBE = """
import json, sys
if sys.argv[1] == "missing":
    # As on a machine where the extension could not be built: importing it fails.
    sys.modules["raftkit.modelcheck.compiled._cloop"] = None
from raftkit.modelcheck.compiled import FastRaftModel, flat
from raftkit.modelcheck.engine import check
from raftkit.spec.params import Params
p = Params(servers=2, max_term=2, max_log=1, max_inflight=1, faults=True, history=True)
m = FastRaftModel(p, False)
try:
    FastRaftModel(p, False, native=True)
    forced = "ran"
except RuntimeError as e:
    forced = str(e)
r = check(m)
# With symmetry, a state whose servers tie has several candidate renamings: the loops then
# take the least of their keys (TLC's figures for 3 servers, max term 2, max log 0).
q = Params(servers=3, max_term=2, max_log=0, max_inflight=1)
rs = check(FastRaftModel(q, True))
print(json.dumps({
    "counts_sym": [rs.result, rs.distinct_states, rs.states_generated, rs.depth],
    "built": flat._cloop is not None, "native": m.compiled.native,
    "loop": type(m.compiled.expand).__name__, "forced": forced,
    "counts": [r.result, r.distinct_states, r.states_generated, r.depth],
    "coverage": {k: [c.enabled, c.distinct] for k, c in sorted(r.coverage.items())},
}))
"""


def _probe(mode: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k != flat.PURE_PYTHON_ENV} | env
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True,
                         env=full, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_without_the_extension_the_python_loop_runs_and_agrees():
    missing = _probe("missing")
    assert not missing["built"] and not missing["native"]
    assert missing["loop"] == "function"
    assert "not built" in missing["forced"]
    switched_off = _probe("as-is", **{flat.PURE_PYTHON_ENV: "1"})
    assert not switched_off["native"] and switched_off["loop"] == "function"
    default = _probe("as-is")
    assert default["native"] == (flat._cloop is not None)
    assert default["loop"] == ("Loop" if flat._cloop is not None else "function")
    for run in (switched_off, default):
        assert (run["counts"], run["coverage"]) == (missing["counts"], missing["coverage"])
    for run in (missing, switched_off, default):
        assert run["counts_sym"] == ["ok", 10362, 88594, 40]


def test_the_c_loop_is_built_where_a_compiler_and_headers_are():
    # The build is optional; where it can succeed it must not have failed quietly.
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not (headers and shutil.which(compiler)):
        pytest.skip("no C compiler or Python headers: the pure-Python path is the one here")
    assert flat._cloop is not None, "reinstall (pip install -e .): the C loop was not built"

