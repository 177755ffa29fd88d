"""The batch protocol: how a model hands the engine whole batches of successors.

A model that offers ``batch()`` takes over the per-successor work that the plain protocol
leaves to the engine (bounds, canonical keys, properties), because in Python the calls between
the two cost more than the work itself (measured: a per-action function and a separate bounds
check per successor cost 2.0-2.3 times a flat successor loop). The engine keeps what is
generic: the seen-set, the frontier, levels, counts, limits, parent links and the rebuild of a
counterexample, which goes through the plain protocol so it replays like any other trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .model import Label


def parent_positions(firsts: list[int], n_succs: int) -> np.ndarray:
    """Each successor's parent, as a position in the states expanded, from ``expand``'s
    ``firsts`` and the number of successors it appended. One entry per state instead of one
    per successor: the hot loop's per-successor append was a twentieth of a run."""
    counts = np.diff(np.array(firsts, dtype=np.int64), append=n_succs)
    return np.repeat(np.arange(len(firsts), dtype=np.int64), counts)


def delta_keys(deltas: list[int], bases: list[int], parents: np.ndarray) -> np.ndarray:
    """Successor keys (uint64) from an ``expand_delta``: each successor's XOR from its
    parent's base, XORed here by whole arrays rather than one Python int per successor."""
    return (
        np.array(deltas, dtype=np.int64) ^ np.array(bases, dtype=np.int64)[parents]
    ).view(np.uint64)


class StepViolation(Exception):
    """A property fails on a step met while expanding a state (raised by ``expand``).

    ``before`` is the state being expanded (for an initial state: the state itself, with label
    ``None``), ``after`` the successor; ``in_bounds`` says whether ``after`` is within the
    bounds, in which case it is a new state (the search stops at the first violation, so a
    state breaking an invariant is never met twice).
    """

    def __init__(
        self,
        name: str,
        kind: str,
        before: Any,
        label: Label | None,
        after: Any,
        in_bounds: bool,
    ) -> None:
        super().__init__(name)
        self.name = name
        self.kind = kind
        self.before = before
        self.label = label
        self.after = after
        self.in_bounds = in_bounds


class BatchModel(Protocol):
    """What ``model.batch()`` returns."""

    #: The action names; successors report their action as an index into this.
    names: Sequence[str]

    def initial(self) -> list[Any]:
        """The initial states, checked against the invariants (raises StepViolation)."""
        ...

    def expand(
        self,
        states: Sequence[Any],
        keys: list[int],
        succs: list[Any],
        acts: list[int],
        firsts: list[int],
    ) -> int:
        """Expand ``states``: append, for every in-bounds successor, its 64-bit key (equal for
        states of one symmetry class), the successor and its action's index; and for every
        state, before its successors, how many successors the call had appended so far (so
        ``parent_positions`` gives each successor's parent). Out-of-bounds successors are only
        checked. Every property is checked on every step (raises StepViolation). Returns the
        number generated.

        A model may also offer ``expand_delta(states, keys, succs, acts, firsts, bases)``
        (or None): the same, but appending one base per state and, per successor, its key
        XOR its parent's base; ``delta_keys`` makes the keys."""
        ...

    def key(self, state: Any) -> int:
        """The key ``expand`` gives ``state``."""
        ...

    def partition(self, state: Any) -> int:
        """A hash that decides which worker owns ``state``: equal for every state of one
        symmetry class, and best equal for states differing only in fast-changing parts (for
        Raft, the network), so that most successors stay with the worker that made them."""
        ...

    def in_bounds(self, state: Any) -> bool:
        """The state constraint."""
        ...

    def enabled_counts(self) -> list[int]:
        """How often each action was enabled in the states expanded so far."""
        ...

    def sometimes(self) -> dict[str, bool]:
        """Each sometimes property (state or step) and whether an in-bounds state or step
        reached it so far."""
        ...
