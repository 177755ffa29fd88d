"""``raftkv``: run a node, run a local cluster, and talk to it.

    raftkv cluster --nodes 3          # one terminal: a local 3-node cluster
    raftkv put x 1                    # another: write through whichever node leads
    raftkv get x
    raftkv cas x 1 2
    raftkv delete x
    raftkv status
    raftkv add-node n4 127.0.0.1:7504:7404   # a spare of `raftkv cluster --spares 1`
    raftkv transfer-leader n2
    raftkv remove-node n1

Every error is one line on stderr and an exit status from ``EXIT_CODES``, never a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from .client import (
    DEFAULT_HTTP_BASE,
    DEFAULT_RAFT_BASE,
    ClientError,
)

DEFAULT_DATA_DIR = "raftkv-data"
SECRET_ENV = "RAFTKV_SECRET"
TOKEN_ENV = "RAFTKV_TOKEN"
CLUSTER_FILE = "cluster.json"
TOKEN_FILE = "client-token"
MAX_NODES = 9

EXIT_OK, EXIT_NO, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_PIPE = 130, 141
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_NO: "the answer is no, or the work failed: key not found, cas did not swap, no node "
    "answered, a node refused (e.g. a membership change), a node stopped on an error, the "
    "nemesis found a violation",
    EXIT_USAGE: "bad usage: a wrong flag or value (nothing was done)",
    EXIT_REFUSED: "serve: refuses a damaged data directory; nemesis: no verdict in time",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_PIPE: "the output was closed early (e.g. piped into head)",
}
EPILOG = "exit status: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def print_error(text: str) -> None:
    """One line on stderr, whatever the user's input put in it (newlines come out escaped)."""
    safe = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
    print(safe, file=sys.stderr)


def default_cluster_spec(
    n: int,
    host: str = "127.0.0.1",
    http_base: int = DEFAULT_HTTP_BASE,
    raft_base: int = DEFAULT_RAFT_BASE,
) -> str:
    return ",".join(f"n{i + 1}={host}:{raft_base + i}:{http_base + i}" for i in range(n))


def _port(text: str, what: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"bad {what} {text!r}: ports are 1 to 65535")
    return int(text)


def parse_address(addr: str, where: str) -> tuple[str, int, int]:
    """``host:raft_port:http_port`` -> (host, raft_port, http_port); ``where`` names it in the
    error."""
    pieces = addr.rsplit(":", 2)
    if len(pieces) != 3 or not pieces[0]:
        raise UsageError(f"bad {where}: expected host:raft_port:http_port")
    host, raft, http = pieces
    return host, _port(raft, f"raft port in {where}"), _port(http, f"http port in {where}")


def parse_cluster(spec: str) -> dict[str, tuple[str, int, int]]:
    """``id=host:raft_port:http_port,...`` -> {id: (host, raft_port, http_port)}."""
    out: dict[str, tuple[str, int, int]] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        node, sep, addr = part.partition("=")
        if not sep or not node:
            raise UsageError(f"bad --cluster entry {part!r}: expected id=host:raft_port:http_port")
        entry = parse_address(addr, f"--cluster entry {part!r}")
        if node in out:
            raise UsageError(f"node id {node!r} appears twice in --cluster")
        out[node] = entry
    if not out:
        raise UsageError("--cluster names no nodes")
    return out


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v


def _add_serve_parser(sub: Any) -> None:
    s = sub.add_parser("serve", help="run one node", epilog=EPILOG)
    s.add_argument("--id", required=True, help="this node's id, one of the --cluster ids")
    s.add_argument(
        "--cluster",
        default=None,
        help="id=host:raft_port:http_port,... for every node of the initial configuration "
        "(default: the local 3-node cluster of `raftkv cluster`)",
    )
    s.add_argument(
        "--address",
        default=None,
        metavar="HOST:RAFT_PORT:HTTP_PORT",
        help="start as a spare: a node outside --cluster that waits until `raftkv add-node` "
        "adds it",
    )
    s.add_argument("--data-dir", default=None, help=f"default: {DEFAULT_DATA_DIR}/<id>")
    s.add_argument(
        "--secret", default=None, help=f"cluster secret (default: ${SECRET_ENV}); same on all nodes"
    )
    s.add_argument("--secret-file", default=None, help="read the cluster secret from this file")
    s.add_argument(
        "--client-token-file",
        default=None,
        help="clients must present the token in this file (Authorization: Bearer); required "
        "when the HTTP port listens beyond loopback",
    )
    s.add_argument(
        "--no-client-auth",
        action="store_true",
        help="serve clients beyond loopback without a token (anyone who reaches the port can "
        "write)",
    )
    s.add_argument("--tls-cert", default=None, metavar="PEM", help="serve clients over TLS")
    s.add_argument("--tls-key", default=None, metavar="PEM", help="the certificate's key")
    s.add_argument("--trace", default=None, metavar="FILE", help="write protocol events (JSONL)")
    s.add_argument("--tick-ms", type=int, default=50, help="tick length (default 50 ms)")
    s.add_argument("--election-ticks", type=int, default=10, help="election timeout in ticks")
    s.add_argument("--no-fsync", action="store_true", help="unsafe: skip fsync (benchmarks)")
    s.add_argument("--snapshot-every", type=int, default=10000, help="entries between snapshots")
    s.add_argument("--log-level", default="WARNING")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="raftkv", description="A replicated key-value store on Raft.", epilog=EPILOG)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    _add_serve_parser(sub)

    c = sub.add_parser(
        "cluster",
        help="run a local cluster in subprocesses, restarting nodes that exit (Ctrl-C stops it)",
        epilog=EPILOG,
    )
    c.add_argument("--nodes", type=int, default=3)
    c.add_argument(
        "--spares",
        type=int,
        default=0,
        help="also start this many spare nodes, which join only when added (raftkv add-node)",
    )
    c.add_argument("--data-dir", default=DEFAULT_DATA_DIR)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--http-port", type=int, default=DEFAULT_HTTP_BASE, help="node 1's HTTP port")
    c.add_argument("--raft-port", type=int, default=DEFAULT_RAFT_BASE, help="node 1's Raft port")
    c.add_argument("--fresh", action="store_true", help="wipe the data directory first")
    c.add_argument("--no-restart", action="store_true", help="leave a node that exits down")
    c.add_argument("--trace-dir", default=None, help="write each node's trace here")
    c.add_argument("--log-level", default="WARNING")

    m = sub.add_parser("simulate", help="run the core in a simulated faulty network", epilog=EPILOG)
    m.add_argument("--nodes", type=int, default=3)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--steps", type=int, default=300, help="ticks of the faulty phase")
    m.add_argument("--trace", default=None, metavar="FILE", help="write protocol events (JSONL)")

    n = sub.add_parser(
        "nemesis",
        help="run a real local cluster under kills, pauses and partitions, then check it",
        epilog=EPILOG,
    )
    n.add_argument("--minutes", type=positive_float, default=1.0, help="length of the run")
    n.add_argument("--nodes", type=int, default=3, help="3 or 5")
    n.add_argument("--clients", type=int, default=4, help="concurrent clients (1-32)")
    n.add_argument("--seed", type=int, default=None, help="fault schedule seed (default: random)")
    n.add_argument(
        "--dir", default=None, help="keep the nodes' data and logs here (default: a temp dir)"
    )
    n.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    from .cli_client import add_parsers

    add_parsers(sub)
    return p


def _read_small_file(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16).strip()
    except OSError as exc:
        raise UsageError(f"cannot read {flag}: {exc.strerror}: {path}") from None
    if not data:
        raise UsageError(f"{flag} {path} is empty")
    return data


def _secret(args: argparse.Namespace) -> bytes:
    if args.secret_file:
        return _read_small_file(args.secret_file, "--secret-file")
    secret = (args.secret or os.environ.get(SECRET_ENV, "")).encode()
    if not secret:
        raise UsageError(f"no cluster secret: pass --secret or --secret-file, or set {SECRET_ENV}")
    return secret


def _serve(args: argparse.Namespace) -> int:
    import logging

    from .client_api import server_ssl_context
    from .server import NodeAddress, ServerConfig

    cluster = parse_cluster(args.cluster or default_cluster_spec(3))
    own = None
    if args.address is not None:
        if args.id in cluster:
            raise UsageError(f"--id {args.id!r} is in --cluster; --address is for a spare")
        own = parse_address(args.address, f"--address {args.address!r}")
    elif args.id not in cluster:
        raise UsageError(
            f"--id {args.id!r} is not in the cluster ({', '.join(cluster)}); to start it as a "
            "spare that joins when added, give --address host:raft_port:http_port"
        )
    # Checked here, not when the node first ticks: a zero tick would spin, a zero snapshot
    # interval would snapshot after every entry, and the core needs election > heartbeat.
    if not 1 <= args.tick_ms <= 60_000:
        raise UsageError(f"--tick-ms must be from 1 to 60000 (got {args.tick_ms})")
    if not 2 <= args.election_ticks <= 1_000_000:
        raise UsageError(f"--election-ticks must be from 2 to 1000000 (got {args.election_ticks})")
    if args.snapshot_every < 1:
        raise UsageError(f"--snapshot-every must be at least 1 (got {args.snapshot_every})")
    level = logging.getLevelName(str(args.log_level).upper())
    if not isinstance(level, int):
        raise UsageError(f"--log-level: unknown level {args.log_level!r}")
    host = (own or cluster[args.id])[0]
    token = None
    if args.client_token_file:
        token = _read_small_file(args.client_token_file, "--client-token-file")
    elif not is_loopback(host) and not args.no_client_auth:
        raise UsageError(
            f"the HTTP port listens on {host}, beyond loopback: give --client-token-file FILE "
            "(or --no-client-auth to let anyone who reaches it write)"
        )
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        import ssl

        try:
            server_ssl_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot use --tls-cert/--tls-key: {exc}") from None
    logging.basicConfig(
        level=level, format=f"%(asctime)s {args.id} %(levelname)s %(name)s: %(message)s"
    )
    cfg = ServerConfig(
        node_id=args.id,
        cluster={k: NodeAddress(k, *v) for k, v in cluster.items()},
        address=NodeAddress(args.id, *own) if own else None,
        data_dir=args.data_dir or os.path.join(DEFAULT_DATA_DIR, args.id),
        secret=_secret(args),
        tick_ms=args.tick_ms,
        election_ticks=args.election_ticks,
        fsync=not args.no_fsync,
        snapshot_every=args.snapshot_every,
        trace_path=args.trace,
        client_token=token,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    return _run_server(cfg)


def _run_server(cfg: Any) -> int:
    """Serve until SIGINT/SIGTERM; the last word of any failure is one line."""
    import asyncio

    from .server import Server
    from .storage import StorageCorruption, StorageLocked

    _raise_fd_limit()
    # The Raft thread waits for the interpreter lock whenever the client API holds it; a
    # shorter switch interval bounds how late a heartbeat can be while clients flood the node.
    sys.setswitchinterval(0.001)
    server = Server(cfg)
    try:
        asyncio.run(server.run_forever())
    except StorageCorruption as exc:
        print_error(f"raftkv serve: refusing to start: {exc}")
        return EXIT_REFUSED
    except (StorageLocked, OSError) as exc:
        print_error(f"raftkv serve: {exc}")
        return EXIT_NO
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - logged in full above; the last word is one line
        print_error(f"raftkv serve: stopped: {exc.__class__.__name__}: {exc}")
        return EXIT_NO
    return EXIT_OK


def _raise_fd_limit() -> None:
    # Client connections are capped well below the usual hard limit; the soft limit (often
    # 1024) would otherwise run out first, and a node out of descriptors cannot open its files.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def port_free(host: str, port: int) -> bool:
    """True if this process could listen on host:port now."""
    import socket

    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError:
        return False
    return True


def _write_new_secret(path: str) -> None:
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(16).hex())


def _cluster(args: argparse.Namespace) -> int:
    import shutil

    from .supervisor import Supervisor

    if not 1 <= args.nodes <= MAX_NODES:
        raise UsageError(f"--nodes must be between 1 and {MAX_NODES}")
    if not 0 <= args.spares <= MAX_NODES - args.nodes:
        raise UsageError(f"--spares must be from 0 to {MAX_NODES - args.nodes} (at most "
                         f"{MAX_NODES} nodes in all)")  # fmt: skip
    total = args.nodes + args.spares
    for flag, base in (("--http-port", args.http_port), ("--raft-port", args.raft_port)):
        if not 0 < base <= 65536 - total:
            raise UsageError(f"{flag} must leave room for {total} ports below 65536")
    if abs(args.http_port - args.raft_port) < total:
        raise UsageError("--http-port and --raft-port ranges overlap")
    # The spares get the ports after the members'; they are not in the initial configuration.
    everyone = parse_cluster(default_cluster_spec(total, args.host, args.http_port,
                                                  args.raft_port))  # fmt: skip
    spec = ",".join(f"{n}={h}:{rp}:{hp}" for n, (h, rp, hp) in list(everyone.items())[: args.nodes])
    cluster = parse_cluster(spec)
    spares = {n: a for n, a in everyone.items() if n not in cluster}
    for node, (h, rp, hp) in everyone.items():
        for port in (rp, hp):
            if not port_free(h, port):
                raise ClientError(
                    f"cannot start {node}: {h}:{port} is in use (is a cluster already running?)"
                )
    if args.fresh and os.path.isdir(args.data_dir) and os.listdir(args.data_dir):
        # Wipe only what `raftkv cluster` made: a mistyped --data-dir must not cost a user
        # their home directory.
        if not os.path.exists(os.path.join(args.data_dir, CLUSTER_FILE)):
            raise UsageError(
                f"--fresh wipes only a directory made by raftkv cluster; {args.data_dir} has no "
                f"{CLUSTER_FILE}"
            )
        shutil.rmtree(args.data_dir)
    os.makedirs(args.data_dir, exist_ok=True)
    # One secret per data directory, kept with it, so a restarted cluster still agrees.
    secret_path = os.path.join(args.data_dir, "secret")
    _write_new_secret(secret_path)
    info: dict[str, Any] = {
        "cluster": spec,
        "spares": {n: f"{h}:{rp}:{hp}" for n, (h, rp, hp) in spares.items()},
        "endpoints": [f"{h}:{hp}" for h, _, hp in everyone.values()],
    }
    auth: list[str] = []
    if not is_loopback(args.host):
        token_path = os.path.join(args.data_dir, TOKEN_FILE)
        _write_new_secret(token_path)
        info["token_file"] = os.path.abspath(token_path)
        auth = ["--client-token-file", token_path]
    with open(os.path.join(args.data_dir, CLUSTER_FILE), "w") as f:
        json.dump(info, f)
    commands: dict[str, list[str]] = {}
    for node in everyone:
        cmd = [sys.executable, "-m", "raftkit.impl.cli", "serve", "--id", node,
               "--cluster", spec, "--data-dir", os.path.join(args.data_dir, node),
               "--secret-file", secret_path, "--log-level", args.log_level, *auth]  # fmt: skip
        if node in spares:
            cmd += ["--address", info["spares"][node]]
        if args.trace_dir:
            os.makedirs(args.trace_dir, exist_ok=True)
            cmd += ["--trace", os.path.join(args.trace_dir, f"{node}.jsonl")]
        commands[node] = cmd
    sup = Supervisor(commands, restart=not args.no_restart)
    sup.start_all()
    spare_text = f" and {args.spares} spares" if args.spares else ""
    print(f"raftkv: started {args.nodes} nodes{spare_text}; data in "
          f"{os.path.abspath(args.data_dir)}")  # fmt: skip
    for node, (h, rp, hp) in everyone.items():
        what = "  spare: joins when added" if node in spares else ""
        print(f"  {node}: http://{h}:{hp}  (raft {h}:{rp})  pid {sup.pid(node)}{what}")
    if spares:
        first = next(iter(spares))
        print(f"add a spare with: raftkv add-node {first} {info['spares'][first]}")
    if auth:
        print(f"clients need the token in {info['token_file']} (--token or ${TOKEN_ENV})")
    restart = "left down" if args.no_restart else "restarted after a back-off"
    print(f"a node that exits is reported and {restart}; Ctrl-C stops the cluster")
    print("try: raftkv put x 1 && raftkv get x && raftkv status")
    sys.stdout.flush()
    code = sup.run()
    print("raftkv: cluster stopped")
    return code


def _simulate(args: argparse.Namespace) -> int:
    from .testing.sim import SafetyViolation, SimConfig, Simulation
    from .trace import trace_line

    if not 1 <= args.nodes <= MAX_NODES or args.steps < 0:
        raise UsageError(f"--nodes must be 1..{MAX_NODES} and --steps >= 0")
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
        print_error(f"raftkv simulate: {exc}")
        return EXIT_NO
    finally:
        if out is not None:
            out.close()
    print(
        f"seed {res.seed}: {res.ticks} ticks, {res.committed} entries committed, "
        f"{res.acked_writes} writes acknowledged, {res.reads} reads, {res.crashes} crashes, "
        f"{res.messages} messages, {len(res.leaders)} terms with a leader; all checks passed"
        + (f"; trace in {args.trace}" if args.trace else "")
    )
    return EXIT_OK


def _nemesis(args: argparse.Namespace) -> int:
    from .testing.nemesis import NemesisConfig, run_nemesis

    if args.nodes not in (3, 5):
        raise UsageError("--nodes must be 3 or 5")
    if not 1 <= args.clients <= 32:
        raise UsageError("--clients must be from 1 to 32")
    if args.minutes > 24 * 60:
        raise UsageError("--minutes must be at most 1440")
    cfg = NemesisConfig(
        minutes=args.minutes, nodes=args.nodes, clients=args.clients, seed=args.seed, root=args.dir
    )
    return run_nemesis(cfg, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.cmd == "serve":
            return _serve(args)
        if args.cmd == "cluster":
            return _cluster(args)
        if args.cmd == "simulate":
            return _simulate(args)
        if args.cmd == "nemesis":
            return _nemesis(args)
        from .cli_client import client_command

        return client_command(args)
    except UsageError as exc:
        print_error(str(exc))
        return EXIT_USAGE
    except ClientError as exc:
        hint = f"; give it with --token or ${TOKEN_ENV}" if "(HTTP 401)" in str(exc) else ""
        print_error(f"raftkv: {exc}{hint}")
        return EXIT_NO
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, and do not let the interpreter's
        # final flush of stdout fail again on the way out.
        _silence_stdout()
        return EXIT_PIPE
    except OSError as exc:
        print_error(f"raftkv: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_NO
    except Exception as exc:  # noqa: BLE001 - a bug still ends in one line, and says it is one
        print_error(f"raftkv: internal error: {exc.__class__.__name__}: {exc}")
        return EXIT_NO


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run() -> None:
    """The console script: ``main`` with its output flushed inside the same guard."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = EXIT_PIPE
    sys.exit(code)


if __name__ == "__main__":
    # Run as ``python -m raftkit.impl.cli`` this file is ``__main__``, a second copy of the
    # module: cli_client raises the UsageError of ``raftkit.impl.cli``, which only that copy's
    # ``main`` catches.
    from raftkit.impl.cli import run as _run

    _run()
