"""What a run tells its user: a summary for people (rich tables), one JSON object for programs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..engine.model import Model
from ..engine.result import LivenessResult, Result, Violation
from ..engine.trace import trace_lines, trace_to_json


def verdict(result: Result) -> str:
    """One line saying what the run established."""
    if result.result == "violation":
        assert result.violation is not None
        v = result.violation
        if v.kind == "liveness":
            return f"liveness property {v.property} is violated ({_lasso_shape(v)})"
        kind = "invariant" if v.kind == "invariant" else "action property"
        return f"{kind} {v.property} is violated (counterexample of {len(v.trace)} states)"
    if result.result == "incomplete":
        why = {
            "max_states": "the --max-states limit was reached",
            "max_seconds": "the --max-seconds limit was reached",
            "interrupted": "interrupted",
        }.get(result.stopped_by or "", "stopped early")
        return f"incomplete: {why}; no violation found in the states explored"
    if result.liveness is not None:
        return (
            "no violation: every invariant and action property holds in every reachable state, "
            "and every temporal property in every fair behaviour"
        )
    return "no violation: every invariant and action property holds in every reachable state"


def _lasso_shape(v: Violation) -> str:
    states = _count(len(v.prefix), "state")
    if v.cycle:
        return f"{states}, then a cycle of {_count(len(v.cycle), 'step')} repeated forever"
    return f"{states}, the last one repeated forever"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def print_counterexample(result: Result, model: Model[Any], console: Console) -> None:
    """The violation's trace, one numbered step per action, showing only what changed."""
    if result.violation is None:
        return
    v = result.violation
    if v.kind == "liveness":
        _print_lasso(v, model, console)
        return
    kind = "Invariant" if v.kind == "invariant" else "Action property"
    where = "in the last state" if v.kind == "invariant" else "by the last step"
    console.print(
        Text(f"{kind} {v.property} is violated {where}; a shortest behaviour:", style="bold red"),
        soft_wrap=True,
    )
    for line in trace_lines(model, v.trace):
        # Plain text: states contain brackets that rich would read as markup.
        console.print(Text(line), soft_wrap=True)
    console.print()


def lasso_lines(v: Violation, model: Model[Any]) -> list[str]:
    """A liveness counterexample for people: the prefix step by step, the cycle after a line
    that says it repeats forever (or that the last state does), then why the cycle is fair."""
    assert v.loop is not None
    lines = trace_lines(model, v.trace)
    trigger = v.trigger if v.trigger is not None else 0
    where = _header_index(lines, trigger + 1)
    lines[where] += "   <- from here on the property's goal never holds"
    end = len(v.trace)
    if v.cycle:
        first = v.loop + 2
        lines.insert(
            _header_index(lines, first),
            f"-- steps {first} to {end} repeat forever (state {end} is state {v.loop + 1}) --",
        )
    else:
        lines.append(
            f"-- state {end} repeats forever: the behaviour stops there (stutters), "
            "which no fairness forbids --"
        )
    lines.append("Why this is a fair behaviour:")
    if not v.fairness:
        lines.append("     no fairness is assumed, so any behaviour may stop anywhere")
    for note in v.fairness:
        text = _note_text(note.enabled, note.states, note.taken)
        if note.beyond:
            text += (
                f"; in {note.beyond} of the states only by a step beyond the bounds"
                if note.enabled
                else f"; possible beyond the bounds in {note.beyond} of the states, so this "
                "behaviour is fair only within the bounds"
            )
        lines.append(f"     {note.fairness}: {text}")
    return lines


def _header_index(lines: list[str], number: int) -> int:
    prefix = f"{number}. "
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


def _note_text(enabled: int, states: int, taken: list[int]) -> str:
    if enabled == 0:
        possible = "never possible in the cycle"
    elif enabled == states:
        possible = "possible in every state of the cycle"
    else:
        possible = f"possible in {enabled} of its {states} states"
    if taken:
        steps = "step" if len(taken) == 1 else "steps"
        return f"{possible}, taken at {steps} {', '.join(map(str, taken))}"
    return f"{possible}, never taken"


def _print_lasso(v: Violation, model: Model[Any], console: Console) -> None:
    console.print(
        Text(
            f"Liveness property {v.property} is violated by this fair behaviour "
            "(a shortest prefix, then a cycle):",
            style="bold red",
        ),
        soft_wrap=True,
    )
    for line in lasso_lines(v, model):
        console.print(Text(line), soft_wrap=True)
    console.print()


def print_liveness(live: LivenessResult, console: Console) -> None:
    """What the liveness check stored and decided, with the warnings a reader needs."""
    figures = {
        "states in the graph": f"{live.states:,}",
        "steps stored": f"{live.edges:,}",
        "bytes of steps": f"{live.edge_bytes:,}",
        "steps on disk": f"{live.edges_on_disk:,}",
        "steps beyond the bounds": f"{live.edges_beyond_bounds:,}",
        "stuttering steps left out": f"{live.stuttering_steps:,}",
        "symmetry reduction": "yes" if live.symmetry else "no",
        "graph seconds": f"{live.graph_seconds:.2f}",
        "analysis seconds": f"{live.analysis_seconds:.2f}",
    }
    stats = Table(title="Liveness", show_header=False, title_justify="left")
    stats.add_column(style="bold")
    stats.add_column(justify="right")
    for name, value in figures.items():
        stats.add_row(name, value)
    console.print(stats)
    if live.properties:
        table = Table(title="Temporal properties", title_justify="left")
        table.add_column("property")
        table.add_column("fairness")
        table.add_column("holds")
        for name, v in live.properties.items():
            if v.holds is None:
                shown = Text("not decided", style="yellow")
            elif v.holds:
                shown = Text("yes (within the bounds)" if v.beyond_bounds else "yes",
                             style="yellow" if v.beyond_bounds else "green")
            else:
                shown = Text("NO", style="red")
            table.add_row(name, ", ".join(v.fairness) or "none", shown)
        console.print(table)
    for name, v in live.properties.items():
        if v.beyond_bounds:
            console.print(
                Text(
                    f"warning: {name} holds only because steps beyond the bounds count as "
                    "possible: within the bounds some behaviour never reaches its goal and "
                    "would have to leave them to be fair; raise the bounds before trusting it",
                    style="yellow",
                ),
                soft_wrap=True,
            )
    for note in live.notes:
        console.print(Text(f"note: {note}", style="yellow"), soft_wrap=True)


def print_summary(result: Result, console: Console) -> None:
    """Counts, coverage per action and sometimes properties, with warnings a reader needs."""
    stats = Table(title="Search", show_header=False, title_justify="left")
    stats.add_column(style="bold")
    stats.add_column(justify="right")
    stats.add_row("distinct states", f"{result.distinct_states:,}")
    stats.add_row("states generated", f"{result.states_generated:,}")
    stats.add_row("depth", f"{result.depth}")
    stats.add_row("seconds", f"{result.seconds:.2f}")
    stats.add_row("distinct states/s", f"{result.distinct_per_second:,.0f}")
    stats.add_row("generated/s", f"{result.generated_per_second:,.0f}")
    stats.add_row("max queue", f"{result.max_queue:,}")
    if result.store == "exact":
        stats.add_row("fingerprint collision", "none possible (exact store)")
    else:
        stats.add_row("fingerprint collision", f"{result.collision_probability:.1e} (optimistic)")
    console.print(stats)

    coverage = Table(title="Coverage", title_justify="left")
    coverage.add_column("action")
    coverage.add_column("enabled", justify="right")
    coverage.add_column("new distinct states", justify="right")
    for name, cov in result.coverage.items():
        style = "yellow" if cov.enabled == 0 else None
        coverage.add_row(name, f"{cov.enabled:,}", f"{cov.distinct:,}", style=style)
    console.print(coverage)
    if result.never_enabled:
        console.print(
            Text(
                "warning: never enabled: " + ", ".join(result.never_enabled)
                + " (their code was never exercised)",
                style="yellow",
            )
        )

    if result.sometimes:
        sometimes = Table(title="Sometimes", title_justify="left")
        sometimes.add_column("property")
        sometimes.add_column("reached")
        for name, reached in result.sometimes.items():
            sometimes.add_row(
                name, Text("yes", style="green") if reached else Text("NOT reached", style="yellow")
            )
        console.print(sometimes)
        missed = [name for name, reached in result.sometimes.items() if not reached]
        if missed and result.result == "ok":
            console.print(
                Text(
                    f"warning: {', '.join(missed)} never reached: the bounds are too small "
                    "to mean much",
                    style="yellow",
                )
            )

    if result.liveness is not None:
        print_liveness(result.liveness, console)

    style = {"ok": "bold green", "violation": "bold red"}.get(result.result, "bold yellow")
    console.print(Text(verdict(result), style=style))


def result_to_json(
    result: Result,
    model: Model[Any] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run as one JSON object (see ``raftmc check --json``).

    ``model`` is needed only to describe a violation's trace.
    """
    out: dict[str, Any] = {
        "result": result.result,
        "distinct_states": result.distinct_states,
        "states_generated": result.states_generated,
        "depth": result.depth,
        "seconds": round(result.seconds, 3),
        "coverage": {
            name: {"enabled": cov.enabled, "distinct": cov.distinct}
            for name, cov in result.coverage.items()
        },
        "never_enabled": list(result.never_enabled),
        "sometimes": dict(result.sometimes),
        "collision_probability": result.collision_probability,
        "lookup_collision_probability": result.lookup_collision_probability,
        "max_queue": result.max_queue,
        "initial_states": result.initial_states,
        "store": result.store,
        "stopped_by": result.stopped_by,
        "parameters": dict(parameters or {}),
    }
    if result.liveness is not None:
        out["liveness"] = liveness_to_json(result.liveness)
    if result.violation is not None:
        if model is None:
            raise ValueError("a model is needed to describe the violation's trace")
        v = result.violation
        if v.kind == "liveness":
            out["violation"] = lasso_to_json(v, model)
        else:
            out["violation"] = {
                "property": v.property,
                "kind": v.kind,
                "trace": trace_to_json(model, v.trace),
            }
    return out


def lasso_to_json(v: Violation, model: Model[Any]) -> dict[str, Any]:
    """A liveness violation: ``prefix`` (from the initial state to the state where the cycle
    starts), ``cycle`` (the steps after it, the last one back to that state; empty when it
    repeats forever), the index of the state where the goal stops holding (``trigger``) and how
    each fairness condition is met (``fairness``)."""
    return {
        "property": v.property,
        "kind": v.kind,
        "prefix": trace_to_json(model, v.prefix),
        "cycle": trace_to_json(model, v.cycle),
        "trigger": v.trigger,
        "fairness": [
            {
                "fairness": n.fairness,
                "kind": n.kind,
                "enabled": n.enabled,
                "states": n.states,
                "taken": list(n.taken),
                "beyond": n.beyond,
            }
            for n in v.fairness
        ],
    }


def liveness_to_json(live: LivenessResult) -> dict[str, Any]:
    """The liveness check's verdicts and figures (its violation goes in ``violation``)."""
    return {
        "result": live.result,
        "properties": {
            name: {"holds": v.holds, "fairness": list(v.fairness), "beyond_bounds": v.beyond_bounds}
            for name, v in live.properties.items()
        },
        "states": live.states,
        "edges": live.edges,
        "edge_bytes": live.edge_bytes,
        "edges_on_disk": live.edges_on_disk,
        "edges_beyond_bounds": live.edges_beyond_bounds,
        "stuttering_steps": live.stuttering_steps,
        "generated": live.generated,
        "depth": live.depth,
        "graph_seconds": round(live.graph_seconds, 3),
        "analysis_seconds": round(live.analysis_seconds, 3),
        "symmetry": live.symmetry,
        "notes": list(live.notes),
        "stopped_by": live.stopped_by,
    }
