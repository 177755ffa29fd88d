"""The node process: the sans-IO core wired to storage, the transport, a clock and HTTP clients.

Two event loops, in two threads, so that the Raft timers never share fate with client handling:

* the **Raft loop** (its own thread) owns the core, storage, the peer transport and the ticker.
  Inputs (ticks, peer messages, client commands) call the core synchronously; every call returns
  a ``Ready``, which is queued. A single task drains the queue in batches, following the core's
  contract for each batch:

  1. persist every Ready's snapshot, truncation, entries and hard state, then **one fsync** (in a
     worker thread, so the loop keeps accepting commands, which then form the next batch: this
     is where group commit comes from);
  2. only then send the batch's messages;
  3. apply committed entries to the KV state machine and answer the clients waiting on them;
  4. answer confirmed ReadIndex reads from the state machine.

* the **client loop** (the thread that calls ``start``) serves the HTTP API (``client_api``).
  A handler hands its command to the Raft loop and awaits the answer; a flood of clients slows
  the HTTP side only, and heartbeats keep their schedule.

A peer can be cut off without root: the node reads ``<data-dir>/blocked-peers`` (a JSON list of
peer ids) every 100 ms and drops all traffic to and from the peers it lists (``PEER_BLOCK_FILE``).

Membership: ``--cluster`` is the initial configuration; the core's configuration entries carry
each member's address (``host:raft_port:http_port``, as ``--cluster`` spells it), from which the
node learns where new members are. A spare starts with its own address and the initial
configuration, and waits to be added (``add_member``).
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
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from .addresses import NodeAddress
from .client_api import ApiLimits, ClientAPI
from .config import Config
from .events import Event
from .kv import KVStore
from .kv import Result as KVResult
from .membership import Membership
from .membership_changes import ConfigChangeRefused
from .messages import Entry, Message, Snapshot, WireError, message_from_wire
from .node import Node, NotLeader
from .ready import ChangeResult, Ready
from .ready import HardState as CoreHardState
from .storage import HardState, Storage, StoredEntry
from .storage import Snapshot as StoredSnapshot
from .trace import trace_line
from .transport import Transport

log = logging.getLogger("raftkit.server")

PEER_BLOCK_FILE = "blocked-peers"
PEER_BLOCK_POLL = 0.1


def _change_unknown() -> ConfigChangeRefused:
    return ConfigChangeRefused("leadership changed before the change was committed; retry", True)


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
    request_timeout: float = 5.0
    max_batch: int = 512
    # The client API: a token clients must present, TLS files, and what one client may cost.
    client_token: bytes | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: ApiLimits = field(default_factory=ApiLimits)
    # A spare (not in the initial configuration ``cluster``) gives its own address here.
    address: NodeAddress | None = None
    # How long a membership change may take before its outcome is reported as unknown.
    change_timeout: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)


def encode_entry(e: Entry) -> StoredEntry:
    return StoredEntry(e.index, e.term, msgpack.packb([e.kind, e.data], use_bin_type=True))


def decode_entry(s: StoredEntry) -> Entry:
    kind, data = msgpack.unpackb(s.data, raw=False)
    return Entry(s.term, s.index, bytes(data), kind)


def _settle(fut: asyncio.Future[Any], result: Any = None, exc: BaseException | None = None) -> None:
    """Complete a future of the client loop from the Raft loop's thread."""

    def done() -> None:
        if fut.done():
            return  # the client gave up waiting (timeout) or went away
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    with contextlib.suppress(RuntimeError):  # the client loop is closed: nobody is waiting
        fut.get_loop().call_soon_threadsafe(done)


class _Waiter:
    __slots__ = ("term", "future")

    def __init__(self, term: int, future: asyncio.Future[KVResult | None]) -> None:
        self.term = term
        self.future = future


class Server:
    def __init__(self, cfg: ServerConfig) -> None:
        self.cfg = cfg
        self.id = cfg.node_id
        me = cfg.cluster.get(cfg.node_id) or cfg.address
        if me is None:
            raise ValueError(f"{cfg.node_id} is not in the cluster and has no address of its own")
        self.me = me
        # Where every node we know of listens: the initial configuration, then what the
        # configuration entries of the log say (addresses are only ever added).
        self.addresses: dict[str, NodeAddress] = {**cfg.cluster, me.id: me}
        self._seen_config: Any = None
        # Membership changes asked by clients: by token until the core appends their entry,
        # then by the entry's index until it is applied; transfers until leadership moves.
        self._changes: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._change_waits: dict[int, tuple[int, asyncio.Future[dict[str, Any]]]] = {}
        self._transfers: list[tuple[str, asyncio.Future[dict[str, Any]]]] = []
        self._change_ids = itertools.count(1)
        self.storage: Storage | None = None
        self.node: Node | None = None
        self.kv = KVStore()
        self.transport: Transport | None = None
        self.api: Any = None  # client_api.ClientAPI once started
        self._readies: list[Ready] = []
        self._wake: asyncio.Event | None = None
        self._writes: dict[int, _Waiter] = {}
        self._reads: dict[int, list[tuple[str, asyncio.Future[tuple[bool, Any]]]]] = {}
        # Client commands wait here until the next flush turns each group into one
        # propose_many (one AppendEntries per follower) and one read_index (one heartbeat
        # round). While a batch is being persisted, they keep piling up: group commit.
        self._pending_props: list[tuple[bytes, asyncio.Future[KVResult | None]]] = []
        self._pending_reads: list[tuple[str, asyncio.Future[tuple[bool, Any]]]] = []
        self._flush_scheduled = False
        self._busy = False
        self._closing = False
        self._read_ids = itertools.count(1)
        self._tasks: list[asyncio.Task[None]] = []
        self._trace: Any = None
        self._raft_loop: asyncio.AbstractEventLoop | None = None
        self._raft_thread: threading.Thread | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._stopped = asyncio.Event()
        self.fatal: BaseException | None = None
        self.stats: dict[str, float] = {
            "fsyncs": 0, "batches": 0, "entries_persisted": 0, "sync_seconds": 0.0,
            "tick_late_max_ms": 0.0,
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
        config = Config(
            id=self.id,
            peers=peers,
            election_tick=self.cfg.election_ticks,
            addresses=tuple((a.id, a.spec) for a in self.cfg.cluster.values()),
        )
        snap = None
        if st.snapshot is not None:
            membership = st.snapshot.meta.get("membership") or b""
            snap = Snapshot(st.snapshot.index, st.snapshot.term, st.snapshot.data, membership)
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

    def _observe(self, ev: Event) -> None:
        self._trace.write(trace_line(ev) + "\n")

    async def start(self) -> None:
        """Open storage, start the Raft loop's thread, then serve clients on this loop."""
        self._client_loop = asyncio.get_running_loop()
        self._open()
        loop = asyncio.new_event_loop()
        self._raft_loop = loop
        self._raft_thread = threading.Thread(
            target=loop.run_forever, name=f"raft-{self.id}", daemon=True
        )
        self._raft_thread.start()
        try:
            await self._on_raft_loop(self._start_raft())
            self.api = ClientAPI(self)
            await self.api.start()
        except BaseException:
            await self.stop()
            raise
        log.info("%s: serving %s", self.id, self.api.base_url)

    async def _start_raft(self) -> None:
        assert self.node is not None
        self._wake = asyncio.Event()
        peers = {a.id: (a.host, a.raft_port) for a in self.addresses.values() if a.id != self.id}
        self.transport = Transport(
            self.id, (self.me.host, self.me.raft_port), peers, self.cfg.secret, self._on_peer
        )
        await self.transport.start()
        self._push(self.node.start())
        self._sync_configuration()
        self._tasks = [
            asyncio.create_task(self._ticker(), name="ticker"),
            asyncio.create_task(self._ready_loop(), name="ready"),
            asyncio.create_task(self._watch_peer_blocks(), name="peer-blocks"),
        ]

    async def _on_raft_loop(self, coro: Any) -> Any:
        """Run a coroutine on the Raft loop and wait for it here."""
        assert self._raft_loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._raft_loop))

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.stop()
            self.api = None
        loop, thread = self._raft_loop, self._raft_thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(Exception):
                await self._on_raft_loop(self._stop_raft())
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.to_thread(thread.join, 10)
            if not thread.is_alive():
                loop.close()
        self._raft_loop = self._raft_thread = None
        if self.storage is not None:
            self.storage.close()
            self.storage = None
        if self._trace is not None:
            self._trace.close()
            self._trace = None

    async def _stop_raft(self) -> None:
        # Let the Ready loop finish the batch in hand (its fsync runs in a thread that a
        # cancel would not stop), then stop the rest.
        self._closing = True
        if self._wake is not None:
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
        if self.transport is not None:
            await self.transport.stop()

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
            # Before asyncio.run closes the loop's self-pipe: a second signal (raftkv cluster
            # sends SIGTERM after the terminal's SIGINT) arriving while the pipe is closed but
            # still the wakeup fd prints a traceback from inside asyncio.
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
                    loop.remove_signal_handler(sig)
        if self.fatal is not None:
            raise self.fatal

    def _on_fatal(self, exc: BaseException) -> None:
        # On the client loop; _stopped first, so that whoever sees `fatal` sees a stopping node.
        self._stopped.set()
        self.fatal = exc

    # ---- what the client API asks (called on the client loop) ------------------------------

    async def write(self, data: bytes) -> KVResult | None:
        """Propose a command; its result once applied, None if another leader's entry took
        its place. Raises NotLeader, or TimeoutError after ``request_timeout``."""
        fut: asyncio.Future[KVResult | None] = asyncio.get_running_loop().create_future()
        self._call_raft(self._admit, "_pending_props", (data, fut))
        return await asyncio.wait_for(fut, self.cfg.request_timeout)

    async def read(self, key: str) -> tuple[bool, Any]:
        """A linearizable read: (present, value). Raises NotLeader or TimeoutError."""
        fut: asyncio.Future[tuple[bool, Any]] = asyncio.get_running_loop().create_future()
        self._call_raft(self._admit, "_pending_reads", (key, fut))
        return await asyncio.wait_for(fut, self.cfg.request_timeout)

    async def status(self, digest: bool = False) -> dict[str, Any]:
        """The node's state for ``/status``, taken on the Raft loop."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._call_raft(self._status, digest, fut)
        return await asyncio.wait_for(fut, self.cfg.request_timeout)

    async def change_membership(self, op: str, node: str, address: str = "") -> dict[str, Any]:
        """Add (``"add"``, at ``address``), remove (``"remove"``) or hand leadership to
        (``"transfer"``) ``node``; what happened, once it has. Raises NotLeader,
        ConfigChangeRefused, or TimeoutError after ``change_timeout`` (outcome unknown)."""
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._call_raft(self._start_change, op, node, address, fut)
        return await asyncio.wait_for(fut, self.cfg.change_timeout)

    def _call_raft(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._raft_loop is not None
        self._raft_loop.call_soon_threadsafe(fn, *args)

    # ---- inputs (on the Raft loop) ---------------------------------------------------------

    def _push(self, ready: Ready) -> None:
        if not ready.is_empty():
            self._readies.append(ready)
            assert self._wake is not None
            self._wake.set()

    async def _ticker(self) -> None:
        period = self.cfg.tick_ms / 1000
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            late = time.monotonic() - next_at
            if late * 1000 > self.stats["tick_late_max_ms"]:
                self.stats["tick_late_max_ms"] = round(late * 1000, 1)
            if late > 5 * period:
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

    def _admit(self, pending: str, entry: tuple[Any, asyncio.Future[Any]]) -> None:
        """Queue a client command or read (``pending`` names the queue) for the next flush."""
        node = self.node
        assert node is not None
        if not node.is_leader:
            _settle(entry[1], exc=NotLeader(node.leader_id))
            return
        getattr(self, pending).append(entry)
        self._schedule_flush()

    def _status(self, digest: bool, fut: asyncio.Future[dict[str, Any]]) -> None:
        assert self.node is not None and self.transport is not None
        s = self.node.status()
        s["applied_index"] = self.kv.applied_index
        s["endpoint"] = self.me.http_endpoint
        config = self.node.configuration
        s["member"] = self.id in config
        s["members"] = {m: self._http_endpoint(m) for m in config.ids}
        s["known"] = {a.id: a.http_endpoint for a in self.addresses.values()}
        s["connected"] = sorted(self.transport.connected)
        s["blocked"] = sorted(self.transport.blocked)
        s["pid"] = os.getpid()
        s["stats"] = dict(self.stats)
        s["keys"] = len(self.kv.data)
        if digest:
            # For tests comparing replicas: O(size of the store), so only on request.
            blob = msgpack.packb(sorted(self.kv.data.items()), use_bin_type=True)
            s["digest"] = hashlib.sha256(blob).hexdigest()
        _settle(fut, s)

    async def _watch_peer_blocks(self) -> None:
        """Apply ``<data-dir>/blocked-peers`` when it changes (created, rewritten, removed)."""
        path = os.path.join(self.cfg.data_dir, PEER_BLOCK_FILE)
        seen: tuple[int, int, int] | None = None
        while True:
            try:
                st = os.stat(path)
                now: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
            except FileNotFoundError:
                now = None
            if now != seen:
                seen = now
                self._apply_peer_blocks(path, now is not None)
            await asyncio.sleep(PEER_BLOCK_POLL)

    def _apply_peer_blocks(self, path: str, exists: bool) -> None:
        assert self.transport is not None
        peers: set[str] = set()
        if exists:
            try:
                with open(path, encoding="utf-8") as f:
                    listed = json.load(f)
                if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
                    raise ValueError("expected a JSON list of node ids")
            except (OSError, ValueError) as exc:
                log.warning("%s: ignoring %s: %s", self.id, path, exc)
                return
            # Ids this node knows of (members, spares it heard from): a typo changes nothing.
            known = self.addresses.keys() | (self.transport.peers if self.transport else {})
            peers = {p for p in listed if p != self.id and p in known}
        if peers != self.transport.blocked:
            log.info("%s: blocked peers now %s", self.id, sorted(peers) or "none")
            self.transport.blocked = peers

    # ---- the Ready loop ------------------------------------------------------------------

    async def _ready_loop(self) -> None:
        wake = self._wake
        assert wake is not None
        try:
            while not self._closing:
                await wake.wait()
                wake.clear()
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
            assert self._client_loop is not None
            with contextlib.suppress(RuntimeError):
                self._client_loop.call_soon_threadsafe(self._on_fatal, exc)

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
                meta = {"membership": s.membership}
                await asyncio.to_thread(
                    st.save_snapshot, StoredSnapshot(s.index, s.term, s.data, meta)
                )
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
                for idx in [i for i in self._change_waits if i <= rd.restore_snapshot.index]:
                    _settle(self._change_waits.pop(idx)[1], exc=_change_unknown())
            for e in rd.committed_entries:
                if e.index <= self.kv.applied_index:
                    continue  # covered by a snapshot restored above
                res = self.kv.apply(e)
                w = self._writes.get(e.index)
                if w is not None:
                    self._resolve_write(e.index, res if w.term == e.term else None)
                cw = self._change_waits.pop(e.index, None)
                if cw is not None:
                    self._resolve_change(e, *cw)
            # The Ready that confirmed a read also applied everything up to its index.
            data = self.kv.data
            for rs in rd.read_states:
                for key, fut in self._reads.pop(rs.request, ()):
                    _settle(fut, (key in data, data.get(key)))
            for req in rd.dropped_reads:
                for _, fut in self._reads.pop(req, ()):
                    _settle(fut, exc=NotLeader(self.node.leader_id))
            for ch in rd.changes:
                self._change_appended(ch)
        self._sync_configuration()
        self._check_transfers()
        self._maybe_snapshot()

    def _schedule_flush(self) -> None:
        if self._busy or self._flush_scheduled:
            return  # the Ready loop flushes when the batch in progress is done
        self._flush_scheduled = True
        assert self._raft_loop is not None
        self._raft_loop.call_soon(self._flush_inputs)

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
                    _settle(fut, exc=NotLeader(exc.leader_id))
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
                for _, fut in reads:
                    _settle(fut, exc=NotLeader(exc.leader_id))
            else:
                # Forget rounds whose clients all gave up (normally the core confirms or
                # drops every round; this bounds the table if it ever does neither).
                for tok in [t for t, rs in self._reads.items() if all(f.done() for _, f in rs)]:
                    del self._reads[tok]
                self._reads[token] = reads
                self._push(rd)

    # ---- membership (on the Raft loop) -----------------------------------------------------

    def _http_endpoint(self, node: str) -> str:
        a = self.addresses.get(node)
        return a.http_endpoint if a is not None else ""

    def _learn(self, node: str, address: str) -> None:
        """``node`` listens at ``address`` (``host:raft_port:http_port``); reach it there."""
        a = NodeAddress.parse(node, address)
        if a is None or node == self.id or self.addresses.get(node) == a:
            return
        self.addresses[node] = a
        assert self.transport is not None
        self.transport.add_peer(node, (a.host, a.raft_port))

    def _sync_configuration(self) -> None:
        config = self.node.configuration if self.node is not None else None
        if config is None or config is self._seen_config:
            return
        self._seen_config = config
        for node, address in config.members:
            self._learn(node, address)

    def _start_change(
        self, op: str, node: str, address: str, fut: asyncio.Future[dict[str, Any]]
    ) -> None:
        n = self.node
        assert n is not None
        try:
            if not n.is_leader:
                raise NotLeader(n.leader_id)
            config = n.configuration
            if op == "transfer":
                self._push(n.transfer_leadership(node))
                if node == self.id:
                    _settle(fut, {"leader": self.id, "term": n.term})
                else:
                    self._transfers.append((node, fut))
                return
            # A retry of a change that has been made (its answer was lost) is answered as done.
            if op == "add" and node in config and config.address(node) in (address, ""):
                _settle(fut, {"changed": False, "members": list(config.ids)})
                return
            if op == "remove" and node not in config:
                if node not in self.addresses:
                    # Not a member this node ever heard of: a typo, not a retry of a removal.
                    members = ", ".join(config.ids)
                    raise ConfigChangeRefused(f"unknown node {node} (members: {members})", False)
                _settle(fut, {"changed": False, "members": list(config.ids)})
                return
            token = next(self._change_ids)
            if op == "add":
                ready = n.add_node(node, address, token)
                self._learn(node, address)  # the leader sends to the learner from now on
            else:
                ready = n.remove_node(node, token)
            self._changes[token] = fut
            self._push(ready)
        except (NotLeader, ConfigChangeRefused) as exc:
            _settle(fut, exc=exc)

    def _change_appended(self, ch: ChangeResult) -> None:
        fut = self._changes.pop(ch.request, None)
        if fut is None:
            return
        if ch.error is not None:
            _settle(fut, exc=ConfigChangeRefused(ch.error, ch.retry))
        else:
            self._change_waits[ch.index] = (ch.term, fut)

    def _resolve_change(self, e: Entry, term: int, fut: asyncio.Future[dict[str, Any]]) -> None:
        if e.term != term:
            # Another leader's entry took its place: the change was not made (at this index).
            _settle(fut, exc=_change_unknown())
            return
        members = Membership.decode(e.data).ids
        _settle(fut, {"changed": True, "index": e.index, "members": list(members)})

    def _check_transfers(self) -> None:
        n = self.node
        assert n is not None
        for item in list(self._transfers):
            target, fut = item
            if fut.done():
                self._transfers.remove(item)
            elif not n.is_leader and n.leader_id is not None:
                self._transfers.remove(item)
                _settle(fut, {"leader": n.leader_id, "term": n.term})
            elif n.is_leader and n.transferring_to is None:
                self._transfers.remove(item)
                reason = f"{target} did not take over within an election timeout"
                _settle(fut, exc=ConfigChangeRefused(reason, retry=True))

    def _resolve_write(self, index: int, res: KVResult | None) -> None:
        w = self._writes.pop(index, None)
        if w is not None:
            _settle(w.future, res)

    def _maybe_snapshot(self) -> None:
        node = self.node
        assert node is not None
        applied = self.kv.applied_index
        if applied - node.log.snapshot_index >= self.cfg.snapshot_every:
            self._push(node.compact(applied, self.kv.snapshot()))


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


__all__ = ["NodeAddress", "Server", "ServerConfig", "Message", "PEER_BLOCK_FILE"]
