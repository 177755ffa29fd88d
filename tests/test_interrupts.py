"""Ctrl-C and dying workers, with real signals: `raftmc check` stops with the figures so far
(exit 3) within 5 s, names a worker that died (exit 6), prints no traceback and leaves no
process behind.

The run is started in a session of its own with its stderr on a pseudo-terminal, as from a
shell: the progress line shows when the search is under way, and Ctrl-C is SIGINT to the whole
process group (os.killpg), or to the parent alone (os.kill). The bounds are far larger than the
few seconds each test runs, so the signal always finds a search going on. Deadlines for things
to start are generous (the test machine is loaded); the 5 s from the signal are asserted.
"""

from __future__ import annotations

import multiprocessing
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from raftkit.modelcheck.engine import WorkerFailed, check
from raftkit.modelcheck.engine.distributed import workers as workers_module

# A run of minutes: the default bounds with two entries per log.
LONG = ["check", "--max-log", "2"]
STOP_WITHIN = 5.0
START_WITHIN = 120.0


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Run:
    """`raftmc ARGS` in a new session, stdout on a pipe, stderr on a pseudo-terminal."""

    def __init__(self, *args: str) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "raftkit.modelcheck.cli", *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            start_new_session=True,
            env=dict(os.environ, COLUMNS="120"),
            # As from a shell: a suite started in the background (nohup, `&` in a script)
            # ignores SIGINT, and its children would inherit that and never see Ctrl-C.
            preexec_fn=_default_sigint,
        )
        os.close(slave)
        self.pid = self.proc.pid
        self._err = bytearray()
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()
        self.out = b""

    def _read(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 4096):
                self._err.extend(chunk)
        except OSError:  # EIO: the terminal's last writer closed it
            pass
        finally:
            os.close(fd)

    @property
    def err(self) -> str:
        return self._err.decode(errors="replace")

    def wait_for_progress(self) -> None:
        """Until the progress line shows states found: the search is under way."""
        deadline = time.monotonic() + START_WITHIN
        while not re.search(r"distinct [1-9]", self.err):
            assert self.proc.poll() is None, f"ended early: {self.err}"
            assert time.monotonic() < deadline, f"no progress line: {self.err!r}"
            time.sleep(0.05)

    def workers(self) -> list[int]:
        """The pids of the worker processes: children running the same program."""
        cmdline = _cmdline(self.pid)
        return [pid for pid in _children(self.pid) if _cmdline(pid) == cmdline]

    def finish(self, timeout: float = 60.0) -> float:
        """Wait for the end; the seconds it took."""
        t0 = time.monotonic()
        self.out, _ = self.proc.communicate(timeout=timeout)
        took = time.monotonic() - t0
        self._reader.join(timeout=10)
        return took

    def left_behind(self) -> list[int]:
        """Processes of the run's process group still there."""
        return [pid for pid in _all_pids() if _pgid(pid) == self.pid]

    def kill(self) -> None:
        if self.proc.poll() is None or self.left_behind():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.communicate()


def _all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _stat(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _pgid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[2]) if fields else None


def _children(pid: int) -> list[int]:
    return [p for p in _all_pids() if (f := _stat(p)) and int(f[1]) == pid]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


@pytest.fixture
def run():
    started: list[Run] = []

    def start(*args: str) -> Run:
        r = Run(*args)
        started.append(r)
        return r

    yield start
    for r in started:
        r.kill()


def _distinct(out: bytes) -> int:
    found = re.search(r"distinct states\s*│\s*([\d,]+)", out.decode())
    assert found, out.decode()
    return int(found.group(1).replace(",", ""))


def _wait_for_workers(r: Run, n: int) -> list[int]:
    deadline = time.monotonic() + START_WITHIN
    while len(pids := r.workers()) < n:
        assert r.proc.poll() is None, r.err
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)
    return pids


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("to", ["group", "parent"])
def test_ctrl_c_stops_with_the_figures_so_far(run, workers, to):
    r = run(*LONG, "--workers", str(workers))
    r.wait_for_progress()
    time.sleep(1.0)  # well inside a level
    if to == "group":
        os.killpg(r.pid, signal.SIGINT)  # what a terminal sends
    else:
        os.kill(r.pid, signal.SIGINT)
    took = r.finish()
    print(f"workers={workers} SIGINT to the {to}: exited {took:.2f} s after the signal")
    assert r.proc.returncode == 3, r.err
    assert took < STOP_WITHIN
    assert "Traceback" not in r.err
    out = r.out.decode()
    assert "incomplete: interrupted" in out
    assert _distinct(r.out) > 0
    assert r.left_behind() == []


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_ctrl_c_prints_no_traceback(run, workers):
    r = run(*LONG, "--workers", str(workers))
    r.wait_for_progress()
    time.sleep(1.0)
    os.killpg(r.pid, signal.SIGINT)
    t0 = time.monotonic()
    time.sleep(0.1)
    try:
        os.killpg(r.pid, signal.SIGINT)
    except ProcessLookupError:
        pass  # it had already finished: nothing left to interrupt
    r.finish()
    took = time.monotonic() - t0
    print(f"workers={workers} two Ctrl-C: exited {took:.2f} s after the first")
    assert took < STOP_WITHIN
    assert "Traceback" not in r.err and "Exception ignored" not in r.err, r.err
    # 3: the second one came after the figures; 130: it cut the stop short (a SIGINT death,
    # -2, if it came once the command had finished and the interpreter was on its way out).
    assert r.proc.returncode in (3, 130, -signal.SIGINT), r.err
    assert r.left_behind() == []


def test_a_worker_that_is_killed_is_named_at_once(run):
    r = run(*LONG, "--workers", "2")
    r.wait_for_progress()
    pids = _wait_for_workers(r, 2)
    victim = pids[-1]
    os.kill(victim, signal.SIGKILL)
    took = r.finish()
    print(f"a worker killed: the run ended {took:.2f} s later")
    assert took < STOP_WITHIN
    assert r.proc.returncode == 6, r.err
    lines = [line for line in r.err.splitlines() if "error" in line]
    assert len(lines) == 1, r.err
    assert re.search(rf"raftmc: error: worker \d \(pid {victim}\) was killed by SIGKILL", lines[0])
    assert "Traceback" not in r.err
    assert r.left_behind() == []


class _FailsInWorker:
    """A model whose expansion raises in one worker process, as a bug would."""

    def __init__(self, inner, parent: int) -> None:
        self._inner = inner
        self._parent = parent

    def batch(self):
        return _FailingBatch(self._inner.batch(), self._parent)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _FailingBatch:
    expand_parts_delta = None
    expand_parts = None

    def __init__(self, inner, parent: int) -> None:
        self._inner = inner
        self._parent = parent

    def expand(self, states, keys, succs, acts, firsts):
        if os.getpid() != self._parent and self._inner.partition(states[0]) % 2 == 1:
            raise RuntimeError("a bug in expand")
        return self._inner.expand(states, keys, succs, acts, firsts)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_a_worker_that_raises_is_named_and_the_others_end():
    from raftkit.modelcheck.compiled import FastRaftModel
    from raftkit.spec.params import Params

    model = _FailsInWorker(FastRaftModel(Params(max_term=2, max_log=0)), os.getpid())
    t0 = time.monotonic()
    with pytest.raises(WorkerFailed) as failed:
        check(model, workers=2)
    assert time.monotonic() - t0 < 60
    text = str(failed.value)
    assert re.match(r"worker \d \(pid \d+\) failed: RuntimeError: a bug in expand", text), text
    assert "test_interrupts.py" in text  # where it was raised
    assert multiprocessing.active_children() == []


def test_max_seconds_stops_the_workers_mid_level():
    from raftkit.modelcheck.compiled import FastRaftModel
    from raftkit.spec.params import Params

    t0 = time.monotonic()
    result = check(FastRaftModel(Params(max_log=2)), workers=2, max_seconds=1.0)
    took = time.monotonic() - t0
    print(f"--max-seconds 1 with two workers: returned after {took:.2f} s")
    assert (result.result, result.stopped_by) == ("incomplete", "max_seconds")
    assert result.distinct_states > 0 and result.states_generated >= result.distinct_states
    assert sum(c.enabled for c in result.coverage.values()) > 0
    assert took < 1.0 + workers_module.STOP_GRACE + 30  # start-up included; loaded machine
    assert multiprocessing.active_children() == []
