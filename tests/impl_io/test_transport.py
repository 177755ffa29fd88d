"""Transport: delivery, authentication, bounded queues, reconnects, and hostile input."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import msgpack
import pytest
from raftkit.impl.transport import Transport, encode_frame, read_frame

SECRET = b"s3cret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(pred, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def make_pair(secret_b=SECRET, **kw):
    pa, pb = free_port(), free_port()
    peers = {"a": ("127.0.0.1", pa), "b": ("127.0.0.1", pb)}
    got_a, got_b = [], []
    ta = Transport("a", peers["a"], peers, SECRET, lambda s, m: got_a.append((s, m)), **kw)
    tb = Transport("b", peers["b"], peers, secret_b, lambda s, m: got_b.append((s, m)), **kw)
    return ta, tb, got_a, got_b


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_messages_flow_both_ways_in_order():
    async def main():
        ta, tb, got_a, got_b = make_pair()
        await ta.start()
        await tb.start()
        try:
            for i in range(100):
                ta.send("b", {"n": i, "blob": b"\x00" * i})
            tb.send("a", {"hello": "a"})
            await wait_for(lambda: len(got_b) == 100 and len(got_a) == 1)
            assert [m["n"] for _, m in got_b] == list(range(100))
            assert all(src == "a" for src, _ in got_b)
            assert got_a == [("b", {"hello": "a"})]
        finally:
            await ta.stop()
            await tb.stop()

    run(main())


def test_wrong_secret_is_rejected(caplog):
    async def main():
        ta, tb, _, got_b = make_pair(secret_b=b"other")
        await ta.start()
        await tb.start()
        try:
            ta.send("b", {"n": 1})
            await asyncio.sleep(0.5)
            assert got_b == []
            assert "b" not in ta.connected
        finally:
            await ta.stop()
            await tb.stop()

    with caplog.at_level(logging.INFO, logger="raftkit.transport"):
        run(main())
    assert "authentication failed" in caplog.text


async def _stray(port, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    hello = await read_frame(reader)
    assert hello["proto"] == "raftkit-peer/2"
    writer.write(payload)
    await writer.drain()
    rest = await asyncio.wait_for(reader.read(), 5)  # the node must close on us
    writer.close()
    return rest


def test_stray_client_cannot_pose_as_a_node(caplog):
    async def main():
        ta, tb, _, got_b = make_pair()
        await tb.start()
        try:
            forged = {"node": "a", "to": "b", "nonce": b"x" * 32, "mac": b"y" * 32}
            assert await _stray(tb.port, encode_frame(forged)) == b""
            await _stray(tb.port, encode_frame(["not", "a", "map"]))
            await _stray(tb.port, b"\xff\xff\xff\xff garbage")
            assert got_b == []
            # ... and the node still serves real peers afterwards.
            await ta.start()
            ta.send("b", {"n": 1})
            await wait_for(lambda: got_b == [("a", {"n": 1})])
        finally:
            await ta.stop()
            await tb.stop()

    with caplog.at_level(logging.INFO, logger="raftkit.transport"):
        run(main())
    assert "authentication failed" in caplog.text


def test_malformed_frame_after_handshake_closes_connection_then_peer_reconnects(caplog):
    async def main():
        ta, tb, _, got_b = make_pair()

        def picky(src, m):
            if m.get("bad"):
                raise ValueError("AppendEntries.term: expected a non-negative integer")
            got_b.append(m)

        tb.on_message = picky
        await ta.start()
        await tb.start()
        try:
            ta.send("b", {"n": 1})
            ta.send("b", {"bad": True})
            ta.send("b", {"n": 2})  # lost with the connection, or delivered after: both fine
            await wait_for(lambda: {"n": 1} in got_b)
            for _ in range(100):  # messages sent before a is told of the close are lost
                ta.send("b", {"n": 3})
                await asyncio.sleep(0.05)
                if {"n": 3} in got_b:
                    break
            assert {"n": 3} in got_b
        finally:
            await ta.stop()
            await tb.stop()

    with caplog.at_level(logging.INFO, logger="raftkit.transport"):
        run(main())
    assert "malformed message" in caplog.text


def test_oversized_and_undecodable_frames_close_the_connection(caplog):
    async def main():
        ta, tb, got_a, _ = make_pair()
        await ta.start()
        await tb.start()
        try:
            # Authenticate as b with the real secret, then misbehave.
            for junk in (struct.pack(">I", 2**31), struct.pack(">I", 3) + b"\xc1\xc1\xc1"):
                from raftkit.impl.transport import _mac

                reader, writer = await asyncio.open_connection("127.0.0.1", ta.port)
                hello = await read_frame(reader)
                nonce = b"n" * 32
                addr = f"127.0.0.1:{tb.listen[1]}"
                mac = _mac(SECRET, b"dial", hello["nonce"], nonce, b"b", b"a", addr.encode())
                writer.write(encode_frame({"node": "b", "to": "a", "nonce": nonce, "addr": addr,
                                           "mac": mac}))  # fmt: skip
                await read_frame(reader)
                writer.write(junk)
                await writer.drain()
                assert await asyncio.wait_for(reader.read(), 5) == b""
                writer.close()
            tb.send("a", {"still": "alive"})
            await wait_for(lambda: got_a == [("b", {"still": "alive"})])
        finally:
            await ta.stop()
            await tb.stop()

    with caplog.at_level(logging.INFO, logger="raftkit.transport"):
        run(main())
    assert "exceeds" in caplog.text and "undecodable" in caplog.text


def test_bounded_queue_drops_oldest_while_peer_is_down():
    async def main():
        ta, tb, _, got_b = make_pair(queue_size=3)
        await ta.start()
        try:
            for i in range(10):
                ta.send("b", {"n": i})
            assert ta.dropped["b"] == 7 and len(ta.queues["b"]) == 3
            await tb.start()
            await wait_for(lambda: len(got_b) == 3)
            assert [m["n"] for _, m in got_b] == [7, 8, 9]
        finally:
            await ta.stop()
            await tb.stop()

    run(main())


def test_reconnects_after_peer_restart():
    async def main():
        ta, tb, _, got_b = make_pair(backoff_max=0.2)
        await ta.start()
        await tb.start()
        try:
            ta.send("b", {"n": 1})
            await wait_for(lambda: len(got_b) == 1)
            await tb.stop()
            await asyncio.sleep(0.3)
            tb2 = Transport("b", tb.listen, {"a": ta.listen, "b": tb.listen}, SECRET,
                            lambda s, m: got_b.append((s, m)))  # fmt: skip
            await tb2.start()
            deadline = asyncio.get_running_loop().time() + 10
            while not any(m.get("n") == 2 for _, m in got_b):
                assert asyncio.get_running_loop().time() < deadline
                ta.send("b", {"n": 2})
                await asyncio.sleep(0.1)
            await tb2.stop()
        finally:
            await ta.stop()
            await tb.stop()

    run(main())


def test_blocked_link_drops_both_directions():
    async def main():
        ta, tb, got_a, got_b = make_pair()
        await ta.start()
        await tb.start()
        try:
            ta.blocked.add("b")
            ta.send("b", {"n": 1})
            tb.send("a", {"n": 1})
            await asyncio.sleep(0.3)
            assert got_a == [] and got_b == []
            ta.blocked.clear()
            ta.send("b", {"n": 2})
            tb.send("a", {"n": 2})
            await wait_for(lambda: got_a and got_b)
            assert got_a[-1][1] == {"n": 2} and got_b[-1][1] == {"n": 2}
        finally:
            await ta.stop()
            await tb.stop()

    run(main())


def test_a_node_added_later_is_learned_from_its_handshake_and_answered():
    """A node that joins a running cluster knows the initial members only; a leader added after
    it started dials in, and the joiner learns the leader's address from the (authenticated)
    handshake, so it can answer."""

    async def main():
        ta, tb, got_a, got_b = make_pair()
        pc = free_port()
        got_c = []
        # c knows a and b; they do not know c until it is added (add_peer) or dials in.
        tc = Transport("c", ("127.0.0.1", pc), {"a": ta.listen, "b": tb.listen}, SECRET,
                       lambda s, m: got_c.append((s, m)))  # fmt: skip
        for t in (ta, tb, tc):
            await t.start()
        try:
            assert not ta.send("c", {"n": 0})  # unknown: dropped at once
            ta.add_peer("c", ("127.0.0.1", pc))
            ta.send("c", {"n": 1})
            await wait_for(lambda: got_c == [("a", {"n": 1})])
            tc.send("a", {"n": 2})  # c knew a from the start
            await wait_for(lambda: ("c", {"n": 2}) in got_a)
            # b never heard of c: c's dial teaches b where c listens.
            tc.send("b", {"n": 3})
            await wait_for(lambda: ("c", {"n": 3}) in got_b)
            assert tb.peers["c"] == ("127.0.0.1", pc)
            tb.send("c", {"n": 4})
            await wait_for(lambda: ("b", {"n": 4}) in got_c)
        finally:
            for t in (ta, tb, tc):
                await t.stop()

    run(main())


def test_empty_secret_refused():
    with pytest.raises(ValueError, match="secret"):
        Transport("a", ("127.0.0.1", 0), {}, b"", lambda s, m: None)


def test_frame_round_trip():
    async def main():
        r = asyncio.StreamReader()
        r.feed_data(encode_frame({"x": [1, b"2"]}))
        r.feed_eof()
        assert await read_frame(r) == {"x": [1, b"2"]}

    run(main())
    assert msgpack.unpackb(encode_frame(1)[4:]) == 1
