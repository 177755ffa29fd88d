"""Output paths checked before a run starts.

A search can run for hours; finding out at its end (or at its first checkpoint) that the report
directory sits under a file, or that ``--itf`` names a directory, would lose the run. These
checks have no side effects: nothing is created until the run writes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def directory_problem(flag: str, path: str) -> str | None:
    """Why ``path`` cannot be used (or created) as a directory to write into; None if it can."""
    target = Path(path).expanduser()
    if target.exists():
        if not target.is_dir():
            return f"{flag}: {path} exists and is not a directory"
        if not os.access(target, os.W_OK | os.X_OK):
            return f"{flag}: {path} is not writable"
        return None
    ancestor = _nearest_existing(target.absolute())
    if not ancestor.is_dir():
        return f"{flag}: cannot create {path}: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{flag}: cannot create {path}: {ancestor} is not writable"
    return None


def file_problem(flag: str, path: str) -> str | None:
    """Why ``path`` cannot be written as a file (its directory created if missing); None if
    it can."""
    target = Path(path).expanduser()
    if target.is_dir():
        return f"{flag}: {path} is a directory"
    if target.exists():
        return None if os.access(target, os.W_OK) else f"{flag}: {path} is not writable"
    ancestor = _nearest_existing(target.absolute().parent)
    if not ancestor.is_dir():
        return f"{flag}: cannot write {path}: {ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{flag}: cannot write {path}: {ancestor} is not writable"
    return None

def io_message(exc: OSError) -> str:
    """One line for an I/O error: what failed, and on which file."""
    reason = exc.strerror or str(exc)
    where = exc.filename
    if where == STDOUT:
        # What could not go out is still buffered: pointed at /dev/null, standard output
        # takes it at the interpreter's exit instead of failing again there with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return f"{where}: {reason}" if where else reason


#: The name an error on standard output is given.
STDOUT = "standard output"


class _NamedStdout:
    """Standard output whose errors name it: Python's carry no file name, and "No space left
    on device" alone does not say which file."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            exc.filename = exc.filename or STDOUT
            raise

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            exc.filename = exc.filename or STDOUT
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def named_stdout() -> Iterator[None]:
    """Run with errors on standard output named; flush it before leaving, so that an error
    shows while it can still be reported (not at the interpreter's exit)."""
    real = sys.stdout
    sys.stdout = _NamedStdout(real)  # type: ignore[assignment]
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = real
