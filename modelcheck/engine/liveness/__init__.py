"""Temporal properties under fairness: ``<>P`` and ``P ~> Q``, decided as TLC decides them.

:func:`check_liveness` builds the reachable graph with every step (:mod:`.graph`), finds the
states that lie on a fair loop where Q never holds (:mod:`.fair`), and reports a lasso with a
shortest prefix (:mod:`.lasso`). The semantics, and why:

* **Behaviours are infinite and may stutter.** As in TLA+ (``[][Next]_vars``), every state may
  repeat forever unless fairness forbids it. So a state with no successor at all (a deadlock)
  is a behaviour that stops there; so is any state in which no fair action is possible. Without
  any fairness, ``P ~> Q`` fails as soon as some reachable P-state has Q false: the behaviour
  may stop there. TLC adds the same stuttering step to every state of its behaviour graph.
* **Fairness is about changing steps.** ``WF_vars(A)`` speaks of ``<<A>>_vars``, A-steps that
  change the state: a step of A back to the same state neither makes A possible nor takes it.
* **Steps beyond the bounds make their action possible.** A successor outside the state
  constraint is not a state of the graph, and no behaviour follows it; but TLC evaluates
  ``ENABLED`` on the next-state relation alone, without the constraint, and so does this check
  (``beyond_bounds_enables``). A behaviour that would have to take such a step to be fair is not
  fair within the bounds, so it is not a counterexample: the bounds can hide a violation, never
  invent one (every lasso reported is a fair behaviour of the unbounded model, all its states
  within the bounds). The verdict of a property that holds says whether this happened
  (``beyond_bounds``: with those steps not counted, some behaviour within the bounds never
  reaches Q); such a pass says nothing about what lies past the bounds. Raise the bound that
  the warned action runs into, or call with ``beyond_bounds_enables=False`` to see the lasso
  that the bounds cut.
* **Symmetry.** TLC warns that liveness under symmetry reduction can miss violations. Here the
  graph is the quotient (states keyed by ``model.canonical``). When every fairness is of
  actions as a whole, the quotient and the model have the same behaviours up to renaming, with
  the same action names, the same enabledness and the same stuttering, provided that
  ``canonical`` is a symmetry of the successors, of the bounds and of P and Q (the same
  assumption as for invariants under symmetry; the replayed lasso rechecks P and Q). A
  per-instance fairness names instances that renaming permutes, which the quotient alone
  cannot track: a model that names its symmetries (``SymmetryWitness``) has its loops judged
  on the quotient's cover (:mod:`.cover`), exactly; a model that does not gets a graph without
  symmetry, and the result says so in its notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

from ..model import Fairness, Model
from ..progress import Snapshot
from ..result import LivenessResult, LivenessVerdict, Violation
from ..trace import ReplayError
from .cover import Cover, group_of
from .fair import compile_conditions, fair_states
from .graph import EDGE_BUDGET, StateGraph, build_graph, spill_directory
from .lasso import GraphLasso, fairness_notes, graph_lasso, replay_lasso, shortest_prefix

__all__ = ["check_liveness", "build_graph", "StateGraph", "Temporal", "temporal_properties"]


@dataclass(frozen=True)
class Temporal:
    """One temporal property as the check sees it: triggers (P, or None for the initial
    states), the goal Q, and all the fairness it assumes."""

    name: str
    trigger: Callable[[Any], bool] | None
    goal: Callable[[Any], bool]
    fairness: tuple[Fairness, ...]


def temporal_properties(model: Model[Any]) -> list[Temporal]:
    """The model's ``eventually`` and ``leads_to`` properties, in that order, each with the
    model's fairness followed by its own."""
    props = model.properties()
    common = tuple(props.fairness)
    out = [Temporal(e.name, None, e.holds, common + tuple(e.fairness)) for e in props.eventually]
    out += [Temporal(t.name, t.p, t.q, common + tuple(t.fairness)) for t in props.leads_to]
    return out


def check_liveness(
    model: Model[Any],
    *,
    store: str = "fingerprint",
    symmetry: bool = True,
    beyond_bounds_enables: bool = True,
    max_states: int | None = None,
    max_seconds: float | None = None,
    spill_dir: str | None = None,
    edge_budget: int = EDGE_BUDGET,
    progress: Callable[[Snapshot], None] | None = None,
    progress_interval: float = 0.5,
) -> LivenessResult:
    """Check every temporal property of ``model`` over its fair behaviours within the bounds.

    ``store`` is ``"fingerprint"`` (states keyed by 64-bit hashes, as the engine) or
    ``"exact"``. ``symmetry`` False builds the graph without the model's canonical forms. The
    graph keeps ``edge_budget`` steps in memory and spills the rest to ``spill_dir``. The first
    violated property, in the order of :func:`temporal_properties`, gets a lasso. Limits and
    ``progress`` are as for the engine's search, while the graph is built.
    """
    if store not in ("fingerprint", "exact"):
        raise ValueError(f"unknown store {store!r} (expected 'fingerprint' or 'exact')")
    if max_states is not None and max_states < 1:
        raise ValueError(f"max_states must be at least 1 (got {max_states})")
    if max_seconds is not None and max_seconds <= 0:
        raise ValueError(f"max_seconds must be positive (got {max_seconds})")
    if edge_budget < 1:
        raise ValueError(f"edge_budget must be at least 1 (got {edge_budget})")
    spill_directory(spill_dir)
    exact = store == "exact"
    temporal = temporal_properties(model)
    notes: list[str] = []
    per_instance = sorted({f.name for t in temporal for f in t.fairness if f.per_instance})
    wanted_symmetry = symmetry
    group = group_of(model) if symmetry and per_instance else None
    symmetry = symmetry and (not per_instance or group is not None)
    formulas: list[Callable[[Any], bool]] = []
    for t in temporal:
        for f in (t.trigger, t.goal):
            if f is not None and not any(f is g for g in formulas):
                formulas.append(f)

    graph = build_graph(
        model,
        formulas,
        symmetry=symmetry,
        exact=exact,
        max_states=max_states,
        max_seconds=max_seconds,
        spill_dir=spill_dir,
        edge_budget=edge_budget,
        progress=progress,
        progress_interval=progress_interval,
        beyond_actions=(
            frozenset(a for t in temporal for f in t.fairness for a in f.actions)
            if beyond_bounds_enables
            else frozenset()
        ),
        witness=group is not None,
    )
    if wanted_symmetry and not symmetry and graph.reducible:
        shown = ", ".join(per_instance[:3]) + (", ..." if len(per_instance) > 3 else "")
        notes.append(
            f"symmetry reduction is off for the liveness graph: per-instance fairness ({shown}) "
            "names instances that the model's symmetry renames"
        )
    live = LivenessResult(
        result="ok",
        properties={},
        states=graph.states,
        edges=graph.edges,
        stuttering_steps=graph.stuttering,
        edges_beyond_bounds=int(np.count_nonzero(np.asarray(graph.target) < 0)),
        edge_bytes=graph.target.nbytes + graph.label.nbytes + (
            graph.step_witness.nbytes if graph.step_witness is not None else 0
        ),
        edges_on_disk=graph.edges_on_disk,
        generated=graph.generated,
        depth=int(graph.depth.max()) + 1 if graph.states else 0,
        graph_seconds=graph.seconds,
        symmetry=graph.symmetry and graph.reducible,
        notes=notes,
        stopped_by=graph.stopped_by,
    )
    if not graph.complete:
        live.result = "incomplete"
        live.properties = {
            t.name: LivenessVerdict(None, [f.name for f in t.fairness]) for t in temporal
        }
        return live

    start = perf_counter()
    sources = graph.sources()
    cover = Cover(model, graph, group) if group is not None else None

    def values(f: Callable[[Any], bool]) -> np.ndarray:
        return graph.values[next(i for i, g in enumerate(formulas) if g is f)]

    for t in temporal:
        if cover is not None:
            conditions = cover.conditions(t.fairness, model.format_label)
        else:
            conditions = compile_conditions(t.fairness, graph.labels, model.format_label)
        allowed = ~values(t.goal)
        if t.trigger is None:
            triggers = graph.initial[allowed[graph.initial]]
        else:
            triggers = np.flatnonzero(values(t.trigger) & allowed).astype(np.int32)
        verdict = LivenessVerdict(True, [f.name for f in t.fairness])
        fair = _fair(graph, cover, sources, allowed, conditions, beyond_bounds_enables)
        loop_of = None
        if cover is not None:
            found = shortest_prefix(graph, triggers, allowed, fair)
            lasso = None if found is None else GraphLasso(*found, loop=[])
            if found is not None:
                loop_of = _cover_loop(model, cover, found[0][-1], conditions, beyond_bounds_enables)
        else:
            lasso = graph_lasso(graph, triggers, allowed, fair, conditions, beyond_bounds_enables)
        if lasso is not None:
            verdict.holds = False
            if live.violation is None:
                live.violation = _violation(
                    model, graph, t, lasso, exact, symmetry, beyond_bounds_enables, loop_of
                )
                live.result = "violation"
        elif beyond_bounds_enables and live.edges_beyond_bounds:
            cut = _fair(graph, cover, sources, allowed, conditions, False)
            verdict.beyond_bounds = shortest_prefix(graph, triggers, allowed, cut) is not None
        live.properties[t.name] = verdict
    live.analysis_seconds = perf_counter() - start
    return live


def _violation(
    model: Model[Any],
    graph: StateGraph,
    prop: Temporal,
    lasso: Any,
    exact: bool,
    symmetry: bool,
    beyond_bounds_enables: bool,
    loop_of: Callable[[Any], list[tuple[int, Any]]] | None = None,
) -> Violation:
    trace, loop = replay_lasso(model, graph, lasso, exact, symmetry, loop_of)
    trigger = lasso.trigger
    # The graph decided on keys; the replayed states must tell the same story.
    states = [state for _, state in trace]
    if prop.trigger is not None and not prop.trigger(states[trigger]):
        raise ReplayError(
            f"{prop.name}: P does not hold in the replayed state {trigger + 1}: "
            "is canonical() a symmetry of the property?"
        )
    for number, state in enumerate(states[trigger:], start=trigger + 1):
        if prop.goal(state):
            raise ReplayError(
                f"{prop.name}: Q holds in the replayed state {number}: "
                "is canonical() a symmetry of the property?"
            )
    notes = fairness_notes(model, prop.fairness, trace, loop, beyond_bounds_enables)
    unmet = [n.fairness for n in notes if not n.met]
    if unmet:
        raise ReplayError(
            f"{prop.name}: the replayed cycle is not fair ({', '.join(unmet)}): "
            "is canonical() a symmetry of successors() and are they deterministic?"
        )
    return Violation(prop.name, "liveness", trace, loop=loop, trigger=trigger, fairness=notes)


def _cover_loop(
    model: Any, cover: Cover, state: int, conditions: Any, beyond_bounds_enables: bool
) -> Callable[[Any], list[tuple[int, Any]]]:
    """The fair loop from quotient state ``state``, for the concrete member of its class the
    replayed prefix ends in: the cover's loop from that member's node."""

    def loop_of(member: Any) -> list[tuple[int, Any]]:
        _canonical, witness = model.canonical_witness(member)
        element = cover.element_of(state, witness)
        return cover.loop(state, element, conditions, beyond_bounds_enables)

    return loop_of


def _fair(
    graph: StateGraph,
    cover: Cover | None,
    sources: np.ndarray,
    allowed: np.ndarray,
    conditions: Any,
    beyond: bool,
) -> np.ndarray:
    """The states on a fair loop among ``allowed``: on the cover when there is one."""
    if cover is not None:
        return cover.fair_states(sources, allowed, conditions, beyond)
    return fair_states(graph, sources, allowed, conditions, beyond)
