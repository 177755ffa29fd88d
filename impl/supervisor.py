"""``raftkv cluster``'s process supervisor: start the nodes, report a node that exits, restart it.

A node that exits does not take the others with it: the supervisor says which node exited and
with what status, and (unless restarts are off) starts it again after a back-off, so that a
``kill -9`` of the leader shows what Raft is for: the others elect a new leader and the killed
node comes back as a follower and catches up. The back-off starts at ``backoff_min`` and doubles
while a node keeps dying young (within ``stable_after`` seconds of its start), up to
``backoff_max``. A node that exits with status 3 refuses its damaged data directory: starting it
again cannot help, so it stays down. SIGINT or SIGTERM (Ctrl-C) stops every node.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

REFUSES_DATA = 3  # raftkv serve's exit status for a damaged data directory


def describe_status(rc: int) -> str:
    """An exit status as a person reads it: ``-9`` is "killed by SIGKILL"."""
    if rc < 0:
        try:
            return f"{rc} (killed by {signal.Signals(-rc).name})"
        except ValueError:
            return f"{rc} (killed by signal {-rc})"
    return str(rc)


@dataclass
class _Child:
    cmd: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = 0.0
    restart_at: float | None = None
    restarts: int = 0
    given_up: bool = False
    history: list[int] = field(default_factory=list)


class Supervisor:
    """Run one process per node; see the module docstring."""

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        restart: bool = True,
        backoff_min: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 10.0,
        out: TextIO | None = None,
    ) -> None:
        self.children = {n: _Child(cmd, backoff=backoff_min) for n, cmd in commands.items()}
        self.restart = restart
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.out = out or sys.stderr
        self._stopping = False

    def _say(self, text: str) -> None:
        print(f"raftkv: {text}", file=self.out, flush=True)

    def start_all(self) -> None:
        for node in self.children:
            self._start(node)

    def pid(self, node: str) -> int | None:
        p = self.children[node].proc
        return p.pid if p is not None else None

    def _start(self, node: str) -> None:
        ch = self.children[node]
        ch.proc = subprocess.Popen(ch.cmd)
        ch.started = time.monotonic()
        ch.restart_at = None

    def stop(self, *_: object) -> None:
        """Ask the loop to stop every node (a signal handler)."""
        self._stopping = True

    def poll(self) -> None:
        """Notice exits and due restarts once."""
        now = time.monotonic()
        for node, ch in self.children.items():
            if ch.proc is not None:
                rc = ch.proc.poll()
                if rc is None:
                    continue
                ch.proc = None
                ch.history.append(rc)
                if self._stopping:
                    continue
                if not self.restart:
                    self._say(f"node {node} exited with status {describe_status(rc)}")
                    continue
                if rc == REFUSES_DATA:
                    ch.given_up = True
                    self._say(
                        f"node {node} exited with status {rc}: it refuses its data directory "
                        "(see its message above); not restarting it"
                    )
                    continue
                if now - ch.started >= self.stable_after:
                    ch.backoff = self.backoff_min
                ch.restart_at = now + ch.backoff
                self._say(
                    f"node {node} exited with status {describe_status(rc)}; "
                    f"the others keep serving; restarting it in {ch.backoff:g} s"
                )
                ch.backoff = min(ch.backoff * 2, self.backoff_max)
            elif ch.restart_at is not None and now >= ch.restart_at and not self._stopping:
                self._start(node)
                ch.restarts += 1
                self._say(f"node {node} restarted (pid {self.pid(node)})")

    def running(self) -> int:
        return sum(ch.proc is not None for ch in self.children.values())

    def run(self) -> int:
        """Supervise until Ctrl-C (0), or until no node is left to run (1)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        try:
            while not self._stopping:
                self.poll()
                pending = any(ch.restart_at is not None for ch in self.children.values())
                if not self.running() and not pending:
                    self._say("no node is running any more; stopping")
                    return 1
                time.sleep(0.1)
            return 0
        finally:
            self.terminate()

    def terminate(self) -> None:
        """Stop every node: SIGTERM, then SIGKILL for any still there after 5 s."""
        self._stopping = True
        procs = [ch.proc for ch in self.children.values() if ch.proc is not None]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
