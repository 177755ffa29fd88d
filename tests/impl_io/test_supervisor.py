"""``raftkv cluster`` as a supervisor, with real processes: docs/raftkv.md's "kill the leader and
watch", step by step (on free ports instead of the default ones, which another cluster on this
machine may hold; the client commands find the cluster from its directory, as in the docs)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from raftkit.impl.cli import port_free

RAFTKV = [sys.executable, "-m", "raftkit.impl.cli"]


def raftkv(*args, cwd, timeout=60):
    return subprocess.run([*RAFTKV, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)  # fmt: skip


def _ports(n: int) -> tuple[int, int]:
    for _ in range(100):
        http = random.randrange(20000, 60000)
        raft = http + 100
        if all(port_free("127.0.0.1", p) for b in (http, raft) for p in range(b, b + n)):
            return http, raft
    pytest.skip("no free ports")


class LocalCluster:
    def __init__(self, cwd, n: int = 3, *extra: str) -> None:
        self.cwd = cwd
        http, raft = _ports(n)
        self.out = open(cwd / "cluster.out", "w")  # noqa: SIM115
        self.err = open(cwd / "cluster.err", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*RAFTKV, "cluster", "--nodes", str(n), "--http-port", str(http),
             "--raft-port", str(raft), *extra],
            cwd=cwd, stdout=self.out, stderr=self.err, start_new_session=True,
        )  # fmt: skip

    def until(self, what, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            got = what()
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    def rows(self) -> dict[str, dict]:
        st = raftkv("status", "--json", cwd=self.cwd)
        return {r["id"]: r for r in json.loads(st.stdout)} if st.returncode == 0 else {}

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        self.proc.wait(30)
        self.out.close()
        self.err.close()
        return (self.cwd / "cluster.out").read_text(), (self.cwd / "cluster.err").read_text()


def test_kill_the_leader_and_watch(tmp_path):
    c = LocalCluster(tmp_path, 3)
    try:
        assert c.until(lambda: raftkv("put", "x", "1", cwd=tmp_path).returncode == 0)
        status = raftkv("status", cwd=tmp_path)
        assert status.returncode == 0 and " pid " in status.stdout.splitlines()[0]
        pid = int(raftkv("status", "--leader-pid", cwd=tmp_path).stdout)
        leader = next(n for n, r in c.rows().items() if r.get("pid") == pid)

        os.kill(pid, signal.SIGKILL)  # kill -9 $(raftkv status --leader-pid)
        killed_at = time.monotonic()
        put = raftkv("put", "y", "2", cwd=tmp_path)
        took = time.monotonic() - killed_at
        assert put.returncode == 0, put.stderr
        assert took <= 2.0, f"raftkv put succeeded {took:.2f} s after the kill, not within 2 s"
        print(f"\nraftkv put succeeded {took:.2f} s after kill -9 of the leader")

        # The supervisor brings the killed node back; it rejoins as a follower and catches up.
        def back() -> bool:
            rows = c.rows()
            me, others = rows.get(leader, {}), [r for n, r in rows.items() if n != leader]
            commit = max((r.get("commit_index", 0) for r in others), default=0)
            return (me.get("role") == "follower" and me.get("pid") not in (None, pid)
                    and me.get("applied_index", 0) >= commit > 0)  # fmt: skip

        assert c.until(back), c.rows()
        get = raftkv("get", "y", cwd=tmp_path)
        assert (get.returncode, get.stdout.strip()) == (0, "2")
    finally:
        out, err = c.stop()
    assert f"node {leader} exited with status -9 (killed by SIGKILL)" in err, err
    assert f"node {leader} restarted" in err and "Traceback" not in err, err
    assert "cluster stopped" in out


def test_no_restart_leaves_the_node_down_and_the_others_serving(tmp_path):
    c = LocalCluster(tmp_path, 3, "--no-restart")
    try:
        assert c.until(lambda: raftkv("put", "x", "1", cwd=tmp_path).returncode == 0)
        rows = c.rows()
        victim = next(n for n, r in rows.items() if r["role"] == "follower")
        os.kill(rows[victim]["pid"], signal.SIGKILL)
        assert c.until(lambda: c.rows().get(victim, {}).get("error") == "unreachable")
        put = raftkv("put", "z", "3", cwd=tmp_path)
        assert put.returncode == 0, put.stderr
        time.sleep(2.0)  # longer than the restart back-off
        assert c.rows()[victim].get("error") == "unreachable"
        assert c.proc.poll() is None  # the supervisor is still running the other two
    finally:
        out, err = c.stop()
    assert f"node {victim} exited with status -9 (killed by SIGKILL)" in err
    assert "restarted" not in err
