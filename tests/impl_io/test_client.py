"""The client against scripted HTTP servers: redirects, retries, and what it may claim about a
write whose answer never came."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from raftkit.impl.client import Client, ClientError
from raftkit.impl.testing.proc_cluster import free_ports


class Scripted:
    """An HTTP server answering each request with the next step of a script."""

    def __init__(self, steps) -> None:
        self.steps = list(steps)
        self.seen: list[tuple[str, str, dict]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else {}
                outer.seen.append((self.command, self.path, body))
                step = outer.steps.pop(0) if outer.steps else (500, {"error": "script done"})
                if step == "hang-up":
                    self.close_connection = True
                    self.connection.close()
                    return
                code, data, *headers = step
                raw = json.dumps(data).encode()
                self.send_response(code)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_PUT = do_POST = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.endpoint = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_follows_redirect_to_the_leader_and_remembers_it():
    with Scripted([(200, {"ok": True, "value": None}), (200, {"key": "x", "value": "1"})]) as b:
        with Scripted([(307, {"leader": "n2"}, ("Location", f"http://{b.endpoint}/kv/x"))]) as a:
            c = Client([a.endpoint], client_id="c1")
            c.put("x", "1")
            assert c.leader == b.endpoint
            assert c.get("x") == "1"
            assert len(a.seen) == 1 and len(b.seen) == 2
            assert b.seen[0] == ("PUT", "/kv/x", {"value": "1", "client": "c1", "seq": 1})


def test_retries_a_write_with_the_same_session_and_sequence():
    script = [
        (503, {"error": "no leader"}),
        (504, {"error": "timeout"}),
        (200, {"ok": True, "value": None}),
        (200, {"ok": True, "value": 1}),
    ]
    with Scripted(script) as s:
        c = Client([s.endpoint], client_id="c1", attempts_deadline=5)
        c.put("k", 1)
        bodies = [b for _, _, b in s.seen]
        assert len(bodies) == 3 and all(b["seq"] == 1 and b["client"] == "c1" for b in bodies)
        c.put("k", 2)
        assert s.seen[-1][2]["seq"] == 2


def test_answer_lost_after_sending_means_unknown_outcome():
    with Scripted(["hang-up", "hang-up", "hang-up", "hang-up"] * 10) as s:
        c = Client([s.endpoint], attempts_deadline=0.5)
        with pytest.raises(ClientError) as info:
            c.put("x", 1)
        assert info.value.unknown


def test_nothing_listening_means_the_write_did_not_happen():
    (port,) = free_ports(1)
    c = Client([f"127.0.0.1:{port}"], attempts_deadline=0.5)
    with pytest.raises(ClientError) as info:
        c.put("x", 1)
    assert not info.value.unknown and "refused" in str(info.value).lower()


def test_a_refused_request_is_not_retried():
    with Scripted([(409, {"error": "stale sequence number 1 < 2"})]) as s:
        c = Client([s.endpoint], attempts_deadline=5)
        with pytest.raises(ClientError, match="stale"):
            c.put("x", 1)
        assert len(s.seen) == 1


def test_missing_key_reads_as_none():
    with Scripted([(404, {"key": "x", "value": None})]) as s:
        assert Client([s.endpoint]).get("x") is None


def test_a_redirect_to_nowhere_is_an_error_not_a_crash():
    with Scripted([(307, {"leader": "n2"}, ("Location", "http://garbage/kv/x"))] * 50) as s:
        with pytest.raises(ClientError, match="garbage"):
            Client([s.endpoint], attempts_deadline=0.5).get("x")
