"""``raftmc check``: explore every reachable state within the bounds and check every property.

The run uses the compiled form of the spec (:mod:`..compiled`) unless ``--reference`` asks for
the readable one, or an option, ``--z3`` or ``--exact-store`` needs it; the search options
(``--workers``, checkpoints, Ray) go to the engine's :class:`~..engine.Options`, which checks
them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from ...spec.liveness import liveness_finding
from ...spec.mutants import ALL_MUTANTS
from ..engine import Options, OptionsError, check
from ..engine.progress import progress_for
from ..engine.result import Result
from .errors import EXIT_STATUS_HELP, UsageError, check_max_seconds, exit_status, flag
from .model_flags import add_model_flags, parameters_json, params_from_args
from .summary import print_counterexample, print_summary, result_to_json


def add_command(commands: Any) -> None:
    """Add ``check`` to ``raftmc``'s subparsers."""
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
    _add_outputs(chk)
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
    run.add_argument(
        "--z3",
        action="store_true",
        help=(
            "also evaluate every invariant on every state with its Z3 formula and stop with an "
            "internal error if Python and Z3 disagree; slower (default: off)"
        ),
    )
    run.add_argument(
        "--liveness",
        choices=("on", "off", "only"),
        default=None,
        help=(
            "the temporal properties (spec/liveness.py): 'on' checks them after a safety search "
            "that found nothing, 'only' checks them alone, 'off' skips them. Their graph keeps "
            "every step, so 'on' costs several times the safety search (default: off; "
            "'only' for a mutant that is a liveness bug, at the bounds that show it)"
        ),
    )
    run.add_argument(
        "--invariant",
        action="append",
        metavar="NAME",
        default=None,
        help=(
            "check only this invariant or action property, as TLC's INVARIANT in a cfg; "
            "repeat for several. The others are not evaluated, so the search can go past a "
            "state that breaks one. The compiled spec runs it where every property named has "
            "a compiled form (default: every property)"
        ),
    )
    run.add_argument(
        "--reference",
        action="store_true",
        help=(
            "run the readable spec (spec/actions.py) instead of its compiled form; same "
            "counts and verdicts, several times slower (default: off)"
        ),
    )
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=1,
        help="worker processes, each owning a share of the fingerprint space (default: 1)",
    )
    run.add_argument(
        "--frontier-budget",
        type=int,
        metavar="N",
        default=None,
        help="states of the next level kept in memory before spilling to disk (default: 4000000)",
    )
    run.add_argument(
        "--spill-dir",
        metavar="DIR",
        default=None,
        help="where the frontier and parent links are written (default: the system temp dir)",
    )
    run.add_argument(
        "--checkpoint",
        metavar="DIR",
        default=None,
        help="write a checkpoint into DIR at level boundaries (default: none)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="S",
        default=60.0,
        help="seconds between checkpoints; 0: at every level (default: 60)",
    )
    run.add_argument(
        "--resume",
        metavar="DIR",
        default=None,
        help="carry on from the newest checkpoint in DIR, with the same flags (default: none)",
    )
    run.add_argument(
        "--ray",
        metavar="ADDRESS",
        default=None,
        help="run the shares (--workers of them) as actors on the Ray cluster at ADDRESS, or "
        "on a local one with 'auto' (needs the ray extra; default: off)",
    )
    chk.set_defaults(run=run_check)


def _add_outputs(parser: Any) -> None:
    """Add ``--report DIR`` and ``--itf FILE`` to ``raftmc check``."""
    out = parser.add_argument_group("reports")
    out.add_argument(
        "--report",
        metavar="DIR",
        default=None,
        help="write an HTML report (summary, coverage, a violation step by step with pictures) "
        "into DIR; it needs nothing outside DIR (default: none)",
    )
    out.add_argument(
        "--itf",
        metavar="FILE",
        default=None,
        help="write the counterexample in the Informal Trace Format (Apalache, Quint) "
        "(default: none)",
    )


def run_check(args: argparse.Namespace) -> int:
    """Run ``raftmc check``; the exit status."""
    check_max_seconds(args.max_seconds)
    finding = liveness_finding(args.mutant) if args.liveness is None else None
    liveness = args.liveness or ("only" if finding else "off")
    params = params_from_args(args, finding.bounds if finding else None)
    mutant_checks = _mutant_checks(args, finding is not None)
    problem = _paths_problem(args) or _ray_problem(args.ray)
    if problem:
        raise UsageError(problem)
    if args.report:
        from ..pictures.dot import missing

        no_dot = missing()
        if no_dot:
            # Said before the search, so nobody waits for a report to find this out; the
            # report is still written (see pictures/report.py).
            sys.stderr.write(f"raftmc: --report: no cluster diagrams: {no_dot}\n")
    options = _options(args)
    model = make_model(params, args)
    try:
        options.validate(model)
    except OptionsError as exc:
        raise UsageError(_flag_message(exc, args)) from None
    if args.resume:
        _verify_checkpoint(model, args)
    form = model_form(model)
    if args.z3:
        from .symbolic import wrap_model

        model = wrap_model(model, params, workers=args.workers)
    parameters = parameters_json(params, args)

    console = Console(highlight=False)
    if not args.json:
        shown = " ".join(
            f"{k}={v}" for k, v in parameters.items() if v is not None and k != "mutant"
        )
        mutant = f", mutant {params.mutant}" if params.mutant else ""
        console.print(Text(f"raftmc: checking Raft{mutant}: {shown}"), soft_wrap=True)
        console.print(Text(f"raftmc: exploring the {form}"), soft_wrap=True)
        if mutant_checks:
            console.print(Text(
                f"raftmc: checking {', '.join(mutant_checks)} only, as {params.mutant} names "
                "(a cfg's INVARIANT lines; --invariant to choose others)"), soft_wrap=True)
        if finding:
            console.print(Text(
                f"raftmc: {params.mutant} is a liveness bug ({finding.breaks}): checking the "
                "temporal properties alone, at the bounds that show it (--liveness on for the "
                "safety search at the mutant's safety bounds)"), soft_wrap=True)

    result = _search(model, options, args, liveness)

    if args.json:
        out = result_to_json(result, model, parameters)
        out["form"] = form
        if args.invariant:
            out["checked_only"] = list(args.invariant)
        if args.z3:
            from .symbolic import check_z3_figures

            out["z3"] = check_z3_figures(model, result)
        print(json.dumps(out))
    else:
        print_counterexample(result, model, console)
        print_summary(result, console)
        if args.z3:
            from .symbolic import print_check_z3

            print_check_z3(model, result, console)
    _write_outputs(args, result, model, parameters)
    return exit_status(result)


def _mutant_checks(args: argparse.Namespace, liveness_bug: bool) -> tuple[str, ...]:
    """The properties the mutant's safety run checks when ``--invariant`` names none (set into
    ``args.invariant``); () when it checks every one."""
    if args.invariant or args.mutant is None or liveness_bug:
        return ()
    checks = ALL_MUTANTS[args.mutant].checks
    if checks:
        args.invariant = list(checks)
    return checks


def _search(model: Any, options: Options, args: argparse.Namespace, liveness: str) -> Result:
    """The safety search, the liveness check, or the one after the other (the liveness check
    only when the search found nothing: a model that breaks an invariant is fixed first)."""
    result = None
    if liveness != "only":
        progress = progress_for(sys.stderr, enabled=not args.json)
        try:
            result = check(model, options, progress=progress)
        finally:
            if progress is not None:
                progress.close()
        if liveness == "off":
            return result
        if result.result != "ok":
            if not args.json:
                sys.stderr.write(
                    f"raftmc: temporal properties not checked: the safety search ended with "
                    f"{result.result} ('--liveness only' checks them alone)\n"
                )
            return result
    from ..engine.liveness import check_liveness

    progress = progress_for(sys.stderr, enabled=not args.json)
    try:
        live = check_liveness(
            model,
            store=options.store,
            symmetry=True,
            max_states=args.max_states,
            max_seconds=args.max_seconds,
            spill_dir=args.spill_dir,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
    if result is None:
        result = Result(
            result="ok",
            distinct_states=live.states,
            states_generated=live.generated,
            depth=live.depth,
            seconds=live.seconds,
            coverage={},
            sometimes={},
            store=options.store,
        )
    result.add_liveness(live)
    return result


def _options(args: argparse.Namespace) -> Options:
    """The engine's options from the flags (checked against the model by ``run_check``)."""
    try:
        options = Options(
            store="exact" if args.exact_store else "fingerprint",
            max_states=args.max_states,
            max_seconds=args.max_seconds,
            workers=args.workers,
            frontier_budget=args.frontier_budget,
            spill_dir=args.spill_dir,
            checkpoint=args.resume or args.checkpoint,
            checkpoint_every=args.checkpoint_every,
            resume=bool(args.resume),
            ray=args.ray,
        )
        options.validate()
    except OptionsError as exc:
        raise UsageError(_flag_message(exc, args)) from None
    if args.checkpoint and args.resume and args.checkpoint != args.resume:
        raise UsageError(
            "--resume DIR goes on checkpointing into DIR: leave out --checkpoint or give DIR"
        )
    return options


def _flag_message(exc: OptionsError, args: argparse.Namespace) -> str:
    """An engine option's refusal, in the words of the command line."""
    if exc.option == "checkpoint" and args.resume and not args.checkpoint:
        return f"--resume {exc.message}"
    if exc.option == "workers" and "batch protocol" in exc.message:
        return "--workers needs the compiled model (not with --reference or --exact-store)"
    if exc.option in ("checkpoint", "ray") and "batch protocol" in exc.message:
        return (
            "--checkpoint, --resume and --ray need the compiled model (not with --reference, "
            "--exact-store or --z3)"
        )
    if exc.option == "checkpoint" and "ray" in exc.message:
        return "--checkpoint and --resume with --workers N need --ray (e.g. --ray auto)"
    return f"{flag(exc.option)} {exc.message}"


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

    for name, attr in (
        ("--spill-dir", "spill_dir"),
        ("--checkpoint", "checkpoint"),
        ("--resume", "resume"),
        ("--report", "report"),
    ):
        path = getattr(args, attr, None)
        problem = path and directory_problem(name, path)
        if problem:
            return problem
    itf = getattr(args, "itf", None)
    return file_problem("--itf", itf) if itf else None


def compiled_applies(params: Any, args: argparse.Namespace) -> bool:
    """True when the run can use the compiled model: raft.tla's actions (with or without
    history, ghost, faults, mutants, membership); the options of ``spec/options.py``, Z3
    cross-checks and the exact store use the readable spec."""
    return not (
        args.reference
        or args.exact_store
        or getattr(params, "options_on", False)
        or getattr(args, "z3", False)
    )


def make_model(params: Any, args: argparse.Namespace) -> Any:
    """The model for a check run: compiled by default, readable with ``--reference``, with an
    option the compiled form does not cover, or a property it has no form of (said on stderr:
    the run is then several times slower)."""
    narrowed = args.invariant or getattr(params, "membership", False)
    if narrowed and (args.workers > 1 or args.checkpoint or args.resume or args.ray):
        raise UsageError(
            "--workers, --checkpoint, --resume and --ray do not run --invariant or "
            "--membership: one process does"
        )
    if compiled_applies(params, args):
        from ..compiled import FastRaftModel, Uncompiled

        try:
            return FastRaftModel(params, symmetry=args.symmetry, only=args.invariant)
        except ValueError as exc:
            raise UsageError(f"--invariant: {exc}") from None
        except Uncompiled as exc:
            if args.workers > 1 or args.checkpoint or args.resume or args.ray:
                raise UsageError(
                    f"--workers, --checkpoint, --resume and --ray need the compiled model: {exc}"
                ) from None
            if not args.json:
                sys.stderr.write(f"raftmc: {exc}; running the readable spec (slower)\n")
    elif args.workers > 1 or args.checkpoint or args.resume or args.ray:
        if getattr(params, "extended", False):
            raise UsageError(
                "--workers, --checkpoint, --resume and --ray need the compiled model, which does "
                "not cover these options"
            )
    from ...spec.model import RaftModel

    model = RaftModel(params, symmetry=args.symmetry)
    if not args.invariant:
        return model
    from ..engine import CheckingOnly

    try:
        return CheckingOnly(model, args.invariant)
    except ValueError as exc:
        raise UsageError(f"--invariant: {exc}") from None


def model_form(model: Any) -> str:
    """Which form of the spec a run explores, said because a figure means little without it:
    the compiled form's loop runs in C only where the extension was built (a compiler at
    install time) and ``$RAFTKIT_PURE_PYTHON`` does not switch it off."""
    compiled = getattr(model, "compiled", None)
    if compiled is None:
        return "readable spec (spec/actions.py)"
    if getattr(compiled, "native", False):
        return "compiled spec, C loop"
    return "compiled spec, Python loop"


def _verify_checkpoint(model: Any, args: argparse.Namespace) -> None:
    """Refuse a checkpoint that cannot be resumed before the run starts, in one line."""
    from ..engine.checkpoint import CheckpointError, load
    from ..engine.distributed.sharded import identity

    try:
        load(args.resume, identity(model, args.workers))
    except CheckpointError as exc:
        raise UsageError(f"--resume: {exc}") from None


def _write_outputs(
    args: argparse.Namespace, result: Result, model: Any, parameters: dict[str, Any]
) -> None:
    """Write what ``--report`` and ``--itf`` asked for; a note on stderr for each file."""
    if getattr(args, "report", None):
        from ..pictures.report import write_report

        index = write_report(args.report, result, model, parameters)
        sys.stderr.write(f"raftmc: report written to {index}\n")
    if getattr(args, "itf", None):
        if result.violation is None:
            sys.stderr.write(f"raftmc: no counterexample, so nothing written to {args.itf}\n")
        else:
            from ..pictures.itf import write_itf
            from ..pictures.report import spec_steps

            write_itf(
                args.itf,
                spec_steps(model, list(result.violation.trace)),
                format_label=model.format_label,
                describe=model.describe,
                description=f"counterexample to {result.violation.property}",
                parameters=parameters,
                loop=result.violation.loop,
            )
            sys.stderr.write(f"raftmc: counterexample written to {args.itf} (ITF)\n")
