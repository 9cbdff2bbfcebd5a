"""core.http with StackStorm's auth parameters, against real local servers.

Plain HTTP for authentication; HTTPS (a self-signed certificate made by the
test) for ``verify_ssl_cert``.
"""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cadenza.workers import ActivityContext, ActivityRegistry, run_activity


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers every GET with the request's Authorization and X-Auth-Token headers."""

    def do_GET(self) -> None:
        data = json.dumps(
            {
                "authorization": self.headers.get("Authorization"),
                "x_auth_token": self.headers.get("X-Auth-Token"),
                "cookie": self.headers.get("Cookie"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


def _serve(server: ThreadingHTTPServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def echo_url(http_server: str) -> Iterator[str]:
    """A plain HTTP server echoing the auth headers (proxies cleared by ``http_server``)."""
    yield from (f"http://127.0.0.1:{port}" for port in _serve(_server()))


@pytest.fixture
def tls_url(http_server: str, tmp_path: Path) -> Iterator[str]:
    """The same server over HTTPS with a self-signed certificate."""
    cert, key = _self_signed(tmp_path)
    server = _server()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    yield from (f"https://127.0.0.1:{port}" for port in _serve(server))


def _server() -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)


def _self_signed(folder: Path) -> tuple[Path, Path]:
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
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_username_and_password_send_basic_auth(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str
) -> None:
    outcome = run_activity(
        registry,
        "core.http",
        {"url": echo_url, "username": "ann", "password": "pa:ss"},
        context,
    )
    assert outcome.status == "succeeded", outcome
    assert outcome.result["body"]["authorization"] == _basic("ann", "pa:ss")
    assert outcome.result["parsed"] is True


def test_auth_header_string(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str
) -> None:
    outcome = run_activity(
        registry, "core.http", {"url": echo_url, "auth": "x-auth-token=XYZ=1"}, context
    )
    assert outcome.result["body"] == {
        "authorization": None,
        "x_auth_token": "XYZ=1",
        "cookie": None,
    }


def test_auth_as_user_and_password(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str
) -> None:
    as_list = run_activity(registry, "core.http", {"url": echo_url, "auth": ["bo", "pw"]}, context)
    assert as_list.result["body"]["authorization"] == _basic("bo", "pw")
    as_object = run_activity(
        registry,
        "core.http",
        {"url": echo_url, "auth": {"username": "cy", "password": "pw2"}},
        context,
    )
    assert as_object.result["body"]["authorization"] == _basic("cy", "pw2")


def test_username_wins_over_auth(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str
) -> None:
    # StackStorm replaces auth with basic auth when username or password is set.
    outcome = run_activity(
        registry,
        "core.http",
        {"url": echo_url, "auth": ["bo", "pw"], "username": "ann", "password": ""},
        context,
    )
    assert outcome.result["body"]["authorization"] == _basic("ann", "")


def test_cookies_are_sent(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str
) -> None:
    outcome = run_activity(
        registry, "core.http", {"url": echo_url, "cookies": {"session": "s1"}}, context
    )
    assert outcome.result["body"]["cookie"] == "session=s1"


@pytest.mark.parametrize(
    "auth",
    ["no-equals-sign", ["only-user"], {"user": "x"}, 42],
)
def test_bad_auth_is_refused(
    registry: ActivityRegistry, context: ActivityContext, echo_url: str, auth: object
) -> None:
    outcome = run_activity(registry, "core.http", {"url": echo_url, "auth": auth}, context)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.type == "input.invalid"
    assert "auth" in outcome.error.message


def test_self_signed_certificate_needs_verify_ssl_cert_false(
    registry: ActivityRegistry, context: ActivityContext, tls_url: str
) -> None:
    checked = run_activity(registry, "core.http", {"url": tls_url}, context)
    assert checked.status == "failed"
    assert checked.error is not None and checked.error.type == "http.connection_failed"
    assert "certificate" in checked.error.message.lower()
    unchecked = run_activity(
        registry, "core.http", {"url": tls_url, "verify_ssl_cert": False}, context
    )
    assert unchecked.status == "succeeded", unchecked
    assert unchecked.result["status_code"] == 200


def test_text_body_is_not_parsed(
    registry: ActivityRegistry, context: ActivityContext, http_server: str
) -> None:
    outcome = run_activity(registry, "core.http", {"url": f"{http_server}/text"}, context)
    assert outcome.result["parsed"] is False
