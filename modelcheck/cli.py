"""``raftmc``: model-check the Raft spec from the command line.

Exit status: 0 every property holds, 1 a property is violated, 2 bad usage (unknown flag, bad
value, impossible bounds), 3 the search stopped early (a limit was hit, or Ctrl-C).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from . import cli_fast
from .checkpoint import CheckpointError
from .cli_graph import (
    GraphUsageError,
    add_check_outputs,
    add_graph_command,
    run_graph,
    write_check_outputs,
)
from .engine import check
from .paths import io_message
from .progress import progress_for
from .result import Result
from .summary import print_counterexample, print_summary, result_to_json

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_IO = 4

EXIT_STATUS_HELP = """\
exit status:
  0  every invariant and action property holds in every reachable state
  1  a property is violated (a shortest counterexample is printed)
  2  bad usage: unknown flag, bad value or impossible bounds
  3  incomplete: --max-states or --max-seconds was hit, or the run was interrupted
  4  a file could not be read or written during the run (disk full, a checkpoint refused)
"""

# The Params fields that are flags of `raftmc check`, with what each means. Defaults are read
# from the Params dataclass so the help can never disagree with the spec.
_PARAM_FLAGS: tuple[tuple[str, str], ...] = (
    ("servers", "number of servers"),
    ("values", "number of distinct client values"),
    ("max_term", "bound: no server's currentTerm exceeds this"),
    ("max_log", "bound: no log is longer than this"),
    ("max_dup", "bound: copies of one message in the network"),
    ("max_inflight", "bound: distinct messages in the network"),
    ("faults", "include Restart, DuplicateMessage and DropMessage"),
    ("history", "keep raft.tla's history variables (elections, allLogs, voterLog, mlog)"),
    ("ghost", "keep ghost variables (who was elected, what was committed)"),
    ("batch", "option: up to N entries per AppendEntries, any anchor (0: raft.tla's rule)"),
    ("prevote", "option: PreVote before elections (dissertation 9.6)"),
    ("noop", "option: a new leader appends a no-op entry (dissertation 6.4)"),
    ("snapshots", "option: log compaction and InstallSnapshot (needs --batch)"),
    ("stepdown", "option: leaders and candidates may return to follower in their term"),
)


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit status 2."""


def check_max_seconds(value: float | None) -> None:
    """Refuse a ``--max-seconds`` that is not positive (every command that takes it)."""
    if value is not None and not value > 0:
        raise UsageError(f"--max-seconds must be positive (got {value})")


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit status 2.

    argparse's own ``error`` prints the whole usage first; a reader wants the one thing wrong.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``raftmc: error: MESSAGE`` and exit with status 2."""
        sys.stderr.write(f"raftmc: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _spec() -> tuple[Any, Any, Any]:
    """Params, RaftModel and MUTANTS, imported when needed so `raftmc --help` stays cheap."""
    from ..spec.model import RaftModel
    from ..spec.mutants import MUTANTS
    from ..spec.params import Params

    return Params, RaftModel, MUTANTS


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """The model flags shared by ``check`` and ``graph``: bounds, mutant, symmetry."""
    params_cls, _, _ = _spec()
    defaults = {f.name: f.default for f in dataclasses.fields(params_cls)}
    model_group = parser.add_argument_group("model (defaults are the spec's)")
    for field, text in _PARAM_FLAGS:
        default = defaults[field]
        if isinstance(default, bool):
            model_group.add_argument(
                _flag(field),
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{text} (default: {'on' if default else 'off'})",
            )
        else:
            model_group.add_argument(
                _flag(field),
                type=int,
                default=None,
                metavar="N",
                help=f"{text} (default: {default})",
            )
    model_group.add_argument(
        "--mutant",
        metavar="NAME",
        default=None,
        help=(
            "check a known-bug variant of the spec (see `raftmc mutants`); bounds not given "
            "on the command line default to the mutant's suggested ones (default: none)"
        ),
    )
    model_group.add_argument(
        "--symmetry",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="reduce by permutations of the servers (default: on)",
    )


def build_parser() -> ArgumentParser:
    """The ``raftmc`` parser with its ``check``, ``graph`` and ``mutants`` commands."""
    parser = ArgumentParser(
        prog="raftmc",
        description="Model-check the Raft spec: breadth-first, every reachable state.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    chk = commands.add_parser(
        "check",
        help="explore every reachable state within the bounds and check every property",
        description=(
            "Explore every state of the Raft spec reachable within the bounds, breadth-first,\n"
            "and check its invariants, action properties and sometimes properties.\n"
            "Counts (distinct, generated, depth) are TLC's."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    add_model_flags(chk)
    add_check_outputs(chk)

    run = chk.add_argument_group("search")
    run.add_argument(
        "--max-states",
        type=int,
        metavar="N",
        default=None,
        help="stop (exit 3) once N distinct states are found (default: no limit)",
    )
    run.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        default=None,
        help="stop (exit 3) after S seconds (default: no limit)",
    )
    run.add_argument(
        "--exact-store",
        action="store_true",
        help="debug: store whole states instead of 64-bit fingerprints (more memory; default: off)",
    )
    run.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object instead of tables, and no progress line (default: off)",
    )
    # Imported here: cli_z3 reads this module's helpers, and Z3 loads only when used.
    from . import cli_z3

    cli_z3.add_check_flags(run)
    cli_fast.add_check_flags(run)
    cli_fast.add_bench_command(commands)

    add_graph_command(commands, add_model_flags)
    cli_z3.add_commands(commands, add_model_flags)

    from .cli_conform import add_conform_command

    add_conform_command(commands)

    mut = commands.add_parser(
        "mutants",
        help="list the known-bug variants of the spec and the property each breaks",
        description="List the known-bug variants (mutants) of the spec.",
        allow_abbrev=False,
    )
    mut.add_argument("--json", action="store_true", help="print a JSON array")
    return parser


def params_from_args(args: argparse.Namespace) -> Any:
    """The spec's Params for ``args``: flags given, else the mutant's bounds, else defaults.

    Raises :class:`UsageError` when the result is not a valid configuration.
    """
    params_cls, _, mutants = _spec()
    values: dict[str, Any] = {}
    if args.mutant is not None:
        from ..spec.mutants import ALL_MUTANTS

        # The options' mutants (spec/options.py) are selectable too, though not listed with
        # raft.tla's by `raftmc mutants`.
        mutants = ALL_MUTANTS
        if args.mutant not in mutants:
            known = ", ".join(sorted(mutants))
            raise UsageError(f"--mutant: unknown mutant {args.mutant!r} (known: {known})")
        values.update(mutants[args.mutant].bounds)
        values["mutant"] = args.mutant
    for field, _ in _PARAM_FLAGS:
        given = getattr(args, field)
        if given is not None:
            values[field] = given
    try:
        params = params_cls(**values)
        params.validate()
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return params


def _parameters_json(params: Any, args: argparse.Namespace) -> dict[str, Any]:
    out = dict(dataclasses.asdict(params))
    out["symmetry"] = args.symmetry
    return out


def _run_check(args: argparse.Namespace) -> int:
    if args.max_states is not None and args.max_states < 1:
        raise UsageError(f"--max-states must be at least 1 (got {args.max_states})")
    check_max_seconds(args.max_seconds)
    params = params_from_args(args)
    problem = cli_fast.validate(args)
    if problem:
        raise UsageError(problem)
    model = cli_fast.make_model(params, args)
    if args.z3:
        from . import cli_z3

        model = cli_z3.wrap_model(model, params, workers=args.workers)
    parameters = _parameters_json(params, args)

    console = Console(highlight=False)
    if not args.json:
        shown = " ".join(
            f"{k}={v}" for k, v in parameters.items() if v is not None and k != "mutant"
        )
        mutant = f", mutant {params.mutant}" if params.mutant else ""
        console.print(Text(f"raftmc: checking Raft{mutant}: {shown}"), soft_wrap=True)

    progress = progress_for(sys.stderr, enabled=not args.json)
    try:
        result = check(
            model,
            store="exact" if args.exact_store else "fingerprint",
            max_states=args.max_states,
            max_seconds=args.max_seconds,
            progress=progress,
            **cli_fast.check_options(args),
        )
    finally:
        if progress is not None:
            progress.close()

    if args.json:
        out = result_to_json(result, model, parameters)
        if args.z3:
            out["z3"] = cli_z3.check_z3_figures(model, result)
        print(json.dumps(out))
    else:
        print_counterexample(result, model, console)
        print_summary(result, console)
        if args.z3:
            cli_z3.print_check_z3(model, result, console)
    write_check_outputs(args, result, model, parameters)
    return exit_status(result)


def _run_graph(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    _, raft_model, _ = _spec()
    model = raft_model(params, symmetry=args.symmetry)
    return run_graph(args, model, _parameters_json(params, args))


def exit_status(result: Result) -> int:
    """0 for "ok", 1 for "violation", 3 for "incomplete"."""
    return {"ok": EXIT_OK, "violation": EXIT_VIOLATION}.get(result.result, EXIT_INCOMPLETE)


def _flags_for(bounds: dict[str, Any]) -> str:
    parts = []
    for field, value in bounds.items():
        if isinstance(value, bool):
            parts.append(_flag(field) if value else "--no-" + field.replace("_", "-"))
        else:
            parts.append(f"{_flag(field)} {value}")
    return " ".join(parts)


def _run_mutants(args: argparse.Namespace) -> int:
    _, _, mutants = _spec()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "breaks": m.breaks,
                        "description": m.description,
                        "bounds": dict(m.bounds),
                    }
                    for m in mutants.values()
                ]
            )
        )
        return EXIT_OK
    # Blocks rather than a table: descriptions are sentences, and a table squeezes them into
    # one-word columns on an 80-column terminal.
    console = Console(highlight=False)
    console.print(Text("Mutants: known-bug variants of the spec", style="bold"))
    for m in mutants.values():
        console.print()
        line = Text(m.name, style="bold")
        line.append(f"  breaks {m.breaks}")
        console.print(line)
        console.print(Padding(Text(m.description), (0, 0, 0, 2)))
        flags = _flags_for(dict(m.bounds))
        console.print(
            Text(
                f"  found by: raftmc check --mutant {m.name}"
                + (f"  (bounds {flags})" if flags else "")
            ),
            soft_wrap=True,
        )
    console.print()
    console.print(Text("A mutant's bounds become the defaults of `raftmc check --mutant NAME`."))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``raftmc`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return _run_check(args)
        if args.command == "bench":
            return cli_fast.run_bench(args)
        if args.command == "graph":
            return _run_graph(args)
        if args.command == "conform":
            from .cli_conform import run_conform

            return run_conform(args)
        if args.command in ("prove", "bmc"):
            from . import cli_z3

            return cli_z3.run(args)
        return _run_mutants(args)
    except (UsageError, GraphUsageError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        # The flags' paths were checked before the run (see paths.py); this is the disk
        # failing during it. What the run printed stays printed.
        sys.stderr.write(f"raftmc: error: {io_message(exc)}\n")
        return EXIT_IO
    except CheckpointError as exc:
        sys.stderr.write(f"raftmc: error: {exc}\n")
        return EXIT_IO


if __name__ == "__main__":
    sys.exit(main())
