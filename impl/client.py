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
import time
import urllib.parse
from typing import Any

DEFAULT_HTTP_BASE = 7401
DEFAULT_RAFT_BASE = 7501
DEFAULT_MAX_NODES = 5


def default_endpoints(n: int = DEFAULT_MAX_NODES) -> list[str]:
    """Where ``raftkv cluster`` puts its nodes' HTTP APIs."""
    return [f"127.0.0.1:{DEFAULT_HTTP_BASE + i}" for i in range(n)]


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
    ) -> None:
        self.endpoints = list(endpoints or default_endpoints())
        self.timeout = timeout
        self.deadline = attempts_deadline
        self.client_id = client_id or os.urandom(8).hex()
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
        return self._request("GET", key, None)["value"]

    def put(self, key: str, value: Any) -> dict[str, Any]:
        return self._request("PUT", key, {"value": value}, write=True)

    def delete(self, key: str) -> dict[str, Any]:
        return self._request("DELETE", key, {}, write=True)

    def cas(self, key: str, expected: Any, value: Any) -> bool:
        """Set key to value if it currently holds expected (None: absent). True if swapped."""
        body = {"expected": expected, "value": value}
        return bool(self._request("POST", key, body, write=True, suffix="/cas")["swapped"])

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
        self,
        method: str,
        key: str,
        body: dict[str, Any] | None,
        *,
        write: bool = False,
        suffix: str = "",
    ) -> dict[str, Any]:
        path = "/kv/" + urllib.parse.quote(key, safe="") + suffix
        if write:
            self.seq += 1
            body = dict(body or {}, client=self.client_id, seq=self.seq)
        deadline = time.monotonic() + self.deadline
        # Set once a write may have reached a leader: from then on, failure means "unknown".
        maybe_applied = False
        last: Exception | str | None = None
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
                        last = f"{ep}: timed out ({exc})"
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        # A failure after the request left may still mean the leader got it.
                        if write and self._maybe_delivered:
                            maybe_applied = True
                        last = f"{ep}: {exc.__class__.__name__}: {exc}"
                        break
                    if code == 200 or (code == 404 and method == "GET"):
                        self.leader = ep
                        return data
                    if code in (307, 308) and location:
                        ep = urllib.parse.urlsplit(location).netloc or None
                        self.leader = ep
                        continue
                    if code in (400, 409):
                        # Our request is wrong (or a stale sequence number): retrying cannot help.
                        raise ClientError(f"{ep}: {data.get('error', data)}", unknown=False)
                    if code == 504:
                        maybe_applied = maybe_applied or write
                    last = f"{ep}: HTTP {code}: {data.get('error', data)}"
                    break
            time.sleep(backoff)
            backoff = min(backoff * 2, 0.5)
        raise ClientError(f"gave up: {_why(last)}", unknown=maybe_applied)

    def _conn(self, ep: str) -> http.client.HTTPConnection:
        c = self._conns.get(ep)
        if c is None:
            host, _, port = ep.rpartition(":")
            c = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
            self._conns[ep] = c
        return c

    def _send(
        self, ep: str, method: str, path: str, body: dict[str, Any] | None
    ) -> tuple[int, dict[str, Any], str | None]:
        payload = None if body is None or method == "GET" else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
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


def _why(last: object) -> str:
    return str(last) if last else "no endpoints"
