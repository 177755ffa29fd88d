"""``raftmc check --z3``: every property of every explored state evaluated by Z3 as well.

The formulas of ``spec/properties_z3.py`` are built once over one symbolic state. A concrete
state is then checked by substituting its values for the state's constants and letting Z3
simplify: no solver, no formula rebuilt per state. All the invariants are packed into one
integer term (bit k set when invariant k holds), so one substitution and one simplification
give every verdict of a state.

The checker may explore another representation than the spec's ``State`` (a faster model); the
wrapper converts through ``to_spec`` when the model offers one, so the Z3 side always reads the
spec's own state.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import z3

from ...spec.params import Params
from ...spec.properties import INVARIANTS as PY_INVARIANTS
from ...spec.state import State
from ..engine.model import Invariant, Label, Properties
from .properties import INVARIANTS as Z3_INVARIANTS
from .symstate import Shape, SymState, concrete_values


class Z3Disagreement(AssertionError):
    """Python and Z3 gave different verdicts: an internal error of the spec or the encoding."""


class Evaluator:
    """Evaluates named Z3 invariants on concrete spec states by substitution."""

    def __init__(self, shape: Shape, names: Sequence[str] | None = None) -> None:
        self.shape = shape
        self.names = tuple(names if names is not None else Z3_INVARIANTS)
        missing = [n for n in self.names if n not in Z3_INVARIANTS]
        if missing:
            raise KeyError(f"no Z3 formula for {', '.join(missing)}")
        self.sym = SymState.fresh(shape, prefix="eval.")
        ctx = z3.main_ctx()
        self._ctx = ctx.ref()
        self._terms = self.sym.terms()
        packed = z3.Sum(
            [z3.If(Z3_INVARIANTS[name](self.sym), 1 << k, 0) for k, name in enumerate(self.names)]
        )
        # Simplifying once up front shrinks what every per-state substitution walks.
        self._packed = z3.simplify(packed)
        self._packed_ast = self._packed.as_ast()
        self._n = len(self._terms)
        from_array = (z3.Ast * self._n)()
        for k, t in enumerate(self._terms):
            from_array[k] = t.as_ast()
        self._from = from_array
        self._keep = [self._packed, *self._terms]
        self._is_bool = [z3.is_bool(t) for t in self._terms]
        self._ints: dict[int, Any] = {}
        self._true = z3.BoolVal(True)
        self._false = z3.BoolVal(False)

    def _int(self, v: int) -> Any:
        ast = self._ints.get(v)
        if ast is None:
            ref = z3.IntVal(v)
            self._keep.append(ref)
            ast = self._ints[v] = ref.as_ast()
        return ast

    def verdicts(self, s: State) -> dict[str, bool]:
        """Each invariant's verdict on ``s`` according to Z3."""
        values = concrete_values(self.shape, s)
        to = (z3.Ast * self._n)()
        true_ast, false_ast = self._true.as_ast(), self._false.as_ast()
        for k, (v, is_bool) in enumerate(zip(values, self._is_bool, strict=True)):
            if is_bool:
                to[k] = true_ast if v else false_ast
            else:
                to[k] = self._int(int(v))
        ctx = self._ctx
        sub = z3.Z3_substitute(ctx, self._packed_ast, self._n, self._from, to)
        z3.Z3_inc_ref(ctx, sub)
        try:
            simp = z3.Z3_simplify(ctx, sub)
            z3.Z3_inc_ref(ctx, simp)
            try:
                mask = _numeral(ctx, simp)
            finally:
                z3.Z3_dec_ref(ctx, simp)
        finally:
            z3.Z3_dec_ref(ctx, sub)
        return {name: bool(mask >> k & 1) for k, name in enumerate(self.names)}


def _numeral(ctx: Any, ast: Any) -> int:
    return int(z3.Z3_get_numeral_string(ctx, ast))


@dataclass
class Z3Stats:
    """What the Z3 side cost: states evaluated and seconds spent in Z3."""

    states: int = 0
    seconds: float = 0.0


class Z3CheckedModel:
    """A model whose invariants are also evaluated by Z3 on every state they are evaluated on.

    It wraps any model of the spec (the spec's ``RaftModel``, or a faster one whose
    ``to_spec`` or ``export_state`` gives the spec's ``State``) and leaves everything else to
    it, so the engine runs exactly as without ``--z3``. A disagreement raises
    :class:`Z3Disagreement` naming the state and the property.
    """

    def __init__(self, model: Any, params: Params) -> None:
        self.inner = model
        self.params = params
        self.stats = Z3Stats()
        # No __getattr__ forwarding: a fast path the checker might take for a model that offers
        # one (a batch engine with its own invariant code) would bypass the Z3 side.
        to_spec = getattr(model, "to_spec", None) or getattr(model, "export_state", None)
        self._to_spec: Callable[[Any], State] = to_spec if to_spec is not None else lambda s: s
        names = [p.name for p in PY_INVARIANTS]
        self.evaluator = Evaluator(Shape.for_params(params), names)
        self._last: Any = None
        self._last_verdicts: dict[str, bool] = {}

    def _z3_verdict(self, name: str, state: Any) -> bool:
        # The engine asks for each invariant in turn on the same state: one Z3 evaluation
        # answers them all.
        if state is not self._last:
            start = perf_counter()
            self._last_verdicts = self.evaluator.verdicts(self._to_spec(state))
            self.stats.seconds += perf_counter() - start
            self.stats.states += 1
            self._last = state
        return self._last_verdicts[name]

    def _wrap(self, inv: Invariant[Any]) -> Invariant[Any]:
        name, holds = inv.name, inv.holds

        def both(state: Any) -> bool:
            py = holds(state)
            if self._z3_verdict(name, state) != py:
                raise Z3Disagreement(
                    f"internal error: Python says {name} {'holds' if py else 'fails'} and Z3 "
                    f"says the opposite on state {dict(self.inner.describe(state))!r}"
                )
            return py

        return Invariant(name, both, inv.doc)

    def properties(self) -> Properties[Any]:
        props = self.inner.properties()
        return Properties(
            invariants=tuple(self._wrap(inv) for inv in props.invariants),
            action_properties=props.action_properties,
            sometimes=props.sometimes,
            sometimes_steps=props.sometimes_steps,
        )

    # Everything else is the wrapped model's.
    def init_states(self) -> Iterable[Any]:
        return self.inner.init_states()

    def successors(self, state: Any) -> Iterable[tuple[Label, Any]]:
        return self.inner.successors(state)

    def within_bounds(self, state: Any) -> bool:
        return self.inner.within_bounds(state)

    def canonical(self, state: Any) -> Hashable:
        return self.inner.canonical(state)

    def describe(self, state: Any) -> Mapping[str, Any]:
        return self.inner.describe(state)

    def action_names(self) -> Sequence[str]:
        return self.inner.action_names()

    def format_label(self, label: Label) -> str:
        return self.inner.format_label(label)
