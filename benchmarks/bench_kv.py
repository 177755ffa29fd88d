"""Throughput and latency of a 3-node raftkv cluster on loopback, fsync on.

    .venv/bin/python benchmarks/bench_kv.py [--duration 5] [--clients 1,16,64]

Writes: each client is a coroutine with its own session doing one PUT at a time against the
leader (so 64 clients means 64 requests in flight, which the server batches into one fsync).
Reads: GET, linearizable through ReadIndex. Latency is per request, as the client sees it.

If they are installed, the same workloads run against etcd (Debian's etcd-server: `etcd` on
PATH; its JSON gateway, default fsync policy, which is fsync on every commit) and against
pysyncobj (`pip install -e '.[bench]'`; a small threaded HTTP front-end per node around a
replicated dict, journal file on). pysyncobj offers no fsync: its journal is an mmap that is
never synced, so it does less work per write than raftkv and etcd. Its reads are local reads of
the leader's replica, not linearizable. Either one missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from raftkit.impl.testing.proc_cluster import ProcCluster, free_ports


@dataclass
class Row:
    system: str
    workload: str
    clients: int
    ops: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


Op = Callable[[aiohttp.ClientSession, int, int], Awaitable[bool]]


async def drive(
    system: str, workload: str, clients: int, duration: float, op: Op, warmup: float = 0.5
) -> Row:
    """Run `clients` loops of `op` for `duration` seconds (after a warm-up) and measure."""
    lat: list[float] = []
    errors = 0
    ops = 0
    conn = aiohttp.TCPConnector(limit=clients + 4)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as session:
        start = time.monotonic()
        measure_from = start + warmup
        end = measure_from + duration

        async def worker(w: int) -> None:
            nonlocal errors, ops
            n = 0
            while True:
                now = time.monotonic()
                if now >= end:
                    return
                n += 1
                try:
                    ok = await op(session, w, n)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                done = time.monotonic()
                if now >= measure_from:
                    if ok:
                        ops += 1
                        lat.append(done - now)
                    else:
                        errors += 1

        await asyncio.gather(*(worker(w) for w in range(clients)))
    return Row(system, workload, clients, ops, duration,
               percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000, errors)  # fmt: skip


# ---- raftkv ---------------------------------------------------------------------------------


def bench_raftkv(args: argparse.Namespace, root: str) -> list[Row]:
    rows: list[Row] = []
    with ProcCluster(os.path.join(root, "raftkv"), 3, fsync=True) as c:
        leader = c.wait_leader()
        base = f"http://{c.endpoint(leader)}"
        run = os.urandom(3).hex()

        async def put(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            body = {"value": f"v{n}", "client": f"{run}-{w}", "seq": n}
            async with session.put(f"{base}/kv/k{w % 100}", json=body) as r:
                await r.read()
                return r.status == 200

        async def get(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            async with session.get(f"{base}/kv/k{w % 100}") as r:
                await r.read()
                return r.status in (200, 404)

        for n in args.clients:
            run = os.urandom(3).hex()
            rows.append(asyncio.run(drive("raftkv", "write", n, args.duration, put)))
        rows.append(
            asyncio.run(
                drive("raftkv", "read (linearizable)", max(args.clients), args.duration, get)
            )
        )
        st = c.status(leader) or {}
        stats = st.get("stats", {})
        if stats.get("fsyncs"):
            print(
                f"raftkv leader: {stats['entries_persisted']} entries in {stats['fsyncs']} fsyncs "
                f"({stats['entries_persisted'] / stats['fsyncs']:.1f} entries per fsync)"
            )
    return rows


# ---- etcd -----------------------------------------------------------------------------------


def bench_etcd(args: argparse.Namespace, root: str) -> list[Row]:
    exe = shutil.which("etcd")
    if exe is None:
        print("etcd: not installed (apt-get install etcd-server), skipped")
        return []
    ports = free_ports(6)
    names = ["e1", "e2", "e3"]
    peer = {n: ports[i] for i, n in enumerate(names)}
    client = {n: ports[3 + i] for i, n in enumerate(names)}
    initial = ",".join(f"{n}=http://127.0.0.1:{peer[n]}" for n in names)
    procs = []
    try:
        for n in names:
            d = os.path.join(root, "etcd", n)
            os.makedirs(d, exist_ok=True)
            cmd = [exe, "--name", n, "--data-dir", d,
                   "--listen-peer-urls", f"http://127.0.0.1:{peer[n]}",
                   "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer[n]}",
                   "--listen-client-urls", f"http://127.0.0.1:{client[n]}",
                   "--advertise-client-urls", f"http://127.0.0.1:{client[n]}",
                   "--initial-cluster", initial, "--initial-cluster-state", "new",
                   "--log-level", "error"]  # fmt: skip
            log = open(os.path.join(d, "log"), "wb")  # noqa: SIM115 - the child owns it
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        bases = [f"http://127.0.0.1:{client[n]}" for n in names]
        leader = asyncio.run(_etcd_leader(bases))
        if leader is None:
            print("etcd: cluster did not come up, skipped")
            return []

        def b64(s: str) -> str:
            return base64.b64encode(s.encode()).decode()

        async def put(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            body = {"key": b64(f"k{w % 100}"), "value": b64(f"v{n}")}
            async with session.post(f"{leader}/v3/kv/put", json=body) as r:
                await r.read()
                return r.status == 200

        async def get(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            # Serializable=false (the default) is etcd's linearizable read, via ReadIndex.
            async with session.post(f"{leader}/v3/kv/range", json={"key": b64(f"k{w % 100}")}) as r:
                await r.read()
                return r.status == 200

        rows = [asyncio.run(drive("etcd", "write", n, args.duration, put)) for n in args.clients]
        rows.append(
            asyncio.run(drive("etcd", "read (linearizable)", max(args.clients), args.duration, get))
        )
        return rows
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


async def _etcd_leader(bases: list[str]) -> str | None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        while time.monotonic() < deadline:
            for b in bases:
                try:
                    async with s.post(f"{b}/v3/maintenance/status", json={}) as r:
                        st = await r.json()
                    if st.get("leader") and st.get("leader") == st.get("header", {}).get(
                        "member_id"
                    ):
                        return b
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    pass
            await asyncio.sleep(0.2)
    return None


# ---- pysyncobj ------------------------------------------------------------------------------

_SYNCOBJ_NODE = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pysyncobj import SyncObj, SyncObjConf
    from pysyncobj.batteries import ReplDict

    me, others = sys.argv[1], sys.argv[2].split(",")
    http_port, journal = int(sys.argv[3]), sys.argv[4]
    conf = SyncObjConf(journalFile=journal, dynamicMembershipChange=False)
    d = ReplDict()
    obj = SyncObj(me, others, conf=conf, consumers=[d])

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def _send(self, code, body):
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        def do_GET(self):
            if self.path == "/status":
                leader = obj._getLeader()
                self._send(200, {"leader": str(leader) if leader else None, "me": me})
            else:
                self._send(200, {"value": d.get(self.path[4:])})
        def do_PUT(self):
            n = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(n))
            try:
                d.set(self.path[4:], body["value"], sync=True, timeout=5)
                self._send(200, {"ok": True})
            except Exception as exc:
                self._send(503, {"error": str(exc)})

    ThreadingHTTPServer(("127.0.0.1", http_port), H).serve_forever()
    """
)


def bench_pysyncobj(args: argparse.Namespace, root: str) -> list[Row]:
    try:
        import pysyncobj  # noqa: F401
    except ImportError:
        print("pysyncobj: not installed (pip install pysyncobj), skipped")
        return []
    ports = free_ports(6)
    raft = [f"127.0.0.1:{p}" for p in ports[:3]]
    http = ports[3:]
    script = os.path.join(root, "syncobj_node.py")
    os.makedirs(root, exist_ok=True)
    with open(script, "w") as f:
        f.write(_SYNCOBJ_NODE)
    procs = []
    try:
        for i in range(3):
            others = ",".join(a for j, a in enumerate(raft) if j != i)
            journal = os.path.join(root, f"syncobj{i}.journal")
            procs.append(
                subprocess.Popen(
                    [sys.executable, script, raft[i], others, str(http[i]), journal],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            )
        leader = asyncio.run(_syncobj_leader(raft, http))
        if leader is None:
            print("pysyncobj: cluster did not elect a leader, skipped")
            return []

        async def put(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            async with session.put(f"{leader}/kv/k{w % 100}", json={"value": f"v{n}"}) as r:
                await r.read()
                return r.status == 200

        async def get(session: aiohttp.ClientSession, w: int, n: int) -> bool:
            async with session.get(f"{leader}/kv/k{w % 100}") as r:
                await r.read()
                return r.status == 200

        rows = [
            asyncio.run(drive("pysyncobj", "write", n, args.duration, put)) for n in args.clients
        ]
        # pysyncobj reads are local reads of the leader's replica, not linearizable: labelled so.
        rows.append(
            asyncio.run(drive("pysyncobj", "read (local)", max(args.clients), args.duration, get))
        )
        return rows
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


async def _syncobj_leader(raft: list[str], http: list[int]) -> str | None:
    deadline = time.monotonic() + 20
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        while time.monotonic() < deadline:
            for i, p in enumerate(http):
                try:
                    async with s.get(f"http://127.0.0.1:{p}/status") as r:
                        st = await r.json()
                    if st.get("leader") == raft[i]:
                        return f"http://127.0.0.1:{p}"
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    pass
            await asyncio.sleep(0.2)
    return None


# ---- main -----------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    head = f"{'system':<10} {'workload':<20} {'clients':>7} {'ops/s':>9} {'p50 ms':>8} " \
           f"{'p99 ms':>8} {'errors':>6}"  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.system:<10} {r.workload:<20} {r.clients:>7} {r.rate:>9.0f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>6}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    p.add_argument("--clients", default="1,16,64", help="comma-separated client counts")
    p.add_argument(
        "--systems", default="raftkv,pysyncobj,etcd", help="which of raftkv,pysyncobj,etcd to run"
    )
    args = p.parse_args(argv)
    try:
        args.clients = [int(x) for x in args.clients.split(",") if x.strip()]
    except ValueError:
        print("bench_kv: --clients takes integers, e.g. 1,16,64", file=sys.stderr)
        return 2
    systems = [s.strip() for s in args.systems.split(",")]
    print(f"3-node clusters on 127.0.0.1, fsync on, {args.duration:g}s per row, "
          f"{os.cpu_count()} CPUs, {socket.gethostname()}")  # fmt: skip
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_kv-", dir=os.environ.get("BENCH_DIR")) as root:
        for name, fn in (("raftkv", bench_raftkv), ("pysyncobj", bench_pysyncobj),
                         ("etcd", bench_etcd)):  # fmt: skip
            if name in systems:
                rows += fn(args, root)
    print()
    print_table(rows)
    writes = {(r.system, r.clients): r.rate for r in rows if r.workload == "write"}
    for other in ("pysyncobj", "etcd"):
        ratios = [
            f"{n} clients: {writes[('raftkv', n)] / writes[(other, n)]:.2f}x"
            for n in args.clients
            if writes.get((other, n)) and (("raftkv", n) in writes)
        ]
        if ratios:
            print(f"raftkv write throughput relative to {other}: " + ", ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
