"""The linearizability checker on hand-made histories and on generated ones."""

from __future__ import annotations

import math
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from raftkit.impl.testing.linearizability import HistoryRecorder, Operation, check


def op(client, kind, key, call, ret, *, value=None, expected=None, output=None, status="ok"):
    return Operation(client, kind, key, call, ret, value, expected, output, status)


def test_sequential_write_then_read():
    h = [op(0, "put", "x", 0, 1, value=1), op(1, "get", "x", 2, 3, output=1)]
    assert check(h).ok


def test_stale_read_after_completed_write_is_caught():
    h = [op(0, "put", "x", 0, 1, value=1), op(1, "get", "x", 2, 3, output=None)]
    r = check(h)
    assert not r.ok and r.bad_key == "x"
    assert "could not place" in r.detail


def test_concurrent_read_may_see_old_or_new():
    for seen in (None, 1):
        h = [op(0, "put", "x", 0, 10, value=1), op(1, "get", "x", 2, 3, output=seen)]
        assert check(h).ok, seen


def test_new_then_old_read_is_not_linearizable():
    # The write is concurrent with both reads, but once a read saw 1, a later read cannot
    # see the old value again.
    h = [
        op(0, "put", "x", 0, 10, value=1),
        op(1, "get", "x", 1, 2, output=1),
        op(2, "get", "x", 3, 4, output=None),
    ]
    assert not check(h).ok


def test_unknown_outcome_write_may_or_may_not_take_effect():
    never = [op(0, "put", "x", 0, 0, value=1, status="info"), op(1, "get", "x", 5, 6)]
    late = never + [op(1, "get", "x", 7, 8, output=1)]
    assert check(never).ok
    assert check(late).ok
    flapping = late + [op(1, "get", "x", 9, 10, output=None)]
    assert not check(flapping).ok


def test_failed_write_did_not_happen():
    h = [op(0, "put", "x", 0, 1, value=1, status="fail"), op(1, "get", "x", 2, 3, output=1)]
    assert not check(h).ok


def test_cas_semantics():
    good = [
        op(0, "put", "x", 0, 1, value=1),
        op(0, "cas", "x", 2, 3, expected=1, value=2, output=True),
        op(1, "cas", "x", 4, 5, expected=1, value=3, output=False),
        op(1, "get", "x", 6, 7, output=2),
    ]
    assert check(good).ok
    bad = good[:2] + [op(1, "cas", "x", 4, 5, expected=1, value=3, output=True)]
    assert not check(bad).ok
    # Two concurrent CASes from the same expected value cannot both win.
    race = good[:1] + [
        op(0, "cas", "x", 2, 5, expected=1, value=2, output=True),
        op(1, "cas", "x", 2, 5, expected=1, value=3, output=True),
    ]
    assert not check(race).ok


def test_delete():
    h = [
        op(0, "put", "x", 0, 1, value="a"),
        op(0, "delete", "x", 2, 3),
        op(1, "get", "x", 4, 5, output=None),
    ]
    assert check(h).ok
    h[-1].output = "a"
    assert not check(h).ok


def test_keys_are_checked_independently_and_the_bad_one_is_named():
    h = [
        op(0, "put", "a", 0, 1, value=1),
        op(0, "get", "a", 2, 3, output=1),
        op(1, "put", "b", 0, 1, value=1),
        op(1, "get", "b", 2, 3, output=2),
    ]
    r = check(h)
    assert not r.ok and r.bad_key == "b"


def test_recorder_marks_unfinished_operations_unknown():
    rec = HistoryRecorder()
    a = rec.invoke(0, "put", "x", value=1)
    rec.ok(a)
    b = rec.invoke(1, "put", "x", value=2)  # never completes: a timeout
    c = rec.invoke(2, "get", "x")
    rec.ok(c, 2)
    assert b.status == "info" and math.isinf(b.ret)
    assert check(rec.ops).ok


def _sequential_history(rnd: random.Random, n_ops: int, n_keys: int, n_clients: int):
    """Run ops against a dict at distinct instants, then stretch each into an interval that
    contains its instant: the result is linearizable by construction."""
    store: dict[str, object] = {}
    ops = []
    t = 0.0
    for i in range(n_ops):
        t += rnd.uniform(0.1, 1.0)
        key = f"k{rnd.randrange(n_keys)}"
        kind = rnd.choice(["get", "get", "put", "delete", "cas"])
        cur = store.get(key)
        if kind == "get":
            o = op(0, "get", key, 0, 0, output=cur)
        elif kind == "put":
            store[key] = i
            o = op(0, "put", key, 0, 0, value=i)
        elif kind == "delete":
            store.pop(key, None)
            o = op(0, "delete", key, 0, 0)
        else:
            expected = cur if rnd.random() < 0.6 else rnd.randrange(n_ops)
            swapped = cur == expected
            if swapped:
                store[key] = i
            o = op(0, "cas", key, 0, 0, expected=expected, value=i, output=swapped)
        o.client = rnd.randrange(n_clients)
        o.call = t - rnd.uniform(0, 3.0)
        o.ret = t + rnd.uniform(0, 3.0)
        if rnd.random() < 0.05:
            o.status, o.ret = "info", math.inf
        ops.append(o)
    return ops


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n_ops=st.integers(1, 60), n_keys=st.integers(1, 3))
def test_generated_histories_are_linearizable(seed, n_ops, n_keys):
    h = _sequential_history(random.Random(seed), n_ops, n_keys, 5)
    r = check(h, timeout=20)
    assert r.ok and not r.unknown_keys, r.detail


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n_ops=st.integers(2, 60), n_keys=st.integers(1, 3))
def test_a_corrupted_read_is_caught(seed, n_ops, n_keys):
    rnd = random.Random(seed)
    h = _sequential_history(rnd, n_ops, n_keys, 5)
    reads = [o for o in h if o.kind == "get" and o.status == "ok"]
    if not reads:
        return
    rnd.choice(reads).output = "never-written"
    r = check(h, timeout=20)
    assert not r.ok


def test_a_large_history_checks_fast():
    h = _sequential_history(random.Random(7), 3000, 10, 16)
    t0 = time.monotonic()
    assert check(h, timeout=60).ok
    assert time.monotonic() - t0 < 20
