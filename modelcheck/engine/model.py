"""The small protocol between a model and the checker.

The checker knows nothing about Raft: it sees initial states, successors labelled by the action
that produced them, properties, a state constraint and a canonical form. This is the shape of
Stateright's ``Model`` trait, cut down to what a breadth-first search needs.

States must be hashable, immutable values whose ``hash()`` is deterministic across processes
(tuples of ints, bools and nested tuples are; ``str`` is not unless PYTHONHASHSEED is fixed, and
on Python 3.11 neither is ``None``, whose hash is its address until 3.12), because the checker
stores 64-bit fingerprints of them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

S = TypeVar("S", bound=Hashable)

# An action label: a tuple whose first element is the action's name (a str) and whose other
# elements are its parameters, e.g. ("RequestVote", 0, 1). Coverage is kept per name.
Label = tuple[Any, ...]


@dataclass(frozen=True)
class Invariant(Generic[S]):
    """A property every reachable state must have ("always")."""

    name: str
    holds: Callable[[S], bool]
    doc: str = ""


@dataclass(frozen=True)
class ActionProperty(Generic[S]):
    """A property of every step ``(before, label, after)``, e.g. Leader Append-Only."""

    name: str
    holds: Callable[[S, Label, S], bool]
    doc: str = ""


@dataclass(frozen=True)
class Sometimes(Generic[S]):
    """A property some reachable state must have; reported as reached or not."""

    name: str
    reached: Callable[[S], bool]
    doc: str = ""


@dataclass(frozen=True)
class SometimesStep(Generic[S]):
    """A step ``(before, label, after)`` some behaviour must take; reported as reached or not."""

    name: str
    reached: Callable[[S, Label, S], bool]
    doc: str = ""


@dataclass(frozen=True)
class Properties(Generic[S]):
    invariants: Sequence[Invariant[S]] = field(default_factory=tuple)
    action_properties: Sequence[ActionProperty[S]] = field(default_factory=tuple)
    sometimes: Sequence[Sometimes[S]] = field(default_factory=tuple)
    sometimes_steps: Sequence[SometimesStep[S]] = field(default_factory=tuple)


class Model(Protocol[S]):
    """What the checker needs from a model."""

    def init_states(self) -> Iterable[S]:
        """The initial states."""
        ...

    def successors(self, state: S) -> Iterable[tuple[Label, S]]:
        """Every enabled action instance and the state it leads to.

        One pair per enabled instance, even if two instances lead to the same state or back to
        ``state``: the checker counts each as generated, as TLC does.
        """
        ...

    def within_bounds(self, state: S) -> bool:
        """The state constraint: a state outside it is checked but neither stored nor expanded."""
        ...

    def canonical(self, state: S) -> Hashable:
        """A representative of the state's symmetry class; ``state`` itself without symmetry.

        Two states get equal results exactly when one is a relabelling of the other.
        """
        ...

    def properties(self) -> Properties[S]:
        """The always, action and sometimes properties to check."""
        ...

    def describe(self, state: S) -> Mapping[str, Any]:
        """The state as named variables (JSON values), for traces, diffs and ``--json``."""
        ...

    def action_names(self) -> Sequence[str]:
        """Every action name a label can carry, so coverage can name the ones never enabled."""
        ...

    def format_label(self, label: Label) -> str:
        """A label for people, e.g. ``RequestVote(s1, s2)``."""
        ...
