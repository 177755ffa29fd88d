"""Which properties the compiled form can decide by parts, and the pair form of the four.

The compiled form never evaluates a property on a whole state in its hot loop: each invariant
is decided on the parts of a state it reads (pairs of servers, a message and its sender, the
servers' logs), and the verdicts are cached.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from ...spec.membership_properties import membership_properties
from ...spec.params import Params
from ...spec.properties import (
    ACTION_PROPERTIES,
    INVARIANTS,
    SOMETIMES,
    SOMETIMES_STEPS,
    Form,
    Kind,
    Property,
)
from ...spec.state import Server


class Uncompiled(Exception):
    """The configuration has something the compiled form does not cover (an option, a property
    without a compiled form): the readable spec must run it."""


def uncompiled(properties: Sequence[Property]) -> list[str]:
    """The properties the compiled form cannot decide: an invariant without a form, a step or
    sometimes property not decidable per step (it reads more than the stepping server)."""
    return [
        p.name for p in properties
        if p.form is None or (p.kind is not Kind.INVARIANT and p.form is not Form.STEP)
    ]


def checked_properties(p: Params, only: Sequence[str] | None = None) -> tuple[Property, ...]:
    """The properties a run of ``p`` checks, with their forms: the membership forms with
    ``--membership``, the invariants and action properties narrowed to ``only`` when given
    (the rest are kept)."""
    invariants, sometimes = INVARIANTS, SOMETIMES
    if p.membership:
        invariants, sometimes = membership_properties(p, invariants, sometimes)
    checked = (*invariants, *ACTION_PROPERTIES)
    if only is not None:
        checked = tuple(q for q in checked if q.name in only)
    return (*checked, *sometimes, *SOMETIMES_STEPS)


def _names(form: Form) -> frozenset[str]:
    return frozenset(p.name for p in INVARIANTS if p.form is form)


#: The spec's invariants by their compiled form (spec/properties.py declares it).
PAIR_INVARIANTS = _names(Form.PAIRWISE)
MESSAGE_INVARIANTS = _names(Form.PER_MESSAGE)
WHOLE_INVARIANTS = _names(Form.LOGS)
PairCheck = Callable[[Server, Server], bool]


def pair_checks(names: Collection[str] = PAIR_INVARIANTS) -> tuple[PairCheck, ...]:
    """The pair forms of the pairwise invariants among ``names`` (a run narrowed by
    ``--invariant`` must not stop on an invariant it was not asked to check)."""
    return tuple(p.pair for p in INVARIANTS
                 if p.form is Form.PAIRWISE and p.pair is not None and p.name in names)


_PAIRS = pair_checks()


def pair_invariants(a: Server, b: Server, pairs: Sequence[PairCheck] = _PAIRS) -> bool:
    """The pairwise invariants ``pairs`` (default: all) on two servers: a state keeps them
    exactly when every pair of its servers does."""
    return all(pair(a, b) for pair in pairs)
