"""What a model-checking run found: counts, coverage, properties reached and any violation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .model import Label

Outcome = Literal["ok", "violation", "incomplete"]
ViolationKind = Literal["invariant", "action"]

#: One step of a behaviour: the label of the action taken (``None`` for an initial state) and
#: the state it led to.
Step = tuple[Label | None, Any]


@dataclass
class Coverage:
    """How often one action was enabled, and how many new distinct states it produced."""

    enabled: int = 0
    distinct: int = 0


@dataclass
class Violation:
    """A property that failed, and a shortest behaviour that makes it fail.

    For an invariant the last state of ``trace`` breaks it; for an action property the last
    step does. The trace is a real behaviour of the model: each step is one of
    ``model.successors`` of the state before it.
    """

    property: str
    kind: ViolationKind
    trace: list[Step]


@dataclass
class Result:
    """The outcome of :func:`raftkit.modelcheck.engine.check`.

    Counts follow TLC: ``states_generated`` counts the initial states plus one per successor of
    every expanded state (self-loops, duplicates and out-of-bounds successors included);
    ``distinct_states`` counts distinct in-bounds states; ``depth`` counts breadth-first levels
    with the initial states as level 1.
    """

    result: Outcome
    distinct_states: int
    states_generated: int
    depth: int
    seconds: float
    coverage: dict[str, Coverage]
    #: Every sometimes and sometimes-step property, and whether some state or step reached it.
    sometimes: dict[str, bool]
    violation: Violation | None = None
    #: Birthday estimate that two distinct states share a fingerprint (0 for the exact store).
    collision_probability: float = 0.0
    #: TLC's own optimistic estimate n(g-n)/2**64 (0 for the exact store).
    lookup_collision_probability: float = 0.0
    max_queue: int = 0
    initial_states: int = 0
    #: Why an incomplete run stopped: "max_states", "max_seconds" or "interrupted".
    stopped_by: str | None = None
    store: str = "fingerprint"
    #: Names of actions the model declares that were never enabled.
    never_enabled: list[str] = field(default_factory=list)
    #: Bytes held by the seen-set at the end (0 if the store does not say).
    seen_bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when the search finished and every invariant and action property held."""
        return self.result == "ok"

    @property
    def distinct_per_second(self) -> float:
        """Distinct states found per second of search."""
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0

    @property
    def generated_per_second(self) -> float:
        """States generated per second of search."""
        return self.states_generated / self.seconds if self.seconds > 0 else 0.0
