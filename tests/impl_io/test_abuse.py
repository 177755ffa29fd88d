"""A real 3-node cluster whose leader's client port is flooded: the leader keeps its term.

The floods of the report that found the problem: 3,000 half-sent requests closed at once (then:
3,000 tracebacks in the log and a new election, twice in two tries), and 10,000 idle connections.
Heartbeats come from the node's Raft loop, which does not share a thread with client handling;
``tick_late_max_ms`` in ``/status`` is how late that loop's ticks ran (printed with -s).
"""

from __future__ import annotations

import resource
import socket
import time

import pytest
from raftkit.impl.client import Client
from raftkit.impl.testing.proc_cluster import ProcCluster

HALF_SENT_PUT = (b"PUT /kv/x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"va")  # fmt: skip


def _connect_many(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def _terms(c: ProcCluster) -> dict[str, int | None]:
    return {i: (c.status(i) or {}).get("term") for i in c.ids}


def test_floods_of_aborted_requests_and_idle_connections_do_not_cost_the_leader_its_term(
    tmp_path,
):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 11_000:
        pytest.skip(f"needs 11,000 file descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        with ProcCluster(str(tmp_path), 3) as c:
            lead = c.wait_leader()
            c.wait_applied(1)
            before = c.status(lead)
            port = c.http_ports[lead]

            socks = _connect_many(port, 3000)
            time.sleep(1.0)
            for s in socks:
                try:
                    s.send(HALF_SENT_PUT)
                except OSError:
                    pass  # the node closed it already (connection limit): that is fine
            time.sleep(0.5)
            for s in socks:
                s.close()  # all at once
            time.sleep(2.0)

            idle = _connect_many(port, 10_000)
            try:
                time.sleep(3.0)
                # While they are open, a client is still served by the leader.
                cl = Client(c.endpoints, attempts_deadline=15)
                cl.put("during", "idle flood")
                assert cl.leader == c.endpoint(lead)
            finally:
                for s in idle:
                    s.close()
            time.sleep(1.0)
            after = c.status(lead)
            assert after is not None
            assert after["role"] == "leader" and after["term"] == before["term"], (before, after)
            assert set(_terms(c).values()) == {before["term"]}, _terms(c)
            print(f"\nleader's ticks ran at most {after['stats']['tick_late_max_ms']} ms late; "
                  f"client connections: {after['api']}")  # fmt: skip
            assert cl.get("during") == "idle flood"
            log = open(c.logs[lead]).read()
            assert "Traceback" not in log
            assert len(log.splitlines()) < 20, log[-2000:]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
