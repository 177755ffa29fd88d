"""The engine counts as TLC does, on toy models whose figures are worked out by hand."""

import gc
from math import comb

import pytest
from raftkit.modelcheck.engine import check
from raftkit.modelcheck.engine.store import ExactStore, FingerprintStore, collision_probability
from toy_models import Toy, dials, tokens


@pytest.mark.parametrize("store", ["fingerprint", "exact"])
def test_two_dials_counts(store):
    # 3 x 4 in-bounds states; every one expanded into IncA and IncB, the out-of-bounds
    # successors (a = 3 or b = 4) included in "generated": 1 + 2 * 12.
    result = check(dials(2, 3), store=store)
    assert result.result == "ok"
    assert result.distinct_states == 12
    assert result.states_generated == 25
    assert result.depth == 6
    assert result.initial_states == 1
    assert result.store == store


def test_self_loops_count_as_generated_not_distinct():
    result = check(dials(2, 3, stay=True))
    assert result.distinct_states == 12
    assert result.states_generated == 1 + 3 * 12
    assert result.coverage["Stay"].enabled == 12
    assert result.coverage["Stay"].distinct == 0


def test_coverage_and_never_enabled_actions():
    result = check(dials(2, 3))
    assert result.coverage["IncA"].enabled == 12
    assert result.coverage["IncB"].enabled == 12
    # Every state but the initial one was first produced by exactly one action.
    assert result.coverage["IncA"].distinct + result.coverage["IncB"].distinct == 11
    assert result.coverage["Never"].enabled == 0
    assert result.never_enabled == ["Never"]


def test_model_whose_only_state_is_initial_has_depth_one():
    model = Toy(inits=[7], step=lambda s: [], names=["Nothing"])
    result = check(model)
    assert (result.distinct_states, result.states_generated, result.depth) == (1, 1, 1)
    assert result.max_queue == 1


def test_duplicate_initial_states_are_generated_but_stored_once():
    model = Toy(inits=[0, 0, 1], step=lambda s: [(("Inc",), s + 1)] if s < 2 else [])
    result = check(model)
    # 3 initial + one successor of 0, of 1 and none of 2.
    assert result.states_generated == 5
    assert result.distinct_states == 3
    assert result.depth == 2
    assert result.initial_states == 3


def test_out_of_bounds_initial_state_is_not_stored():
    model = Toy(inits=[0, 9], step=lambda s: [], bounds=lambda s: s < 5)
    result = check(model)
    assert (result.distinct_states, result.states_generated, result.depth) == (1, 2, 1)


def test_no_initial_state_in_bounds_gives_depth_zero():
    model = Toy(inits=[9], step=lambda s: [], bounds=lambda s: s < 5)
    result = check(model)
    assert (result.result, result.distinct_states, result.depth) == ("ok", 0, 0)


@pytest.mark.parametrize("symmetry, distinct, generated", [(False, 27, 55), (True, 10, 21)])
def test_symmetric_tokens(symmetry, distinct, generated):
    # Three tokens 0..2. Unreduced: 27 states; each has on average two tokens below the top, so
    # 1 + 54 generated. Reduced: C(5, 3) = 10 multisets; the 10 multisets hold 30 tokens, 10 of
    # them at the top, so 1 + 20 generated. Depth: the sum of the tokens goes 0..6, 7 levels.
    result = check(tokens(3, 2, symmetry=symmetry))
    assert result.distinct_states == distinct == (comb(5, 3) if symmetry else 27)
    assert result.states_generated == generated
    assert result.depth == 7


def test_exact_and_fingerprint_stores_agree_on_symmetric_model():
    a = check(tokens(4, 3, symmetry=True, wrap=True), store=FingerprintStore())
    b = check(tokens(4, 3, symmetry=True, wrap=True), store=ExactStore())
    assert a.distinct_states == b.distinct_states == comb(7, 4)
    assert (a.states_generated, a.depth) == (b.states_generated, b.depth)
    assert b.collision_probability == 0.0
    assert a.collision_probability == pytest.approx(collision_probability(comb(7, 4)))


def test_collision_probability_is_the_birthday_estimate():
    assert collision_probability(0) == 0.0
    assert collision_probability(1) == 0.0
    assert collision_probability(2**20) == pytest.approx(2**20 * (2**20 - 1) / 2 / 2**64)


def test_max_queue_is_the_widest_point():
    # Level k of the 3 x 4 grid holds the states with a + b = k; the queue is widest when the
    # last state of a level has been expanded into the next one.
    result = check(dials(2, 3))
    assert 3 <= result.max_queue <= 5


def test_gc_is_restored_after_a_run_and_after_a_model_error():
    assert gc.isenabled()
    check(dials(1, 1))
    assert gc.isenabled()

    def boom(state):
        raise RuntimeError("model bug")

    with pytest.raises(RuntimeError, match="model bug"):
        check(Toy(inits=[0], step=boom))
    assert gc.isenabled()


def test_gc_stays_off_if_it_was_off():
    gc.disable()
    try:
        check(dials(1, 1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_unknown_store_name():
    with pytest.raises(ValueError, match="unknown store"):
        check(dials(1, 1), store="bloom")


def test_actions_missing_from_action_names_are_still_counted():
    model = Toy(inits=[0], step=lambda n: [(("Inc",), n + 1)] if n < 3 else [], names=[])
    result = check(model)
    assert result.coverage["Inc"].enabled == 3
    assert result.coverage["Inc"].distinct == 3
    assert result.never_enabled == []
