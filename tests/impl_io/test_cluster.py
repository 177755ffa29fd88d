"""Real node processes on loopback: elections, redirects, kill -9, restarts, and histories
checked for linearizability with no acknowledged write lost."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest
from raftkit.impl.client import Client
from raftkit.impl.storage import encode_record
from raftkit.impl.testing.linearizability import HistoryRecorder, check
from raftkit.impl.testing.nemesis import Workload, lost_writes
from raftkit.impl.testing.proc_cluster import SECRET, ProcCluster


def test_three_nodes_serve_redirect_survive_leader_kill_and_catch_up(tmp_path):
    with ProcCluster(str(tmp_path), 3) as c:
        leader = c.wait_leader()
        follower = next(i for i in c.ids if i != leader)
        # Talk to a follower first: it redirects to the leader.
        cl = Client([c.endpoint(follower)])
        cl.put("x", "1")
        assert cl.leader == c.endpoint(leader)
        assert cl.get("x") == "1"
        assert cl.cas("x", "1", "2") is True
        assert cl.cas("x", "1", "3") is False
        assert cl.get("x") == "2"
        cl.delete("x")
        assert cl.get("x") is None
        for i in range(20):
            cl.put(f"k{i}", i)
        st = c.status(leader)
        assert st["role"] == "leader" and st["leader"] == leader and st["term"] >= 1
        assert st["commit_index"] >= 24 and st["applied_index"] == st["commit_index"]

        c.kill(leader)
        new = c.wait_leader(exclude=leader)
        assert new != leader
        cl2 = Client(c.endpoints)
        assert [cl2.get(f"k{i}") for i in range(20)] == list(range(20))
        cl2.put("after", "kill")

        c.start(leader)  # restarts from its own disk and catches up
        target = c.status(new)["commit_index"]
        c.wait_applied(target, [leader])
        assert c.status(leader)["role"] == "follower"


def run_nemesis(c: ProcCluster, duration: float, clients: int, nemesis, seed: int = 1):
    keys = ["a", "b", "c"]
    work = Workload(c.endpoints, clients, seed, lambda: keys)
    work.start()
    try:
        nemesis(c, time.monotonic() + duration)
    finally:
        finished = work.finish()
    assert finished, "a client thread hung"
    return work.rec, work.acked


def verify(c: ProcCluster, rec: HistoryRecorder, acked):
    oks = [o for o in rec.ops if o.status == "ok"]
    assert len(oks) > 20, f"too little progress: {len(oks)} ok operations"
    result = check(rec.ops, timeout=120)
    assert result.ok, result.detail
    assert not result.unknown_keys
    lost = lost_writes(c.endpoints, acked)
    assert not lost, f"acknowledged writes lost: {lost[:5]}"
    return len(oks)


def test_three_nodes_concurrent_clients_with_leader_kill_and_restart(tmp_path):
    killed_at: list[float] = []

    def nemesis(c, until):
        time.sleep(1.5)
        victim = c.wait_leader()
        c.kill(victim)
        killed_at.append(time.monotonic())
        time.sleep(2.0)
        c.start(victim)
        while time.monotonic() < until:
            time.sleep(0.1)

    with ProcCluster(str(tmp_path), 3) as c:
        c.wait_leader()
        rec, acked = run_nemesis(c, 6.0, 4, nemesis)
        verify(c, rec, acked)
    # Writes were acknowledged on both sides of the kill: by the old leader and a new one.
    oks = [o for o in rec.ops if o.status == "ok" and o.kind != "get"]
    assert any(o.ret < killed_at[0] for o in oks)
    assert sum(o.call > killed_at[0] for o in oks) >= 5


@pytest.mark.slow
def test_five_nodes_kills_restarts_and_cut_links(tmp_path):
    rnd = random.Random(5)
    done: list[str] = []

    def nemesis(c, until):
        down: list[str] = []
        while time.monotonic() < until:
            time.sleep(rnd.uniform(0.8, 1.6))
            action = rnd.choice(["kill_leader", "kill_any", "partition", "heal", "restart"])
            try:
                if action == "kill_leader" and len(down) < 2:
                    lead = c.leader()
                    if lead:
                        c.kill(lead)
                        down.append(lead)
                        done.append("kill")
                elif action == "kill_any" and len(down) < 2:
                    victim = rnd.choice([i for i in c.ids if i not in down])
                    c.kill(victim)
                    down.append(victim)
                    done.append("kill")
                elif action == "restart" and down:
                    c.start(down.pop(0))
                    done.append("restart")
                elif action == "partition":
                    live = [i for i in c.ids if i not in down]
                    rnd.shuffle(live)
                    minority = live[: len(c.ids) // 2]
                    for i in live:
                        other = [j for j in c.ids if (j in minority) != (i in minority)]
                        c.block(i, other)
                    done.append("partition")
                elif action == "heal":
                    for i in c.ids:
                        if i not in down:
                            c.block(i, [])
            except OSError:
                pass  # a node we talk to just died: the nemesis carries on
        for i in down:
            c.start(i)
        time.sleep(0.5)
        for i in c.ids:
            for _ in range(20):
                try:
                    c.block(i, [])
                    break
                except OSError:
                    time.sleep(0.2)

    with ProcCluster(str(tmp_path), 5) as c:
        c.wait_leader()
        rec, acked = run_nemesis(c, 15.0, 6, nemesis, seed=5)
        c.wait_leader()
        verify(c, rec, acked)
    # The faults really happened (a nemesis that did nothing would make this test vacuous).
    assert {"kill", "restart", "partition"} <= set(done), done


@pytest.mark.slow
def test_three_nodes_minority_partition_then_heal(tmp_path):
    def nemesis(c, until):
        time.sleep(1.0)
        lead = c.wait_leader()
        others = [i for i in c.ids if i != lead]
        # Isolate the leader: the other two elect a new one; the old leader steps down.
        c.block(lead, others)
        for o in others:
            c.block(o, [lead])
        time.sleep(3.0)
        for i in c.ids:
            c.block(i, [])
        while time.monotonic() < until:
            time.sleep(0.1)

    with ProcCluster(str(tmp_path), 3) as c:
        c.wait_leader()
        rec, acked = run_nemesis(c, 7.0, 4, nemesis, seed=3)
        verify(c, rec, acked)


def test_corrupt_log_stops_node_with_one_line_naming_file_and_offset(tmp_path):
    with ProcCluster(str(tmp_path), 3) as c:
        c.wait_leader()
        cl = Client(c.endpoints)
        for i in range(10):
            cl.put(f"k{i}", "v" * 50)
        c.wait_applied(c.status(c.wait_leader())["commit_index"])
        victim = next(i for i in c.ids if i != c.leader())
        c.stop(victim)
        wal = os.path.join(c.data_dir(victim), "wal")
        data = bytearray(open(wal, "rb").read())
        pos = len(data) // 2
        data[pos] ^= 0x5A
        open(wal, "wb").write(bytes(data))
        env = dict(os.environ, RAFTKV_SECRET=SECRET)
        proc = subprocess.run(
            [sys.executable, "-m", "raftkit.impl.cli", "serve", "--id", victim,
             "--cluster", c.spec, "--data-dir", c.data_dir(victim)],
            capture_output=True, text=True, timeout=30, env=env,
        )  # fmt: skip
        assert proc.returncode == 3
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert wal in lines[0] and "offset" in lines[0] and "Traceback" not in proc.stderr
        # The damaged file is left as it was, for a person to inspect.
        assert open(wal, "rb").read() == bytes(data)


def test_torn_tail_is_cut_and_node_rejoins(tmp_path):
    with ProcCluster(str(tmp_path), 3) as c:
        c.wait_leader()
        cl = Client(c.endpoints)
        for i in range(10):
            cl.put(f"k{i}", i)
        victim = next(i for i in c.ids if i != c.leader())
        c.kill(victim)
        wal = os.path.join(c.data_dir(victim), "wal")
        # The node died while appending a record it had not yet fsynced (so never
        # acknowledged): half of that record is on disk.
        record = encode_record(["E", 10_000, 99, b"x" * 40])
        with open(wal, "ab") as f:
            f.write(record[: len(record) // 2])
        c.start(victim)
        cl.put("more", 1)
        c.wait_applied(c.status(c.wait_leader())["commit_index"], [victim])
        assert "torn write" in open(c.logs[victim]).read()


def test_serve_trace_writes_protocol_events_as_json_lines(tmp_path):
    import json

    with ProcCluster(str(tmp_path), 3, trace=True) as c:
        lead = c.wait_leader()
        cl = Client(c.endpoints)
        cl.put("t", "1")
        assert cl.get("t") == "1"
        c.stop(lead)  # a clean stop flushes the trace
    events = []
    for i in c.ids:
        path = tmp_path / f"{i}.trace.jsonl"
        if i != lead:
            continue
        for line in path.read_text().splitlines():
            events.append(json.loads(line))
    kinds = {e["event"] for e in events}
    assert {"Restart", "BecomeLeader", "Send", "Receive", "ClientRequest"} <= kinds
    assert all(e["node"] == lead and "term" in e["state"] for e in events)
    sends = [e for e in events if e["event"] == "Send"]
    assert all(e["msg"]["id"] and e["msg"]["src"] == lead for e in sends)


def test_snapshots_compact_logs_and_a_lagging_node_catches_up_by_install_snapshot(tmp_path):
    with ProcCluster(str(tmp_path), 3, snapshot_every=20) as c:
        lead = c.wait_leader()
        lagger = next(i for i in c.ids if i != lead)
        c.kill(lagger)
        cl = Client(c.endpoints)
        for i in range(120):
            cl.put(f"k{i % 30}", i)
        st = c.status(c.wait_leader())
        assert st["snapshot_index"] >= 100  # the leader compacted past what lagger has
        c.start(lagger)
        c.wait_applied(st["commit_index"], [lagger], timeout=20)
        lag = c.http(lagger, "GET", "/status?digest=1")
        assert lag["snapshot_index"] >= 100, "expected catch-up through InstallSnapshot"
        digests = {c.http(i, "GET", "/status?digest=1")["digest"] for i in c.ids}
        assert len(digests) == 1
        # Everyone restarts from snapshot + WAL and still agrees.
        for i in c.ids:
            c.kill(i)
        c.start()
        lead = c.wait_leader()
        assert Client(c.endpoints).get("k29") == 119
        c.wait_applied(c.status(lead)["commit_index"])
        assert len({c.http(i, "GET", "/status?digest=1")["digest"] for i in c.ids}) == 1


def test_status_shows_every_member_and_which_are_down(tmp_path):
    with ProcCluster(str(tmp_path), 3) as c:
        lead = c.wait_leader()
        down = next(i for i in c.ids if i != lead)
        c.kill(down)
        # Ask one live node only: it knows the others and the command asks them too.
        live = next(i for i in c.ids if i not in (lead, down))
        proc = subprocess.run(
            [sys.executable, "-m", "raftkit.impl.cli", "status", "--endpoints", c.endpoint(live)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
        assert set(rows) == set(c.ids)
        assert " down " in rows[down]
        assert " leader " in rows[lead] and " follower " in rows[live]


def test_traces_of_a_real_cluster_with_a_leader_kill_conform_to_the_spec(tmp_path):
    with ProcCluster(str(tmp_path), 3, trace=True) as c:
        lead = c.wait_leader()
        cl = Client(c.endpoints)
        for i in range(15):
            cl.put(f"k{i}", i)
        c.kill(lead)  # kill -9: its trace ends wherever its last flush was
        c.wait_leader(exclude=lead)
        for i in range(10):
            cl.put(f"j{i}", i)
        c.start(lead)  # appends to the same trace file, after a Restart event
        c.wait_applied(c.status(c.wait_leader())["commit_index"], [lead])
        for i in c.ids:
            c.stop(i)
    traces = sorted(str(p) for p in tmp_path.glob("*.trace.jsonl"))
    assert len(traces) == 3
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "conform", *traces],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.stdout.startswith("conforms:")
