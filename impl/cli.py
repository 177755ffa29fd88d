"""``raftkv``: run a node, run a local cluster, and talk to it.

    raftkv cluster --nodes 3          # one terminal: a local 3-node cluster
    raftkv put x 1                    # another: write through whichever node leads
    raftkv get x
    raftkv cas x 1 2
    raftkv delete x
    raftkv status

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
    Client,
    ClientError,
    parse_endpoint,
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
    "answered, a node stopped on an error, the nemesis found a violation",
    EXIT_USAGE: "bad usage: a wrong flag or value (nothing was done)",
    EXIT_REFUSED: "serve: refuses a damaged data directory; nemesis: no verdict in time",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_PIPE: "the output was closed early (e.g. piped into head)",
}
EPILOG = "exit status: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _err(text: str) -> None:
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


def parse_cluster(spec: str) -> dict[str, tuple[str, int, int]]:
    """``id=host:raft_port:http_port,...`` -> {id: (host, raft_port, http_port)}."""
    out: dict[str, tuple[str, int, int]] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        node, sep, addr = part.partition("=")
        pieces = addr.rsplit(":", 2)
        if not sep or not node or len(pieces) != 3 or not pieces[0]:
            raise UsageError(f"bad --cluster entry {part!r}: expected id=host:raft_port:http_port")
        host, raft, http = pieces
        entry = (host, _port(raft, f"raft port in --cluster entry {part!r}"),
                 _port(http, f"http port in --cluster entry {part!r}"))  # fmt: skip
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


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="raftkv", description="A replicated key-value store on Raft.", epilog=EPILOG)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    s = sub.add_parser("serve", help="run one node", epilog=EPILOG)
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

    c = sub.add_parser(
        "cluster",
        help="run a local cluster in subprocesses, restarting nodes that exit (Ctrl-C stops it)",
        epilog=EPILOG,
    )
    c.add_argument("--nodes", type=int, default=3)
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
    n.add_argument("--minutes", type=_positive_float, default=1.0, help="length of the run")
    n.add_argument("--nodes", type=int, default=3, help="3 or 5")
    n.add_argument("--clients", type=int, default=4, help="concurrent clients (1-32)")
    n.add_argument("--seed", type=int, default=None, help="fault schedule seed (default: random)")
    n.add_argument(
        "--dir", default=None, help="keep the nodes' data and logs here (default: a temp dir)"
    )
    n.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    def client_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--endpoints",
            default=None,
            help="host:port,... of node HTTP APIs (default: the local cluster's)",
        )
        sp.add_argument(
            "--timeout", type=_positive_float, default=10.0, help="give up after (s, default 10)"
        )
        sp.add_argument(
            "--token", default=None, help=f"the nodes' client token (default: ${TOKEN_ENV})"
        )
        sp.add_argument("--tls", action="store_true", help="talk HTTPS (system CA certificates)")
        sp.add_argument("--ca", default=None, metavar="PEM", help="HTTPS, trusting this CA")

    g = sub.add_parser("get", help="read a key (linearizable)", epilog=EPILOG)
    g.add_argument("key")
    client_opts(g)
    pu = sub.add_parser("put", help="write a key", epilog=EPILOG)
    pu.add_argument("key")
    pu.add_argument("value")
    client_opts(pu)
    d = sub.add_parser("delete", help="delete a key", epilog=EPILOG)
    d.add_argument("key")
    client_opts(d)
    ca = sub.add_parser(
        "cas", help="set KEY to NEW if it holds EXPECTED ('' for absent)", epilog=EPILOG
    )
    ca.add_argument("key")
    ca.add_argument("expected")
    ca.add_argument("new")
    client_opts(ca)
    st = sub.add_parser("status", help="who leads, terms, commit and apply indices", epilog=EPILOG)
    client_opts(st)
    st.add_argument("--json", action="store_true")
    st.add_argument(
        "--leader-pid",
        action="store_true",
        help="print only the leader's process id (exit 1 if there is no leader)",
    )
    return p


def _local_cluster() -> dict[str, Any]:
    """What `raftkv cluster` started in this directory wrote about itself, if anything."""
    path = os.path.join(DEFAULT_DATA_DIR, CLUSTER_FILE)
    try:
        with open(path) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _endpoints(args: argparse.Namespace) -> list[str] | None:
    if args.endpoints is not None:
        eps = [e.strip() for e in args.endpoints.split(",") if e.strip()]
        if not eps:
            raise UsageError("--endpoints names no endpoint")
        for ep in eps:
            try:
                parse_endpoint(ep)
            except ValueError as exc:
                raise UsageError(f"--endpoints: {exc}") from None
        return eps
    eps = _local_cluster().get("endpoints")
    if isinstance(eps, list) and eps and all(isinstance(e, str) for e in eps):
        try:
            for ep in eps:
                parse_endpoint(ep)
        except ValueError:
            return None
        return eps
    return None


def _token(args: argparse.Namespace) -> str | None:
    if args.token is not None:
        return args.token
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    path = _local_cluster().get("token_file")
    if isinstance(path, str):
        try:
            with open(path) as f:
                return f.read().strip() or None
        except OSError:
            return None
    return None


def _client_tls(args: argparse.Namespace) -> Any:
    if not (args.tls or args.ca):
        return None
    import ssl

    try:
        return ssl.create_default_context(cafile=args.ca)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot use --ca {args.ca}: {exc}") from None


def _client_cmd(args: argparse.Namespace) -> int:
    key = getattr(args, "key", None)
    if key is not None and not key:
        raise UsageError(f"raftkv {args.cmd}: the key must not be empty")
    client = Client(
        _endpoints(args),
        attempts_deadline=args.timeout,
        timeout=min(5.0, args.timeout),
        token=_token(args),
        tls=_client_tls(args),
    )
    with client as c:
        if args.cmd == "get":
            v = c.get(args.key)
            if v is None:
                _err(f"{args.key}: not found")
                return EXIT_NO
            print(v if isinstance(v, str) else json.dumps(v))
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
                _err(f"{args.key}: value is not {args.expected!r}, not changed")
                return EXIT_NO
        elif args.cmd == "status":
            return _status(c, args)
    return EXIT_OK


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
        except ClientError as exc:
            if "HTTP 401" in str(exc):
                raise
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
    if args.leader_pid:
        leaders = [r for r in rows if r.get("role") == "leader"]
        if not leaders:
            _err("raftkv: no leader right now")
            return EXIT_NO
        print(max(leaders, key=lambda r: r["term"])["pid"])
        return EXIT_OK
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(f"{'node':<6} {'role':<12} {'term':>5} {'leader':<7} {'commit':>7} {'applied':>7} "
          f"{'last':>7} {'pid':>7}  endpoint")  # fmt: skip
    for r in rows:
        if "error" in r:
            print(f"{r['id']:<6} {'down':<12} {'':>5} {'':<7} {'':>7} {'':>7} {'':>7} {'':>7}  "
                  f"{r['endpoint']}")  # fmt: skip
            continue
        print(
            f"{r['id']:<6} {r['role']:<12} {r['term']:>5} {str(r['leader'] or '-'):<7} "
            f"{r['commit_index']:>7} {r['applied_index']:>7} {r['last_index']:>7} "
            f"{r.get('pid', '-'):>7}  {r['endpoint']}"
        )
    return EXIT_OK


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
    if args.id not in cluster:
        raise UsageError(f"--id {args.id!r} is not in the cluster ({', '.join(cluster)})")
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
    host = cluster[args.id][0]
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
        _err(f"raftkv serve: refusing to start: {exc}")
        return EXIT_REFUSED
    except (StorageLocked, OSError) as exc:
        _err(f"raftkv serve: {exc}")
        return EXIT_NO
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - logged in full above; the last word is one line
        _err(f"raftkv serve: stopped: {exc.__class__.__name__}: {exc}")
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
    for flag, base in (("--http-port", args.http_port), ("--raft-port", args.raft_port)):
        if not 0 < base <= 65536 - args.nodes:
            raise UsageError(f"{flag} must leave room for {args.nodes} ports below 65536")
    if abs(args.http_port - args.raft_port) < args.nodes:
        raise UsageError("--http-port and --raft-port ranges overlap")
    spec = default_cluster_spec(args.nodes, args.host, args.http_port, args.raft_port)
    cluster = parse_cluster(spec)
    for node, (h, rp, hp) in cluster.items():
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
    info: dict[str, Any] = {"cluster": spec, "endpoints": [f"{h}:{hp}" for h, _, hp in
                                                           cluster.values()]}  # fmt: skip
    auth: list[str] = []
    if not is_loopback(args.host):
        token_path = os.path.join(args.data_dir, TOKEN_FILE)
        _write_new_secret(token_path)
        info["token_file"] = os.path.abspath(token_path)
        auth = ["--client-token-file", token_path]
    with open(os.path.join(args.data_dir, CLUSTER_FILE), "w") as f:
        json.dump(info, f)
    commands: dict[str, list[str]] = {}
    for node in cluster:
        cmd = [sys.executable, "-m", "raftkit.impl.cli", "serve", "--id", node,
               "--cluster", spec, "--data-dir", os.path.join(args.data_dir, node),
               "--secret-file", secret_path, "--log-level", args.log_level, *auth]  # fmt: skip
        if args.trace_dir:
            os.makedirs(args.trace_dir, exist_ok=True)
            cmd += ["--trace", os.path.join(args.trace_dir, f"{node}.jsonl")]
        commands[node] = cmd
    sup = Supervisor(commands, restart=not args.no_restart)
    sup.start_all()
    print(f"raftkv: started {args.nodes} nodes; data in {os.path.abspath(args.data_dir)}")
    for node, (h, rp, hp) in cluster.items():
        print(f"  {node}: http://{h}:{hp}  (raft {h}:{rp})  pid {sup.pid(node)}")
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
        _err(f"raftkv simulate: {exc}")
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
        return _client_cmd(args)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ClientError as exc:
        hint = f"; give it with --token or ${TOKEN_ENV}" if "(HTTP 401)" in str(exc) else ""
        _err(f"raftkv: {exc}{hint}")
        return EXIT_NO
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, and do not let the interpreter's
        # final flush of stdout fail again on the way out.
        _silence_stdout()
        return EXIT_PIPE
    except OSError as exc:
        _err(f"raftkv: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_NO
    except Exception as exc:  # noqa: BLE001 - a bug still ends in one line, and says it is one
        _err(f"raftkv: internal error: {exc.__class__.__name__}: {exc}")
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
    run()
