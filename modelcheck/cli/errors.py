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
#: A worker process (``--workers``) died or failed: its share of the states is lost.
EXIT_WORKER_FAILED = 6
#: Ctrl-C before the search started, or a second one while it stopped: no figures. The
#: shell's status for a program ended by SIGINT (128 + 2), which a script can tell apart.
EXIT_INTERRUPTED = 130

#: What each status means, as the help texts say it.
STATUS_MEANINGS: dict[int, str] = {
    EXIT_OK: "every invariant and action property holds in every reachable state",
    EXIT_VIOLATION: "a property is violated (a shortest counterexample is printed)",
    EXIT_USAGE: "bad usage: unknown flag, bad value or impossible bounds",
    EXIT_INCOMPLETE: "incomplete: --max-states or --max-seconds was hit, or Ctrl-C stopped\n"
    "the run (the figures so far are printed)",
    EXIT_IO: "a file could not be read or written during the run (disk full, a checkpoint\n"
    "refused); the error names the file",
    EXIT_NO_GRAPHVIZ: "a picture needs Graphviz's dot program, which is not installed\n"
    "(checked before any search; the error says how to install it)",
    EXIT_WORKER_FAILED: "a worker process (--workers) died or failed; the error names it",
    EXIT_INTERRUPTED: "Ctrl-C with no figures to show: before the search started, or a\n"
    "second Ctrl-C while it stopped",
}


def exit_status_help(*statuses: int, extra: dict[int, str] | None = None) -> str:
    """The ``exit status:`` paragraph of a help text: ``statuses`` with their usual meaning,
    ``extra`` with a command's own."""
    meanings = {s: STATUS_MEANINGS[s] for s in statuses} | (extra or {})
    lines = ["exit status:"]
    for status in sorted(meanings):
        first, *rest = meanings[status].split("\n")
        lines.append(f"  {status:<3}  {first}")
        lines.extend(f"       {line}" for line in rest)
    return "\n".join(lines) + "\n"


#: The statuses of ``raftmc check`` (and of ``raftmc`` as a whole: ``graph`` adds its own).
EXIT_STATUS_HELP = exit_status_help(
    EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_IO, EXIT_WORKER_FAILED,
    EXIT_INTERRUPTED,
)


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
