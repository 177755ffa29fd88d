"""Servers of one cluster in this process, on one event loop in a background thread (each
server starts its own Raft thread)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from raftkit.impl.server import NodeAddress, Server, ServerConfig
from raftkit.impl.testing.proc_cluster import free_ports


class InProcCluster:
    """Three Server objects on one event loop in a background thread."""

    def __init__(self, root: str, n: int = 3, **config: Any) -> None:
        ports = free_ports(2 * n)
        ids = [f"n{i + 1}" for i in range(n)]
        cluster = {
            i: NodeAddress(i, "127.0.0.1", ports[k], ports[n + k]) for k, i in enumerate(ids)
        }
        self.ids = ids
        self.cluster = cluster
        self.cfgs = [
            ServerConfig(
                i, cluster, f"{root}/{i}", b"secret", **{"tick_ms": 20, "fsync": False, **config}
            )
            for i in ids
        ]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: dict[str, Server] = {}

    def run(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> InProcCluster:
        self.thread.start()
        for cfg in self.cfgs:
            s = Server(cfg)
            self.run(s.start())
            self.servers[cfg.node_id] = s
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.servers.values():
            self.run(s.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def endpoint(self, node: str) -> str:
        return self.cluster[node].http_endpoint

    def leader(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, s in self.servers.items():
                if s.node is not None and s.node.is_leader:
                    return i
            time.sleep(0.05)
        raise AssertionError("no leader")

    def isolate(self, node: str) -> None:
        async def cut() -> None:
            for i, s in self.servers.items():
                assert s.transport is not None
                s.transport.blocked = set(self.ids) - {node} if i == node else {node}

        self.run(cut())
