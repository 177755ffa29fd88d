"""``raftmc graph``: the reachable state graph, drawn (DOT, SVG, PNG) or as JSON.

Graphviz and the diagram code are imported only when a picture is asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_NO_GRAPHVIZ,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    exit_status_help,
)
from .model_flags import add_model_flags, parameters_json, params_from_args

#: Exit status when the graph is larger than --node-limit and nothing was written.
EXIT_TOO_LARGE = 3
DEFAULT_NODE_LIMIT = 300
# Whole states and edges are kept: about 3 KB a state, and a minute or so for 50,000 of them.
DEFAULT_MAX_STATES = 50_000
FORMATS = ("dot", "svg", "png", "json")

GRAPH_EPILOG = """\
Large graphs: above --node-limit nothing is written; raftmc says how large the graph is and
how large each of these views of it would be:
  --around ID --radius K     the states within K steps of state ID (ids are breadth-first
                             numbers, 0 is the initial state; every drawn node shows its id)
  --counterexample-only      only the states on shortest paths to violating states
  --quotient PROJECTION      states grouped by a projection, edges counted per action

DOT and JSON are written without Graphviz; SVG and PNG need its dot program.

""" + exit_status_help(
    EXIT_OK, EXIT_USAGE, EXIT_IO, EXIT_NO_GRAPHVIZ, EXIT_INTERRUPTED,
    extra={
        EXIT_OK: "the graph was written",
        EXIT_TOO_LARGE: "the graph (or the chosen view) is larger than --node-limit; nothing\n"
        "was written",
        EXIT_INTERRUPTED: "interrupted (Ctrl-C); nothing was written",
    },
)


def add_command(commands: Any) -> None:
    """Add the ``graph`` command to ``raftmc``'s subparsers."""
    from ..pictures.diagrams import PROJECTIONS

    g = commands.add_parser(
        "graph",
        help="draw the reachable state graph (DOT, SVG, PNG or JSON)",
        description=(
            "Explore every state reachable within the bounds, keeping every edge, and write\n"
            "the state graph: one node per state (per symmetry class with --symmetry), edges\n"
            "labelled with the action, one rank per breadth-first depth, the initial state\n"
            "blue, violating states red and the shortest paths to them bold."
        ),
        epilog=GRAPH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    add_model_flags(g)
    g.set_defaults(run=run_graph)
    out = g.add_argument_group("output")
    out.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default=None,
        help="write here (default: standard output; needed for png)",
    )
    out.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the file's suffix, else dot)",
    )
    out.add_argument(
        "--node-limit",
        type=int,
        metavar="N",
        default=DEFAULT_NODE_LIMIT,
        help=f"refuse to write a graph of more than N nodes (default: {DEFAULT_NODE_LIMIT})",
    )
    out.add_argument(
        "--max-states",
        type=int,
        metavar="N",
        default=DEFAULT_MAX_STATES,
        help=f"stop exploring after N states (default: {DEFAULT_MAX_STATES:,})",
    )
    view = g.add_argument_group("views of a large graph")
    view.add_argument(
        "--around", type=int, metavar="ID", default=None, help="only the states near state ID"
    )
    view.add_argument(
        "--radius",
        type=int,
        metavar="K",
        default=2,
        help="with --around: steps from ID, either direction (default: 2)",
    )
    view.add_argument(
        "--counterexample-only",
        action="store_true",
        help="only the states on shortest paths to violating states",
    )
    view.add_argument(
        "--counterexamples",
        type=int,
        metavar="N",
        default=1,
        help="with --counterexample-only: paths to the first N violating states, in "
        "breadth-first order; the search stops once it has found them (default: 1)",
    )
    view.add_argument(
        "--quotient",
        metavar="PROJECTION",
        choices=sorted(PROJECTIONS),
        default=None,
        help="group states by a projection: "
        + "; ".join(f"{k}: {v}" for k, v in PROJECTIONS.items()),
    )


def _format_for(args: argparse.Namespace) -> str:
    if args.format is not None:
        return args.format
    if args.output:
        suffix = Path(args.output).suffix.lstrip(".").lower()
        if suffix in FORMATS:
            return suffix
        if suffix == "gv":
            return "dot"
    return "dot"


def run_graph(args: argparse.Namespace) -> int:
    """Explore, pick the view asked for, and write it; the exit status."""
    from ...spec.model import RaftModel

    params = params_from_args(args)
    model = RaftModel(params, symmetry=args.symmetry)
    parameters = parameters_json(params, args)
    from ..engine.graph import (
        explore,
        graph_to_dot,
        graph_to_json,
        quotient,
        quotient_to_dot,
        quotient_to_json,
    )
    from ..pictures import diagrams

    fmt = _format_for(args)
    views = [args.around is not None, args.counterexample_only, args.quotient is not None]
    if sum(views) > 1:
        raise UsageError("--around, --counterexample-only and --quotient exclude each other")
    if args.node_limit < 1:
        raise UsageError(f"--node-limit must be at least 1 (got {args.node_limit})")
    if args.max_states < 1:
        raise UsageError(f"--max-states must be at least 1 (got {args.max_states})")
    if args.radius < 0:
        raise UsageError(f"--radius must be at least 0 (got {args.radius})")
    if fmt == "png" and not args.output:
        raise UsageError("--format png needs --output FILE")
    if fmt in ("svg", "png"):
        from ..pictures.dot import NoGraphviz, missing

        no_dot = missing()
        if no_dot:
            raise NoGraphviz(f"--format {fmt}: {no_dot}; --format dot or json need no Graphviz")
    if args.output:
        from .paths import file_problem

        problem = file_problem("--output", args.output)
        if problem:
            raise UsageError(problem)

    if args.counterexamples < 1:
        raise UsageError(f"--counterexamples must be at least 1 (got {args.counterexamples})")
    stop = args.counterexamples if args.counterexample_only else None
    graph = explore(model, max_nodes=args.max_states, stop_after_violations=stop)
    # `is`, not `in`: max_log=0 must show, and 0 == False.
    shown = " ".join(f"{k}={v}" for k, v in parameters.items() if v is not None and v is not False)
    size = f"{graph.total_nodes:,}{'' if graph.complete else '+'} states"

    if args.quotient is not None:
        name = args.quotient
        q = quotient(graph, lambda s: diagrams.project(name, s), name)
        if len(q.groups) > args.node_limit:
            return _too_large(
                graph, model, args, f"the quotient by {name} would have {len(q.groups):,} groups"
            )
        if fmt == "json":
            data = {
                "parameters": parameters,
                **quotient_to_json(q, lambda k: " ".join(diagrams.projection_lines(name, k))),
            }
            return _write_text(args.output, json.dumps(data, indent=1))
        dot = quotient_to_dot(q, lambda k: diagrams.projection_lines(name, k))
        dot.attr(label=f"Raft: {size} grouped by {name} into {len(q.groups)} groups\n{shown}")
        return _write_dot(dot, fmt, args.output)

    view = graph
    what = "state graph"
    if args.around is not None:
        if args.around not in graph.nodes:
            raise UsageError(
                f"--around: no state {args.around} (ids run from 0 to {graph.total_nodes - 1})"
            )
        view = graph.restrict(graph.neighbourhood(args.around, args.radius))
        what = f"neighbourhood of #{args.around} within {args.radius} steps"
    elif args.counterexample_only:
        bad = graph.violating_ids()[: args.counterexamples]
        ids: set[int] = set()
        for target in bad:
            ids.update(graph.path_to(target))
        view = graph.restrict(ids)
        what = f"shortest path to {len(bad)} violating state" + ("s" if len(bad) != 1 else "")
    if len(view.nodes) > args.node_limit:
        plus = "" if graph.complete or view is not graph else "+"
        count = f"{len(view.nodes):,}{plus}"
        return _too_large(graph, model, args, f"the {what} would have {count} states")

    if fmt == "json":
        data = {
            "parameters": parameters,
            "view": what,
            **graph_to_json(view, model.describe, model.format_label, _summary),
        }
        return _write_text(args.output, json.dumps(data, indent=1))
    title = f"Raft: {what}, {len(view.nodes):,} of {size}\n{shown}"
    dot = graph_to_dot(view, diagrams.state_lines, diagrams.short_label, title)
    return _write_dot(dot, fmt, args.output)


def _summary(state: Any) -> str:
    from ..pictures.diagrams import state_lines

    return "\n".join(state_lines(state))


def _too_large(graph: Any, model: Any, args: argparse.Namespace, what: str) -> int:
    """Say how large the graph is and how large each smaller view of it would be."""
    from ..engine.graph import quotient
    from ..pictures.diagrams import PROJECTIONS, project

    limit = args.node_limit
    if graph.complete:
        size = f"The whole graph has {graph.total_nodes:,} states and {graph.total_edges:,} edges."
    else:
        size = (
            f"The search stopped at --max-states {args.max_states:,}: the whole graph is larger; "
            "the figures below are for the states found."
        )
    lines = [
        f"raftmc graph: {what}, more than --node-limit {limit}; nothing written.",
        size,
        "Draw a part of it instead:",
    ]
    center = args.around if args.around is not None else 0
    for radius in (1, 2, 3, 4, 6, 8, 12, 16):
        n = len(graph.neighbourhood(center, radius))
        fits = "" if n <= limit else "  (too large)"
        lines.append(f"  --around {center} --radius {radius:<2}  {n:>7,} states{fits}")
        if n > limit:
            break
    bad = graph.violating_ids()
    if bad:
        n = len(graph.path_to(bad[0]))
        fits = "" if n <= limit else "  (too large)"
        lines.append(
            f"  --counterexample-only    {n:>7,} states on the path to the first of "
            f"{len(bad)} violating states{fits}"
        )
    else:
        none = "no state violates a property" if graph.complete else "none among these states"
        lines.append(f"  --counterexample-only    ({none})")
    for name in PROJECTIONS:
        n = len(quotient(graph, lambda s, name=name: project(name, s), name).groups)
        fits = "" if n <= limit else "  (too large)"
        group = "group" if n == 1 else "groups"
        lines.append(f"  --quotient {name:<13} {n:>7,} {group}{fits}")
    lines.append(
        f"or raise --node-limit (Graphviz takes long on thousands of nodes; {limit} "
        "is about what a person can read)."
    )
    sys.stderr.write("\n".join(lines) + "\n")
    return EXIT_TOO_LARGE


def _write_text(output: str | None, text: str) -> int:
    if output:
        from ..pictures.files import write_file

        write_file(output, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


def _write_dot(dot: Any, fmt: str, output: str | None) -> int:
    if fmt == "dot":
        return _write_text(output, dot.source)
    if fmt == "svg":
        from ..pictures.diagrams import render_svg

        return _write_text(output, render_svg(dot))
    from ..pictures.dot import pipe
    from ..pictures.files import write_file

    assert output is not None
    write_file(output, pipe(dot, fmt))
    return 0
