"""What a run tells its user: a summary for people (rich tables), one JSON object for programs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..engine.model import Model
from ..engine.result import Result
from ..engine.trace import trace_lines, trace_to_json


def verdict(result: Result) -> str:
    """One line saying what the run established."""
    if result.result == "violation":
        assert result.violation is not None
        v = result.violation
        kind = "invariant" if v.kind == "invariant" else "action property"
        return f"{kind} {v.property} is violated (counterexample of {len(v.trace)} states)"
    if result.result == "incomplete":
        why = {
            "max_states": "the --max-states limit was reached",
            "max_seconds": "the --max-seconds limit was reached",
            "interrupted": "interrupted",
        }.get(result.stopped_by or "", "stopped early")
        return f"incomplete: {why}; no violation found in the states explored"
    return "no violation: every invariant and action property holds in every reachable state"


def print_counterexample(result: Result, model: Model[Any], console: Console) -> None:
    """The violation's trace, one numbered step per action, showing only what changed."""
    if result.violation is None:
        return
    v = result.violation
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
    if result.violation is not None:
        if model is None:
            raise ValueError("a model is needed to describe the violation's trace")
        v = result.violation
        out["violation"] = {
            "property": v.property,
            "kind": v.kind,
            "trace": trace_to_json(model, v.trace),
        }
    return out
