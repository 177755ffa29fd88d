"""The largest inductive subset of the known invariants and lemmas, for strengthening BMC.

Houdini (Flanagan and Leino, 2001): start from every candidate; while the conjunction is not
inductive, Z3's counterexample to induction names the candidates the post-state breaks, and
those are dropped. What is left is inductive (it holds initially and is kept by every step from
any well-formed state within the bounds where it holds), so it holds in every reachable state,
and it is the largest such subset: a candidate is dropped only when some state satisfying all
the candidates still in play steps to a state that breaks it.

For a mutant the subset is computed for the mutant's own transition relation, so a property the
mutant breaks is never in it (it fails in a reachable state, so no inductive set holds it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from time import perf_counter

import z3

from ..spec import actions_z3
from ..spec.lemmas import COMMIT_LEMMAS
from ..spec.params import Params
from ..spec.state import init_state
from ..spec.symbolic import Shape, SymState, well_formed, within_bounds
from .bitvec import BitVecRewriter, width_for
from .bmc import check_supported, timed_out, timeout_ms
from .prove import formula_of, known_names, predicate_of


@dataclass
class InductiveSubset:
    """The candidates kept, those dropped (with the round that dropped them), and the cost."""

    kept: list[str]
    dropped: list[tuple[str, int]] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0


#: Known invariants and lemmas that BMC does better without assuming (it still checks the
#: invariants among them as properties at every depth). Measured on the default bounds, elapsed
#: time to answer depth 19 (2026-11-27): with the commitment lemmas of spec/lemmas_commit.py
#: 135 s against 78 s (31 s finding 21 lemmas of 30 instead of 12 s finding 16 of 20); with
#: AppendEntriesPrevLogTermMatches, inductive since the ElectedTerms* lemmas count a term's
#: AppendEntries messages, 139 s against 72 s (machine otherwise idle).
SLOWER_AS_ASSUMPTIONS: tuple[str, ...] = (*COMMIT_LEMMAS, "AppendEntriesPrevLogTermMatches")


def default_candidates() -> list[str]:
    """Every invariant and lemma with a Z3 formula but :data:`SLOWER_AS_ASSUMPTIONS`, which
    serve ``prove`` only."""
    return [n for n in known_names() if n not in SLOWER_AS_ASSUMPTIONS]


def inductive_subset(
    p: Params, candidates: Sequence[str] | None = None, deadline: float | None = None
) -> InductiveSubset:
    """The largest subset of ``candidates`` (default: :func:`default_candidates`) that is
    inductive within ``p``'s bounds.

    One solver holds the transition relation, built once, and each candidate over the pre-state
    behind an assumption literal; a round asks, under the literals of the candidates still in
    play, for a step to a state breaking one of them. Rebuilding it per round (``prove`` each
    time) gave the same subsets in 12 s on the default bounds, four rounds, against 7 s this way
    (2026-11-29).

    ``deadline`` (a ``perf_counter()`` time) stops the search with :class:`TimeoutError`.
    """
    start = perf_counter()
    names = list(dict.fromkeys(candidates if candidates is not None else default_candidates()))
    out = InductiveSubset(kept=[])
    init = init_state(p)
    false_initially = [n for n in names if not predicate_of(n)(init)]
    if false_initially:
        out.rounds += 1
        out.dropped += [(n, out.rounds) for n in false_initially]
        names = [n for n in names if n not in false_initially]
    if names:
        check_supported(p)
        step = _InductionStep(p, names)
        while names:
            out.rounds += 1
            left = None if deadline is None else deadline - perf_counter()
            if left is not None and left <= 0:
                raise TimeoutError("out of time while finding the inductive lemmas")
            broken = step.broken(names, out.rounds, left)
            if not broken:
                break
            out.dropped += [(n, out.rounds) for n in broken]
            names = [n for n in names if n not in broken]
    out.kept = names
    out.seconds = perf_counter() - start
    return out


class _InductionStep:
    """Steps from a well-formed state within the bounds, for asking which candidates a step
    from a state satisfying a given subset of them can break."""

    def __init__(self, p: Params, names: Sequence[str]) -> None:
        shape = Shape.for_params(p)
        pre, post = SymState.fresh(shape, "pre."), SymState.fresh(shape, "post.")
        tr = actions_z3.transition(p, pre, post, z3.Int("choice"), merge_receivers=True)
        # Bit-vectors, as BMC solves them: exact here too, as every variable of a well-formed
        # state lies within the shape (bitvec.py), and the rounds are solved several times faster
        # than over integers.
        rw = BitVecRewriter(width_for(shape), {"choice": (len(tr.steps) + 1).bit_length() + 1})
        self.relation = [rw(well_formed(pre)), rw(within_bounds(p, pre)), rw(tr.formula)]
        self.before = {n: rw(formula_of(n)(pre)) for n in names}
        self.after = {n: rw(formula_of(n)(post)) for n in names}

    def broken(self, names: Sequence[str], round_: int, timeout: float | None) -> list[str]:
        """The candidates some step breaks from a state where all of ``names`` hold (a
        counterexample's; none if the conjunction is inductive)."""
        # A fresh solver each round: asked under assumption literals in one solver instead,
        # the rounds were slower (Z3 preprocesses less under assumptions).
        self.solver = z3.SolverFor("QF_BV")
        self.solver.add(self.relation)
        self.solver.add([self.before[n] for n in names])
        self.solver.add(z3.Not(z3.And([self.after[n] for n in names])))
        if timeout is not None:
            self.solver.set("timeout", timeout_ms(timeout))
        outcome = self.solver.check()
        if outcome == z3.unsat:
            return []
        if outcome != z3.sat:
            why = self.solver.reason_unknown()
            if "interrupted" in why:
                raise KeyboardInterrupt  # Ctrl-C reached Z3 mid-check: the caller's to report
            if timeout is not None and timed_out(why):
                raise TimeoutError(f"the induction check took over {timeout:.0f} s")
            raise RuntimeError(f"Z3 returned {outcome}: {why}")
        model = self.solver.model()
        out = [n for n in names if z3.is_false(model.eval(self.after[n], model_completion=True))]
        if not out:  # cannot happen: the model breaks the conjunction of ``names``' posts
            raise RuntimeError("induction failed without naming a candidate")
        return out
