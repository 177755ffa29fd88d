"""``raftkv``'s client commands: get, put, delete, cas, status, and the membership changes
(add-node, remove-node, transfer-leader). Each talks to the nodes' HTTP API through
``client.Client``; errors end as one line and an exit status of ``cli.EXIT_CODES``."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .cli import (
    CLUSTER_FILE,
    DEFAULT_DATA_DIR,
    EPILOG,
    EXIT_NO,
    EXIT_OK,
    TOKEN_ENV,
    UsageError,
    parse_address,
    positive_float,
    print_error,
)
from .client import Client, ClientError, parse_endpoint


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


def client_command(args: argparse.Namespace) -> int:
    """get, put, delete, cas, status, add-node, remove-node, transfer-leader."""
    key = getattr(args, "key", None)
    if key is not None and not key:
        raise UsageError(f"raftkv {args.cmd}: the key must not be empty")
    node = getattr(args, "id", None)
    if node is not None and not node:
        raise UsageError(f"raftkv {args.cmd}: the node id must not be empty")
    address = getattr(args, "address", None)
    if address is not None:
        parse_address(address, f"ADDR {address!r}")
    # A membership change waits for the leader (a new node's catch-up, an election): its one
    # request may take as long as the whole command.
    per_request = args.timeout if node is not None else min(5.0, args.timeout)
    client = Client(
        _endpoints(args),
        attempts_deadline=args.timeout,
        timeout=per_request,
        token=_token(args),
        tls=_client_tls(args),
    )
    with client as c:
        if node is not None:
            return _membership_cmd(c, args)
        if args.cmd == "get":
            v = c.get(args.key)
            if v is None:
                print_error(f"{args.key}: not found")
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
                print_error(f"{args.key}: value is not {args.expected!r}, not changed")
                return EXIT_NO
        elif args.cmd == "status":
            return _status(c, args)
    return EXIT_OK


def _membership_cmd(c: Client, args: argparse.Namespace) -> int:
    if args.cmd == "transfer-leader":
        out = c.transfer_leader(args.id)
        print(f"OK: {out.get('leader')} leads (term {out.get('term')})")
        return EXIT_OK
    if args.cmd == "add-node":
        out = c.add_node(args.id, args.address)
        done = "added" if out.get("changed") else "is already a member"
    else:
        out = c.remove_node(args.id)
        done = "removed" if out.get("changed") else "is not a member"
    print(f"OK: {args.id} {done}; members: {', '.join(out.get('members', []))}")
    return EXIT_OK


def _status(c: Client, args: argparse.Namespace) -> int:
    answers: dict[str, dict[str, Any]] = {}
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
        # Ask every node the answer knows of (members, spares, removed nodes) too.
        queue.extend(e for e in {**st.get("known", {}), **st.get("members", {})}.values() if e)
    if not answers:
        raise ClientError("no node answered at " + ",".join(c.endpoints))
    rows = _status_rows(list(answers.values()))
    if args.leader_pid:
        leaders = [r for r in rows if r.get("role") == "leader"]
        if not leaders:
            print_error("raftkv: no leader right now")
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
        role = r["role"] if r.get("member", True) else "spare"
        print(
            f"{r['id']:<6} {role:<12} {r['term']:>5} {str(r['leader'] or '-'):<7} "
            f"{r['commit_index']:>7} {r['applied_index']:>7} {r['last_index']:>7} "
            f"{r.get('pid', '-'):>7}  {r['endpoint']}"
        )
    return EXIT_OK


def _status_rows(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per member of the configuration (as the leader of the highest term knows it, or
    the node with the newest configuration when no leader answered), a member that did not
    answer shown as down; then every node that answered but is not a member."""
    leaders = [a for a in answers if a.get("role") == "leader"]
    if leaders:
        ref = max(leaders, key=lambda a: a["term"])
    else:
        ref = max(answers, key=lambda a: (a.get("configuration_index", 0), a["term"]))
    members: dict[str, str] = ref.get("members", {})
    by_id = {a["id"]: a for a in answers}
    rows = [{**by_id[m], "member": True} if m in by_id
            else {"id": m, "endpoint": ep, "error": "unreachable"}
            for m, ep in sorted(members.items())]  # fmt: skip
    for node in sorted(set(by_id) - set(members)):
        rows.append({**by_id[node], "member": False})
    return rows


def _client_opts(sp: argparse.ArgumentParser, timeout: float = 10.0) -> None:
    sp.add_argument(
        "--endpoints",
        default=None,
        help="host:port,... of node HTTP APIs (default: the local cluster's)",
    )
    sp.add_argument(
        "--timeout",
        type=positive_float,
        default=timeout,
        help=f"give up after (s, default {timeout:g})",
    )
    sp.add_argument(
        "--token", default=None, help=f"the nodes' client token (default: ${TOKEN_ENV})"
    )
    sp.add_argument("--tls", action="store_true", help="talk HTTPS (system CA certificates)")
    sp.add_argument("--ca", default=None, metavar="PEM", help="HTTPS, trusting this CA")


def add_parsers(sub: Any) -> None:
    """The client commands' parsers (``sub`` is ``raftkv``'s subparsers)."""
    g = sub.add_parser("get", help="read a key (linearizable)", epilog=EPILOG)
    g.add_argument("key")
    _client_opts(g)
    pu = sub.add_parser("put", help="write a key", epilog=EPILOG)
    pu.add_argument("key")
    pu.add_argument("value")
    _client_opts(pu)
    d = sub.add_parser("delete", help="delete a key", epilog=EPILOG)
    d.add_argument("key")
    _client_opts(d)
    ca = sub.add_parser(
        "cas", help="set KEY to NEW if it holds EXPECTED ('' for absent)", epilog=EPILOG
    )
    ca.add_argument("key")
    ca.add_argument("expected")
    ca.add_argument("new")
    _client_opts(ca)
    st = sub.add_parser("status", help="who leads, terms, commit and apply indices", epilog=EPILOG)
    _client_opts(st)
    st.add_argument("--json", action="store_true")
    st.add_argument(
        "--leader-pid",
        action="store_true",
        help="print only the leader's process id (exit 1 if there is no leader)",
    )
    an = sub.add_parser(
        "add-node",
        help="add a node to the cluster (it catches up first, then counts)",
        epilog=EPILOG,
    )
    an.add_argument("id", help="the new node's id (it runs `raftkv serve --address`)")
    an.add_argument("address", metavar="ADDR", help="its host:raft_port:http_port")
    _client_opts(an, timeout=60.0)
    rn = sub.add_parser("remove-node", help="remove a node from the cluster", epilog=EPILOG)
    rn.add_argument("id")
    _client_opts(rn, timeout=30.0)
    tl = sub.add_parser("transfer-leader", help="hand leadership to another member", epilog=EPILOG)
    tl.add_argument("id")
    _client_opts(tl, timeout=30.0)
