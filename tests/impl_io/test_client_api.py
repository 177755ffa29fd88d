"""The client API against bad and hostile clients, its token and TLS, and the blocked-peers file:
one node in this process (a cluster of one elects itself at once), raw sockets where a polite
client could not say what is being tested."""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import time

import pytest
from raftkit.impl.client import Client, ClientError
from raftkit.impl.client_api import ApiLimits
from raftkit.impl.kv import MAX_VALUE_DEPTH

from .inproc import InProcCluster

LIMITS = ApiLimits(max_connections=50, header_timeout=1.0, body_timeout=1.0)
RAFTKV = [sys.executable, "-m", "raftkit.impl.cli"]


@pytest.fixture
def node(tmp_path):
    with InProcCluster(str(tmp_path), 1, limits=LIMITS) as c:
        c.leader()
        yield c


def raw(endpoint: str, data: bytes, wait: float = 5.0) -> tuple[bytes, float]:
    """Send bytes, read until the server closes (or ``wait`` passes): (answer, seconds)."""
    host, port = endpoint.rsplit(":", 1)
    t0 = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=wait) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out, time.monotonic() - t0


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def put_raw(ep: str, body: bytes) -> tuple[int, dict]:
    req = (b"PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body  # fmt: skip
    answer, _ = raw(ep, req)
    head, _, payload = answer.partition(b"\r\n\r\n")
    return status_of(head), json.loads(payload or b"{}")


@pytest.mark.parametrize(
    "body, why",
    [
        (b'{"value": 1, "seq": 1000000000000000000000000000000, "client": "c"}', "seq"),
        (b'{"value": 1000000000000000000000000000000}', "64-bit"),
        (b'{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"value": NaN}', "NaN"),
        (b'{"value": -Infinity}', "Infinity"),
        (b'{"value": 1e400}', "finite"),
        (
            b'{"value": ' + b"[" * (MAX_VALUE_DEPTH + 1) + b"]" * (MAX_VALUE_DEPTH + 1) + b"}",
            "nested",
        ),
        (b'{"value": 1, "seq": true}', "seq"),
        (b"[1]", "JSON object"),
        (b"\xff\xfe", "JSON"),
    ],
)
def test_invalid_numbers_deep_json_and_nan_are_400_not_500(node, body, why):
    code, answer = put_raw(node.endpoint("n1"), body)
    assert code == 400, answer
    assert why in answer["error"]


def test_values_within_the_limits_round_trip_as_standard_json(node):
    deepest = json.loads("[" * MAX_VALUE_DEPTH + "]" * MAX_VALUE_DEPTH)
    cl = Client([node.endpoint("n1")])
    for v in [2**63, -(2**63), 2**64 - 1, 1.5e300, deepest, {"a": [None, True, "x"]}]:
        cl.put("k", v)
        assert cl.get("k") == v
    code, _ = put_raw(node.endpoint("n1"), b'{"value": 18446744073709551616}')  # 2**64
    assert code == 400


def test_an_announced_huge_body_is_refused_at_once_and_the_connection_closed(node):
    req = (b"PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 1000000000000\r\n\r\n{\"va")  # fmt: skip
    answer, took = raw(node.endpoint("n1"), req)
    assert status_of(answer) == 413 and took < 3.0, (answer[:200], took)


def test_a_body_that_never_comes_is_408_and_closed(node):
    req = (b"PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100\r\n\r\n{\"va")  # fmt: skip
    answer, took = raw(node.endpoint("n1"), req)
    assert status_of(answer) == 408 and took < 4.0, (answer[:200], took)


@pytest.mark.parametrize("data", [b"", b"GET /status HTTP/1.1\r\nHost: x\r\n"])
def test_idle_and_unfinished_headers_are_closed_after_the_header_timeout(node, data):
    answer, took = raw(node.endpoint("n1"), data, wait=10.0)
    assert answer == b"" and took < 4.0, (answer, took)


def test_the_oldest_idle_connection_makes_room_when_all_slots_are_taken(node):
    ep = node.endpoint("n1")
    host, port = ep.rsplit(":", 1)
    idle = [socket.create_connection((host, int(port))) for _ in range(LIMITS.max_connections)]
    try:
        # Every slot holds an idle connection; a real client still gets its answer.
        cl = Client([ep], attempts_deadline=5)
        cl.put("x", 1)
        assert cl.get("x") == 1
        st = cl.status(ep)
        assert st["api"]["evicted"] >= 1 and st["api"]["connections"] <= LIMITS.max_connections
    finally:
        for s in idle:
            s.close()


def test_clients_that_go_away_mid_request_cost_one_quiet_line(node, caplog):
    caplog.set_level(logging.DEBUG)
    ep = node.endpoint("n1")
    host, port = ep.rsplit(":", 1)
    req = (b"PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 100\r\n\r\n{\"va")  # fmt: skip
    socks = []
    for _ in range(40):
        s = socket.create_connection((host, int(port)))
        s.sendall(req)
        socks.append(s)
    time.sleep(0.3)
    for s in socks:
        s.close()
    time.sleep(0.5)
    Client([ep]).put("after", 1)  # the node still serves
    records = [r for r in caplog.records if r.name.startswith(("raftkit", "aiohttp"))]
    assert not any(r.exc_info for r in records), [r.getMessage() for r in records][:3]
    gone = [r for r in records if "went away" in r.getMessage()]
    assert len(gone) == 1 and gone[0].levelno == logging.INFO, [r.getMessage() for r in records]
    assert all(r.levelno < logging.WARNING for r in records), [r.getMessage() for r in records]


def test_an_empty_key_is_a_clear_400(node):
    req = b'PUT /kv/ HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{"value":1}'
    answer, _ = raw(node.endpoint("n1"), req)
    assert status_of(answer) == 400 and b"must not be empty" in answer


def test_a_client_token_is_required_when_configured(tmp_path):
    with InProcCluster(str(tmp_path), 1, client_token=b"s3cret") as c:
        c.leader()
        ep = c.endpoint("n1")
        for token in (None, "wrong"):
            with pytest.raises(ClientError, match="unauthorized") as info:
                Client([ep], token=token, attempts_deadline=5).put("x", 1)
            assert not info.value.unknown
        cl = Client([ep], token="s3cret")
        cl.put("x", 1)
        assert cl.get("x") == 1
        # The command line: the token from the flag, or from the environment.
        env = {k: v for k, v in os.environ.items() if k != "RAFTKV_TOKEN"}
        base = [*RAFTKV, "get", "x", "--endpoints", ep, "--timeout", "5"]

        def run(args, e):
            return subprocess.run(args, capture_output=True, text=True, env=e, timeout=60)

        denied = run(base, env)
        assert denied.returncode == 1 and "unauthorized" in denied.stderr
        assert len(denied.stderr.strip().splitlines()) == 1 and "Traceback" not in denied.stderr
        assert run([*base, "--token", "s3cret"], env).stdout.strip() == "1"
        assert run(base, {**env, "RAFTKV_TOKEN": "s3cret"}).stdout.strip() == "1"


def _self_signed(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_tls_on_the_client_port_with_a_self_signed_certificate(tmp_path):
    cert, key = _self_signed(tmp_path)
    with InProcCluster(str(tmp_path / "data"), 1, tls_cert=cert, tls_key=key) as c:
        c.leader()
        ep = c.endpoint("n1")
        ctx = ssl.create_default_context(cafile=cert)
        cl = Client([ep], tls=ctx)
        cl.put("x", "secret value")
        assert cl.get("x") == "secret value"
        # Without TLS the node does not answer in plain HTTP.
        with pytest.raises(ClientError):
            Client([ep], attempts_deadline=1).get("x")
        # A client that does not trust the certificate refuses the node.
        with pytest.raises(ClientError, match="TLS|certificate|CERTIFICATE"):
            Client([ep], tls=ssl.create_default_context(), attempts_deadline=1).get("x")
        proc = subprocess.run(
            [*RAFTKV, "get", "x", "--endpoints", ep, "--ca", cert],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout.strip()) == (0, "secret value"), proc.stderr


def test_the_blocked_peers_file_cuts_and_heals_links(tmp_path):
    with InProcCluster(str(tmp_path), 3) as c:
        lead = c.leader()
        srv = c.servers[lead]
        others = [i for i in c.ids if i != lead]
        path = os.path.join(srv.cfg.data_dir, "blocked-peers")
        with open(path, "w") as f:
            json.dump([*others, "nobody"], f)
        deadline = time.monotonic() + 5
        while srv.transport.blocked != set(others):
            assert time.monotonic() < deadline, srv.transport.blocked
            time.sleep(0.05)
        # Cut off from both followers, the leader steps down (check-quorum).
        deadline = time.monotonic() + 10
        while srv.node.is_leader:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with open(path, "w") as f:
            f.write("not json")  # ignored, with a warning: the links stay cut
        time.sleep(0.3)
        assert srv.transport.blocked == set(others)
        os.remove(path)
        deadline = time.monotonic() + 5
        while srv.transport.blocked:
            assert time.monotonic() < deadline
            time.sleep(0.05)
