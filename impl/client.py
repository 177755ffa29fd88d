"""A small blocking client for the raftkv HTTP API.

It follows a follower's redirect to the leader, tries the other nodes when one does not answer,
and retries a write under the same (client id, sequence number) so that the service's client
sessions apply it exactly once even when the first attempt's answer was lost.

One ``Client`` is meant for one thread: it keeps a connection per node.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
import urllib.parse
from typing import Any

DEFAULT_HTTP_BASE = 7401
DEFAULT_RAFT_BASE = 7501
DEFAULT_MAX_NODES = 5


# Answers that say the request itself is wrong: another node would say the same.
_DEFINITE_REFUSALS = {400: "bad request", 401: "unauthorized", 403: "forbidden",
                      404: "not found", 405: "method not allowed", 409: "refused",
                      413: "request too large"}  # fmt: skip


def default_endpoints(n: int = DEFAULT_MAX_NODES) -> list[str]:
    """Where ``raftkv cluster`` puts its nodes' HTTP APIs."""
    return [f"127.0.0.1:{DEFAULT_HTTP_BASE + i}" for i in range(n)]


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6addr]:port`` too) -> (host, port); ValueError says what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad endpoint {text!r}: expected host:port with a port from 1 to 65535")
    return host, int(port)


class ClientError(Exception):
    """The request could not be completed; ``unknown`` if it may still have taken effect."""

    def __init__(self, message: str, unknown: bool = False) -> None:
        super().__init__(message)
        self.unknown = unknown


class Client:
    def __init__(
        self,
        endpoints: list[str] | None = None,
        *,
        timeout: float = 5.0,
        attempts_deadline: float = 10.0,
        client_id: str | None = None,
        token: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``token``: the client token the nodes want (``Authorization: Bearer``); ``tls``: talk
        HTTPS, verifying the nodes' certificates with this context."""
        self.endpoints = list(endpoints or default_endpoints())
        for ep in self.endpoints:
            parse_endpoint(ep)
        self.timeout = timeout
        self.deadline = attempts_deadline
        self.client_id = client_id or os.urandom(8).hex()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.tls = tls
        self.seq = 0
        self.leader: str | None = None
        self._maybe_delivered = False
        self._conns: dict[str, http.client.HTTPConnection] = {}

    def close(self) -> None:
        for c in self._conns.values():
            c.close()
        self._conns.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- operations ----------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The value, or None if the key is absent. Linearizable."""
        return self._request("GET", _kv(key), None)["value"]

    def put(self, key: str, value: Any) -> dict[str, Any]:
        return self._request("PUT", _kv(key), {"value": value}, write=True)

    def delete(self, key: str) -> dict[str, Any]:
        return self._request("DELETE", _kv(key), {}, write=True)

    def cas(self, key: str, expected: Any, value: Any) -> bool:
        """Set key to value if it currently holds expected (None: absent). True if swapped."""
        body = {"expected": expected, "value": value}
        return bool(self._request("POST", _kv(key) + "/cas", body, write=True)["swapped"])

    def add_node(self, node: str, address: str) -> dict[str, Any]:
        """Add ``node``, listening at ``address`` (``host:raft_port:http_port``), to the
        cluster: ``{"changed", "members", ...}`` once the leader has caught it up and the change
        is committed (``changed`` is false if it was a member already)."""
        return self._request("POST", _members(node), {"address": address})

    def remove_node(self, node: str) -> dict[str, Any]:
        """Remove ``node`` from the cluster (``changed`` is false if it was not a member)."""
        return self._request("DELETE", _members(node), {})

    def transfer_leader(self, node: str) -> dict[str, Any]:
        """Hand leadership to ``node``: ``{"leader", "term"}`` once it has moved."""
        return self._request("POST", "/leader/" + urllib.parse.quote(node, safe=""), {})

    def status(self, endpoint: str | None = None) -> dict[str, Any]:
        """The status of one node (the first that answers if none is named)."""
        targets = [endpoint] if endpoint else self._order()
        last: Exception | None = None
        for ep in targets:
            try:
                code, body, _ = self._send(ep, "GET", "/status", None)
                if code == 200:
                    return body
                last = ClientError(f"{ep}: HTTP {code}: {body.get('error', body)}")
                if code == 401:
                    raise last
            except (OSError, http.client.HTTPException) as exc:
                last = exc
        raise ClientError(f"no node answered ({_why(last)})")

    # ---- plumbing ------------------------------------------------------------------------

    def _order(self) -> list[str]:
        eps = list(self.endpoints)
        if self.leader in eps:
            eps.remove(self.leader)
            eps.insert(0, self.leader)
        elif self.leader:
            eps.insert(0, self.leader)
        return eps

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, *, write: bool = False
    ) -> dict[str, Any]:
        if write:
            self.seq += 1
            body = dict(body or {}, client=self.client_id, seq=self.seq)
        deadline = time.monotonic() + self.deadline
        # Set once a write may have reached a leader: from then on, failure means "unknown".
        maybe_applied = False
        # The last word of each endpoint; a node's answer says more than a port that refused.
        errors: dict[str, tuple[int, str]] = {}
        backoff = 0.05
        while time.monotonic() < deadline:
            for ep in self._order():
                if time.monotonic() >= deadline:
                    break
                hops = 0
                while ep and hops < 5:
                    hops += 1
                    try:
                        code, data, location = self._send(ep, method, path, body)
                    except TimeoutError as exc:
                        maybe_applied = maybe_applied or write
                        errors[ep] = (1, f"timed out ({exc})")
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        # A failure after the request left may still mean the leader got it.
                        if write and self._maybe_delivered:
                            maybe_applied = True
                        errors[ep] = (0, _describe_oserror(exc))
                        break
                    if code == 200 or (code == 404 and method == "GET" and "key" in data):
                        self.leader = ep
                        return data
                    if code in (307, 308) and location:
                        ep = urllib.parse.urlsplit(location).netloc or None
                        self.leader = ep
                        continue
                    if code in _DEFINITE_REFUSALS:
                        # Our request is wrong (or a stale sequence number): retrying cannot help.
                        what = data.get("error") or _DEFINITE_REFUSALS[code]
                        raise ClientError(f"{ep}: {what} (HTTP {code})", unknown=maybe_applied)
                    if code == 504:
                        maybe_applied = maybe_applied or write
                    errors[ep] = (2, f"HTTP {code}: {data.get('error', data)}")
                    break
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.2)
        raise ClientError(
            f"gave up after {self.deadline:g} s: {_summary(errors)}", unknown=maybe_applied
        )

    def _conn(self, ep: str) -> http.client.HTTPConnection:
        c = self._conns.get(ep)
        if c is None:
            try:
                host, port = parse_endpoint(ep)
            except ValueError as exc:  # e.g. a redirect to a place that is not host:port
                raise http.client.InvalidURL(str(exc)) from None
            if self.tls is not None:
                c = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.tls)
            else:
                c = http.client.HTTPConnection(host, port, timeout=self.timeout)
            self._conns[ep] = c
        return c

    def _send(
        self, ep: str, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any], str | None]:
        payload = None if body is None or method == "GET" else json.dumps(body).encode()
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        # Set once the request bytes have left in any attempt: from then on a failure cannot
        # tell "not received" from "received, then the answer was lost".
        self._maybe_delivered = False
        for attempt in (0, 1):
            c = self._conn(ep)
            try:
                c.request(method, path, body=payload, headers=headers)
                self._maybe_delivered = True
                resp = c.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed while idle: redial once. A
                # write is safe to resend: its (client, seq) makes the second apply a no-op.
                c.close()
                self._conns.pop(ep, None)
                if attempt:
                    raise
            except BaseException:
                c.close()
                self._conns.pop(ep, None)
                raise
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"error": raw[:200].decode(errors="replace")}
        if not isinstance(data, dict):
            data = {"value": data}
        return resp.status, data, resp.getheader("Location")


def _kv(key: str) -> str:
    return "/kv/" + urllib.parse.quote(key, safe="")


def _members(node: str) -> str:
    return "/members/" + urllib.parse.quote(node, safe="")


def _why(last: object) -> str:
    return str(last) if last else "no endpoints"


def _describe_oserror(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (no node there?)"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS: {getattr(exc, 'reason', None) or exc}"
    text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return text


def _summary(errors: dict[str, tuple[int, str]]) -> str:
    """Endpoints grouped by what they last said, the most telling first."""
    if not errors:
        return "no endpoint tried"
    groups: dict[tuple[int, str], list[str]] = {}
    for ep, (rank, text) in errors.items():
        groups.setdefault((rank, text), []).append(ep)
    parts = [f"{', '.join(eps)}: {text}" for (_, text), eps in sorted(groups.items(), reverse=True)]
    return "; ".join(parts)
