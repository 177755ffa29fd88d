"""A tiny lock-step network for scenario tests: nodes, their storage, and a message queue that the
test drains explicitly (etcd/raft's `network` in spirit, written for our Ready contract)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from raftkit.impl.config import Config
from raftkit.impl.events import Event
from raftkit.impl.kv import KVStore
from raftkit.impl.messages import Entry, Message, Snapshot
from raftkit.impl.node import HardState, Node, Ready
from raftkit.impl.testing.sim import MemoryStorage


def ids(n: int) -> tuple[str, ...]:
    return tuple(f"n{i + 1}" for i in range(n))


def make_node(
    nid: str,
    peers: tuple[str, ...],
    *,
    term: int = 0,
    vote: str | None = None,
    log_terms: Iterable[int] = (),
    seed: int = 0,
    observer: Callable[[Event], None] | None = None,
    **cfg,
) -> Node:
    """A started node whose log holds entries with the given terms (data = b"<index>")."""
    cfg.setdefault("pre_vote", False)
    cfg.setdefault("check_quorum", False)
    entries = tuple(Entry(t, i + 1, f"{i + 1}".encode()) for i, t in enumerate(log_terms))
    node = Node(
        Config(nid, peers, **cfg),
        random.Random(f"{seed}/{nid}"),
        hard_state=HardState(term, vote),
        entries=entries,
        observer=observer,
    )
    node.start()
    return node


def log_terms(node: Node) -> list[int]:
    return node.log.terms()


def msgs_of(ready: Ready, cls: type[Message]) -> list:
    return [m for m in ready.messages if isinstance(m, cls)]


class Net:
    """Nodes wired together. Messages wait in ``queue`` until ``deliver``; links can be cut."""

    def __init__(
        self,
        n: int = 3,
        *,
        logs: dict[str, list[int]] | None = None,
        terms: dict[str, int] | None = None,
        seed: int = 0,
        spares: int = 0,
        **cfg,
    ) -> None:
        # Spares are nodes outside the initial configuration (they join only when added).
        self.ids = ids(n + spares)
        self.initial = self.ids[:n]
        self.cfg = cfg
        self.seed = seed
        self.storage = {i: MemoryStorage() for i in self.ids}
        self.kv = {i: KVStore() for i in self.ids}
        self.applied: dict[str, list[Entry]] = {i: [] for i in self.ids}
        self.nodes: dict[str, Node] = {}
        self.queue: list[Message] = []
        self.cut: set[tuple[str, str]] = set()
        self.down: set[str] = set()
        self.read_states: dict[str, list] = {i: [] for i in self.ids}
        self.dropped_reads: dict[str, list] = {i: [] for i in self.ids}
        self.changes: dict[str, list] = {i: [] for i in self.ids}
        self.boots = dict.fromkeys(self.ids, 0)
        for i in self.ids:
            lt = (logs or {}).get(i, [])
            t = (terms or {}).get(i, max(lt, default=0))
            self.nodes[i] = make_node(i, self.initial, term=t, log_terms=lt, seed=seed, **cfg)
            st = self.storage[i]
            st.hard_state = HardState(t, None)
            st.entries = list(self.nodes[i].log.entries())
            self.kv[i].applied_index = 0

    def handle(self, nid: str, ready: Ready) -> Ready:
        self.storage[nid].save(ready)
        for m in ready.messages:
            if (m.src, m.dst) not in self.cut and m.dst not in self.down:
                self.queue.append(m)
        if ready.restore_snapshot is not None:
            self.kv[nid].restore_snapshot(ready.restore_snapshot)
        for e in ready.committed_entries:
            self.applied[nid].append(e)
            if e.index == self.kv[nid].applied_index + 1:
                self.kv[nid].apply(e)
        self.read_states[nid].extend(ready.read_states)
        self.dropped_reads[nid].extend(ready.dropped_reads)
        self.changes[nid].extend(ready.changes)
        return ready

    def deliver(
        self, max_steps: int = 100_000, filt: Callable[[Message], bool] | None = None
    ) -> int:
        """Deliver queued messages (and what they cause) until the queue is empty."""
        n = 0
        while self.queue and n < max_steps:
            m = self.queue.pop(0)
            n += 1
            if (m.src, m.dst) in self.cut or m.dst in self.down:
                continue
            if filt is not None and not filt(m):
                continue
            self.handle(m.dst, self.nodes[m.dst].step(m))
        return n

    def tick(self, nid: str, times: int = 1) -> None:
        for _ in range(times):
            self.handle(nid, self.nodes[nid].tick())

    def tick_all(self, times: int = 1) -> None:
        for _ in range(times):
            for i in self.ids:
                if i not in self.down:
                    self.handle(i, self.nodes[i].tick())
            self.deliver()

    def campaign(self, nid: str) -> None:
        self.handle(nid, self.nodes[nid].campaign())
        self.deliver()

    def propose(self, nid: str, data: bytes) -> Ready:
        r = self.handle(nid, self.nodes[nid].propose(data))
        return r

    def isolate(self, nid: str) -> None:
        for j in self.ids:
            if j != nid:
                self.cut.add((nid, j))
                self.cut.add((j, nid))

    def heal(self) -> None:
        self.cut.clear()

    def crash(self, nid: str) -> None:
        self.down.add(nid)

    def restart(self, nid: str) -> Node:
        self.down.discard(nid)
        st = self.storage[nid]
        self.boots[nid] += 1
        cfg = dict(self.cfg)
        cfg.setdefault("pre_vote", False)
        cfg.setdefault("check_quorum", False)
        node = Node(
            Config(nid, self.initial, **cfg),
            random.Random(f"{self.seed}/{nid}/{self.boots[nid]}"),
            hard_state=st.hard_state,
            snapshot=st.snapshot,
            entries=tuple(st.entries),
            boot=self.boots[nid],
        )
        self.nodes[nid] = node
        self.kv[nid] = KVStore()
        self.handle(nid, node.start())
        return node

    def leader(self) -> Node | None:
        leaders = [n for i, n in self.nodes.items() if n.is_leader and i not in self.down]
        return max(leaders, key=lambda n: n.term) if leaders else None


def snapshot_of(kv: KVStore, term: int) -> Snapshot:
    return Snapshot(kv.applied_index, term, kv.snapshot())
