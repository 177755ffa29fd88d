"""``raftmc prove``: is an invariant, with helper lemmas, inductive for the Raft spec?

Induction over *every* well-formed state within the bounds, reachable or not:

* base: the initial state satisfies the invariant and the lemmas;
* step: for any well-formed state ``s`` within the bounds where they all hold and any step
  ``s -> t`` of the symbolic transition relation, they all hold in ``t``.

Both together mean the conjunction holds in every reachable state: no behaviour, of any length,
breaks it while staying within the bounds. When the step fails, Z3's model is a counterexample
to induction: a state where the conjunction holds, an action, and a successor where it does
not. The pre-state need not be reachable; a person decides whether it is (a real bug) or not
(a lemma that rules it out is missing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import z3

from ...spec.next import next_steps
from ...spec.params import Params
from ...spec.properties import INVARIANTS as PY_INVARIANTS
from ...spec.state import State, init_state
from ..engine.result import Step
from . import actions as actions_z3
from .bitvec import BitVecRewriter, bv_value, choice_width, width_for
from .bmc import check_supported, timed_out, timeout_ms
from .lemmas import LEMMA_FORMULAS, LEMMAS
from .properties import INVARIANTS as Z3_INVARIANTS
from .symstate import (
    Shape,
    SymState,
    concrete_state,
    model_value,
    well_formed,
    within_bounds,
)


def formula_of(name: str) -> Callable[[SymState], Any]:
    """The Z3 formula of an invariant or a lemma, by name (``KeyError`` if there is none)."""
    if name in Z3_INVARIANTS:
        return Z3_INVARIANTS[name]
    return LEMMA_FORMULAS[LEMMAS[name]]


def predicate_of(name: str) -> Callable[[State], bool]:
    """The Python predicate of an invariant or a lemma, by name."""
    for p in PY_INVARIANTS:
        if p.name == name:
            return p.predicate
    return LEMMAS[name].predicate


def known_names() -> list[str]:
    """Every name ``--invariant`` and ``--lemma`` accept."""
    return [*Z3_INVARIANTS, *(n for n in LEMMAS if n not in Z3_INVARIANTS)]


@dataclass
class ProofResult:
    """The outcome of one inductive check.

    ``result`` is "proved" (inductive), "cti" (a counterexample to induction) or "base" (the
    initial state already breaks one of them).
    """

    result: str
    invariant: str
    lemmas: list[str]
    seconds: float
    #: pre-state, action, post-state of a counterexample to induction.
    cti: list[Step] = field(default_factory=list)
    #: The conjuncts the post-state (or, for "base", the initial state) breaks.
    broken: list[str] = field(default_factory=list)
    #: The counterexample replays through the explicit spec (the pre-state may be unreachable).
    replayed: bool = False


def broken_initially(p: Params, names: Sequence[str]) -> list[str]:
    """Those of ``names`` the initial state breaks (the base case of induction)."""
    init = init_state(p)
    return [n for n in names if not predicate_of(n)(init)]


class InductionStep:
    """One step of the spec from any well-formed state within ``p``'s bounds, for checking
    that a set of invariants and lemmas is inductive (built once, asked about many sets).

    ``bitvec`` solves the formulas rewritten into bit-vectors (``bitvec.py``), as BMC does:
    exact, as every variable of a well-formed state lies within the shape, and faster on most
    bounds (StateMachineSafety with its 40 lemmas: 43 s against 71 s over integers at the
    defaults, but 94 s against 45 s at max term 4; 2026-11-29, docs/z3-proofs.md); off, Z3
    reads the integer formulas as they are.
    """

    def __init__(self, p: Params, bitvec: bool = True) -> None:
        shape = Shape.for_params(p)
        self.pre = SymState.fresh(shape, "pre.")
        self.post = SymState.fresh(shape, "post.")
        self.choice = z3.Int("choice")
        tr = actions_z3.transition(p, self.pre, self.post, self.choice, merge_receivers=bitvec)
        self.steps = tr.steps
        self.bitvec = bitvec
        self.rewrite: Callable[[Any], Any] = (
            BitVecRewriter(width_for(shape), {"choice": choice_width(len(tr.steps))})
            if bitvec
            else (lambda term: term)
        )
        rw = self.rewrite
        self.relation = [rw(well_formed(self.pre)), rw(within_bounds(p, self.pre)), rw(tr.formula)]
        self._formulas: dict[tuple[str, bool], Any] = {}

    def over(self, name: str, post: bool) -> Any:
        """``name``'s formula over the pre-state (or the post-state), as solved."""
        key = (name, post)
        if key not in self._formulas:
            state = self.post if post else self.pre
            self._formulas[key] = self.rewrite(formula_of(name)(state))
        return self._formulas[key]

    def check(self, names: Sequence[str], timeout: float | None = None) -> z3.ModelRef | None:
        """A step from a state where all of ``names`` hold to one breaking some of them (the
        model), or None if there is none: the conjunction is inductive.

        A fresh solver each time: asked in one solver under assumption literals instead, the
        rounds of houdini.py were slower (Z3 preprocesses less under assumptions).
        """
        solver = z3.SolverFor("QF_BV" if self.bitvec else "QF_LIA")
        solver.add(self.relation)
        solver.add([self.over(n, post=False) for n in names])
        solver.add(z3.Not(z3.And([self.over(n, post=True) for n in names])))
        if timeout is not None:
            solver.set("timeout", timeout_ms(timeout))
        outcome = solver.check()
        if outcome == z3.unsat:
            return None
        if outcome != z3.sat:
            why = solver.reason_unknown()
            if "interrupted" in why:
                raise KeyboardInterrupt  # Ctrl-C reached Z3 mid-check: the caller's to report
            if timeout is not None and timed_out(why):
                raise TimeoutError(f"the induction check took over {timeout:.0f} s")
            raise RuntimeError(f"Z3 returned {outcome}: {why}")
        return solver.model()

    def broken(self, model: z3.ModelRef, names: Sequence[str]) -> list[str]:
        """Those of ``names`` the post-state of ``model`` breaks."""
        return [
            n for n in names if z3.is_false(model.eval(self.over(n, True), model_completion=True))
        ]

    def value(self, model: z3.ModelRef) -> Callable[[Any], Any]:
        """The Python value of an integer-encoded term in ``model``."""
        if self.bitvec:
            return bv_value(model, self.rewrite)
        return model_value(model)


def prove(
    p: Params,
    invariant: str,
    lemmas: Sequence[str] = (),
    timeout: float | None = None,
    bitvec: bool = True,
) -> ProofResult:
    """Check whether ``invariant`` and ``lemmas`` together are inductive within ``p``'s bounds.

    With ``timeout`` (seconds), Z3 is stopped after that long and :class:`TimeoutError` raised.
    ``bitvec``: see :class:`InductionStep`.
    """
    check_supported(p)
    names = [invariant, *[n for n in lemmas if n != invariant]]
    start = perf_counter()

    base_broken = broken_initially(p, names)
    if base_broken:
        return ProofResult(
            "base",
            invariant,
            list(lemmas),
            perf_counter() - start,
            [(None, init_state(p))],
            base_broken,
        )

    step = InductionStep(p, bitvec)
    model = step.check(names, timeout)
    seconds = perf_counter() - start
    if model is None:
        return ProofResult("proved", invariant, list(lemmas), seconds)
    value = step.value(model)
    before_state = concrete_state(step.pre, value)
    after_state = concrete_state(step.post, value)
    label = actions_z3.label_of(step.steps[value(step.choice)], value, step.pre)
    broken = step.broken(model, names)
    replayed = (label, after_state) in list(next_steps(p, before_state))
    return ProofResult(
        "cti",
        invariant,
        list(lemmas),
        seconds,
        [(None, before_state), (label, after_state)],
        broken,
        replayed,
    )
