"""Integer formulas of the symbolic spec rewritten over bit-vectors, for SAT-based solving.

The symbolic state, actions and properties (``spec/symbolic.py`` and friends) are written over
Z3 integers, which ``raftmc prove`` and ``raftmc check --z3`` read as they are. For bounded model
checking the same formulas are rewritten here, term by term, into signed bit-vectors of a width
that holds every value a state within the bounds (and one step past them) can take. Z3 then
bit-blasts them and hands them to its SAT solver, which is far cheaper on these formulas (small
ranges, deep if-then-else chains, no real arithmetic) than its integer-arithmetic engine.

The rewriting is exact as long as no term leaves the signed range of its width: values are
bounded by the shape (terms, log indexes, counts, the number of servers for a quorum count), and
:func:`width_for` leaves a factor of two of headroom above the largest of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import z3

from .symstate import Shape


def width_for(shape: Shape, extra: int = 0) -> int:
    """A signed width holding twice the largest value a formula over ``shape`` computes.

    The largest values are a quorum's doubled count (2 x servers), a term or log index one past
    its capacity, a message count one past its capacity, and ``extra`` (e.g. a step index).
    """
    top = max(
        2 * shape.servers,
        shape.max_term + 2,
        shape.log + 2,
        shape.count + 2,
        shape.values + 1,
        shape.slots + 1,
        extra,
    )
    return (2 * top).bit_length() + 1


def choice_width(steps: int) -> int:
    """A signed width for the index of one of ``steps`` steps (a transition's ``choice``)."""
    return (steps + 1).bit_length() + 1


class BitVecRewriter:
    """Rewrites integer terms into bit-vector terms of ``width`` bits, remembering each term.

    Integer constants become bit-vector constants of the same name (``widths`` may give a name
    its own width, e.g. a step choice); numerals take the width of the terms they meet. Memoised
    by term, so the shared subterms of the unrolled relation are rewritten once.
    """

    def __init__(self, width: int, widths: dict[str, int] | None = None) -> None:
        self.width = width
        self.widths = dict(widths or {})
        # id -> (the integer term, kept alive so its id is not reused, and its rewriting)
        self._memo: dict[int, tuple[Any, Any]] = {}

    def __call__(self, term: Any) -> Any:
        """The bit-vector (or Boolean) form of ``term``."""
        memo = self._memo
        stack: list[tuple[Any, bool]] = [(term, False)]
        while stack:
            e, ready = stack.pop()
            key = e.get_id()
            if key in memo:
                continue
            kids = e.children()
            if not ready:
                stack.append((e, True))
                stack.extend((c, False) for c in kids if c.get_id() not in memo)
                continue
            memo[key] = (e, self._rewrite(e, [memo[c.get_id()][1] for c in kids]))
        out = memo[term.get_id()][1]
        return self._bv(out, self.width) if isinstance(out, int) else out

    def _bv(self, x: Any, width: int) -> Any:
        if isinstance(x, int):
            return z3.BitVecVal(x, width)
        have = x.size()
        return x if have == width else z3.SignExt(width - have, x)

    def _unify(self, args: list[Any]) -> list[Any]:
        """Bring integer arguments (numerals, bit-vectors) to one width."""
        sizes = [a.size() for a in args if not isinstance(a, int)]
        width = max(sizes) if sizes else self.width
        return [self._bv(a, width) for a in args]

    def _rewrite(self, e: Any, args: list[Any]) -> Any:
        k = e.decl().kind()
        if z3.is_int_value(e):
            return e.as_long()
        if k == z3.Z3_OP_UNINTERPRETED and not args:
            name = e.decl().name()
            if z3.is_bool(e):
                return z3.Bool(name)
            return z3.BitVec(name, self.widths.get(name, self.width))
        if k == z3.Z3_OP_TRUE:
            return z3.BoolVal(True)
        if k == z3.Z3_OP_FALSE:
            return z3.BoolVal(False)
        if k == z3.Z3_OP_AND:
            return z3.And(args)
        if k == z3.Z3_OP_OR:
            return z3.Or(args)
        if k == z3.Z3_OP_NOT:
            return z3.Not(args[0])
        if k == z3.Z3_OP_IMPLIES:
            return z3.Implies(args[0], args[1])
        if k == z3.Z3_OP_XOR:
            return z3.Xor(args[0], args[1])
        if k == z3.Z3_OP_ITE:
            c, a, b = args
            if isinstance(a, int) or isinstance(b, int) or z3.is_bv(a):
                a, b = self._unify([a, b])
            return z3.If(c, a, b)
        if k in (z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT):
            if not z3.is_bool(e.arg(0)):
                args = self._unify(args)
            return args[0] == args[1] if k == z3.Z3_OP_EQ else z3.Distinct(args)
        if k in _COMPARE:
            a, b = self._unify(args)
            return _COMPARE[k](a, b)
        if k == z3.Z3_OP_ADD:
            out = self._unify(args)
            acc = out[0]
            for x in out[1:]:
                acc = acc + x
            return acc
        if k == z3.Z3_OP_SUB:
            out = self._unify(args)
            acc = out[0]
            for x in out[1:]:
                acc = acc - x
            return acc
        if k == z3.Z3_OP_UMINUS:
            return -self._unify(args)[0]
        if k == z3.Z3_OP_MUL:
            out = self._unify(args)
            acc = out[0]
            for x in out[1:]:
                acc = acc * x
            return acc
        raise ValueError(f"no bit-vector form for {e.decl()} in {e}")


_COMPARE: dict[int, Callable[[Any, Any], Any]] = {
    z3.Z3_OP_LE: lambda a, b: a <= b,  # on bit-vectors, Python's <= is the signed comparison
    z3.Z3_OP_LT: lambda a, b: a < b,
    z3.Z3_OP_GE: lambda a, b: a >= b,
    z3.Z3_OP_GT: lambda a, b: a > b,
}


def bv_value(model: z3.ModelRef, rewrite: BitVecRewriter) -> Callable[[Any], Any]:
    """A function giving the Python value of an *integer-encoded* term in a bit-vector model."""

    def value(term: Any) -> Any:
        v = model.eval(rewrite(term), model_completion=True)
        if z3.is_true(v):
            return True
        if z3.is_false(v):
            return False
        return v.as_signed_long()

    return value
