"""The compiled model (modelcheck/compiled/) is the readable spec, state for state.

From every reachable state of several small configurations: the same successors (labels and
states, as multisets), the same bounds, keys equal exactly when the reference's canonical forms
are equal; the hot loop (``expand``) generates the same number of successors and keeps exactly
the in-bounds ones; whole searches give the same counts and verdicts.
"""

from collections import Counter

import pytest
from compiled_walks import assert_same_state_by_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.compiled.forms import MESSAGE_INVARIANTS, PAIR_INVARIANTS, pair_invariants
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.batch import StepViolation, delta_keys, parent_positions
from raftkit.modelcheck.engine.trace import replay
from raftkit.spec import properties as props
from raftkit.spec.model import RaftModel
from raftkit.spec.mutants import MUTANTS
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import Entry, init_state
from raftkit.spec.symmetry import all_permutations, relabel
from spec_walks import param_ids, reachable

CONFIGS = [
    Params(servers=2, max_term=3, max_log=1, max_inflight=1),
    Params(servers=2, max_term=2, max_log=2, max_inflight=2, values=2),
    Params(servers=3, max_term=2, max_log=0, max_inflight=1),
    Params(servers=3, max_term=2, max_log=0, max_inflight=1, history=True),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, faults=True, max_dup=2),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, history=True, faults=True),
    Params(servers=2, max_term=3, max_log=1, max_inflight=1, ghost=True),
    Params(servers=2, max_term=3, max_log=2, max_inflight=1, mutant="commit-old-term"),
    Params(servers=2, max_term=2, max_log=1, max_inflight=1, faults=True,
           mutant="forget-vote-on-restart", history=True),
]




@pytest.mark.parametrize("p", CONFIGS, ids=param_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_same_successors_bounds_and_keys(p, symmetry):
    assert_same_state_by_state(p, symmetry, 2500 if symmetry else 1200)


@pytest.mark.parametrize("p", [p for p in CONFIGS if not p.ghost], ids=param_ids)
@pytest.mark.parametrize("workers", [2, 16])
def test_parts_follow_the_plan_for_workers(p, workers):
    # Without symmetry, up to four workers route by the first server alone, more by all:
    # whichever, the loops for --workers give each successor the part partition() gives.
    c = FastRaftModel(p, symmetry=False).compiled
    c.plan_workers(workers)
    firsts_parts = set()
    for s in reachable(p, 400):
        st_ = c.from_spec(s)
        for fn, extra in ((c.expand_parts, ()), (c.expand_parts_delta, ([],))):
            succs, parts = [], []
            try:
                fn([st_], [], succs, [], [], parts, *extra)
            except StepViolation:
                break
            assert parts == [c.partition(t) for t in succs]
            firsts_parts.update((t[0], part) for t, part in zip(succs, parts, strict=True))
    # With two workers a part is the first server's: one part per first server.
    by_first = {}
    for first, part in firsts_parts:
        by_first.setdefault(first, set()).add(part)
    assert (max(map(len, by_first.values())) == 1) == (workers == 2)


@pytest.mark.parametrize("p", [p for p in CONFIGS if not p.ghost], ids=param_ids)
def test_parts_with_symmetry_are_the_same_for_every_state_of_a_class(p):
    # With symmetry a worker deduplicates a class by its key, so every state of the class must
    # be routed to the same worker: the part is a function of the class; and (what keeps a
    # state's successors, and the caches they need, with its worker) of the servers' terms,
    # roles, log lengths and commit indexes only, which most steps keep.
    c = FastRaftModel(p, symmetry=True).compiled
    parts_of_class: dict[int, int] = {}
    parts_of_summary: dict[tuple, int] = {}
    perms = list(all_permutations(p.servers))
    for s in reachable(p, 1500):
        summary = tuple(
            sorted((v.currentTerm, int(v.state), len(v.log), v.commitIndex) for v in s.servers)
        )
        for perm in perms:
            st_ = c.from_spec(relabel(s, perm))
            part = c.partition(st_)
            assert parts_of_class.setdefault(c.key(st_), part) == part
            assert parts_of_summary.setdefault(summary, part) == part
    # Parts tell classes apart often enough to split them between workers.
    assert len(set(parts_of_class.values())) > 1


@pytest.mark.parametrize("p", [p for p in CONFIGS if p.mutant is None], ids=param_ids)
@pytest.mark.parametrize("symmetry", [True, False])
def test_batches_attribute_each_successor_to_its_parent(p, symmetry):
    # expand gives one ``firsts`` entry per state, not a parent per successor: expanding
    # states in batches (cached and uncached states mixed, so both paths of the generated
    # loop) must give each state the successors it gives alone, and nothing else.
    lone = FastRaftModel(p, symmetry=symmetry).compiled
    batched = FastRaftModel(p, symmetry=symmetry).compiled
    states = reachable(p, 700)
    want = Counter()
    for k, s in enumerate(states):
        keys, acts = [], []
        lone.expand([lone.from_spec(s)], keys, [], acts, [])
        want.update((k, key, a) for key, a in zip(keys, acts, strict=True))
    got = Counter()
    # Without symmetry, the variant with XORs from per-state bases; its own model, so its
    # caches fill in its own order.
    dm = FastRaftModel(p, symmetry=symmetry).compiled
    via_delta = getattr(dm, "expand_delta", None)
    for start in range(0, len(states), 97):
        chunk = [batched.from_spec(s) for s in states[start : start + 97]]
        keys, succs, acts, firsts = [], [], [], []
        batched.expand(chunk, keys, succs, acts, firsts)
        if via_delta is not None:
            dkeys, dfirsts, bases = [], [], []
            via_delta([dm.from_spec(s) for s in states[start : start + 97]], dkeys, [], [],
                      dfirsts, bases)
            assert dfirsts == firsts and len(bases) == len(chunk)
            made = delta_keys(dkeys, bases, parent_positions(dfirsts, len(dkeys)))
            assert made.view("int64").tolist() == keys
        assert len(firsts) == len(chunk)
        parents = parent_positions(firsts, len(keys)).tolist()
        assert len(parents) == len(keys) == len(succs) == len(acts)
        got.update(
            (start + k, key, a) for k, key, a in zip(parents, keys, acts, strict=True)
        )
    assert got == want


@given(st.lists(st.integers(0, 6), max_size=40))
def test_parent_positions_repeat_each_state_once_per_successor(counts):
    firsts = [sum(counts[:k]) for k in range(len(counts))]
    expected = [k for k, c in enumerate(counts) for _ in range(c)]
    assert parent_positions(firsts, sum(counts)).tolist() == expected


def _counts(result):
    return (result.result, result.distinct_states, result.states_generated, result.depth)


@pytest.mark.parametrize(
    "p", [q for q in CONFIGS if q.mutant is None and q.servers == 2] + [CONFIGS[2]], ids=param_ids
)
@pytest.mark.parametrize("symmetry", [True, False])
def test_same_counts_and_sometimes(p, symmetry):
    ref = check(RaftModel(p, symmetry))
    fast = check(FastRaftModel(p, symmetry))
    assert _counts(fast) == _counts(ref)
    assert fast.sometimes == ref.sometimes
    assert {k: v.enabled for k, v in fast.coverage.items()} == {
        k: v.enabled for k, v in ref.coverage.items()
    }
    assert sum(v.distinct for v in fast.coverage.values()) == fast.distinct_states - 1


def test_tlc_figures_without_history():
    p = Params(servers=3, values=1, max_term=2, max_log=0, max_dup=1, max_inflight=1)
    assert _counts(check(FastRaftModel(p, True)))[1:] == (10362, 88594, 40)
    assert _counts(check(FastRaftModel(p, False)))[1:] == (61805, 528679, 40)


def test_tlc_figures_with_history():
    p = Params(servers=3, values=1, max_term=2, max_log=0, max_dup=1, max_inflight=1,
               history=True)
    assert _counts(check(FastRaftModel(p, True)))[1:] == (13058, 112270, 40)


@pytest.mark.parametrize("name", ["forget-vote-on-restart"])
def test_mutants_found_with_a_shortest_trace_that_replays(name):
    m = MUTANTS[name]
    p = Params(mutant=name, **m.bounds)
    result = check(FastRaftModel(p))
    assert result.result == "violation"
    v = result.violation
    assert v.property == m.breaks
    replay(RaftModel(p), v.trace)  # the trace is a behaviour of the readable spec


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["forget-vote-on-restart", "vote-without-log-check", "entry-term-is-current-term"]
)
def test_mutant_traces_as_short_as_the_reference(name):
    m = MUTANTS[name]
    p = Params(mutant=name, **m.bounds)
    ref = check(RaftModel(p))
    fast = check(FastRaftModel(p))
    assert fast.violation.property == ref.violation.property
    assert len(fast.violation.trace) == len(ref.violation.trace)
    assert fast.depth == ref.depth


def _walk_servers(p: Params, choices: list[int]):
    s = init_state(p)
    yield s
    for k in choices:
        steps = list(next_steps(p, s))
        if not steps:
            return
        s = steps[k % len(steps)][1]
        yield s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.integers(2, 4),
    faults=st.booleans(),
    history=st.booleans(),
    choices=st.lists(st.integers(0, 1000), min_size=1, max_size=40),
)
def test_random_walks_agree(servers, faults, history, choices):
    """Deeper and wider than the exhaustive configurations: random behaviours of larger ones,
    unbounded, comparing successors and the pair form of the invariants at every state."""
    p = Params(servers=servers, values=2, max_term=4, max_log=3, max_inflight=4, max_dup=2,
               faults=faults, history=history)
    c = FastRaftModel(p, True).compiled
    flat = FastRaftModel(Params(servers=servers, values=2, max_term=4, max_log=3,
                                max_inflight=4, max_dup=2, faults=faults), True).compiled
    for s in _walk_servers(p, choices):
        st_ = c.from_spec(s)
        got = Counter((label, c.to_spec(t)) for label, t in c.successors(st_))
        assert got == Counter(next_steps(p, s))
        whole = all(q.predicate(s) for q in props.INVARIANTS if q.name in PAIR_INVARIANTS)
        pairs = all(
            pair_invariants(a, b) for i, a in enumerate(s.servers) for b in s.servers[i + 1 :]
        )
        assert whole == pairs
        # The network's invariants: one server and the messages it sent at a time.
        msg_whole = all(q.predicate(s) for q in props.INVARIANTS if q.name in MESSAGE_INVARIANTS)
        plain = s._replace(history=())
        ids = flat.from_spec(plain)
        msg_parts = all(flat._msg_ok(ids[-1], i, ids[i]) for i in range(servers))
        assert msg_whole == msg_parts


def test_generated_loops_are_clean_python(tmp_path):
    """The generated loops are code: pyflakes (through ruff) finds no undefined or dead name in
    any variant, for 1 to 5 servers."""
    import itertools
    import subprocess
    import sys

    from raftkit.modelcheck.compiled.loop_cached import _fast_source
    from raftkit.modelcheck.compiled.loop_slow import _flat_source

    count = 0
    for n in (1, 2, 3, 5):
        for faults, hist, parts, zob in itertools.product((False, True), repeat=4):
            k = 1 if zob else 0
            (tmp_path / f"slow_{count}.py").write_text(
                _flat_source(n, faults, hist, parts, zob, k)
            )
            for delta in (False, True) if zob else (False,):
                (tmp_path / f"fast_{count}.py").write_text(
                    _fast_source(n, faults, hist, parts, zob, delta, k)
                )
            count += 1
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F,E9", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:]


def test_a_generated_loop_has_a_real_file_name():
    """Tracebacks and coverage find the generated source: its code object names a file that
    holds it (or, where nothing can be written, linecache knows it)."""
    import linecache

    c = FastRaftModel(CONFIGS[0], symmetry=True, native=False).compiled
    filename = c.expand.__code__.co_filename
    assert "fast_n2" in filename
    assert "def expand(" in "".join(linecache.getlines(filename))


@pytest.mark.parametrize("only", [("ElectionSafety",), ("LogMatching",), None])
def test_a_narrowed_run_stops_only_on_the_invariants_it_checks(only):
    """Two logs that break LogMatching (same index and term, different values), ElectionSafety
    kept: every step keeps both logs, so each successor breaks LogMatching exactly when the run
    checks it, like TLC with only some INVARIANT lines."""
    p = Params(values=2, max_log=2)
    s = init_state(p)
    servers = list(s.servers)
    for i, value in ((0, 1), (1, 2)):
        servers[i] = servers[i]._replace(log=(Entry(1, value),))
    s = s._replace(servers=tuple(servers))
    c = FastRaftModel(p, True, only=only).compiled
    breaks = only is None or "LogMatching" in only
    try:
        c.expand([c.from_spec(s)], [], [], [], [])
    except StepViolation as v:
        assert breaks and v.name == "LogMatching"
    else:
        assert not breaks
