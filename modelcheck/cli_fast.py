"""``raftmc check`` flags for the compiled model and the parallel search.

Kept apart from :mod:`.cli` so the main command line stays readable: this module decides which
form of the spec a run uses (the compiled tables of ``spec/compiled.py`` by default, the
readable spec with ``--reference``) and passes ``--workers`` and the spill settings on.
"""

from __future__ import annotations

import argparse
from typing import Any


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


def validate(args: argparse.Namespace) -> str | None:
    """A one-line usage error, or None."""
    if args.workers < 1 or args.workers > 64:
        return f"--workers must be between 1 and 64 (got {args.workers})"
    if args.frontier_budget is not None and args.frontier_budget < 1000:
        return f"--frontier-budget must be at least 1000 (got {args.frontier_budget})"
    if args.workers > 1 and (args.reference or args.exact_store):
        return "--workers needs the compiled model (not with --reference or --exact-store)"
    return None


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

        return FastRaftModel(params, symmetry=args.symmetry)
    from ..spec.model import RaftModel

    return RaftModel(params, symmetry=args.symmetry)


def check_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of ``engine.check`` from the flags."""
    return {
        "workers": args.workers,
        "frontier_budget": args.frontier_budget,
        "spill_dir": args.spill_dir,
    }
