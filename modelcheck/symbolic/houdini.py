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

from ...spec.params import Params
from .bmc import check_supported
from .lemmas import COMMIT_LEMMAS
from .prove import InductionStep, broken_initially, known_names


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

    The step (:class:`InductionStep`, over bit-vectors) is built once; each round asks it for a
    step from a state where the candidates still in play hold to one breaking some of them.
    Building it again per round over integers (``prove`` each time), as until 2026-11-29, found
    the same subsets in 12 s on the default bounds against 5.3 s, and in 120 s against 18 s on
    truncate-on-any-append's bounds.

    ``deadline`` (a ``perf_counter()`` time) stops the search with :class:`TimeoutError`.
    """
    start = perf_counter()
    names = list(dict.fromkeys(candidates if candidates is not None else default_candidates()))
    out = InductiveSubset(kept=[])
    false_initially = broken_initially(p, names)
    if false_initially:
        out.rounds += 1
        out.dropped += [(n, out.rounds) for n in false_initially]
        names = [n for n in names if n not in false_initially]
    if names:
        check_supported(p)
        step = InductionStep(p)
        while names:
            out.rounds += 1
            left = None if deadline is None else deadline - perf_counter()
            if left is not None and left <= 0:
                raise TimeoutError("out of time while finding the inductive lemmas")
            model = step.check(names, left)
            if model is None:
                break
            broken = step.broken(model, names)
            if not broken:  # cannot happen: the model breaks the conjunction of their posts
                raise RuntimeError("induction failed without naming a candidate")
            out.dropped += [(n, out.rounds) for n in broken]
            names = [n for n in names if n not in broken]
    out.kept = names
    out.seconds = perf_counter() - start
    return out
