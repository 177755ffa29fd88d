"""Adding an action to the spec is one row of ``Next`` and one Z3 formula: the checker's output,
the compiled form, the pictures, Z3 and conformance pick it up with no other edit.

The worked example of docs/architecture.md, run: ``LeaderStepsDown(i)``, a leader that returns
to follower in its own term (what check-quorum does, dissertation §6.2), added to raft.tla's
table here in the test as a user would add it in spec/actions.py.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import z3
from conformance.test_interpretations import elected
from raftkit.modelcheck.compiled import FastRaftModel
from raftkit.modelcheck.conformance import validate
from raftkit.modelcheck.conformance.traceformat import merge, parse_line
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.pictures.diagrams import short_label
from raftkit.modelcheck.symbolic import actions as actions_z3
from raftkit.modelcheck.symbolic.symstate import FOLLOWER, LEADER, Shape, Substitution, SymState
from raftkit.spec import actions
from raftkit.spec.action import Action, local, register
from raftkit.spec.model import RaftModel, within_bounds
from raftkit.spec.next import next_steps
from raftkit.spec.params import Params
from raftkit.spec.state import Role, State, init_state

# --- what the user writes: the action in spec/actions.py, its formula in symbolic/actions.py ---


def leader_steps_down(p: Params, s: State, i: int) -> State | None:
    """LeaderStepsDown(i): a leader returns to follower in its own term (§6.2, check-quorum)."""
    srv = s.servers[i]
    if srv.state != Role.Leader:
        return None
    return actions._set_server(s, i, srv._replace(state=Role.Follower))


def leader_steps_down_z3(p: Params, s: SymState, i: int) -> actions_z3.Step:
    t = s.copy()
    t.state[i] = z3.IntVal(FOLLOWER)
    return actions_z3.Step("LeaderStepsDown", (i,), s.state[i] == LEADER, t)


@pytest.fixture
def added(monkeypatch):
    rows = list(actions.NEXT)
    at = [d.name for d in rows].index("AppendEntries") + 1
    rows.insert(at, *register([local("LeaderStepsDown", leader_steps_down)]))
    monkeypatch.setattr(actions, "NEXT", tuple(rows))
    monkeypatch.setitem(
        actions_z3.LOCAL,
        "LeaderStepsDown",
        lambda p, s: [leader_steps_down_z3(p, s, i) for i in range(p.servers)],
    )


# --- what picks it up ---------------------------------------------------------------------------

P = Params(servers=2, max_term=3, max_log=1, max_inflight=1)


def test_the_checker_explores_it_in_both_forms(added):
    ref = check(RaftModel(P, symmetry=False))
    fast = check(FastRaftModel(P, symmetry=False))
    for r in (ref, fast):
        assert r.result == "ok"
        assert r.coverage["LeaderStepsDown"].enabled > 0
    assert (fast.distinct_states, fast.states_generated, fast.depth) == (
        ref.distinct_states, ref.states_generated, ref.depth
    )
    assert {k: v.enabled for k, v in fast.coverage.items()} == {
        k: v.enabled for k, v in ref.coverage.items()
    }


def test_people_see_it(added):
    label = Action("LeaderStepsDown", 1)
    assert RaftModel(P).format_label(label) == "LeaderStepsDown(s2)"
    assert short_label(label) == "LeaderStepsDown s2"


def test_z3_gives_its_successors(added):
    from test_z3 import _symbolic_successors

    sym = SymState.fresh(Shape.for_params(P), "a.")
    steps = actions_z3.next_steps(P, sym)
    sub = Substitution(sym)
    # Reachable states, breadth-first; those with a leader (where the action is enabled) and a
    # sample of the others.
    seen, level = {init_state(P)}, [init_state(P)]
    while level and len(seen) < 3000:
        level = [t for s in level for _l, t in next_steps(P, s) if within_bounds(P, t)]
        level = [t for t in dict.fromkeys(level) if t not in seen]
        seen.update(level)
    led = [s for s in seen if any(srv.state == Role.Leader for srv in s.servers)]
    rest = [s for s in seen if s not in set(led)]
    rng = random.Random(3)
    sample = rng.sample(led, min(40, len(led))) + rng.sample(rest, min(20, len(rest)))
    met = 0
    for s in sample:
        expected = sorted(next_steps(P, s), key=repr)
        assert _symbolic_successors(P, sym, steps, sub, s) == expected
        met += any(label[0] == "LeaderStepsDown" for label, _t in expected)
    assert met >= 40


def _leader_steps_down_trace() -> list[str]:
    t, _st = elected()
    t.ev("n1", "BecomeFollower", (2, "n1", "follower", 1, 1, 2))
    return t.lines


def _outcome(lines: list[str]):
    events = [parse_line(text, "t", k) for k, text in enumerate(lines, 1)]
    return validate(merge([events]), options=())


def test_conformance_explains_its_event(added):
    assert _outcome(_leader_steps_down_trace()).ok


def test_without_it_the_same_trace_is_a_deviation():
    out = _outcome(_leader_steps_down_trace())
    assert not out.ok
    assert out.failure.event.line == len(_leader_steps_down_trace())


def test_counts_unchanged_without_it():
    # Only the test adds the row: the spec's own table is untouched.
    assert "LeaderStepsDown" not in {d.name for d in actions.NEXT}
    assert Counter(label[0] for label, _t in next_steps(P, init_state(P))) == {"Timeout": 2}
