"""The Z3 side of ``raftmc``: the ``prove`` and ``bmc`` commands, and what ``check --z3`` needs.

Z3 is imported only when one of them runs, so the explicit checker's command line does not load
it.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..engine.trace import trace_lines, trace_to_json
from .errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION, UsageError, check_max_seconds
from .model_flags import add_model_flags, params_from_args

#: How to get Z3, an extra: a ``raftkv`` user or one who only runs ``raftmc check`` needs none.
Z3_HINT = "pip install 'raftkit[z3]' (or pip install z3-solver)"


def add_commands(commands: Any) -> None:
    """The ``prove`` and ``bmc`` subcommands."""
    # The lemma sets live beside their Z3 formulas; without the z3 extra the help says how to
    # get them, and every other command still runs.
    try:
        from ..symbolic.lemmas import DEFAULT_LEMMAS
    except ImportError:
        shipped_sets = [f"  (they need Z3: {Z3_HINT})"]
    else:
        shipped_sets = [f"  {k}: {', '.join(v)}" for k, v in DEFAULT_LEMMAS.items()]

    fmt = argparse.RawDescriptionHelpFormatter
    prove = commands.add_parser(
        "prove",
        help="check with Z3 that an invariant (with helper lemmas) is inductive",
        description=(
            "Check with Z3 that INVARIANT and the lemmas together are inductive: they hold\n"
            "initially, and every step from ANY well-formed state within the bounds where they\n"
            "hold (reachable or not) leads to a state where they hold. If so, they hold in every\n"
            "reachable state, for behaviours of any length. If not, print a counterexample to\n"
            "induction: pre-state, action, post-state, and the property broken.\n\n"
            "Shipped lemma sets (used unless --lemma or --no-lemmas is given):\n"
            + "\n".join(shipped_sets)
        ),
        formatter_class=fmt,
        allow_abbrev=False,
    )
    prove.add_argument(
        "--invariant", metavar="NAME", required=True, help="the property to prove (required)"
    )
    prove.add_argument(
        "--lemma",
        metavar="NAME",
        action="append",
        default=None,
        help="a helper lemma to prove with it; repeat for several (default: the shipped set)",
    )
    prove.add_argument(
        "--no-lemmas", action="store_true", help="prove the invariant alone (default: off)"
    )
    prove.add_argument(
        "--integers",
        action="store_true",
        help=(
            "let Z3 solve the integer formulas instead of their bit-vector form: the same "
            "verdict, usually slower (faster on some bounds, e.g. --max-term 4) (default: off)"
        ),
    )
    prove.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        default=None,
        help="give up (exit 3, no verdict) after S seconds (default: no limit)",
    )
    add_model_flags(prove)
    prove.set_defaults(run=_run_prove)
    prove.add_argument("--json", action="store_true", help="print one JSON object (default: off)")

    bmc = commands.add_parser(
        "bmc",
        help="search with Z3 for a violation within K steps (bounded model checking)",
        description=(
            "Unroll the spec's transition relation K steps with Z3 and look, depth by depth, for\n"
            "a behaviour that breaks an invariant or an action property. The first one found is\n"
            "a shortest one (the same length the breadth-first checker finds); it is replayed\n"
            "through the explicit spec before it is printed."
        ),
        formatter_class=fmt,
        allow_abbrev=False,
    )
    bmc.add_argument(
        "--depth", type=int, metavar="K", default=10, help="steps to search (default: 10)"
    )
    bmc.add_argument(
        "--from-depth",
        type=int,
        metavar="J",
        default=0,
        help=(
            "ask only about depths J..K: shallower ones are unrolled, not searched, so a\n"
            "counterexample found is shortest only among those of at least J steps; for when a\n"
            "breadth-first run already showed nothing breaks sooner (default: 0)"
        ),
    )
    bmc.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        default=None,
        help=(
            "stop (exit 3) after S seconds, the lemma search and a query in progress\n"
            "included (default: no limit)"
        ),
    )
    bmc.add_argument(
        "--reach",
        metavar="NAME",
        default=None,
        help=(
            "instead, find a shortest behaviour reaching a sometimes property "
            "(LeaderElected, EntryCommitted) (default: none)"
        ),
    )
    bmc.add_argument(
        "--no-lemmas",
        action="store_true",
        help=(
            "do not require every state to satisfy the inductive invariants and lemmas found "
            "first (Houdini); they hold in every reachable state, so the answer is the same, "
            "only slower to reach (default: off)"
        ),
    )
    add_model_flags(bmc)
    bmc.set_defaults(run=_run_bmc)
    bmc.add_argument("--json", action="store_true", help="print one JSON object (default: off)")


def need_z3(command: str) -> None:
    """Refuse, in one line, a Z3 command when z3-solver is not installed (it is an extra: a
    ``raftkv`` user or one who only runs ``raftmc check`` does not need it)."""
    if importlib.util.find_spec("z3") is None:
        raise UsageError(f"{command} needs Z3, which is not installed: {Z3_HINT}")


def wrap_model(model: Any, params: Any, workers: int = 1) -> Any:
    """The model with every invariant also evaluated by Z3 (``check --z3``)."""
    need_z3("--z3")
    if workers > 1:
        raise UsageError("--z3: runs in one process (not with --workers)")
    from ..symbolic.actions import SymbolicUnsupported
    from ..symbolic.check import Z3CheckedModel

    if params.ghost:
        raise UsageError("--z3: the ghost forms of the properties have no Z3 formula yet")
    if getattr(params, "membership", False):
        from ..symbolic.bmc import MEMBERSHIP_UNSUPPORTED

        raise UsageError(MEMBERSHIP_UNSUPPORTED)
    if getattr(params, "extended", False):
        raise UsageError("--z3: the options beyond raft.tla have no symbolic encoding")
    try:
        return Z3CheckedModel(model, params)
    except (KeyError, SymbolicUnsupported) as exc:
        raise UsageError(f"--z3: {exc}") from None


def check_z3_figures(model: Any, result: Any) -> dict[str, Any]:
    """How much Z3 cost in a ``check --z3`` run: states, seconds and the slow-down."""
    stats = model.stats
    seconds = result.seconds
    without = max(seconds - stats.seconds, 1e-9)
    return {
        "states_evaluated": stats.states,
        "invariants": len(model.evaluator.names),
        "z3_seconds": round(stats.seconds, 3),
        "distinct_per_second_with_z3": round(result.distinct_states / max(seconds, 1e-9), 1),
        "distinct_per_second_without_z3": round(result.distinct_states / without, 1),
        "slowdown": round(seconds / without, 2),
        "z3_ms_per_state": round(1000 * stats.seconds / max(stats.states, 1), 3),
    }


def print_check_z3(model: Any, result: Any, console: Console) -> None:
    """A line after the summary of ``check --z3``: what Z3 checked and how much slower it was."""
    f = check_z3_figures(model, result)
    console.print(
        Text(
            f"Z3 agreed with Python on {f['invariants']} invariants in each of "
            f"{f['states_evaluated']:,} states ({f['z3_ms_per_state']} ms per state): "
            f"{f['distinct_per_second_with_z3']:,} distinct states/s with Z3, "
            f"{f['distinct_per_second_without_z3']:,} without (this run less its Z3 time): "
            f"{f['slowdown']}x slower."
        ),
        soft_wrap=True,
    )


def _parameters(params: Any) -> dict[str, Any]:
    return dict(dataclasses.asdict(params))


def _step_lines(model: Any, trace: list[Any], first: str) -> list[str]:
    lines = trace_lines(model, trace)
    lines[0] = f"1. {first}"
    return lines


def _run_prove(args: argparse.Namespace) -> int:
    need_z3("raftmc prove")
    from ..symbolic.actions import SymbolicUnsupported
    from ..symbolic.lemmas import DEFAULT_LEMMAS, LEMMAS
    from ..symbolic.prove import known_names, prove

    names = known_names()
    if args.invariant not in names:
        raise UsageError(
            f"--invariant: unknown property {args.invariant!r} (known: {', '.join(names)})"
        )
    if args.no_lemmas and args.lemma:
        raise UsageError("--no-lemmas: cannot be combined with --lemma")
    check_max_seconds(args.max_seconds)
    for lemma in args.lemma or ():
        if lemma not in names:
            raise UsageError(f"--lemma: unknown lemma {lemma!r} (known: {', '.join(names)})")
    if args.no_lemmas:
        lemmas: list[str] = []
    elif args.lemma:
        lemmas = list(args.lemma)
    else:
        lemmas = list(DEFAULT_LEMMAS.get(args.invariant, ()))
    params = params_from_args(args)
    from ...spec.model import RaftModel as raft_model
    model = raft_model(params, symmetry=False)
    try:
        r = prove(
            params, args.invariant, lemmas, timeout=args.max_seconds, bitvec=not args.integers
        )
    except SymbolicUnsupported as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        sys.stderr.write("raftmc: interrupted: no verdict\n")
        return EXIT_INCOMPLETE
    except TimeoutError:
        if args.json:
            print(
                json.dumps(
                    {
                        "result": "incomplete",
                        "stopped_by": "max_seconds",
                        "invariant": args.invariant,
                        "lemmas": lemmas,
                        "parameters": _parameters(params),
                    }
                )
            )
        else:
            sys.stderr.write(f"raftmc: no verdict within --max-seconds {args.max_seconds:g}\n")
        return EXIT_INCOMPLETE
    status = EXIT_OK if r.result == "proved" else EXIT_VIOLATION
    if args.json:
        out: dict[str, Any] = {
            "result": r.result,
            "invariant": r.invariant,
            "lemmas": r.lemmas,
            "seconds": round(r.seconds, 3),
            "solver": "integers" if args.integers else "bit-vectors",
            "parameters": _parameters(params),
        }
        if r.result != "proved":
            out["broken"] = r.broken
            out["trace"] = trace_to_json(model, r.cti)
            out["replays"] = r.replayed
        print(json.dumps(out))
        return status

    console = Console(highlight=False)
    shown = " ".join(f"{k}={v}" for k, v in _parameters(params).items() if v is not None)
    with_lemmas = f" with lemmas {', '.join(lemmas)}" if lemmas else " alone"
    console.print(Text(f"raftmc: proving {args.invariant}{with_lemmas}: {shown}"), soft_wrap=True)
    if r.result == "proved":
        console.print(
            Text(
                f"{args.invariant}{with_lemmas} is inductive ({r.seconds:.1f} s): it holds "
                "initially, and every step from any well-formed state within the bounds where "
                "it holds leads to a state where it holds. So it holds in every reachable state "
                "within the bounds, for behaviours of any length.",
                style="bold green",
            ),
            soft_wrap=True,
        )
        return status
    if r.result == "base":
        line = f"The initial state breaks {', '.join(r.broken)}."
        console.print(Text(line, style="bold red"), soft_wrap=True)
        return status
    console.print(
        Text(
            f"Not inductive ({r.seconds:.1f} s): a counterexample to induction breaks "
            f"{', '.join(r.broken)}:",
            style="bold red",
        ),
        soft_wrap=True,  # one line, so that grepping the headline finds what it breaks
    )
    for line in _step_lines(
        model, r.cti, "A well-formed state within the bounds where every conjunct holds"
    ):
        console.print(Text(line), soft_wrap=True)
    console.print()
    real = "replays" if r.replayed else "does NOT replay (an encoding bug: please report)"
    console.print(Text(f"The step {real} through the explicit spec.", style="dim"), soft_wrap=True)
    hints = [n for n in LEMMAS if n not in lemmas and n != args.invariant]
    console.print(
        Text(
            "If the first state is unreachable, a lemma that rules it out is missing "
            "(--lemma NAME; shipped: " + ", ".join(hints or ["none left"]) + "); "
            "if it is reachable, the property is broken (try `raftmc bmc`)."
        ),
        soft_wrap=True,
    )
    return status


def _run_bmc(args: argparse.Namespace) -> int:
    need_z3("raftmc bmc")
    from ..symbolic.actions import SymbolicUnsupported
    from ..symbolic.bmc import bmc, check_supported

    if args.depth < 0:
        raise UsageError(f"--depth must be at least 0 (got {args.depth})")
    if not 0 <= args.from_depth <= args.depth:
        raise UsageError(
            f"--from-depth must be between 0 and --depth {args.depth} (got {args.from_depth})"
        )
    check_max_seconds(args.max_seconds)
    from ..symbolic.properties import SOMETIMES

    if args.reach is not None and args.reach not in SOMETIMES:
        raise UsageError(
            f"--reach: unknown property {args.reach!r} (known: {', '.join(SOMETIMES)})"
        )
    params = params_from_args(args)
    try:
        check_supported(params)  # before the header: a refusal is then the only line
    except SymbolicUnsupported as exc:
        raise UsageError(str(exc)) from None
    from ...spec.model import RaftModel as raft_model
    model = raft_model(params, symmetry=False)
    console = Console(highlight=False, stderr=True)

    def progress(depth: int, seconds: float) -> None:
        if not args.json:
            console.print(Text(f"  depth {depth} done ({seconds:.1f} s)", style="dim"))

    def lemmas_found(names: list[str], seconds: float) -> None:
        if not args.json:
            line = f"  {len(names)} inductive lemmas found in {seconds:.1f} s"
            console.print(Text(line, style="dim"))

    if not args.json:
        shown = " ".join(f"{k}={v}" for k, v in _parameters(params).items() if v is not None)
        span = (
            f"depths {args.from_depth} to {args.depth}"
            if args.from_depth
            else (f"to depth {args.depth}")
        )
        Console(highlight=False).print(
            Text(f"raftmc: bounded model checking {span}: {shown}"), soft_wrap=True
        )
        if not args.no_lemmas:
            line = "  finding the inductive lemmas each state must satisfy"
            console.print(Text(line, style="dim"))
    try:
        r = bmc(
            params,
            args.depth,
            reach=args.reach,
            max_seconds=args.max_seconds,
            progress=progress,
            start=args.from_depth,
            strengthen=not args.no_lemmas,
            lemmas_found=lemmas_found,
        )
    except SymbolicUnsupported as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:  # bmc() turns one into a result; this is before it began
        sys.stderr.write("raftmc: interrupted: no verdict\n")
        return EXIT_INCOMPLETE
    status = {"violation": EXIT_VIOLATION, "ok": EXIT_OK}.get(r.result, EXIT_INCOMPLETE)
    if args.json:
        out: dict[str, Any] = {
            "result": r.result,
            "depth": r.depth,
            "from_depth": r.start,
            "stopped_by": r.stopped_by or None,
            "seconds": round(r.seconds, 3),
            "per_depth_seconds": [round(x, 3) for x in r.per_depth],
            "lemmas": r.lemmas,
            "lemma_seconds": round(r.lemma_seconds, 3),
            "parameters": _parameters(params),
        }
        if r.violation is not None:
            out["violation"] = {
                "property": r.violation.property,
                "kind": r.violation.kind,
                "trace": trace_to_json(model, r.violation.trace),
            }
        print(json.dumps(out))
        return status
    out_console = Console(highlight=False)
    if r.violation is not None:
        v = r.violation
        kind = "Invariant" if v.kind == "invariant" else "Action property"
        where = "in the last state" if v.kind == "invariant" else "by the last step"
        headline = f"{kind} {v.property} is violated {where}"
        if v.kind == "witness":
            headline = f"{v.property} is reached in the last state"
        shortest = (
            "a shortest behaviour"
            if not r.start
            else (f"a shortest behaviour of at least {r.start} steps (fewer were not searched)")
        )
        out_console.print(
            Text(
                f"{headline}; {shortest} "
                f"({len(v.trace)} states, replayed through the explicit spec):",
                style="bold red",
            ),
            soft_wrap=True,
        )
        for line in trace_lines(model, v.trace):
            out_console.print(Text(line), soft_wrap=True)
        out_console.print()
    table = Table(title="Bounded model checking", show_header=False)
    table.add_row("depth searched", str(r.depth) if r.depth >= 0 else "none")
    if r.start:
        table.add_row("searched from depth", str(r.start))
    table.add_row("seconds", f"{r.seconds:.2f}")
    # Stopped before any depth with no lemmas: stopped while finding them.
    in_lemma_search = not args.no_lemmas and r.depth < 0 and not r.lemmas
    if in_lemma_search and r.result == "incomplete":
        table.add_row("inductive lemmas required", f"not found in {r.lemma_seconds:.1f} s")
    elif not args.no_lemmas:
        table.add_row(
            "inductive lemmas required",
            f"{len(r.lemmas)}, found in {r.lemma_seconds:.1f} s (--no-lemmas: none)",
        )
    out_console.print(table)
    verdict = {
        "violation": ("bold red", f"found at depth {r.depth} ({r.depth + 1} states)"),
        "ok": (
            "bold green",
            f"nothing found in any behaviour of {r.start} to {r.depth} steps"
            if r.start
            else f"nothing found in any behaviour of at most {r.depth} steps",
        ),
        "incomplete": (
            "bold yellow",
            f"incomplete: {'interrupted' if r.stopped_by == 'interrupted' else 'time limit'} "
            + (
                f"after depth {r.depth}"
                if r.depth >= 0
                else "before the first depth"
                + (" (finding the lemmas)" if in_lemma_search else "")
            ),
        ),
    }[r.result]
    out_console.print(Text(verdict[1], style=verdict[0]))
    return status
