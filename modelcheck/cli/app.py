"""``raftmc``: model-check the Raft spec from the command line.

One parser: each command's module adds its subcommand and the function that runs it
(``set_defaults(run=...)``); errors of every command end here, in one line, with the exit
statuses of :mod:`.errors`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from ..engine.checker import OptionsError, WorkerFailed
from ..engine.checkpoint import CheckpointError
from ..pictures.dot import NoGraphviz
from . import bench, check, conform, graph, mutants, symbolic
from .errors import (
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_NO_GRAPHVIZ,
    EXIT_USAGE,
    EXIT_WORKER_FAILED,
    STATUS_MEANINGS,
    UsageError,
    exit_status_help,
)
from .paths import io_message, named_stdout


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit status 2.

    argparse's own ``error`` prints the whole usage first; a reader wants the one thing wrong.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``raftmc: error: MESSAGE`` and exit with status 2."""
        sys.stderr.write(f"raftmc: error: {message}\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> ArgumentParser:
    """The ``raftmc`` parser with every command."""
    parser = ArgumentParser(
        prog="raftmc",
        description="Model-check the Raft spec: breadth-first, every reachable state.",
        epilog=exit_status_help(*STATUS_MEANINGS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check.add_command(commands)
    bench.add_command(commands)
    graph.add_command(commands)
    symbolic.add_commands(commands)
    conform.add_conform_command(commands)
    mutants.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``raftmc`` console script; returns the exit status.

    ``argv`` None means the program's own arguments: then, once the command is done, a Ctrl-C
    ends the process as the signal does, rather than with a traceback from the interpreter's
    shutdown.
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        # A search stops on the first Ctrl-C and reports its figures (exit 3): this is one
        # before it started, or a second one while it stopped.
        sys.stderr.write("\nraftmc: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        if argv is None:
            signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Errors that end a command in one line, and the exit status each gives.
_ONE_LINE_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (NoGraphviz, EXIT_NO_GRAPHVIZ),
    (WorkerFailed, EXIT_WORKER_FAILED),
    (CheckpointError, EXIT_IO),
)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with named_stdout():
            return args.run(args)
    except (UsageError, OptionsError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        # The flags' paths were checked before the run (see paths.py); this is the disk
        # failing during it. What the run printed stays printed.
        sys.stderr.write(f"raftmc: error: {io_message(exc)}\n")
        return EXIT_IO
    except tuple(kind for kind, _status in _ONE_LINE_ERRORS) as exc:
        sys.stderr.write(f"raftmc: error: {exc}\n")
        return next(status for kind, status in _ONE_LINE_ERRORS if isinstance(exc, kind))
