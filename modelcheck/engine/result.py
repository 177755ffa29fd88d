"""What a model-checking run found: counts, coverage, properties reached and any violation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .model import FairnessKind, Label

Outcome = Literal["ok", "violation", "incomplete"]
ViolationKind = Literal["invariant", "action", "liveness"]

#: One step of a behaviour: the label of the action taken (``None`` for an initial state) and
#: the state it led to.
Step = tuple[Label | None, Any]


@dataclass
class Coverage:
    """How often one action was enabled, and how many new distinct states it produced."""

    enabled: int = 0
    distinct: int = 0


@dataclass
class FairnessNote:
    """How one fairness condition is met on the cycle of a lasso, so that it is a fair behaviour.

    Weak fairness is met when a step of it is taken in the cycle or when it is not possible in
    some state of the cycle; strong fairness when a step is taken or it is possible in none.
    """

    #: ``WF(Timeout)``, or for one instance of a per-instance fairness ``WF(Timeout(s1))``.
    fairness: str
    kind: FairnessKind
    #: States of the cycle in which a step of it is possible (out of ``states``).
    enabled: int
    #: States in the cycle (1 when the last state of the prefix repeats forever).
    states: int
    #: The steps of the cycle that take it, numbered as the trace is printed (from 1).
    taken: list[int] = field(default_factory=list)
    #: States of the cycle in which it is possible only by a step beyond the bounds (counted
    #: in ``enabled`` only when such steps count as possible).
    beyond: int = 0

    @property
    def met(self) -> bool:
        """True when the cycle satisfies this condition."""
        if self.taken:
            return True
        return self.enabled < self.states if self.kind == "weak" else self.enabled == 0


@dataclass
class Violation:
    """A property that failed, and a shortest behaviour that makes it fail.

    For an invariant the last state of ``trace`` breaks it; for an action property the last
    step does. The trace is a real behaviour of the model: each step is one of
    ``model.successors`` of the state before it.

    For a liveness property (``kind == "liveness"``) the behaviour is infinite, a lasso: the
    ``prefix`` (the trace up to index ``loop``), then the ``cycle`` (the steps after it, the
    last one back to the state at ``loop``) repeated forever. An empty cycle means that the
    state at ``loop``, the last one, repeats forever (the behaviour stops: it stutters). The
    property's P held at index ``trigger`` and Q holds nowhere from there on; ``fairness`` says
    why the cycle is a fair behaviour.
    """

    property: str
    kind: ViolationKind
    trace: list[Step]
    loop: int | None = None
    trigger: int | None = None
    fairness: list[FairnessNote] = field(default_factory=list)

    @property
    def prefix(self) -> list[Step]:
        """The steps up to the state where the cycle starts (all of them for a finite trace)."""
        return self.trace if self.loop is None else self.trace[: self.loop + 1]

    @property
    def cycle(self) -> list[Step]:
        """The steps repeated forever after the prefix; empty when the last state stutters."""
        return [] if self.loop is None else self.trace[self.loop + 1 :]


@dataclass
class LivenessVerdict:
    """What the liveness check decided about one temporal property."""

    #: None when the run stopped before the graph was complete.
    holds: bool | None
    #: The fairness assumed for it (names such as ``WF(Timeout)``).
    fairness: list[str] = field(default_factory=list)
    #: It holds, but only because steps leading beyond the bounds count as possible: within the
    #: bounds alone some behaviour never reaches Q, and the verdict says nothing about it.
    beyond_bounds: bool = False


@dataclass
class LivenessResult:
    """The outcome of :func:`raftkit.modelcheck.engine.liveness.check_liveness`, with its costs."""

    result: Outcome
    properties: dict[str, LivenessVerdict]
    #: The first violated property (in declaration order) and a lasso for it.
    violation: Violation | None = None
    #: Distinct states and stored edges of the reachable graph the check built.
    states: int = 0
    edges: int = 0
    #: Steps the graph left out as stuttering (a step back to the very same state).
    stuttering_steps: int = 0
    #: Stored edges to states beyond the bounds (kept for what they enable, never followed).
    edges_beyond_bounds: int = 0
    #: Bytes of the stored edges, and how many of them were spilled to disk.
    edge_bytes: int = 0
    edges_on_disk: int = 0
    generated: int = 0
    depth: int = 0
    graph_seconds: float = 0.0
    analysis_seconds: float = 0.0
    #: Whether the graph is the quotient under the model's symmetry (canonical forms).
    symmetry: bool = False
    notes: list[str] = field(default_factory=list)
    #: Why an incomplete run stopped: "max_states", "max_seconds" or "interrupted".
    stopped_by: str | None = None

    @property
    def seconds(self) -> float:
        """Time to build the graph and decide every property."""
        return self.graph_seconds + self.analysis_seconds


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
    #: The temporal properties' check, when one ran (see :meth:`add_liveness`).
    liveness: LivenessResult | None = None

    @property
    def ok(self) -> bool:
        """True when the search finished and every property checked held."""
        return self.result == "ok"

    def add_liveness(self, live: LivenessResult) -> None:
        """Record the liveness check of the same model: its violation becomes the run's (a safety
        violation, found first, stays), and an unfinished liveness check leaves the run
        incomplete."""
        self.liveness = live
        if self.result != "ok":
            return
        if live.violation is not None:
            self.result = "violation"
            self.violation = live.violation
        elif live.result == "incomplete":
            self.result = "incomplete"
            self.stopped_by = live.stopped_by

    @property
    def distinct_per_second(self) -> float:
        """Distinct states found per second of search."""
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0

    @property
    def generated_per_second(self) -> float:
        """States generated per second of search."""
        return self.states_generated / self.seconds if self.seconds > 0 else 0.0
