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
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, Protocol, TypeVar

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


FairnessKind = Literal["weak", "strong"]


@dataclass(frozen=True)
class Fairness:
    r"""Weak or strong fairness of the steps of some named actions, as TLA+'s WF and SF.

    A step "of" the fairness is a step whose label names one of ``actions`` and that changes the
    state (TLA+'s ``<<A>>_vars``: a step that leaves the state as it was is stuttering, and neither
    enables nor takes the action). Weak: a behaviour in which such a step is possible in every
    state from some point on must take one infinitely often. Strong: one that is possible in
    infinitely many states must be taken infinitely often.

    ``per_instance`` False is one condition for the actions as a whole, whatever their arguments
    (``WF_vars(\E i : A(i))``); True is one condition per label, each instance on its own
    (``\A i : WF_vars(A(i))``), which is stronger: no instance can be starved while others run.
    """

    kind: FairnessKind
    actions: tuple[str, ...]
    per_instance: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("weak", "strong"):
            raise ValueError(f"fairness kind must be 'weak' or 'strong' (got {self.kind!r})")
        actions = (self.actions,) if isinstance(self.actions, str) else tuple(self.actions)
        object.__setattr__(self, "actions", actions)
        if not self.actions or not all(isinstance(a, str) for a in self.actions):
            raise ValueError(f"fairness needs one or more action names (got {self.actions!r})")

    @property
    def name(self) -> str:
        """``WF(A)``, ``SF(A|B)``; per instance: ``WF(A(..))``."""
        args = "(..)" if self.per_instance else ""
        inner = "|".join(f"{a}{args}" for a in self.actions)
        return f"{'WF' if self.kind == 'weak' else 'SF'}({inner})"


@dataclass(frozen=True)
class Eventually(Generic[S]):
    """``<>P``: every fair behaviour, from every initial state, reaches a state where ``holds``.

    ``fairness`` is assumed for this property on top of :attr:`Properties.fairness`.
    """

    name: str
    holds: Callable[[S], bool]
    doc: str = ""
    fairness: Sequence[Fairness] = ()


@dataclass(frozen=True)
class LeadsTo(Generic[S]):
    """``P ~> Q``: in every fair behaviour, every state where ``p`` holds is followed (or is
    itself) a state where ``q`` holds.

    ``fairness`` is assumed for this property on top of :attr:`Properties.fairness`.
    """

    name: str
    p: Callable[[S], bool]
    q: Callable[[S], bool]
    doc: str = ""
    fairness: Sequence[Fairness] = ()


@dataclass(frozen=True)
class Properties(Generic[S]):
    invariants: Sequence[Invariant[S]] = field(default_factory=tuple)
    action_properties: Sequence[ActionProperty[S]] = field(default_factory=tuple)
    sometimes: Sequence[Sometimes[S]] = field(default_factory=tuple)
    sometimes_steps: Sequence[SometimesStep[S]] = field(default_factory=tuple)
    #: Temporal properties, checked by :mod:`.liveness` over fair behaviours.
    eventually: Sequence[Eventually[S]] = field(default_factory=tuple)
    leads_to: Sequence[LeadsTo[S]] = field(default_factory=tuple)
    #: The model's fairness (TLA+'s ``WF``/``SF`` conjuncts of ``Spec``), assumed by every
    #: temporal property. Without any, a behaviour may stop (stutter) anywhere.
    fairness: Sequence[Fairness] = field(default_factory=tuple)


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
        """The always, action, sometimes and temporal properties to check, and the fairness."""
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


class SymmetryWitness(Protocol[S]):
    """What a model with a symmetry may add so that liveness under per-instance fairness can use
    the quotient graph (:mod:`raftkit.modelcheck.engine.liveness.cover`). Optional: a model
    without these methods, or whose :meth:`symmetries` returns None, gets a graph without
    symmetry reduction whenever some fairness is per instance.

    The group acts on states and on labels: if ``s`` steps to ``t`` by ``label``, then ``g(s)``
    steps to ``g(t)`` by ``rename_label(label, g)``, and the model's bounds, P and Q are the same
    on ``s`` and ``g(s)``.
    """

    def symmetries(self) -> Sequence[Hashable] | None:
        """Every element of the symmetry group, the identity first; None when the model cannot
        name them (then liveness under per-instance fairness goes without symmetry)."""
        ...

    def compose_symmetries(self, g: Hashable, h: Hashable) -> Hashable:
        """``g`` after ``h``: the element mapping a state ``s`` to ``g(h(s))``."""
        ...

    def canonical_witness(self, state: S) -> tuple[Hashable, int]:
        """``canonical(state)`` and the index, in :meth:`symmetries`, of an element ``g`` such
        that ``g(state)`` is the class's representative: the same state for every member."""
        ...

    def rename_label(self, label: Label, g: Hashable) -> Label:
        """The label of a step renamed by ``g``."""
        ...


def only_properties(props: Properties[S], names: Iterable[str]) -> Properties[S]:
    """``props`` with only the invariants and action properties named (a TLC cfg's
    ``INVARIANT`` lines); sometimes and temporal properties kept. ``ValueError`` (one line,
    naming the known ones) for an unknown name or none."""
    wanted = tuple(dict.fromkeys(names))
    known = [p.name for p in (*props.invariants, *props.action_properties)]
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        what = f"unknown {', '.join(unknown)}" if unknown else "none given"
        raise ValueError(f"{what} (known: {', '.join(known)})")
    return replace(
        props,
        invariants=tuple(p for p in props.invariants if p.name in wanted),
        action_properties=tuple(p for p in props.action_properties if p.name in wanted),
    )


class CheckingOnly(Generic[S]):
    """``model`` with only some of its invariants and action properties checked: TLC's
    ``INVARIANT`` lines of a cfg. The others are not evaluated, so a search can go past a state
    that breaks one of them (a lemma that fails one step before the property a user is after,
    say). Sometimes-properties and temporal properties are kept.

    It offers the plain protocol only: a batch model checks every property inside its loop.
    Every other attribute is the wrapped model's, so output and pictures describe states as
    before.
    """

    def __init__(self, model: Model[S], names: Iterable[str]) -> None:
        self._properties = only_properties(model.properties(), names)
        self.wrapped = model

    def __getattr__(self, name: str) -> Any:
        if name == "batch":
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def init_states(self) -> Iterable[S]:
        return self.wrapped.init_states()

    def successors(self, state: S) -> Iterable[tuple[Label, S]]:
        return self.wrapped.successors(state)

    def within_bounds(self, state: S) -> bool:
        return self.wrapped.within_bounds(state)

    def canonical(self, state: S) -> Hashable:
        return self.wrapped.canonical(state)

    def properties(self) -> Properties[S]:
        return self._properties

    def describe(self, state: S) -> Mapping[str, Any]:
        return self.wrapped.describe(state)

    def action_names(self) -> Sequence[str]:
        return self.wrapped.action_names()

    def format_label(self, label: Label) -> str:
        return self.wrapped.format_label(label)
