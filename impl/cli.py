"""``raftkv``: run a node, run a local cluster, and talk to it.

    raftkv cluster --nodes 3          # one terminal: a local 3-node cluster
    raftkv put x 1                    # another: write through whichever node leads
    raftkv get x
    raftkv cas x 1 2
    raftkv delete x
    raftkv status

Every error is one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from .client import DEFAULT_HTTP_BASE, DEFAULT_RAFT_BASE, Client, ClientError

DEFAULT_DATA_DIR = "raftkv-data"
SECRET_ENV = "RAFTKV_SECRET"
CLUSTER_FILE = "cluster.json"


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def default_cluster_spec(n: int, host: str = "127.0.0.1") -> str:
    return ",".join(
        f"n{i + 1}={host}:{DEFAULT_RAFT_BASE + i}:{DEFAULT_HTTP_BASE + i}" for i in range(n)
    )


def parse_cluster(spec: str) -> dict[str, tuple[str, int, int]]:
    """``id=host:raft_port:http_port,...`` -> {id: (host, raft_port, http_port)}."""
    out: dict[str, tuple[str, int, int]] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        node, sep, addr = part.partition("=")
        pieces = addr.rsplit(":", 2)
        if not sep or not node or len(pieces) != 3:
            raise UsageError(f"bad --cluster entry {part!r}: expected id=host:raft_port:http_port")
        host, raft, http = pieces
        try:
            out[node] = (host, int(raft), int(http))
        except ValueError:
            raise UsageError(f"bad port in --cluster entry {part!r}") from None
        if node in list(out)[:-1]:
            raise UsageError(f"node id {node!r} appears twice in --cluster")
    if not out:
        raise UsageError("--cluster names no nodes")
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="raftkv", description="A replicated key-value store on Raft.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="run one node")
    s.add_argument("--id", required=True, help="this node's id, one of the --cluster ids")
    s.add_argument(
        "--cluster",
        default=None,
        help="id=host:raft_port:http_port,... for every node "
        "(default: the local 3-node cluster of `raftkv cluster`)",
    )
    s.add_argument("--data-dir", default=None, help=f"default: {DEFAULT_DATA_DIR}/<id>")
    s.add_argument(
        "--secret", default=None, help=f"cluster secret (default: ${SECRET_ENV}); same on all nodes"
    )
    s.add_argument("--secret-file", default=None, help="read the cluster secret from this file")
    s.add_argument("--trace", default=None, metavar="FILE", help="write protocol events (JSONL)")
    s.add_argument("--tick-ms", type=int, default=50, help="tick length (default 50 ms)")
    s.add_argument("--election-ticks", type=int, default=10, help="election timeout in ticks")
    s.add_argument("--no-fsync", action="store_true", help="unsafe: skip fsync (benchmarks)")
    s.add_argument("--snapshot-every", type=int, default=10000, help="entries between snapshots")
    s.add_argument("--admin", action="store_true", help="enable /admin endpoints (tests)")
    s.add_argument("--log-level", default="WARNING")

    c = sub.add_parser("cluster", help="run a local cluster in subprocesses (Ctrl-C stops it)")
    c.add_argument("--nodes", type=int, default=3)
    c.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--fresh", action="store_true", help="wipe the data directory first")
    c.add_argument("--trace-dir", default=None, help="write each node's trace here")
    c.add_argument("--log-level", default="WARNING")

    m = sub.add_parser("simulate", help="run the core in a simulated faulty network")
    m.add_argument("--nodes", type=int, default=3)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--steps", type=int, default=300, help="ticks of the faulty phase")
    m.add_argument("--trace", default=None, metavar="FILE", help="write protocol events (JSONL)")

    def client_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--endpoints",
            default=None,
            help="host:port,... of node HTTP APIs (default: the local cluster's)",
        )
        sp.add_argument("--timeout", type=float, default=10.0, help="give up after (s)")

    g = sub.add_parser("get", help="read a key (linearizable)")
    g.add_argument("key")
    client_opts(g)
    pu = sub.add_parser("put", help="write a key")
    pu.add_argument("key")
    pu.add_argument("value")
    client_opts(pu)
    d = sub.add_parser("delete", help="delete a key")
    d.add_argument("key")
    client_opts(d)
    ca = sub.add_parser("cas", help="set KEY to NEW if it holds EXPECTED ('' for absent)")
    ca.add_argument("key")
    ca.add_argument("expected")
    ca.add_argument("new")
    client_opts(ca)
    st = sub.add_parser("status", help="who leads, terms, commit and apply indices")
    client_opts(st)
    st.add_argument("--json", action="store_true")
    return p


def _endpoints(args: argparse.Namespace) -> list[str] | None:
    if args.endpoints:
        return [e.strip() for e in args.endpoints.split(",") if e.strip()]
    # A cluster started by `raftkv cluster` in this directory says where it is.
    path = os.path.join(DEFAULT_DATA_DIR, CLUSTER_FILE)
    if os.path.exists(path):
        try:
            with open(path) as f:
                return list(json.load(f)["endpoints"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return None


def _client_cmd(args: argparse.Namespace) -> int:
    eps = _endpoints(args)
    with Client(eps, attempts_deadline=args.timeout, timeout=min(5.0, args.timeout)) as c:
        if args.cmd == "get":
            v = c.get(args.key)
            if v is None:
                print(f"{args.key}: not found", file=sys.stderr)
                return 1
            print(v)
        elif args.cmd == "put":
            c.put(args.key, args.value)
            print("OK")
        elif args.cmd == "delete":
            c.delete(args.key)
            print("OK")
        elif args.cmd == "cas":
            expected = None if args.expected == "" else args.expected
            if c.cas(args.key, expected, args.new):
                print("OK")
            else:
                print(f"{args.key}: value is not {args.expected!r}, not changed", file=sys.stderr)
                return 1
        elif args.cmd == "status":
            return _status(c, args)
    return 0


def _status(c: Client, args: argparse.Namespace) -> int:
    answers: dict[str, dict[str, Any]] = {}
    members: dict[str, str] = {}  # id -> endpoint, as the nodes that answered know them
    queue = list(c.endpoints)
    seen: set[str] = set()
    while queue:
        ep = queue.pop(0)
        if ep in seen:
            continue
        seen.add(ep)
        try:
            st = c.status(ep)
        except ClientError:
            continue
        answers[ep] = st
        for node, member_ep in st.get("members", {}).items():
            members[node] = member_ep
            queue.append(member_ep)  # a member we were not told about: ask it too
    if not answers:
        raise ClientError("no node answered at " + ",".join(c.endpoints))
    # One row per member of the cluster; a member that did not answer is shown as down.
    by_ep = {st["endpoint"]: st for st in answers.values()}
    rows = [by_ep.get(ep) or {"id": node, "endpoint": ep, "error": "unreachable"}
            for node, ep in sorted(members.items())]  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'node':<6} {'role':<10} {'term':>5} {'leader':<7} {'commit':>7} {'applied':>7} "
          f"{'last':>7}  endpoint")  # fmt: skip
    for r in rows:
        if "error" in r:
            print(f"{r['id']:<6} {'down':<10} {'':>5} {'':<7} {'':>7} {'':>7} {'':>7}  "
                  f"{r['endpoint']}")  # fmt: skip
            continue
        print(
            f"{r['id']:<6} {r['role']:<10} {r['term']:>5} {str(r['leader'] or '-'):<7} "
            f"{r['commit_index']:>7} {r['applied_index']:>7} {r['last_index']:>7}  "
            f"{r['endpoint']}"
        )
    return 0


def _secret(args: argparse.Namespace) -> bytes:
    if args.secret_file:
        try:
            with open(args.secret_file, "rb") as f:
                secret = f.read().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --secret-file: {exc.strerror}: {exc.filename}") from None
    else:
        secret = (args.secret or os.environ.get(SECRET_ENV, "")).encode()
    if not secret:
        raise UsageError(f"no cluster secret: pass --secret or --secret-file, or set {SECRET_ENV}")
    return secret


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from .server import NodeAddress, Server, ServerConfig
    from .storage import StorageCorruption, StorageLocked

    cluster = parse_cluster(args.cluster or default_cluster_spec(3))
    if args.id not in cluster:
        raise UsageError(f"--id {args.id!r} is not in the cluster ({', '.join(cluster)})")
    # Checked here, not when the node first ticks: a zero tick would spin, a zero snapshot
    # interval would snapshot after every entry, and the core needs election > heartbeat.
    if args.tick_ms < 1:
        raise UsageError(f"--tick-ms must be at least 1 (got {args.tick_ms})")
    if args.election_ticks < 2:
        raise UsageError(f"--election-ticks must be at least 2 (got {args.election_ticks})")
    if args.snapshot_every < 1:
        raise UsageError(f"--snapshot-every must be at least 1 (got {args.snapshot_every})")
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format=f"%(asctime)s {args.id} %(levelname)s %(name)s: %(message)s",
    )
    cfg = ServerConfig(
        node_id=args.id,
        cluster={k: NodeAddress(k, *v) for k, v in cluster.items()},
        data_dir=args.data_dir or os.path.join(DEFAULT_DATA_DIR, args.id),
        secret=_secret(args),
        tick_ms=args.tick_ms,
        election_ticks=args.election_ticks,
        fsync=not args.no_fsync,
        snapshot_every=args.snapshot_every,
        trace_path=args.trace,
        admin=args.admin,
    )
    server = Server(cfg)
    try:
        asyncio.run(server.run_forever())
    except StorageCorruption as exc:
        print(f"raftkv serve: refusing to start: {exc}", file=sys.stderr)
        return 3
    except StorageLocked as exc:
        print(f"raftkv serve: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"raftkv serve: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - logged in full above; the last word is one line
        print(f"raftkv serve: stopped: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def _port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _cluster(args: argparse.Namespace) -> int:
    import shutil

    if not 1 <= args.nodes <= 9:
        raise UsageError("--nodes must be between 1 and 9")
    spec = default_cluster_spec(args.nodes, args.host)
    cluster = parse_cluster(spec)
    for node, (h, rp, hp) in cluster.items():
        for port in (rp, hp):
            if not _port_free(h, port):
                raise ClientError(
                    f"cannot start {node}: {h}:{port} is in use (is a cluster already running?)"
                )
    if args.fresh and os.path.isdir(args.data_dir):
        shutil.rmtree(args.data_dir)
    os.makedirs(args.data_dir, exist_ok=True)
    # One secret per data directory, kept with it, so a restarted cluster still agrees.
    secret_path = os.path.join(args.data_dir, "secret")
    if not os.path.exists(secret_path):
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(16).hex())
    endpoints = [f"{h}:{hp}" for (h, _, hp) in cluster.values()]
    with open(os.path.join(args.data_dir, CLUSTER_FILE), "w") as f:
        json.dump({"cluster": spec, "endpoints": endpoints}, f)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for node in cluster:
        cmd = [sys.executable, "-m", "raftkit.impl.cli", "serve", "--id", node,
               "--cluster", spec, "--data-dir", os.path.join(args.data_dir, node),
               "--secret-file", secret_path, "--log-level", args.log_level]  # fmt: skip
        if args.trace_dir:
            os.makedirs(args.trace_dir, exist_ok=True)
            cmd += ["--trace", os.path.join(args.trace_dir, f"{node}.jsonl")]
        procs[node] = subprocess.Popen(cmd)
    print(f"raftkv: started {args.nodes} nodes; data in {os.path.abspath(args.data_dir)}")
    for node, (h, rp, hp) in cluster.items():
        print(f"  {node}: http://{h}:{hp}  (raft {h}:{rp})  pid {procs[node].pid}")
    print("try: raftkv put x 1 && raftkv get x && raftkv status    (Ctrl-C stops the cluster)")
    sys.stdout.flush()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    try:
        while not stopping:
            for node, p in procs.items():
                rc = p.poll()
                if rc is not None:
                    print(f"raftkv: node {node} exited with status {rc}; stopping", file=sys.stderr)
                    stopping, code = True, 1
                    break
            time.sleep(0.2)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 5
        for p in procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    print("raftkv: cluster stopped")
    return code


def _simulate(args: argparse.Namespace) -> int:
    from .testing.sim import SafetyViolation, SimConfig, Simulation
    from .trace import trace_line

    if not 1 <= args.nodes <= 9 or args.steps < 0:
        raise UsageError("--nodes must be 1..9 and --steps >= 0")
    out = None
    if args.trace:
        try:
            out = open(args.trace, "w")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot write --trace: {exc.strerror}: {args.trace}") from None
    observer = None
    if out is not None:
        trace = out

        def observer(ev: Any) -> None:
            trace.write(trace_line(ev) + "\n")

    try:
        sim = Simulation(SimConfig(nodes=args.nodes, ticks=args.steps), args.seed, observer)
        res = sim.run()
    except SafetyViolation as exc:
        print(f"raftkv simulate: {exc}", file=sys.stderr)
        return 1
    finally:
        if out is not None:
            out.close()
    print(
        f"seed {res.seed}: {res.ticks} ticks, {res.committed} entries committed, "
        f"{res.acked_writes} writes acknowledged, {res.reads} reads, {res.crashes} crashes, "
        f"{res.messages} messages, {len(res.leaders)} terms with a leader; all checks passed"
        + (f"; trace in {args.trace}" if args.trace else "")
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd == "cluster":
            return _cluster(args)
        if args.cmd == "simulate":
            return _simulate(args)
        return _client_cmd(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"raftkv: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
