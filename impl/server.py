"""The node process: the sans-IO core wired to storage, the transport, a clock and HTTP clients.

One asyncio loop owns everything. Inputs (ticks, peer messages, client requests) call the core
synchronously; every call returns a ``Ready``, which is queued. A single task drains the queue
in batches, following the core's contract for each batch:

1. persist every Ready's snapshot, truncation, entries and hard state, then **one fsync** (in a
   worker thread, so the loop keeps accepting requests, which then form the next batch: this is
   where group commit comes from);
2. only then send the batch's messages;
3. apply committed entries to the KV state machine and answer the clients waiting on them;
4. answer confirmed ReadIndex reads from the state machine.

HTTP API (JSON):

    GET    /kv/<key>            -> {"key", "value"}  (404 with value null if absent)
    PUT    /kv/<key>            {"value", "client"?, "seq"?}            -> {"ok", "index"}
    DELETE /kv/<key>            {"client"?, "seq"?}                     -> {"ok", "index"}
    POST   /kv/<key>/cas        {"expected", "value", "client"?, "seq"?} -> {"swapped", "value"}
    GET    /status              -> role, term, leader, commit/apply indices, ...

A follower answers 307 with ``Location`` at the leader's API and a JSON body naming it; with no
leader known, 503. A write that does not commit in time gets 504: its outcome is unknown, and a
retry with the same (client, seq) is applied at most once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import random
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack
from aiohttp import web

from .config import Config
from .events import Event
from .kv import Command, KVStore
from .kv import Result as KVResult
from .messages import Entry, Message, Snapshot, WireError, message_from_wire
from .node import HardState as CoreHardState
from .node import Node, NotLeader, Ready
from .storage import HardState, Storage, StoredEntry
from .storage import Snapshot as StoredSnapshot
from .trace import trace_line
from .transport import Transport

log = logging.getLogger("raftkit.server")


@dataclass(frozen=True)
class NodeAddress:
    id: str
    host: str
    raft_port: int
    http_port: int

    @property
    def http_endpoint(self) -> str:
        return f"{self.host}:{self.http_port}"


@dataclass
class ServerConfig:
    node_id: str
    cluster: dict[str, NodeAddress]
    data_dir: str
    secret: bytes
    tick_ms: int = 50
    election_ticks: int = 10
    fsync: bool = True
    snapshot_every: int = 10000
    trace_path: str | None = None
    admin: bool = False
    request_timeout: float = 5.0
    max_batch: int = 512
    extra: dict[str, Any] = field(default_factory=dict)


def encode_entry(e: Entry) -> StoredEntry:
    return StoredEntry(e.index, e.term, msgpack.packb([e.kind, e.data], use_bin_type=True))


def decode_entry(s: StoredEntry) -> Entry:
    kind, data = msgpack.unpackb(s.data, raw=False)
    return Entry(s.term, s.index, bytes(data), kind)


class _Waiter:
    __slots__ = ("term", "future")

    def __init__(self, term: int, future: asyncio.Future[KVResult | None]) -> None:
        self.term = term
        self.future = future


class Server:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.id = cfg.node_id
        self.me = cfg.cluster[cfg.node_id]
        self.storage: Storage | None = None
        self.node: Node | None = None
        self.kv = KVStore()
        self.transport: Transport | None = None
        self._readies: list[Ready] = []
        self._wake = asyncio.Event()
        self._writes: dict[int, _Waiter] = {}
        self._reads: dict[int, list[asyncio.Future[int]]] = {}
        # Client requests wait here until the next flush turns each group into one
        # propose_many (one AppendEntries per follower) and one read_index (one heartbeat
        # round). While a batch is being persisted, they keep piling up: group commit.
        self._pending_props: list[tuple[bytes, asyncio.Future[KVResult | None]]] = []
        self._pending_reads: list[asyncio.Future[int]] = []
        self._flush_scheduled = False
        self._busy = False
        self._closing = False
        self._read_ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._trace: Any = None
        self._stopped = asyncio.Event()
        self.fatal: BaseException | None = None
        self.stats: dict[str, float] = {
            "fsyncs": 0, "batches": 0, "entries_persisted": 0, "sync_seconds": 0.0
        }  # fmt: skip

    # ---- lifecycle -----------------------------------------------------------------------

    def _open(self) -> None:
        """Recover from disk (raises StorageCorruption) and rebuild the core."""
        st = Storage.open(self.cfg.data_dir, fsync=self.cfg.fsync)
        if st.report.torn_bytes:
            log.warning(
                "%s: cut a torn write of %d bytes at the end of %s",
                self.id, st.report.torn_bytes, st.wal_path,
            )  # fmt: skip
        self.storage = st
        boot = _next_boot(self.cfg.data_dir, self.cfg.fsync)
        peers = tuple(sorted(self.cfg.cluster))
        config = Config(id=self.id, peers=peers, election_tick=self.cfg.election_ticks)
        snap = None
        if st.snapshot is not None:
            snap = Snapshot(st.snapshot.index, st.snapshot.term, st.snapshot.data)
        if self.cfg.trace_path:
            self._trace = open(self.cfg.trace_path, "a", buffering=1 << 16)  # noqa: SIM115
        hs = st.hard_state
        self.node = Node(
            config,
            random.Random(),
            hard_state=CoreHardState(hs.term, hs.vote),
            snapshot=snap,
            entries=[decode_entry(e) for e in st.entries],
            boot=boot,
            observer=self._observe if self._trace else None,
        )
        self._push(self.node.start())

    def _observe(self, ev: Event) -> None:
        self._trace.write(trace_line(ev) + "\n")

    async def start(self) -> None:
        self._open()
        peers = {a.id: (a.host, a.raft_port) for a in self.cfg.cluster.values() if a.id != self.id}
        self.transport = Transport(
            self.id, (self.me.host, self.me.raft_port), peers, self.cfg.secret, self._on_peer
        )
        await self.transport.start()
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.add_routes(
            [
                web.get("/status", self._h_status),
                web.get("/kv/{key}", self._h_get),
                web.put("/kv/{key}", self._h_put),
                web.delete("/kv/{key}", self._h_delete),
                web.post("/kv/{key}/cas", self._h_cas),
            ]
        )
        if self.cfg.admin:
            app.add_routes([web.post("/admin/block", self._h_block)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.me.host, self.me.http_port, reuse_address=True)
        await site.start()
        self._tasks = [
            asyncio.create_task(self._ticker(), name="ticker"),
            asyncio.create_task(self._ready_loop(), name="ready"),
        ]
        log.info("%s: serving http://%s", self.id, self.me.http_endpoint)

    async def stop(self) -> None:
        # Let the Ready loop finish the batch in hand (its fsync runs in a thread that a
        # cancel would not stop), then stop the rest.
        self._closing = True
        self._wake.set()
        ready = [t for t in self._tasks if t.get_name() == "ready"]
        if ready:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(ready[0]), 10)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._runner is not None:
            await self._runner.cleanup()
        if self.transport is not None:
            await self.transport.stop()
        if self.storage is not None:
            self.storage.close()
        if self._trace is not None:
            self._trace.close()
            self._trace = None

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self._stopped.set)
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.stop()
        if self.fatal is not None:
            raise self.fatal

    # ---- inputs --------------------------------------------------------------------------

    def _push(self, ready: Ready) -> None:
        if not ready.is_empty():
            self._readies.append(ready)
            self._wake.set()

    async def _ticker(self) -> None:
        period = self.cfg.tick_ms / 1000
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            if time.monotonic() - next_at > 5 * period:
                next_at = time.monotonic()  # we were stalled; do not fire a burst of ticks
            assert self.node is not None
            self._push(self.node.tick())

    def _on_peer(self, src: str, obj: Any) -> None:
        try:
            msg = message_from_wire(obj)
        except WireError as exc:
            raise ValueError(str(exc)) from None
        if msg.src != src:
            raise ValueError(f"message claims to be from {msg.src!r} on {src!r}'s connection")
        assert self.node is not None
        self._push(self.node.step(msg))

    # ---- the Ready loop ------------------------------------------------------------------

    async def _ready_loop(self) -> None:
        try:
            while not self._closing:
                await self._wake.wait()
                self._wake.clear()
                while self._readies and not self._closing:
                    batch = self._readies[: self.cfg.max_batch]
                    del self._readies[: len(batch)]
                    self._busy = True
                    try:
                        await self._handle_batch(batch)
                    finally:
                        self._busy = False
                    self._flush_inputs()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a disk error: stop rather than run on without a log
            log.exception("%s: stopping: %s", self.id, exc)
            self.fatal = exc
            self._stopped.set()

    async def _handle_batch(self, batch: list[Ready]) -> None:
        st = self.storage
        assert st is not None and self.transport is not None and self.node is not None
        # The trace is flushed before anything is persisted or sent: a kill -9 at any point then
        # leaves no durable change and no send without its event in the trace, so a restarted
        # node's trace replays (conformance, docs/conformance.md).
        if self._trace is not None:
            self._trace.flush()
        # 1-2: persist, one fsync for the whole batch.
        must_sync = False
        for rd in batch:
            if rd.snapshot is not None:
                # Snapshot files are written and fsynced by themselves; the WAL must be synced
                # first so that the compaction rewrite sees everything before it.
                await asyncio.to_thread(st.sync)
                s = rd.snapshot
                await asyncio.to_thread(st.save_snapshot, StoredSnapshot(s.index, s.term, s.data))
            if rd.truncate_from is not None:
                st.truncate_suffix(rd.truncate_from)
                must_sync = True
            if rd.entries:
                st.append(encode_entry(e) for e in rd.entries)
                self.stats["entries_persisted"] += len(rd.entries)
                must_sync = True
            if rd.hard_state is not None:
                st.set_hard_state(HardState(rd.hard_state.term, rd.hard_state.vote, 0))
                must_sync = True
        if must_sync:
            t0 = time.perf_counter()
            if self.node.is_leader:
                # The leader keeps accepting requests while it syncs: they form the next batch.
                await asyncio.to_thread(st.sync)
            else:
                # A follower has nothing to overlap with its fsync; a thread hand-off would
                # only add a scheduling delay to every append's round trip.
                st.sync()
            self.stats["fsyncs"] += 1
            self.stats["sync_seconds"] += time.perf_counter() - t0
        self.stats["batches"] += 1
        # 3: send (the trace was flushed before step 1).
        for rd in batch:
            for m in rd.messages:
                self.transport.send(m.dst, m.to_wire())
        # 4-5: apply and answer.
        for rd in batch:
            if rd.restore_snapshot is not None:
                self.kv.restore_snapshot(rd.restore_snapshot)
                # Everything waiting on entries the snapshot covers is now unknowable here.
                for idx in [i for i in self._writes if i <= rd.restore_snapshot.index]:
                    self._resolve_write(idx, None)
            for e in rd.committed_entries:
                if e.index <= self.kv.applied_index:
                    continue  # covered by a snapshot restored above
                res = self.kv.apply(e)
                w = self._writes.get(e.index)
                if w is not None:
                    self._resolve_write(e.index, res if w.term == e.term else None)
            for rs in rd.read_states:
                for fut in self._reads.pop(rs.request, ()):
                    if not fut.done():
                        fut.set_result(rs.index)
            for req in rd.dropped_reads:
                for fut in self._reads.pop(req, ()):
                    if not fut.done():
                        fut.set_exception(NotLeader(self.node.leader_id))
        self._maybe_snapshot()

    def _schedule_flush(self) -> None:
        if self._busy or self._flush_scheduled:
            return  # the Ready loop flushes when the batch in progress is done
        self._flush_scheduled = True
        asyncio.get_running_loop().call_soon(self._flush_inputs)

    def _flush_inputs(self) -> None:
        self._flush_scheduled = False
        node = self.node
        assert node is not None
        props, self._pending_props = self._pending_props, []
        reads, self._pending_reads = self._pending_reads, []
        if props:
            try:
                rd = node.propose_many([d for d, _ in props])
            except NotLeader as exc:
                for _, fut in props:
                    if not fut.done():
                        fut.set_exception(NotLeader(exc.leader_id))
            else:
                for (_, fut), e in zip(props, rd.entries[-len(props) :], strict=True):
                    # An older waiter at this index belonged to an entry that was truncated
                    # away (we are proposing over it), so that attempt was not applied.
                    self._resolve_write(e.index, None)
                    self._writes[e.index] = _Waiter(e.term, fut)
                self._push(rd)
        if reads:
            token = next(self._read_ids)
            try:
                rd = node.read_index(token)
            except NotLeader as exc:
                for fut in reads:
                    if not fut.done():
                        fut.set_exception(NotLeader(exc.leader_id))
            else:
                self._reads[token] = reads
                self._push(rd)

    def _resolve_write(self, index: int, res: KVResult | None) -> None:
        w = self._writes.pop(index, None)
        if w is not None and not w.future.done():
            w.future.set_result(res)

    def _maybe_snapshot(self) -> None:
        node = self.node
        assert node is not None
        applied = self.kv.applied_index
        if applied - node.log.snapshot_index >= self.cfg.snapshot_every:
            self._push(node.compact(applied, self.kv.snapshot()))

    # ---- HTTP ----------------------------------------------------------------------------

    def _not_leader(self, request: web.Request, leader: str | None) -> web.Response:
        if leader and leader in self.cfg.cluster and leader != self.id:
            ep = self.cfg.cluster[leader].http_endpoint
            url = f"http://{ep}{request.rel_url}"
            return web.json_response(
                {"error": "not the leader", "leader": leader, "leader_url": url},
                status=307,
                headers={"Location": url},
            )
        return web.json_response({"error": "no leader known; retry", "leader": None}, status=503)

    async def _h_status(self, request: web.Request) -> web.Response:
        assert self.node is not None and self.transport is not None
        s = self.node.status()
        s["applied_index"] = self.kv.applied_index
        s["endpoint"] = self.me.http_endpoint
        s["members"] = {a.id: a.http_endpoint for a in self.cfg.cluster.values()}
        s["connected"] = sorted(self.transport.connected)
        s["stats"] = dict(self.stats)
        s["keys"] = len(self.kv.data)
        if request.query.get("digest"):
            # For tests comparing replicas: O(size of the store), so only on request.
            blob = msgpack.packb(sorted(self.kv.data.items()), use_bin_type=True)
            s["digest"] = hashlib.sha256(blob).hexdigest()
        return web.json_response(s)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body is not JSON"}), content_type="application/json"
            ) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "body must be a JSON object"}),
                content_type="application/json",
            )
        return body

    async def _h_get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        node = self.node
        assert node is not None
        if not node.is_leader:
            return self._not_leader(request, node.leader_id)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending_reads.append(fut)
        self._schedule_flush()
        try:
            await asyncio.wait_for(fut, self.cfg.request_timeout)
        except NotLeader as exc:
            return self._not_leader(request, exc.leader_id)
        except TimeoutError:
            # Forget read rounds nobody waits for any more (normally the core confirms or
            # drops every round; this bounds the table if it ever does neither).
            for tok in [t for t, fs in self._reads.items() if all(f.done() for f in fs)]:
                del self._reads[tok]
            return web.json_response({"error": "read timed out; retry"}, status=504)
        # The Ready that confirmed the read also applied everything up to its index.
        if key in self.kv.data:
            return web.json_response({"key": key, "value": self.kv.data[key]})
        return web.json_response({"key": key, "value": None}, status=404)

    async def _propose(self, request: web.Request, cmd: Command) -> web.Response:
        node = self.node
        assert node is not None
        if not node.is_leader:
            return self._not_leader(request, node.leader_id)
        fut: asyncio.Future[KVResult | None] = asyncio.get_running_loop().create_future()
        self._pending_props.append((cmd.encode(), fut))
        self._schedule_flush()
        try:
            res = await asyncio.wait_for(fut, self.cfg.request_timeout)
        except NotLeader as exc:
            return self._not_leader(request, exc.leader_id)
        except TimeoutError:
            return web.json_response(
                {"error": "timed out waiting for commit; outcome unknown"}, status=504
            )
        if res is None:
            # Another leader's entry took this index: ours was not applied (at this index).
            return web.json_response(
                {"error": "leadership changed before commit; retry"}, status=503
            )
        if res.error:
            return web.json_response({"error": res.error}, status=409)
        return web.json_response(res.to_dict())

    @staticmethod
    def _session(body: dict[str, Any]) -> tuple[str | None, int]:
        client, seq = body.get("client"), body.get("seq", 0)
        if client is not None and not isinstance(client, str):
            raise web.HTTPBadRequest(text='{"error": "client must be a string"}')
        if not isinstance(seq, int):
            raise web.HTTPBadRequest(text='{"error": "seq must be an integer"}')
        return client, seq

    async def _h_put(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "value" not in body:
            return web.json_response({"error": 'body needs "value"'}, status=400)
        client, seq = self._session(body)
        cmd = Command("put", request.match_info["key"], body["value"], None, client, seq)
        return await self._propose(request, cmd)

    async def _h_delete(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        client, seq = self._session(body)
        cmd = Command("delete", request.match_info["key"], None, None, client, seq)
        return await self._propose(request, cmd)

    async def _h_cas(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "value" not in body or "expected" not in body:
            return web.json_response({"error": 'body needs "expected" and "value"'}, status=400)
        client, seq = self._session(body)
        key = request.match_info["key"]
        cmd = Command("cas", key, body["value"], body["expected"], client, seq)
        resp = await self._propose(request, cmd)
        if resp.status == 200:
            out = json.loads(resp.body)  # type: ignore[arg-type]
            out["swapped"] = out["ok"]
            out["ok"] = True
            return web.json_response(out)
        return resp

    async def _h_block(self, request: web.Request) -> web.Response:
        """Cut (or restore) links to peers: {"peers": [...]} replaces the blocked set."""
        body = await self._body(request)
        peers = body.get("peers", [])
        assert self.transport is not None
        self.transport.blocked = {p for p in peers if p in self.cfg.cluster}
        return web.json_response({"blocked": sorted(self.transport.blocked)})


def _next_boot(data_dir: str, fsync: bool) -> int:
    """A counter that differs on every start, so message ids stay unique across restarts."""
    path = os.path.join(data_dir, "boot")
    boot = 0
    with contextlib.suppress(OSError, ValueError):
        with open(path) as f:
            boot = int(f.read().strip() or 0)
    boot += 1
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(boot))
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    return boot


def entries_of(readies: Iterable[Ready]) -> list[Entry]:
    """All entries a sequence of Readys asks to append (a test helper)."""
    return [e for rd in readies for e in rd.entries]


__all__ = ["NodeAddress", "Server", "ServerConfig", "Message"]
