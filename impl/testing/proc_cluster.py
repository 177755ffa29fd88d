"""Real raftkv node processes on 127.0.0.1, for tests, benchmarks and the nemesis (not for
production: the secret is a fixed test value).

Partitions need no root: ``block`` writes the node's ``blocked-peers`` file, which the node reads
every 100 ms (``raftkit.impl.server``)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from ..server import PEER_BLOCK_FILE

SECRET = "test-cluster-secret"


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class ProcCluster:
    def __init__(
        self,
        root: str,
        n: int = 3,
        *,
        tick_ms: int = 50,
        election_ticks: int = 10,
        fsync: bool = True,
        snapshot_every: int = 10000,
        trace: bool = False,
        extra: list[str] | None = None,
        spares: int = 0,
    ) -> None:
        """``n`` nodes in the initial configuration, and ``spares`` more (``n{n+1}``...) that
        start outside it and join when added."""
        self.root = root
        os.makedirs(root, exist_ok=True)
        total = n + spares
        self.ids = [f"n{i + 1}" for i in range(total)]
        self.initial = self.ids[:n]
        ports = free_ports(2 * total)
        self.raft_ports = dict(zip(self.ids, ports[:total], strict=True))
        self.http_ports = dict(zip(self.ids, ports[total:], strict=True))
        self.spec = ",".join(f"{i}={self.address(i)}" for i in self.initial)
        self.opts = ["--tick-ms", str(tick_ms), "--election-ticks", str(election_ticks),
                     "--snapshot-every", str(snapshot_every)]  # fmt: skip
        if not fsync:
            self.opts.append("--no-fsync")
        self.opts += extra or []
        self.trace = trace
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, str] = {}

    @property
    def endpoints(self) -> list[str]:
        return [f"127.0.0.1:{self.http_ports[i]}" for i in self.ids]

    def endpoint(self, node: str) -> str:
        return f"127.0.0.1:{self.http_ports[node]}"

    def address(self, node: str) -> str:
        """``host:raft_port:http_port``, as ``--cluster`` and ``raftkv add-node`` write it."""
        return f"127.0.0.1:{self.raft_ports[node]}:{self.http_ports[node]}"

    def data_dir(self, node: str) -> str:
        return os.path.join(self.root, node)

    def start(self, node: str | None = None) -> None:
        for i in [node] if node else self.ids:
            cmd = [sys.executable, "-m", "raftkit.impl.cli", "serve", "--id", i,
                   "--cluster", self.spec, "--data-dir", self.data_dir(i), *self.opts]  # fmt: skip
            if i not in self.initial:
                cmd += ["--address", self.address(i)]
            if self.trace:
                cmd += ["--trace", os.path.join(self.root, f"{i}.trace.jsonl")]
            self.logs[i] = os.path.join(self.root, f"{i}.log")
            out = open(self.logs[i], "ab")  # noqa: SIM115 - the child owns it
            env = dict(os.environ, RAFTKV_SECRET=SECRET)
            self.procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            out.close()

    def kill(self, node: str) -> None:
        """kill -9: no chance to flush or say goodbye."""
        p = self.procs.pop(node, None)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(10)

    def stop(self, node: str) -> None:
        p = self.procs.pop(node, None)
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def close(self) -> None:
        for i in list(self.procs):
            self.kill(i)

    def __enter__(self) -> ProcCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def http(
        self, node: str, method: str, path: str, body: Any = None, timeout: float = 2.0
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://{self.endpoint(node)}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def status(self, node: str) -> dict[str, Any] | None:
        """The node's status, or None when it does not answer in full: a node killed or
        paused mid-answer leaves a short body (IncompleteRead, or JSON cut off) as well as
        refused and timed-out connections, and a poller must live through all of them."""
        try:
            return self.http(node, "GET", "/status", timeout=1.0)
        except (OSError, ValueError, http.client.HTTPException):
            return None

    def leader(self) -> str | None:
        best = None
        for i in self.procs:
            s = self.status(i)
            if s and s["role"] == "leader" and (best is None or s["term"] > best[1]):
                best = (i, s["term"])
        return best[0] if best else None

    def wait_leader(self, timeout: float = 15.0, exclude: str | None = None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lead = self.leader()
            if lead and lead != exclude:
                return lead
            time.sleep(0.1)
        raise AssertionError(f"no leader within {timeout}s; logs in {self.root}")

    def block(self, node: str, peers: list[str]) -> None:
        """Cut node's links to peers, both directions as seen from node (``[]`` heals them).
        Takes effect within the node's poll interval, also while the node is down."""
        path = os.path.join(self.data_dir(node), PEER_BLOCK_FILE)
        os.makedirs(self.data_dir(node), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(sorted(peers), f)
        os.replace(tmp, path)

    def wait_applied(
        self, index: int, nodes: list[str] | None = None, timeout: float = 15.0
    ) -> None:
        deadline = time.monotonic() + timeout
        nodes = nodes or list(self.procs)
        while time.monotonic() < deadline:
            st = [self.status(i) for i in nodes]
            if all(s and s["applied_index"] >= index for s in st):
                return
            time.sleep(0.1)
        raise AssertionError(f"nodes {nodes} did not apply {index} within {timeout}s")
