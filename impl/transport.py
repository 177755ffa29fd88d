"""Node-to-node transport: asyncio TCP, length-prefixed msgpack frames, authenticated peers.

Each node listens on one peer port. For every other node it keeps one outgoing connection and
sends on it only; what the other node says comes back on that node's own outgoing connection.
One-way connections keep the reconnect logic trivial (only the dialer redials) and Raft needs
nothing more: every message stands alone.

Frames are ``u32 big-endian length | msgpack value``. The first frames of a connection are a
challenge-response handshake keyed by the cluster secret (HMAC-SHA256 over both sides' fresh
nonces, the claimed node ids and the dialer's own listening address), so a process that does not
know the secret can neither pose as a node nor collect messages meant for one. After it, each
frame is one message.

The peers are not fixed: membership changes add nodes (``add_peer``), and a node that dials in
with the secret is accepted whatever its id, and its address learned from the handshake. That is
how a new node can answer a leader it was never told about.

Raft tolerates lost messages, so the transport never blocks the node: per-peer queues are
bounded and drop the *oldest* message when full (newer heartbeats and appends supersede older
ones), and a connection that fails loses what was in flight.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import logging
import os
import random
import struct
from collections.abc import Callable
from typing import Any

import msgpack

log = logging.getLogger("raftkit.transport")

PROTOCOL = b"raftkit-peer/2"
MAX_FRAME = 64 * 1024 * 1024
HANDSHAKE_TIMEOUT = 5.0
_LEN = struct.Struct(">I")


class FrameError(Exception):
    """The peer sent something that is not a frame we accept."""


def encode_frame(obj: Any) -> bytes:
    payload = msgpack.packb(obj, use_bin_type=True)
    if len(payload) > MAX_FRAME:
        raise FrameError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME}")
    return _LEN.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> Any:
    """Read one frame. EOF before a frame -> IncompleteReadError; damage -> FrameError."""
    head = await reader.readexactly(4)
    (length,) = _LEN.unpack(head)
    if length > max_frame:
        raise FrameError(f"frame length {length} exceeds {max_frame}")
    payload = await reader.readexactly(length)
    try:
        return msgpack.unpackb(payload, raw=False)
    except Exception as exc:  # noqa: BLE001 - whatever msgpack raises, it is the peer's fault
        raise FrameError(f"undecodable frame: {exc}") from None


def _mac(secret: bytes, role: bytes, *parts: bytes) -> bytes:
    h = hmac.new(secret, PROTOCOL + b"|" + role, hashlib.sha256)
    for p in parts:
        h.update(_LEN.pack(len(p)) + p)
    return h.digest()


class Transport:
    """Send messages to peers and receive theirs.

    ``on_message(src, obj)`` is called on the event loop for every frame received from an
    authenticated peer; if it raises ``ValueError`` (a message that does not decode), the
    connection is closed and the error logged: a confused peer cannot crash the node.
    """

    def __init__(
        self,
        node_id: str,
        listen: tuple[str, int],
        peers: dict[str, tuple[str, int]],
        secret: bytes,
        on_message: Callable[[str, Any], None],
        *,
        queue_size: int = 4096,
        backoff_min: float = 0.05,
        backoff_max: float = 2.0,
    ) -> None:
        if not secret:
            raise ValueError("transport: the cluster secret must not be empty")
        self.node_id = node_id
        self.listen = listen
        self.peers = {p: a for p, a in peers.items() if p != node_id}
        self.secret = secret
        self.on_message = on_message
        self.queue_size = queue_size
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.queues: dict[str, collections.deque[bytes]] = {
            p: collections.deque() for p in self.peers
        }
        self._wake: dict[str, asyncio.Event] = {}
        self.dropped: collections.Counter[str] = collections.Counter()
        self.sent: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()
        self.connected: set[str] = set()
        # Links cut on purpose (tests, operators): traffic to and from these peers is dropped.
        self.blocked: set[str] = set()
        self._server: asyncio.base_events.Server | None = None
        self._started = False
        self._tasks: list[asyncio.Task[None]] = []
        self._inbound: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        host, port = self.listen
        self._server = await asyncio.start_server(self._accept, host, port)
        self._started = True
        for peer in self.peers:
            self._start_sender(peer)

    def _start_sender(self, peer: str) -> None:
        self._wake[peer] = asyncio.Event()
        self._tasks.append(asyncio.create_task(self._sender(peer), name=f"send-{peer}"))

    def add_peer(self, peer: str, address: tuple[str, int]) -> None:
        """Send to ``peer`` at ``address`` from now on (a new peer, or one that moved: the next
        connection goes to the new address)."""
        if peer == self.node_id or self.peers.get(peer) == address:
            return
        known = peer in self.peers
        self.peers[peer] = address
        if not known:
            self.queues[peer] = collections.deque()
            if self._started:
                self._start_sender(peer)

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down anyway
                pass
        self._tasks.clear()
        if self._server is not None:
            self._server.close()
            for w in list(self._inbound):
                w.close()
            for t in list(self._handlers):
                t.cancel()
            if self._handlers:
                await asyncio.wait(list(self._handlers), timeout=1.0)
            await self._server.wait_closed()
            self._server = None

    # ---- sending -------------------------------------------------------------------------

    def send(self, peer: str, obj: Any) -> bool:
        """Queue a message; never blocks. Returns False if it was dropped at once."""
        q = self.queues.get(peer)
        if q is None:
            log.warning("%s: message for unknown peer %r dropped", self.node_id, peer)
            return False
        if peer in self.blocked:
            self.dropped[peer] += 1
            return False
        try:
            frame = encode_frame(obj)
        except FrameError as exc:
            log.warning("%s: message to %s dropped: %s", self.node_id, peer, exc)
            return False
        if len(q) >= self.queue_size:
            q.popleft()  # oldest first: a newer message about the same log supersedes it
            self.dropped[peer] += 1
        q.append(frame)
        wake = self._wake.get(peer)
        if wake is not None:
            wake.set()
        return True

    async def _sender(self, peer: str) -> None:
        delay = self.backoff_min
        q = self.queues[peer]
        wake = self._wake[peer]
        while True:
            host, port = self.peers[peer]
            writer: asyncio.StreamWriter | None = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), HANDSHAKE_TIMEOUT
                )
                await asyncio.wait_for(
                    self._dial_handshake(reader, writer, peer), HANDSHAKE_TIMEOUT
                )
                self.connected.add(peer)
                delay = self.backoff_min
                log.info("%s: connected to %s at %s:%d", self.node_id, peer, host, port)
                # The peer never writes after the handshake, so any read completing means it
                # closed on us: notice at once instead of at the next failed write.
                watcher = asyncio.create_task(reader.read(1))
                watcher.add_done_callback(lambda _t: wake.set())
                try:
                    while True:
                        if not q:
                            wake.clear()
                            await wake.wait()
                        if watcher.done():
                            raise ConnectionError("peer closed the connection")
                        batch = []
                        while q and len(batch) < 256:
                            batch.append(q.popleft())
                        if peer in self.blocked:
                            self.dropped[peer] += len(batch)
                            continue
                        writer.write(b"".join(batch))
                        await writer.drain()
                        self.sent[peer] += len(batch)
                finally:
                    watcher.cancel()
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionError, TimeoutError, asyncio.IncompleteReadError,
                    FrameError) as exc:  # fmt: skip
                if peer in self.connected:
                    log.info("%s: lost connection to %s: %s", self.node_id, peer, exc)
                else:
                    log.debug("%s: cannot reach %s: %s", self.node_id, peer, exc)
            finally:
                self.connected.discard(peer)
                if writer is not None:
                    writer.close()
            # Exponential back-off with jitter, so restarted nodes do not reconnect in lockstep.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.backoff_max)

    async def _dial_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        hello = await read_frame(reader, 1024)
        if not isinstance(hello, dict) or hello.get("proto") != PROTOCOL.decode():
            raise FrameError(f"peer does not speak {PROTOCOL.decode()}")
        server_nonce = hello.get("nonce")
        if not isinstance(server_nonce, bytes) or len(server_nonce) != 32:
            raise FrameError("bad challenge")
        my_nonce = os.urandom(32)
        addr = _address_text(self.listen)
        mac = _mac(
            self.secret,
            b"dial",
            server_nonce,
            my_nonce,
            self.node_id.encode(),
            peer.encode(),
            addr.encode(),
        )
        writer.write(
            encode_frame(
                {"node": self.node_id, "to": peer, "nonce": my_nonce, "addr": addr, "mac": mac}
            )
        )
        await writer.drain()
        answer = await read_frame(reader, 1024)
        want = _mac(self.secret, b"accept", my_nonce, server_nonce, peer.encode())
        got = answer.get("mac") if isinstance(answer, dict) else None
        if not isinstance(got, bytes) or not hmac.compare_digest(got, want):
            raise ConnectionError(f"{peer} failed authentication (wrong cluster secret?)")

    # ---- receiving -----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        self._inbound.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        peer = None
        try:
            peer = await asyncio.wait_for(self._accept_handshake(reader, writer), HANDSHAKE_TIMEOUT)
            if peer is None:
                return
            while True:
                obj = await read_frame(reader)
                if peer in self.blocked:
                    continue
                self.received[peer] += 1
                try:
                    self.on_message(peer, obj)
                except ValueError as exc:
                    log.warning(
                        "%s: closing connection from %s: malformed message: %s",
                        self.node_id, peer, exc,
                    )  # fmt: skip
                    return
                except Exception:
                    # A bug on our side must not take the node down with it; the connection
                    # is dropped and the peer will redial.
                    log.exception("%s: error handling a message from %s", self.node_id, peer)
                    return
        except asyncio.IncompleteReadError:
            pass  # the peer went away; it will redial
        except asyncio.CancelledError:
            # Shutting down. Returning instead of re-raising keeps Python 3.11's stream
            # callback from logging a spurious traceback for the cancelled handler.
            return
        except FrameError as exc:
            log.warning("%s: closing connection from %s (%s): %s", self.node_id, peer, addr, exc)
        except (TimeoutError, OSError) as exc:
            log.info("%s: connection from %s (%s) ended: %s", self.node_id, peer, addr, exc)
        finally:
            self._inbound.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _accept_handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str | None:
        nonce = os.urandom(32)
        writer.write(encode_frame({"proto": PROTOCOL.decode(), "nonce": nonce}))
        await writer.drain()
        claim = await read_frame(reader, 1024)
        addr = writer.get_extra_info("peername")
        if not isinstance(claim, dict):
            log.warning("%s: rejected connection from %s: bad handshake", self.node_id, addr)
            return None
        node, to, their_nonce, addr, mac = (
            claim.get(k) for k in ("node", "to", "nonce", "addr", "mac")
        )
        if (
            not isinstance(node, str)
            or not node
            or node == self.node_id
            or to != self.node_id
            or not isinstance(their_nonce, bytes)
            or len(their_nonce) != 32
            or not isinstance(addr, str)
            or not isinstance(mac, bytes)
            or not hmac.compare_digest(
                mac,
                _mac(
                    self.secret,
                    b"dial",
                    nonce,
                    their_nonce,
                    node.encode(),
                    to.encode(),
                    addr.encode(),
                ),
            )
        ):
            log.warning(
                "%s: rejected connection from %s claiming to be %r: authentication failed",
                self.node_id, addr, node,
            )  # fmt: skip
            return None
        reply = _mac(self.secret, b"accept", their_nonce, nonce, self.node_id.encode())
        writer.write(encode_frame({"mac": reply}))
        await writer.drain()
        where = _parse_address(addr)
        if where is not None and node not in self.peers:
            # An authenticated node we did not know (one added after we started): answer it.
            log.info("%s: learned %s at %s from its handshake", self.node_id, node, addr)
            self.add_peer(node, where)
        return node


def _address_text(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_address(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)
