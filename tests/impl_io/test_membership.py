"""Membership changes of real node processes on loopback while clients write: a cluster of three
grows to five (two spares added) and shrinks back to three, its leader handed over first and then
removed. The clients' history must be linearizable and no acknowledged write lost; the nodes'
traces hold the membership events in the order they happened."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest
from raftkit.impl.client import Client
from raftkit.impl.testing.linearizability import check
from raftkit.impl.testing.nemesis import Workload, lost_writes
from raftkit.impl.testing.proc_cluster import ProcCluster

# The machine is shared and loaded: deadlines are generous; the assertions are not.
ADMIN_DEADLINE = 90.0
SNAPSHOT_EVERY = 20


def _wait(what: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"not within {timeout}s"
        time.sleep(0.2)


def _wait_members(c: ProcCluster, members: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """Wait until every one of ``members`` reports that configuration, committed and applied to
    the leader's commit index; the leader's status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lead = c.leader()
        st = c.status(lead) if lead else None
        if st and sorted(st["configuration"]) == sorted(members):
            others = [c.status(m) for m in members]
            if all(
                o and sorted(o["configuration"]) == sorted(members)
                and o["applied_index"] >= st["commit_index"] > 0
                for o in others
            ):  # fmt: skip
                return st
        time.sleep(0.2)
    raise AssertionError(f"members {members} not reached in {timeout}s; logs in {c.root}")


@pytest.fixture(scope="module")
def grown_and_shrunk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the scenario once: the tests below look at what it did."""
    root = tmp_path_factory.mktemp("membership")
    steps: dict[str, Any] = {"root": str(root)}
    # Snapshots every SNAPSHOT_EVERY entries: by the time the spares are added the leader's log
    # no longer starts at index 1, so they catch up by InstallSnapshot.
    with ProcCluster(str(root), 3, spares=2, trace=True, snapshot_every=SNAPSHOT_EVERY) as c:
        c.wait_leader(timeout=60)
        work = Workload(list(c.endpoints), 3, seed=7, keys=lambda: ["a", "b", "c"])
        admin = Client(c.endpoints, timeout=ADMIN_DEADLINE, attempts_deadline=ADMIN_DEADLINE)
        work.start()
        try:
            time.sleep(1.0)
            _wait(lambda: (st := c.status(c.leader() or "n1")) and st["snapshot_index"] > 0)
            steps["add"] = [admin.add_node(s, c.address(s)) for s in ("n4", "n5")]
            steps["five"] = _wait_members(c, c.ids)
            steps["t_five"] = time.monotonic()
            time.sleep(1.0)
            old = c.wait_leader(timeout=60)
            target = "n4" if old != "n4" else "n5"
            steps["old_leader"] = old
            steps["transfer"] = admin.transfer_leader(target)
            steps["remove"] = [admin.remove_node(old)]
            other = next(i for i in ("n1", "n2", "n3", "n5") if i not in (old, target))
            steps["remove"].append(admin.remove_node(other))
            final = sorted(set(c.ids) - {old, other})
            steps["final"] = final
            steps["three"] = _wait_members(c, final)
            steps["t_three"] = time.monotonic()
            time.sleep(1.0)
        finally:
            steps["clients_finished"] = work.finish(timeout=60)
        steps["history"] = work.rec.ops
        steps["lost"] = lost_writes([c.endpoint(i) for i in steps["final"]], work.acked)
        steps["acked"] = len(work.acked)
        # The removed nodes stop; the three left still serve writes.
        for i in (steps["old_leader"], other):
            c.stop(i)
        after = Client([c.endpoint(i) for i in steps["final"]], attempts_deadline=60)
        after.put("after-shrink", 1)
        steps["after"] = after.get("after-shrink")
        for i in list(c.procs):
            c.stop(i)
    steps["traces"] = sorted(str(p) for p in root.glob("*.trace.jsonl"))
    return steps


def test_three_grow_to_five_and_shrink_back_removing_the_leader_after_a_transfer(grown_and_shrunk):
    s = grown_and_shrunk
    assert [a["changed"] for a in s["add"]] == [True, True]
    assert s["add"][1]["members"] == ["n1", "n2", "n3", "n4", "n5"]
    assert sorted(s["five"]["configuration"]) == ["n1", "n2", "n3", "n4", "n5"]
    target = "n4" if s["old_leader"] != "n4" else "n5"
    assert s["transfer"]["leader"] == target
    assert [r["changed"] for r in s["remove"]] == [True, True]
    assert s["old_leader"] not in s["remove"][0]["members"]
    assert s["remove"][1]["members"] == s["final"] and len(s["final"]) == 3
    assert s["three"]["configuration"] == s["final"] and s["three"]["id"] in s["final"]
    assert s["after"] == 1


def test_clients_writing_throughout_stay_linearizable_and_lose_nothing(grown_and_shrunk):
    s = grown_and_shrunk
    assert s["clients_finished"], "a client thread hung"
    ops = s["history"]
    oks = [o for o in ops if o.status == "ok" and o.kind != "get"]
    # Writes were acknowledged in every phase: with three members, five, and three again.
    assert any(o.ret < s["t_five"] for o in oks)
    assert any(s["t_five"] < o.call and o.ret < s["t_three"] for o in oks)
    assert any(o.call > s["t_three"] for o in oks)
    result = check(ops, timeout=120)
    assert result.ok, result.detail
    assert s["acked"] > 0 and s["lost"] == []


def test_the_traces_record_the_membership_events_in_order(grown_and_shrunk):
    s = grown_and_shrunk
    events: dict[str, list[dict[str, Any]]] = {}
    for path in s["traces"]:
        with open(path) as f:
            for line in f:
                ev = json.loads(line)
                events.setdefault(ev["node"], []).append(ev)
    kinds = [e["event"] for evs in events.values() for e in evs]
    # The leader had compacted its log: both new nodes started from its snapshot.
    for node in ("n4", "n5"):
        assert any(e["event"] == "SnapshotInstalled" for e in events[node]), node
    assert kinds.count("AddServer") == 2 and kinds.count("RemoveServer") == 2
    assert kinds.count("TransferLeadership") == 1
    assert sum(1 for e in kinds if e == "CatchUpStarted") >= 2
    assert any(
        e["event"] == "Send" and e["msg"]["type"] == "TimeoutNow" for evs in events.values()
        for e in evs
    )  # fmt: skip
    # Every node that stayed saw the configurations change in the same order, ending in the
    # final one; each change is reported committed.
    for node in s["final"]:
        seen = [e["info"]["members"] for e in events[node] if e["event"] == "ConfigurationChanged"]
        assert seen and seen[-1] == s["final"], (node, seen)
        committed = [e for e in events[node] if e["event"] == "ConfigurationCommitted"]
        assert committed and committed[-1]["info"]["members"] == s["final"]
    # The old leader handed over, and the new one made both removals.
    target = s["transfer"]["leader"]
    assert [e["info"]["target"] for e in events[s["old_leader"]]
            if e["event"] == "TransferLeadership"] == [target]  # fmt: skip
    removals = [e["info"]["server"] for e in events[target] if e["event"] == "RemoveServer"]
    assert removals[0] == s["old_leader"] and len(removals) == 2


def test_raftmc_conform_accepts_the_traces(grown_and_shrunk):
    proc = subprocess.run(
        [sys.executable, "-m", "raftkit.modelcheck.cli", "conform", "--json",
         *grown_and_shrunk["traces"]],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # Validated against the spec with membership changes, every node of the run included.
    result = json.loads(proc.stdout)
    assert result["result"] == "conforms" and "membership" in result["options"]
    assert result["nodes"] == ["n1", "n2", "n3", "n4", "n5"]
    assert result["events"] > 0
