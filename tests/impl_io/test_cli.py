"""raftkv on the command line: the defaults fit together, and bad input is one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from raftkit.impl.cli import port_free
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
    # As the servers do: a port with connections in TIME-WAIT is still usable.
    return all(port_free("127.0.0.1", p) for p in ports)


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


# --- what a careless user typed, each once a traceback, a hang or a misleading line -----------


@pytest.mark.parametrize(
    "args, says",
    [
        (["get", "x", "--endpoints", "garbage"], "garbage"),
        (["get", "x", "--endpoints", "127.0.0.1:99999"], "1 to 65535"),
        (["get", ""], "must not be empty"),
        (["put", "", "1", "--endpoints", "127.0.0.1:1"], "must not be empty"),
        (["serve", "--id", "n1", "--secret", "s", "--cluster", "n1=127.0.0.1:99999:7401"],
         "99999"),
        (["serve", "--id", "n1", "--secret", "s", "--cluster", "n1=10.9.9.9:7501:7401"],
         "--client-token-file"),
        (["serve", "--id", "n1", "--secret", "s", "--log-level", "LOUD"], "LOUD"),
        (["get", "x", "--timeout", "nan"], "--timeout"),
        (["cluster", "--http-port", "65535"], "--http-port"),
        (["nemesis", "--minutes", "0"], "--minutes"),
        (["nemesis", "--nodes", "4"], "--nodes"),
    ],
)  # fmt: skip
def test_what_was_a_traceback_is_now_a_usage_error(tmp_path, args, says):
    t0 = time.monotonic()
    proc = raftkv(*args, cwd=tmp_path)
    line = one_line_error(proc)
    assert proc.returncode == 2 and says in line, line
    assert time.monotonic() - t0 < 10, "a usage error must not wait for the network"


def test_fresh_does_not_wipe_a_directory_it_did_not_make(tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    proc = raftkv("cluster", "--fresh", "--data-dir", str(precious), "--http-port", "1",
                  "--raft-port", "20", cwd=tmp_path)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_output_closed_early_ends_quietly(tmp_path):
    from raftkit.impl.client import Client

    from .inproc import InProcCluster

    with InProcCluster(str(tmp_path), 1) as c:
        c.leader()
        Client([c.endpoint("n1")]).put("big", "x" * 200_000)
        script = (f"{sys.executable} -m raftkit.impl.cli get big --endpoints {c.endpoint('n1')} "
                  "2>err.txt | head -c 50 >/dev/null; echo ${PIPESTATUS[0]}")  # fmt: skip
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)  # fmt: skip
    assert proc.stdout.strip() == "141"
    assert (tmp_path / "err.txt").read_text() == ""


def test_a_node_that_says_no_is_believed_at_once(tmp_path):
    """A 4xx answer is the answer: no 10 s of retries ending in a port nobody configured."""
    from .test_client import Scripted

    with Scripted([(404, {"error": "no such route"})]) as s:
        t0 = time.monotonic()
        proc = raftkv("put", "k", "1", "--endpoints", f"{s.endpoint},127.0.0.1:1")
        line = one_line_error(proc)
    assert proc.returncode == 1 and time.monotonic() - t0 < 5
    assert s.endpoint in line and "no such route" in line and "127.0.0.1:1" not in line


# --- random argument vectors ------------------------------------------------------------------

_COMMANDS = ["serve", "cluster", "simulate", "nemesis", "get", "put", "delete", "cas", "status",
             "add-node", "remove-node", "transfer-leader", "bogus", ""]  # fmt: skip
_FLAGS = ["--id", "--cluster", "--data-dir", "--secret", "--secret-file", "--client-token-file",
          "--no-client-auth", "--tls-cert", "--tls-key", "--trace", "--tick-ms",
          "--election-ticks", "--no-fsync", "--snapshot-every", "--log-level", "--nodes",
          "--host", "--http-port", "--raft-port", "--fresh", "--no-restart", "--trace-dir",
          "--seed", "--steps", "--minutes", "--clients", "--dir", "--json", "--endpoints",
          "--timeout", "--token", "--tls", "--ca", "--leader-pid", "--help", "--spares",
          "--address", "-x"]  # fmt: skip
_VALUES = ["", "0", "-1", "1", "3", "9", "10", "99999", "65535", "n1", "n9", "x" * 300, "nan",
           "inf", "1e309", "-0", "n1=127.0.0.1:99999:7401", "n1=nohostport", "n1=:1:2",
           "n1=127.0.0.1:7501:7401,n1=127.0.0.1:7502:7402", "127.0.0.1:1", "127.0.0.1:0",
           "garbage", "[::1]:1", "DEBUG", "éé", "k=v", "127.0.0.1:7504:7404", "h:1:99999",
           ":1:2"]  # fmt: skip
# No "/" or "." in generated text: a random --data-dir with --fresh stays inside the test's
# directory (the command itself refuses to wipe what it did not make, tested above).
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/."),
                max_size=12)  # fmt: skip
_ARGV = st.builds(
    lambda cmd, rest: [cmd, *rest] if cmd else rest,
    st.sampled_from(_COMMANDS),
    st.lists(st.one_of(st.sampled_from(_FLAGS), st.sampled_from(_VALUES), _TEXT,
                       st.integers(-(10**20), 10**20).map(str)), max_size=8),
)  # fmt: skip


class _FakeTime:
    """The client's clock, advanced by every look, so that retry loops end at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 0.7
        return self.now

    def sleep(self, _s: float) -> None:
        pass


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(argv=_ARGV)
def test_random_argument_vectors_end_in_one_line_and_a_documented_status(
    argv, tmp_path, monkeypatch, capsys
):
    """Anything on the command line ends in a documented exit status with at most one line of
    error, never a traceback. Argument handling is what is exercised: the parts that would
    run for minutes or reach the network are stood in for (a refusing network, a fast clock,
    no node processes); the tests above and in test_cluster.py run them for real."""
    from raftkit.impl import cli
    from raftkit.impl import client as client_mod
    from raftkit.impl.supervisor import Supervisor
    from raftkit.impl.testing import nemesis, sim

    def refuse(*_a, **_k):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_run_server", lambda cfg: cli.EXIT_OK)
    monkeypatch.setattr(Supervisor, "start_all", lambda self: None)
    monkeypatch.setattr(Supervisor, "run", lambda self: cli.EXIT_OK)
    monkeypatch.setattr(nemesis, "run_nemesis", lambda cfg, as_json=False: cli.EXIT_OK)
    monkeypatch.setattr(sim.Simulation, "run",
                        lambda self: sim.SimResult(self.seed, 0, 0, 0, {}, 0, 0, 0, 0))  # fmt: skip
    monkeypatch.setattr(client_mod.Client, "_send", refuse)
    monkeypatch.setattr(client_mod, "time", _FakeTime())
    monkeypatch.delenv("RAFTKV_SECRET", raising=False)
    monkeypatch.delenv("RAFTKV_TOKEN", raising=False)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # --help: argparse prints it and exits 0
        code = exc.code
    out = capsys.readouterr()
    assert code in cli.EXIT_CODES, (argv, code, out.err)
    assert "Traceback" not in out.err and "internal error" not in out.err, (argv, out.err)
    if code != cli.EXIT_OK:
        assert len(out.err.strip().splitlines()) <= 1, (argv, out.err)
