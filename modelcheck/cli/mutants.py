"""``raftmc mutants``: the known-bug variants of the spec, the property each breaks, and the
bounds at which ``raftmc check --mutant NAME`` finds it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from ...spec.liveness import LIVENESS_FINDINGS
from ...spec.mutants import ALL_MUTANTS
from .errors import EXIT_OK
from .model_flags import flags_text


def add_command(commands: Any) -> None:
    """Add ``mutants`` to ``raftmc``'s subparsers."""
    mut = commands.add_parser(
        "mutants",
        help="list the known-bug variants of the spec and the property each breaks",
        description="List the known-bug variants (mutants) of the spec.",
        allow_abbrev=False,
    )
    mut.add_argument("--json", action="store_true", help="print a JSON array")
    mut.set_defaults(run=run_mutants)


def run_mutants(args: argparse.Namespace) -> int:
    """Print the mutants (every one, raft.tla's and the options'); exit status 0."""
    mutants = ALL_MUTANTS
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "breaks": m.breaks,
                        "description": m.description,
                        "bounds": dict(m.bounds),
                        **({"checks": list(m.checks)} if m.checks else {}),
                        **(
                            {"liveness": {"breaks": LIVENESS_FINDINGS[m.name].breaks,
                                          "bounds": dict(LIVENESS_FINDINGS[m.name].bounds)}}
                            if m.name in LIVENESS_FINDINGS
                            else {}
                        ),
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
        flags = flags_text(dict(m.bounds))
        again = LIVENESS_FINDINGS.get(m.name)
        console.print(
            Text(
                f"  found by: raftmc check --mutant {m.name}"
                + (" --liveness on" if again else "")
                + (f"  (bounds {flags})" if flags else "")
                + (f"  (checks {', '.join(m.checks)} only)" if m.checks else "")
            ),
            soft_wrap=True,
        )
        if again:
            console.print(
                Text(
                    f"  a liveness bug too, breaks {again.breaks}: raftmc check --mutant "
                    f"{m.name}  (bounds {flags_text(dict(again.bounds))})"
                ),
                soft_wrap=True,
            )
    console.print()
    console.print(Text("A mutant's bounds become the defaults of `raftmc check --mutant NAME`; "
                       "a liveness bug's are its liveness bounds."))
    return EXIT_OK
