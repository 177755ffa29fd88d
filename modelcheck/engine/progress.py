"""The live progress line shown on stderr while a search runs."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True)
class Snapshot:
    """Where a running search stands; handed to the progress callback about twice a second."""

    generated: int
    distinct: int
    queue: int
    depth: int
    seconds: float


class ProgressLine:
    """Rewrites one line on a terminal with ``\\r``: cheap, and it leaves no scrollback.

    Plain ``\\r`` rather than a ``rich`` live display because the engine calls it from its hot
    loop and a live display runs its own refresh thread; the line is all we need.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self._last_generated = 0
        self._last_seconds = 0.0
        self._width = 0

    def __call__(self, snap: Snapshot) -> None:
        """Show ``snap``, with the rate of generated states since the previous call."""
        elapsed = snap.seconds - self._last_seconds
        rate = (snap.generated - self._last_generated) / elapsed if elapsed > 0 else 0.0
        self._last_generated, self._last_seconds = snap.generated, snap.seconds
        text = (
            f"{snap.seconds:7.1f}s  generated {snap.generated:,}  distinct {snap.distinct:,}  "
            f"queue {snap.queue:,}  depth {snap.depth}  {rate:,.0f} states/s"
        )
        # A line longer than the terminal wraps, and \r then rewrites only its last part.
        text = text[: shutil.get_terminal_size().columns - 1]
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self) -> None:
        """Erase the line so the summary starts on a clean one."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class ProgressLog:
    """One plain line a minute, for a stream that is not a terminal (a log file, a CI job, a
    run under ``nohup``): like TLC's progress reports, it shows that a long run is alive and
    how far it got, where ``\r`` rewrites would pile up in the file."""

    #: Seconds between two lines.
    EVERY = 60.0

    def __init__(self, stream: TextIO | None = None, every: float = EVERY) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self._next = every

    def __call__(self, snap: Snapshot) -> None:
        """Write ``snap`` as a line once ``every`` seconds have passed since the last one."""
        if snap.seconds < self._next:
            return
        self._next = snap.seconds + self.every
        self.stream.write(
            f"raftmc: {snap.seconds:.0f}s  generated {snap.generated:,}  distinct "
            f"{snap.distinct:,}  queue {snap.queue:,}  depth {snap.depth}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        """Nothing to erase: the lines stay in the log."""


def progress_for(
    stream: TextIO | None = None, enabled: bool = True
) -> ProgressLine | ProgressLog | None:
    """The progress on ``stream`` (stderr) if enabled: a line rewritten in place on a terminal,
    a line a minute elsewhere; ``None`` if not enabled."""
    stream = stream if stream is not None else sys.stderr
    if not enabled:
        return None
    return ProgressLine(stream) if stream.isatty() else ProgressLog(stream)
