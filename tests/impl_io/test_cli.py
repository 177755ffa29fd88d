"""raftkv on the command line: the defaults fit together, and bad input is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from raftkit.impl.client import DEFAULT_HTTP_BASE, DEFAULT_RAFT_BASE

RAFTKV = [sys.executable, "-m", "raftkit.impl.cli"]


def raftkv(*args, cwd=None, timeout=60, env=None):
    return subprocess.run(
        [*RAFTKV, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def one_line_error(proc) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["put", "x"],
        ["bogus"],
        ["serve"],
        ["serve", "--id", "n9", "--secret", "s"],
        ["serve", "--id", "n1", "--cluster", "n1=nohostport", "--secret", "s"],
        ["serve", "--id", "n1", "--tick-ms", "abc", "--secret", "s"],
        ["serve", "--id", "n1", "--tick-ms", "0", "--secret", "s"],
        ["serve", "--id", "n1", "--election-ticks", "1", "--secret", "s"],
        ["serve", "--id", "n1", "--snapshot-every", "0", "--secret", "s"],
        ["cluster", "--nodes", "0"],
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args):
    proc = raftkv(*args)
    one_line_error(proc)
    assert proc.returncode == 2


def test_serve_without_secret_says_how_to_give_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RAFTKV_SECRET"}
    line = one_line_error(raftkv("serve", "--id", "n1", "--data-dir", str(tmp_path), env=env))
    assert "--secret" in line and "RAFTKV_SECRET" in line


def test_unreachable_cluster_is_one_line_and_exit_1(tmp_path):
    for cmd in (["get", "x"], ["put", "x", "1"], ["status"]):
        proc = raftkv(*cmd, "--endpoints", "127.0.0.1:1", "--timeout", "1", cwd=tmp_path)
        one_line_error(proc)
        assert proc.returncode == 1


def test_port_in_use_is_one_line(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        spec = f"n1=127.0.0.1:{port}:{port}"
        proc = raftkv(
            "serve", "--id", "n1", "--secret", "s", "--data-dir", str(tmp_path / "d"),
            "--cluster", spec,
        )  # fmt: skip
        line = one_line_error(proc)
        assert "address already in use" in line.lower() or "in use" in line.lower()
    finally:
        s.close()


def _ports_free(ports) -> bool:
    for p in ports:
        with socket.socket() as s:
            # As the servers do: a port with connections in TIME-WAIT is still usable.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def test_cluster_then_put_and_get_with_no_flags(tmp_path):
    ports = [DEFAULT_HTTP_BASE + i for i in range(3)] + [DEFAULT_RAFT_BASE + i for i in range(3)]
    if not _ports_free(ports):
        pytest.skip("the default ports are taken on this machine")
    cluster = subprocess.Popen(
        [*RAFTKV, "cluster", "--nodes", "3"], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        # From another directory, as from another terminal: only the default ports to go on.
        other = tmp_path / "elsewhere"
        other.mkdir()
        deadline = time.monotonic() + 30
        while True:
            put = raftkv("put", "x", "1", cwd=other)
            if put.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert put.returncode == 0, put.stderr
        assert put.stdout.strip() == "OK"
        get = raftkv("get", "x", cwd=other)
        assert (get.returncode, get.stdout.strip()) == (0, "1")
        cas = raftkv("cas", "x", "1", "2", cwd=other)
        assert cas.returncode == 0
        bad_cas = raftkv("cas", "x", "1", "3", cwd=other)
        assert bad_cas.returncode == 1 and "not changed" in bad_cas.stderr
        assert raftkv("get", "x", cwd=other).stdout.strip() == "2"
        assert raftkv("delete", "x", cwd=other).returncode == 0
        missing = raftkv("get", "x", cwd=other)
        assert missing.returncode == 1 and "not found" in missing.stderr
        status = raftkv("status", cwd=other)
        assert status.returncode == 0
        rows = status.stdout.strip().splitlines()[1:]
        assert len(rows) == 3 and sum(" leader " in r for r in rows) == 1
    finally:
        os.killpg(cluster.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        out, err = cluster.communicate(timeout=20)
    assert "started 3 nodes" in out and "cluster stopped" in out
    assert "Traceback" not in err, err
    assert (tmp_path / "raftkv-data" / "n1" / "wal").exists()


def test_simulate_writes_a_trace(tmp_path):
    import json

    trace = tmp_path / "sim.jsonl"
    proc = raftkv("simulate", "--seed", "3", "--steps", "150", "--trace", str(trace))
    assert proc.returncode == 0, proc.stderr
    assert "all checks passed" in proc.stdout
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    assert {e["node"] for e in events} == {"n1", "n2", "n3"}
    assert any(e["event"] == "BecomeLeader" for e in events)
    bad = raftkv("simulate", "--trace", str(tmp_path / "no" / "such" / "dir" / "t.jsonl"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
