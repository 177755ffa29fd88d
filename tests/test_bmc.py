"""Bounded model checking (modelcheck/bmc.py) and its inductive strengthening (houdini.py)
against the explicit spec: the same shortest lengths as breadth-first search, traces that
replay, the same answers with and without the lemmas, limits and interruptions."""

from __future__ import annotations

import json
from collections import deque

import pytest
from raftkit.modelcheck import check, replay
from raftkit.modelcheck.bmc import bmc
from raftkit.modelcheck.cli import main
from raftkit.modelcheck.houdini import (
    SLOWER_AS_ASSUMPTIONS,
    default_candidates,
    inductive_subset,
)
from raftkit.modelcheck.prove import known_names, prove
from raftkit.spec.actions import next_steps
from raftkit.spec.compiled import FastRaftModel
from raftkit.spec.lemmas import COMMIT_LEMMAS, DEFAULT_LEMMAS
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.params import Params
from raftkit.spec.properties import SOMETIMES
from raftkit.spec.state import init_state

# Small enough that the lemma search and a few depths take seconds (as in test_z3.py's proofs).
QUICK = Params(servers=3, values=1, max_term=2, max_log=0, max_inflight=1)


def test_bmc_refuses_options_without_an_encoding_in_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bmc", "--depth", "2", "--batch", "2"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "raftmc: error: the options beyond raft.tla (--batch, --prevote, ...) have no symbolic "
        "encoding"
    ]


# --- bounded model checking -------------------------------------------------------------------


def _bfs_depth(p: Params, reached) -> int:
    """Steps of a shortest behaviour to a state where ``reached`` holds (explicit search)."""
    start = init_state(p)
    depth = {start: 0}
    queue = deque([start])
    while queue:
        s = queue.popleft()
        if reached(s):
            return depth[s]
        if not within_bounds(p, s):
            continue
        for _label, t in next_steps(p, s):
            if t not in depth:
                depth[t] = depth[s] + 1
                queue.append(t)
    raise AssertionError("never reached")


@pytest.mark.parametrize(
    "servers", [1, pytest.param(3, marks=pytest.mark.slow)], ids=["1-server", "3-servers"]
)
def test_bmc_finds_a_shortest_election_and_it_replays(servers):
    p = Params(servers=servers, max_term=2, max_log=0, max_inflight=1)
    r = bmc(p, 10, reach="LeaderElected")
    assert r.result == "violation"
    trace = r.violation.trace
    replay(RaftModel(p, symmetry=False), trace)
    assert len(trace) - 1 == _bfs_depth(p, SOMETIMES[0].fn) == r.depth


def test_bmc_from_depth_asks_only_from_there():
    p = Params(servers=1, max_term=2, max_log=0, max_inflight=1)
    shortest = _bfs_depth(p, SOMETIMES[0].fn)
    same = bmc(p, shortest + 3, reach="LeaderElected", start=shortest)
    assert same.result == "violation" and same.depth == shortest and same.start == shortest
    # Depths below the start are not asked about, so a longer behaviour is what comes back.
    later = bmc(p, shortest + 3, reach="LeaderElected", start=shortest + 1)
    assert later.result == "violation" and later.depth == shortest + 1
    assert len(later.violation.trace) == shortest + 2
    replay(RaftModel(p, symmetry=False), later.violation.trace)
    assert bmc(QUICK, 3, start=2).result == "ok"


def test_bmc_cli_from_depth(capsys):
    status = main(["bmc", "--depth", "2", "--from-depth", "1", "--no-lemmas", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["from_depth"] == 1
    with pytest.raises(SystemExit) as exc:
        main(["bmc", "--depth", "2", "--from-depth", "3"])
    assert exc.value.code == 2
    assert "--from-depth" in capsys.readouterr().err


def test_bmc_cli_json(capsys):
    status = main(["bmc", "--depth", "2", "--max-log", "0", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["depth"] == 2
    assert len(out["per_depth_seconds"]) == 3
    assert "ElectionSafety" in out["lemmas"] and out["lemma_seconds"] > 0
    status = main(["bmc", "--depth", "2", "--max-log", "0", "--no-lemmas", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0 and out["result"] == "ok" and out["lemmas"] == []


def test_bmc_max_seconds_stops_a_query_in_progress(capsys):
    # One question, at depth 24 of the default bounds: it takes minutes (docs/z3-proofs.md), so
    # a limit checked only between depths would not stop it for minutes.
    start = 24
    r = bmc(Params(), start, start=start, max_seconds=4.0, strengthen=False)
    assert (r.result, r.stopped_by) == ("incomplete", "max_seconds")
    assert r.depth == start - 1  # the depths below were unrolled (skipped), not this one
    assert r.seconds < 30
    # The lemma search is stopped the same way, before any depth.
    r = bmc(QUICK, 5, max_seconds=0.5)
    assert (r.result, r.stopped_by, r.depth, r.lemmas) == ("incomplete", "max_seconds", -1, [])
    assert r.seconds < 30
    assert main(["bmc", "--depth", "5", "--max-log", "0", "--max-term", "2",
                 "--max-seconds", "0.5"]) == 3
    out = capsys.readouterr().out
    assert "incomplete: time limit before the first depth (finding the lemmas)" in out
    # And an induction check (LogMatching with its lemmas takes seconds on the defaults).
    assert main(["prove", "--invariant", "LogMatching", "--max-seconds", "0.2", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["result"], out["stopped_by"]) == ("incomplete", "max_seconds")


def test_bmc_interrupted_is_incomplete_not_a_traceback(monkeypatch, capsys):
    def stop_after_two(depth, seconds):
        if depth == 2:
            raise KeyboardInterrupt

    p = Params(servers=1, max_term=2, max_log=0, max_inflight=1)
    r = bmc(p, 6, progress=stop_after_two)
    assert (r.result, r.depth, r.stopped_by) == ("incomplete", 2, "interrupted")
    from raftkit.modelcheck import prove as prove_module

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prove_module, "prove", ctrl_c)
    monkeypatch.setattr("raftkit.modelcheck.houdini.prove", ctrl_c)
    # Ctrl-C in the lemma search ends bmc with a result, as its time limit does.
    r = bmc(p, 6)
    assert (r.result, r.depth, r.stopped_by, r.lemmas) == ("incomplete", -1, "interrupted", [])
    assert main(["bmc", "--depth", "3", "--servers", "1"]) == 3
    out = capsys.readouterr().out
    assert "incomplete: interrupted before the first depth (finding the lemmas)" in out
    assert main(["bmc", "--depth", "3", "--servers", "1", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert (out["result"], out["stopped_by"], out["depth"]) == ("incomplete", "interrupted", -1)
    assert main(["prove", "--invariant", "ElectionSafety"]) == 3
    err = [x for x in capsys.readouterr().err.splitlines() if "interrupted" in x]
    assert err == ["raftmc: interrupted: no verdict"]


def test_houdini_keeps_an_inductive_subset_without_what_a_mutant_breaks():
    plain = inductive_subset(QUICK)
    assert {"ElectionSafety", "LogMatching", *DEFAULT_LEMMAS["ElectionSafety"]} <= set(plain.kept)
    assert prove(QUICK, plain.kept[0], plain.kept[1:]).result == "proved"
    name = "forget-vote-on-restart"
    p = Params(mutant=name, **MUTANTS[name].bounds)
    broken = inductive_subset(p)
    assert "ElectionSafety" not in broken.kept
    assert "ElectionSafety" in [n for n, _ in broken.dropped]
    assert set(broken.kept) | {n for n, _ in broken.dropped} == set(default_candidates())
    # The commitment lemmas (for prove) are not candidates: BMC was slower with them.
    assert not set(COMMIT_LEMMAS) & set(default_candidates())
    assert "AppendEntriesPrevLogTermMatches" not in default_candidates()
    assert set(default_candidates()) | set(SLOWER_AS_ASSUMPTIONS) == set(known_names())
    assert prove(p, broken.kept[0], broken.kept[1:]).result == "proved"


@pytest.mark.parametrize(
    "p, reach, depth",
    [
        (Params(servers=1, max_term=2, max_log=0, max_inflight=1), "LeaderElected", None),
        (Params(servers=2, max_term=2, max_log=1, max_inflight=1), "EntryCommitted", None),
        (QUICK, None, 4),
        (Params(mutant="forget-vote-on-restart", **MUTANTS["forget-vote-on-restart"].bounds),
         None, 6),
    ],
    ids=["1-server-election", "2-server-commit", "quick-ok", "mutant-ok-to-6"],
)
def test_bmc_answers_the_same_with_and_without_the_inductive_lemmas(p, reach, depth):
    # The lemmas hold in every reachable state, so requiring them changes no answer: a sometimes
    # property is reached at its breadth-first depth either way, and nothing breaks within a
    # depth shorter than the mutant's counterexample either way.
    if reach is not None:
        depth = _bfs_depth(p, next(s.fn for s in SOMETIMES if s.name == reach))
    strong = bmc(p, depth, reach=reach)
    bare = bmc(p, depth, reach=reach, strengthen=False)
    assert strong.lemmas and not bare.lemmas
    assert (strong.result, strong.depth) == (bare.result, bare.depth)
    assert strong.result == ("violation" if reach is not None else "ok")
    assert strong.depth == depth
    if strong.violation is not None:
        assert len(strong.violation.trace) == len(bare.violation.trace) == depth + 1
        replay(RaftModel(p, symmetry=False), strong.violation.trace)


def _bfs_counterexample_length(p: Params) -> int:
    # The compiled form, proven identical to the readable spec by test_compiled_identity.py:
    # the same lengths (measured: 19, 18, 25 states for three mutants either way) in a tenth of
    # the time (commit-old-term's bounds: about a minute, against most of 922 s).
    result = check(FastRaftModel(p, symmetry=True))
    assert result.violation is not None
    return len(result.violation.trace)


def _bmc_finds_with_the_bfs_length(
    name: str, only_at_that_depth: bool = False, max_seconds: float | None = None
) -> None:
    m = MUTANTS[name]
    p = Params(mutant=name, **m.bounds)
    expected = _bfs_counterexample_length(p)
    steps = expected - 1
    r = bmc(p, steps, start=steps if only_at_that_depth else 0, max_seconds=max_seconds)
    assert r.result == "violation", f"{r.result} after depth {r.depth} in {r.seconds:.0f} s"
    assert r.depth == steps
    assert len(r.violation.trace) == expected
    replay(RaftModel(p, symmetry=False), r.violation.trace)


# Mutants BMC finds with the breadth-first length in the default suite. Measured (2-core machine
# shared with other jobs): forget-vote-on-restart (19 states), 57-68 s with its breadth-first run.
QUICK_BMC_MUTANTS = ["forget-vote-on-restart"]


@pytest.mark.parametrize("name", QUICK_BMC_MUTANTS)
def test_bmc_finds_the_quick_mutants_with_the_bfs_length(name):
    _bmc_finds_with_the_bfs_length(name)


# commit-old-term needs 41 steps at max term 4, beyond this encoding's reach (docs/z3-proofs.md,
# Limits). Its case runs with a budget so that the slow suite ends, and is a strict expected
# failure: the day BMC finds it within the budget the case fails as XPASS, and this goes.
BMC_OUT_OF_REACH = {"commit-old-term": 1800.0}


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            m,
            marks=pytest.mark.xfail(
                strict=True,
                raises=AssertionError,  # "incomplete" within the budget; a crash still fails
                reason="open: BMC does not reach 41 steps at max term 4 (issue 4)",
            ),
        )
        if m in BMC_OUT_OF_REACH
        else m
        for m in MUTANTS
        if m not in QUICK_BMC_MUTANTS
    ],
)
def test_bmc_finds_each_mutant_with_the_bfs_length(name):
    # With the inductive lemmas (docs/z3-proofs.md), measured from depth 0 on 2026-11-27:
    # truncate-on-any-append (18 states) in about 300 s, entry-term-is-current-term (25) in
    # 1,331 s, vote-without-log-check (26) in 2,828 s, each with the BFS length and replayed.
    _bmc_finds_with_the_bfs_length(name, max_seconds=BMC_OUT_OF_REACH.get(name))


# With the depths below the breadth-first length left unasked (``--from-depth``), the deep
# mutants come within reach: each is found at exactly that depth, and replays. Seen passing
# on 2026-11-27, other core busy: entry-term-is-current-term 1,740 s, vote-without-log-check
# 341 s (one SAT query's time varies widely between runs).
FROM_DEPTH_MUTANTS = ["entry-term-is-current-term", "vote-without-log-check"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FROM_DEPTH_MUTANTS)
def test_bmc_from_the_bfs_depth_finds_the_deep_mutants(name):
    _bmc_finds_with_the_bfs_length(name, only_at_that_depth=True)
