"""The model flags that ``check`` and ``graph`` share: the spec's bounds, options, a mutant and
symmetry, read into the spec's ``Params``."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ...spec.mutants import ALL_MUTANTS
from ...spec.params import Params
from .errors import UsageError, flag

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
    ("membership", "option: single-server membership changes (dissertation 4.1, fixed 2015)"),
    ("init_config", "membership: the initial configuration is s1..sN, the others may join "
     "(0: every server)"),
    ("max_changes", "membership bound: no log holds more than N configuration entries"),
    ("candidates", "membership bound: only s1..sN ever start an election (0: every server)"),
    ("catch_up", "membership: a leader also replicates to servers outside its configuration, "
     "to catch a new server up before adding it (dissertation 4.2.1)"),
    ("stand_until_removed", "membership: a server removed by an uncommitted entry may still "
     "stand for election, its own vote not counted (dissertation 4.2.2)"),
)


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """The model flags shared by ``check`` and ``graph``: bounds, mutant, symmetry."""
    defaults = {f.name: f.default for f in dataclasses.fields(Params)}
    model_group = parser.add_argument_group("model (defaults are the spec's)")
    for field, text in _PARAM_FLAGS:
        default = defaults[field]
        if isinstance(default, bool):
            model_group.add_argument(
                flag(field),
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{text} (default: {'on' if default else 'off'})",
            )
        else:
            model_group.add_argument(
                flag(field),
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


def params_from_args(
    args: argparse.Namespace, mutant_bounds: dict[str, Any] | None = None
) -> Params:
    """The spec's Params for ``args``: flags given, else the mutant's bounds (``mutant_bounds``
    when the caller picked other ones for the mutant), else defaults.

    Raises :class:`UsageError` when the result is not a valid configuration.
    """
    bounds: dict[str, Any] = {}
    if args.mutant is not None:
        if args.mutant not in ALL_MUTANTS:
            known = ", ".join(sorted(ALL_MUTANTS))
            raise UsageError(f"--mutant: unknown mutant {args.mutant!r} (known: {known})")
        bounds = dict(ALL_MUTANTS[args.mutant].bounds if mutant_bounds is None else mutant_bounds)
    given = {
        field: getattr(args, field) for field, _ in _PARAM_FLAGS if getattr(args, field) is not None
    }
    values = {**bounds, **given}
    if args.mutant is not None:
        values["mutant"] = args.mutant
    problem = _invalid(values)
    if problem is None:
        return Params(**values)
    if bounds and _invalid(given) is None and _invalid(bounds) is None:
        # Each is fine alone: the flags given clash with what the mutant brings, and the spec's
        # message names flags the user may never have typed.
        clashing = {f: v for f, v in given.items() if f in bounds} or given
        raise UsageError(
            f"{flags_text(clashing)} conflicts with --mutant {args.mutant}, which runs with "
            f"{flags_text(bounds)}: {problem}"
        )
    raise UsageError(problem)


def _invalid(values: dict[str, Any]) -> str | None:
    """Why Params of ``values`` is not a valid configuration; None if it is."""
    try:
        Params(**values).validate()
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def flags_text(values: dict[str, Any]) -> str:
    """Params fields as the flags that set them: ``--snapshots --batch 1 --no-faults``."""
    parts = []
    for field, value in values.items():
        if isinstance(value, bool):
            parts.append(flag(field) if value else "--no-" + field.replace("_", "-"))
        else:
            parts.append(f"{flag(field)} {value}")
    return " ".join(parts)


def parameters_json(params: Params, args: argparse.Namespace) -> dict[str, Any]:
    """The run's parameters as JSON: the spec's, and whether symmetry was on."""
    out = dict(dataclasses.asdict(params))
    if not params.membership:
        # The membership option's bounds mean nothing without it: runs without it print what
        # they printed before the option existed (and "membership": false).
        for name in ("init_config", "max_changes", "candidates"):
            del out[name]
    for name in ("catch_up", "stand_until_removed"):
        if not getattr(params, name):
            # Only conformance turns them on (spec/membership.py): checks print what they did.
            del out[name]
    out["symmetry"] = args.symmetry
    return out
