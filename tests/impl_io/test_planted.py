"""The end-to-end checks can fail: a server bug planted in the test (never in product code)
produces a history that the linearizability checker rejects, while the real server, in the same
scenario, passes."""

from __future__ import annotations

import time

import pytest
from aiohttp import web
from raftkit.impl.client import Client
from raftkit.impl.client_api import ClientAPI
from raftkit.impl.server import Server
from raftkit.impl.testing.linearizability import HistoryRecorder, check

from .inproc import InProcCluster


async def _local_read(self: ClientAPI, request: web.Request) -> web.Response:
    """The planted bug: answer reads from the local replica, on any node, without ReadIndex."""
    key = request.match_info["key"]
    return web.json_response({"key": key, "value": self.server.kv.data.get(key)})


def _stale_read_scenario(c: InProcCluster) -> HistoryRecorder:
    lead = c.leader()
    victim = next(i for i in c.ids if i != lead)
    rec = HistoryRecorder()
    writer = Client([c.endpoint(lead)], client_id="w")
    op = rec.invoke("w", "put", "x", value="before")
    writer.put("x", "before")
    rec.ok(op)
    # Wait until the victim has applied it too, then cut it off and write again.
    deadline = time.monotonic() + 10
    while c.servers[victim].kv.data.get("x") != "before":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    c.isolate(victim)
    op = rec.invoke("w", "put", "x", value="after")
    writer.put("x", "after")
    rec.ok(op)
    # A reader that happens to talk to the isolated node, after the write completed.
    reader = Client([c.endpoint(victim)], client_id="r", attempts_deadline=5)
    op = rec.invoke("r", "get", "x")
    rec.ok(op, reader.get("x"))
    return rec


def test_real_server_redirects_the_read_and_stays_linearizable(tmp_path):
    with InProcCluster(str(tmp_path)) as c:
        rec = _stale_read_scenario(c)
    assert rec.ops[-1].output == "after"
    assert check(rec.ops).ok


def test_planted_local_read_bug_is_caught_by_the_checker(tmp_path, monkeypatch):
    monkeypatch.setattr(ClientAPI, "_h_get", _local_read)
    with InProcCluster(str(tmp_path)) as c:
        rec = _stale_read_scenario(c)
    assert rec.ops[-1].output == "before"  # the stale value the bug serves
    result = check(rec.ops)
    assert not result.ok and result.bad_key == "x"


@pytest.mark.parametrize("n_writes", [50])
def test_in_process_cluster_applies_the_same_state_everywhere(tmp_path, n_writes):
    with InProcCluster(str(tmp_path)) as c:
        cl = Client([c.endpoint(i) for i in c.ids])
        for i in range(n_writes):
            cl.put(f"k{i % 7}", i)
        lead = c.leader()
        target = c.servers[lead].kv.applied_index
        deadline = time.monotonic() + 10
        while any(s.kv.applied_index < target for s in c.servers.values()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        states = [dict(s.kv.data) for s in c.servers.values()]
        assert states[0] == states[1] == states[2]
        assert states[0]["k6"] == 48


@pytest.mark.parametrize("planted", [False, True], ids=["real", "send-before-fsync"])
def test_every_message_is_sent_after_what_it_depends_on_is_durable(tmp_path, monkeypatch, planted):
    """The server loop's contract with the core: persist and fsync, then send. We watch what
    each node's storage has made durable at the moment each message leaves; the planted bug
    sends first, and the watch must see it."""
    import dataclasses

    from raftkit.impl.messages import AppendEntries, RequestVoteResponse
    from raftkit.impl.storage import Storage
    from raftkit.impl.transport import Transport

    durable: dict[str, tuple[int, int, object]] = {}  # data dir -> (last index, term, vote)
    real_sync, real_send = Storage.sync, Transport.send
    problems: list[str] = []
    checked = {"append": 0, "vote": 0}

    def sync(self):
        real_sync(self)
        hs = self.hard_state
        durable[self.dir] = (self.last_index, hs.term, hs.vote)

    monkeypatch.setattr(Storage, "sync", sync)
    if planted:
        real_batch = Server._handle_batch

        async def send_first(self, batch):
            for rd in batch:
                for m in rd.messages:
                    self.transport.send(m.dst, m.to_wire())
            await real_batch(self, [dataclasses.replace(rd, messages=()) for rd in batch])

        monkeypatch.setattr(Server, "_handle_batch", send_first)

    with InProcCluster(str(tmp_path)) as c:
        dirs = {cfg.node_id: cfg.data_dir for cfg in c.cfgs}

        def send(self, peer, obj):
            from raftkit.impl.messages import message_from_wire

            m = message_from_wire(obj)
            last, term, vote = durable.get(dirs[self.node_id], (0, 0, None))
            if isinstance(m, AppendEntries) and m.entries:
                checked["append"] += 1
                if m.entries[-1].index > last:
                    problems.append(f"{m.src} sent entry {m.entries[-1].index}, durable {last}")
            if isinstance(m, RequestVoteResponse) and m.vote_granted:
                checked["vote"] += 1
                if (term, vote) != (m.term, m.dst):
                    problems.append(f"{m.src} granted a vote to {m.dst} before persisting it")
            return real_send(self, peer, obj)

        monkeypatch.setattr(Transport, "send", send)
        lead = c.leader()
        cl = Client([c.endpoint(lead)])
        for i in range(30):
            cl.put(f"k{i}", i)
        # Force a new election so that votes are granted under observation too.
        c.isolate(lead)
        new = None
        deadline = time.monotonic() + 10
        while new is None or new == lead:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            new = next((i for i, s in c.servers.items() if s.node.is_leader and i != lead), None)
    assert checked["append"] > 10 and checked["vote"] >= 1, checked
    if planted:
        assert problems
    else:
        assert not problems, problems[:5]


def test_a_failing_disk_stops_the_node_instead_of_acknowledging(tmp_path, monkeypatch):
    """If fsync fails (a full or dying disk), the node must stop: carrying on would send
    acknowledgements for entries that are not durable."""
    import errno

    from raftkit.impl.storage import Storage

    real_sync = Storage.sync
    broken: set[str] = set()

    def sync(self):
        if self.dir in broken and self._pending:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_sync(self)

    monkeypatch.setattr(Storage, "sync", sync)
    with InProcCluster(str(tmp_path)) as c:
        lead = c.leader()
        follower = next(i for i in c.ids if i != lead)
        srv = c.servers[follower]
        broken.add(srv.cfg.data_dir)
        cl = Client([c.endpoint(lead)])
        cl.put("x", "1")  # the other follower still makes a majority
        deadline = time.monotonic() + 10
        while srv.fatal is None:
            assert time.monotonic() < deadline, "the node kept running on a failing disk"
            time.sleep(0.02)
        assert isinstance(srv.fatal, OSError) and srv.fatal.errno == errno.ENOSPC
        assert srv._stopped.is_set()
        broken.clear()
