"""What every ``raftmc`` command shares: its exit statuses and its one usage error."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_IO = 4
#: A picture was asked for and Graphviz's ``dot`` is not installed.
EXIT_NO_GRAPHVIZ = 5

EXIT_STATUS_HELP = """\
exit status:
  0  every invariant and action property holds in every reachable state
  1  a property is violated (a shortest counterexample is printed)
  2  bad usage: unknown flag, bad value or impossible bounds
  3  incomplete: --max-states or --max-seconds was hit, or the run was interrupted
  4  a file could not be read or written during the run (disk full, a checkpoint refused)
"""


class UsageError(Exception):
    """Bad command-line input; reported in one line with exit status 2."""


def check_max_seconds(value: float | None) -> None:
    """Refuse a ``--max-seconds`` that is not positive (every command that takes it)."""
    if value is not None and not value > 0:
        raise UsageError(f"--max-seconds must be positive (got {value})")


def flag(field: str) -> str:
    """The command-line flag of an option or a Params field: ``max_term`` -> ``--max-term``."""
    return "--" + field.replace("_", "-")


def exit_status(result: Any) -> int:
    """0 for "ok", 1 for "violation", 3 for "incomplete"."""
    return {"ok": EXIT_OK, "violation": EXIT_VIOLATION}.get(result.result, EXIT_INCOMPLETE)
