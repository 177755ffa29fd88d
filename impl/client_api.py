"""The HTTP API for clients of one node, and what it does about clients that misbehave.

Routes (JSON in, JSON out)::

    GET    /kv/<key>            -> {"key", "value"}  (404 with value null if absent)
    PUT    /kv/<key>            {"value", "client"?, "seq"?}            -> {"ok", "value"}
    DELETE /kv/<key>            {"client"?, "seq"?}                     -> {"ok", "value"}
    POST   /kv/<key>/cas        {"expected", "value", "client"?, "seq"?} -> {"swapped", "value"}
    GET    /status              -> role, term, leader, commit/apply indices, configuration, ...
    POST   /members/<id>        {"address"}  -> add a node  {"changed", "index"?, "members"}
    DELETE /members/<id>                     -> remove one  {"changed", "index"?, "members"}
    POST   /leader/<id>                      -> hand leadership to a member  {"leader", "term"}

Membership changes go to the leader (followers redirect). A change that cannot start now (another
is in progress, the leader's first entry is not committed yet) gets 503 with the reason: retry;
one that cannot be made (not a member, a node the leader never knew of, the new node did not
catch up) gets 409. Adding a member at the same address, or removing a former member, answers
``"changed": false``, so a retry after a lost answer is safe.

A follower answers 307 with ``Location`` at the leader's API and a JSON body naming it; with no
leader known, 503. A write that does not commit in time gets 504: its outcome is unknown, and a
retry with the same (client, seq) is applied at most once.

The API runs on its own event loop, apart from the Raft timers (``server``), and defends itself:

* at most ``max_connections`` open connections; more are closed as soon as they are accepted;
* a connection that does not complete a request's headers within ``header_timeout`` is closed
  (idle keep-alive connections too), a body must arrive within ``body_timeout`` (408), and a body
  larger than ``max_body`` is refused from its announced length alone (413), without reading it;
* bodies must be standard JSON (no NaN or Infinity) whose values msgpack can carry: integers
  within 64 bits, finite floats, nesting at most ``MAX_VALUE_DEPTH`` deep (400 otherwise);
* a client that goes away mid-request costs one log line at INFO level, at most one line per
  ``LOG_EVERY`` seconds however many do it (with a count);
* with a client token configured, every request needs ``Authorization: Bearer <token>`` (401);
* with a certificate and key configured, the port speaks TLS only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .addresses import NodeAddress
from .kv import Command, check_value
from .membership_changes import ConfigChangeRefused
from .node import NotLeader

if TYPE_CHECKING:
    from .server import Server

log = logging.getLogger("raftkit.client_api")

MAX_SEQ = 2**63 - 1
MAX_CLIENT_ID = 256
LOG_EVERY = 10.0


@dataclass(frozen=True)
class ApiLimits:
    """What one client may cost a node."""

    max_body: int = 1 << 20
    max_connections: int = 1000
    header_timeout: float = 10.0
    body_timeout: float = 10.0


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS for the client port from PEM files (raises OSError / ssl.SSLError if unusable)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


class _Refused(Exception):
    """A request we answer with an error status (and maybe close the connection after)."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


class _Throttled:
    """One log line per kind per ``LOG_EVERY`` seconds, saying how many were folded into it."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._folded: dict[str, int] = {}

    def __call__(self, level: int, kind: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -math.inf) < LOG_EVERY:
            self._folded[kind] = self._folded.get(kind, 0) + 1
            return
        folded = self._folded.pop(kind, 0)
        self._last[kind] = now
        if folded:
            msg += f" (and {folded} more like it in the last {LOG_EVERY:.0f} s)"
        log.log(level, msg, *args, exc_info=exc_info)


class _Handler(RequestHandler):
    """aiohttp's connection handler, counted against the connection limit."""

    def __init__(
        self, api: ClientAPI, manager: web.Server, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(
            manager,
            loop=loop,
            # aiohttp arms this timer when the connection opens and after each response: a
            # connection without a complete request by then (idle, or dribbling its headers)
            # is closed.
            keepalive_timeout=api.limits.header_timeout,
            lingering_time=1.0,
            access_log=None,
        )
        self._api = api
        self.busy = 0  # requests being answered on this connection
        self._counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        api = self._api
        if len(api.connections) >= api.limits.max_connections and not api.evict_idle():
            api.refused_connections += 1
            api.note(logging.WARNING, "full", "client connection refused: all %d busy",
                     len(api.connections))  # fmt: skip
            transport.abort()  # type: ignore[attr-defined]
            return
        api.connections[self] = None
        self._counted = True
        super().connection_made(transport)

    def evict(self) -> None:
        self._api.connections.pop(self, None)
        self._counted = False
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._counted:
            return
        self._counted = False
        self._api.connections.pop(self, None)
        super().connection_lost(exc)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


class ClientAPI:
    """The HTTP side of one ``Server``: started on the caller's event loop."""

    def __init__(self, server: Server) -> None:
        cfg = server.cfg
        self.server = server
        self.limits = cfg.limits
        self.token = cfg.client_token
        self.ssl = None
        if cfg.tls_cert:
            self.ssl = server_ssl_context(cfg.tls_cert, cfg.tls_key or cfg.tls_cert)
        self.scheme = "https" if self.ssl else "http"
        # Open connections, oldest first; at the limit the oldest idle one makes room.
        self.connections: dict[_Handler, None] = {}
        self.refused_connections = 0
        self.evicted_connections = 0
        self.note = _Throttled()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.base_events.Server | None = None

    def evict_idle(self) -> bool:
        """Close the oldest connection with no request in progress; False if all are busy."""
        for h in self.connections:
            if not h.busy:
                h.evict()
                self.evicted_connections += 1
                self.note(logging.INFO, "evict", "closed an idle client connection: %d open",
                          len(self.connections))  # fmt: skip
                return True
        return False

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.server.me.http_endpoint}"

    async def start(self) -> None:
        app = web.Application(client_max_size=self.limits.max_body, middlewares=[self._guard])
        app.add_routes(
            [
                web.get("/status", self._h_status),
                web.get("/kv/{key}", self._h_get),
                web.put("/kv/{key}", self._h_put),
                web.delete("/kv/{key}", self._h_delete),
                web.post("/kv/{key}/cas", self._h_cas),
                web.post("/members/{node}", self._h_add_member),
                web.delete("/members/{node}", self._h_remove_member),
                web.post("/leader/{node}", self._h_transfer),
                web.route("*", "/kv/", self._h_no_key),
                web.route("*", "/kv", self._h_no_key),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        manager = self._runner.server
        assert manager is not None
        loop = asyncio.get_running_loop()
        me = self.server.me
        self._listener = await loop.create_server(
            lambda: _Handler(self, manager, loop),
            me.host,
            me.http_port,
            ssl=self.ssl,
            ssl_handshake_timeout=self.limits.header_timeout if self.ssl else None,
            reuse_address=True,
            # A short accept queue lets the kernel pace a burst of connections instead of the
            # node taking them all at once (measured: less lateness of the Raft loop's ticks).
            backlog=128,
        )

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._listener = None

    # ---- the guard around every request ------------------------------------------------------

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.token is not None and not self._authorized(request):
            return _json(
                {"error": "unauthorized: this node needs the client token"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="raftkv"'},
            )
        proto = request.protocol
        if isinstance(proto, _Handler):
            proto.busy += 1
        try:
            return await self._answer(request, handler)
        finally:
            if isinstance(proto, _Handler):
                proto.busy -= 1

    async def _answer(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Refused as exc:
            resp = _json({"error": exc.message}, status=exc.status)
            if exc.close:
                resp.force_close()
            return resp
        except web.HTTPException:
            raise
        except ConnectionError as exc:
            self.note(
                logging.INFO, "gone", "client %s went away mid-request: %s", request.remote, exc
            )
            resp = _json({"error": "connection lost"}, status=400)
            resp.force_close()
            return resp
        except Exception:  # noqa: BLE001 - a bug here must cost one answer, not the node
            self.note(
                logging.ERROR,
                "bug",
                "error answering %s %s",
                request.method,
                request.path,
                exc_info=True,
            )
            return _json({"error": "internal error"}, status=500)

    def _authorized(self, request: web.Request) -> bool:
        assert self.token is not None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        limit = self.limits.max_body
        if request.content_length is not None and request.content_length > limit:
            raise _Refused(413, f"body of {request.content_length} bytes is over {limit}", True)
        try:
            raw = await asyncio.wait_for(request.read(), self.limits.body_timeout)
        except TimeoutError:
            raise _Refused(
                408, f"body not received in {self.limits.body_timeout:g} s", True
            ) from None
        except web.HTTPRequestEntityTooLarge:
            raise _Refused(413, f"body is over {limit} bytes", True) from None
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except RecursionError:
            raise _Refused(400, "body is nested too deeply") from None
        except ValueError as exc:
            raise _Refused(400, f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _Refused(400, "body must be a JSON object")
        for name in ("value", "expected"):
            if name in body:
                try:
                    check_value(body[name])
                except ValueError as exc:
                    raise _Refused(400, f"{name}: {exc}") from None
        return body

    @staticmethod
    def _session(body: dict[str, Any]) -> tuple[str | None, int]:
        client, seq = body.get("client"), body.get("seq", 0)
        if client is not None and (not isinstance(client, str) or len(client) > MAX_CLIENT_ID):
            raise _Refused(400, f"client must be a string of at most {MAX_CLIENT_ID} characters")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
            raise _Refused(400, f"seq must be an integer from 0 to {MAX_SEQ}")
        return client, seq

    # ---- handlers ----------------------------------------------------------------------------

    def _not_leader(self, request: web.Request, leader: str | None) -> web.Response:
        known = self.server.addresses
        if leader and leader in known and leader != self.server.id:
            url = f"{self.scheme}://{known[leader].http_endpoint}{request.rel_url}"
            return _json(
                {"error": "not the leader", "leader": leader, "leader_url": url},
                status=307,
                headers={"Location": url},
            )
        return _json({"error": "no leader known; retry", "leader": None}, status=503)

    async def _h_no_key(self, request: web.Request) -> web.Response:
        return _json({"error": "the key must not be empty: /kv/<key>"}, status=400)

    async def _h_status(self, request: web.Request) -> web.Response:
        try:
            s = await self.server.status(bool(request.query.get("digest")))
        except TimeoutError:
            return _json({"error": "the node did not answer in time"}, status=504)
        s["api"] = {
            "connections": len(self.connections),
            "evicted": self.evicted_connections,
            "refused": self.refused_connections,
        }
        return _json(s)

    async def _h_get(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            present, value = await self.server.read(key)
        except NotLeader as exc:
            return self._not_leader(request, exc.leader_id)
        except TimeoutError:
            return _json({"error": "read timed out; retry"}, status=504)
        if present:
            return _json({"key": key, "value": value})
        return _json({"key": key, "value": None}, status=404)

    async def _propose(self, request: web.Request, cmd: Command) -> web.Response:
        try:
            res = await self.server.write(cmd.encode())
        except NotLeader as exc:
            return self._not_leader(request, exc.leader_id)
        except TimeoutError:
            return _json({"error": "timed out waiting for commit; outcome unknown"}, status=504)
        if res is None:
            # Another leader's entry took this index: ours was not applied (at this index).
            return _json({"error": "leadership changed before commit; retry"}, status=503)
        if res.error:
            return _json({"error": res.error}, status=409)
        return _json(res.to_dict())

    async def _h_put(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "value" not in body:
            return _json({"error": 'body needs "value"'}, status=400)
        client, seq = self._session(body)
        cmd = Command("put", request.match_info["key"], body["value"], None, client, seq)
        return await self._propose(request, cmd)

    async def _h_delete(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        client, seq = self._session(body)
        cmd = Command("delete", request.match_info["key"], None, None, client, seq)
        return await self._propose(request, cmd)

    async def _h_cas(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if "value" not in body or "expected" not in body:
            return _json({"error": 'body needs "expected" and "value"'}, status=400)
        client, seq = self._session(body)
        key = request.match_info["key"]
        cmd = Command("cas", key, body["value"], body["expected"], client, seq)
        resp = await self._propose(request, cmd)
        if resp.status == 200:
            out = json.loads(resp.body)  # type: ignore[arg-type]
            out["swapped"] = out["ok"]
            out["ok"] = True
            return _json(out)
        return resp

    # ---- membership --------------------------------------------------------------------------

    async def _change(self, request: web.Request, op: str, address: str = "") -> web.Response:
        node = request.match_info["node"]
        if len(node) > MAX_CLIENT_ID:
            return _json({"error": f"a node id is at most {MAX_CLIENT_ID} characters"}, 400)
        try:
            out = await self.server.change_membership(op, node, address)
        except NotLeader as exc:
            return self._not_leader(request, exc.leader_id)
        except ConfigChangeRefused as exc:
            return _json({"error": exc.reason}, status=503 if exc.retry else 409)
        except TimeoutError:
            return _json({"error": "timed out waiting for the change; outcome unknown"}, 504)
        return _json(out)

    async def _h_add_member(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        address = body.get("address")
        node = request.match_info["node"]
        if not isinstance(address, str) or NodeAddress.parse(node, address) is None:
            return _json({"error": 'body needs "address": "host:raft_port:http_port"'}, 400)
        return await self._change(request, "add", address)

    async def _h_remove_member(self, request: web.Request) -> web.Response:
        return await self._change(request, "remove")

    async def _h_transfer(self, request: web.Request) -> web.Response:
        return await self._change(request, "transfer")
