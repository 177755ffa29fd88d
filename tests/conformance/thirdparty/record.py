"""Record traces of a real cluster of a Raft library we did not write, on 127.0.0.1: three
processes (each the library's node with our tracing adapter, LIB/node.*), a leader killed with
SIGKILL and restarted, a leader partitioned from the others and healed, client commands through
it all. Writes one trace file per node into the output folder.

Usage: python record.py LIB OUTDIR
  consensual: needs consensual 0.2.3 importable by this Python (pip install -e '.[thirdparty]')
  liferaft:   needs `npm ci` run in a copy of liferaft/ (package.json, package-lock.json,
              .npmrc); the environment variable NODE_PATH names its node_modules
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from aiohttp import ClientSession, ClientTimeout

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("n1", "n2", "n3")
# Client commands per phase of the scenario.
PUTS = {"consensual": (5, 3, 2, 2, 2), "liferaft": (5, 3, 2, 2, 2)}


def node_command(lib: str) -> list[str]:
    """The program that runs one traced node of this library (arguments follow)."""
    if lib == "consensual":
        return [sys.executable, os.path.join(HERE, "consensual", "node.py")]
    return ["node", os.path.join(HERE, "liferaft", "node.js")]


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Cluster:
    def __init__(self, lib: str, outdir: str) -> None:
        self.lib, self.outdir = lib, outdir
        self.ports = dict(zip(NAMES, free_ports(len(NAMES)), strict=True))
        self.procs: dict[str, subprocess.Popen] = {}
        self.boots = dict.fromkeys(NAMES, 0)
        self.session = ClientSession(timeout=ClientTimeout(total=2))

    def start(self, name: str) -> None:
        self.boots[name] += 1
        trace = os.path.join(self.outdir, f"{name}.jsonl")
        self.procs[name] = subprocess.Popen(
            [*node_command(self.lib), name, str(self.ports[name]), str(self.boots[name]), trace,
             json.dumps(self.ports)],
            stderr=open(os.path.join(self.outdir, f"{name}.stderr"), "a"),  # noqa: SIM115
        )

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    async def call(self, name: str, method: str, path: str, body: Any = None) -> Any:
        url = f"http://127.0.0.1:{self.ports[name]}/control/{path}"
        try:
            async with self.session.request(method, url, json=body) as resp:
                return await resp.json()
        except Exception:
            return None

    async def leader(self, among: tuple[str, ...] = NAMES, timeout: float = 20) -> str:
        """The node that leads the highest term among these, once there is one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = []
            for n in among:
                st = await self.call(n, "GET", "status")
                if st and st["role"] == "leader":
                    found.append((st["term"], n))
            if found:
                return max(found)[1]
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no leader among {among} within {timeout} s")

    async def put(self, name: str, count: int) -> None:
        for k in range(count):
            await self.call(name, "POST", "enqueue", {"k": k})
            await asyncio.sleep(0.05)

    async def partition(self, groups: list[tuple[str, ...]]) -> None:
        for g in groups:
            others = [n for n in NAMES if n not in g]
            for n in g:
                await self.call(n, "POST", "partition", others)

    async def close(self) -> None:
        for name, p in self.procs.items():
            if p.poll() is None:
                self.kill(name)
        await self.session.close()


async def scenario(lib: str, outdir: str) -> None:
    c = Cluster(lib, outdir)
    puts = PUTS[lib]
    try:
        for n in NAMES:
            c.start(n)
        first = await c.leader()
        await c.put(first, puts[0])
        await asyncio.sleep(1)
        # The leader is killed (SIGKILL) and restarted while the others elect a new one.
        c.kill(first)
        rest = tuple(n for n in NAMES if n != first)
        second = await c.leader(rest)
        await c.put(second, puts[1])
        c.start(first)
        await asyncio.sleep(2)
        # The leader is cut off from the others: its commands cannot commit, the others elect a
        # leader of a higher term, and the partition heals.
        third = await c.leader()
        rest = tuple(n for n in NAMES if n != third)
        await c.partition([(third,), rest])
        await c.put(third, puts[2])
        fourth = await c.leader(rest)
        await c.put(fourth, puts[3])
        await c.partition([NAMES])
        await asyncio.sleep(2)
        await c.put(await c.leader(), puts[4])
        await asyncio.sleep(1)
    finally:
        await c.close()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in PUTS:
        sys.exit(f"usage: record.py {'|'.join(PUTS)} OUTDIR")
    lib, outdir = sys.argv[1:3]
    os.makedirs(outdir, exist_ok=True)
    for n in NAMES:
        for suffix in (".jsonl", ".stderr"):
            path = os.path.join(outdir, n + suffix)
            if os.path.exists(path):
                os.remove(path)
    asyncio.run(scenario(lib, outdir))


if __name__ == "__main__":
    main()
