"""A real TLS server on 127.0.0.1, in the test process, whose certificate only a test CA vouches
for. Each path plays a :class:`Reply`: a plain answer, or a misbehaving one (a body cut short of
its announced length, bytes trickled one at a time, chunked transfer cut off) to prove that a
download is whole or nothing. Responses are written by hand so that every byte is under the
test's control.

Like a static file server (data.gouv.fr's), a reply carrying an ``ETag`` or a ``Last-Modified``
header answers a conditional GET whose ``If-None-Match`` / ``If-Modified-Since`` still match with
``304 Not Modified`` and no body; a ``302`` with a ``Location`` header is a redirect. The request
headers of every exchange are kept (``HttpsServer.headers``) so that a test sees what was asked."""

from __future__ import annotations

import datetime as dt
import http
import http.server
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Reply:
    """What the server answers on one path."""

    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    # Content-Length announced: the body's length unless given; None with ``chunked``.
    length: int | None = None
    cut_at: int | None = None  # close the connection after this many body bytes
    chunked: bool = False
    trickle_s: float = 0.0  # pause after each body byte
    trickle_head_s: float = 0.0  # pause after each byte of the status line and headers


@dataclass
class HttpsServer:
    port: int
    ca_bundle: str
    files: dict[str, Reply]
    requests: list[tuple[str, str]]
    # The headers of each request, in the order of ``requests``.
    headers: list[dict[str, str]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Balise test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _head(reply: Reply) -> bytes:
    headers = dict(reply.headers)
    if reply.chunked:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(len(reply.body) if reply.length is None else reply.length)
    headers["Connection"] = "close"
    lines = [f"HTTP/1.1 {reply.status} {http.HTTPStatus(reply.status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def not_modified(reply: Reply, asked: dict[str, str]) -> bool:
    """Whether a conditional request (header names title-cased) still matches what the reply
    serves (RFC 9110 13.1: If-None-Match, when present, wins over If-Modified-Since)."""
    etag, stamp = reply.headers.get("ETag"), reply.headers.get("Last-Modified")
    if reply.status != 200:
        return False
    if "If-None-Match" in asked:
        return etag is not None and etag in [t.strip() for t in asked["If-None-Match"].split(",")]
    since = asked.get("If-Modified-Since")
    if since is None or stamp is None:
        return False
    return parsedate_to_datetime(stamp) <= parsedate_to_datetime(since)


def _unchanged_head(reply: Reply) -> Reply:
    kept = {k: v for k, v in reply.headers.items() if k in ("ETag", "Last-Modified")}
    return Reply(status=304, headers=kept, length=0)


def _body(reply: Reply) -> bytes:
    body = reply.body if reply.cut_at is None else reply.body[: reply.cut_at]
    if not reply.chunked:
        return body
    ending = b"0\r\n\r\n" if reply.cut_at is None else b""
    return b"%x\r\n" % len(body) + body + b"\r\n" + ending if body else ending


@contextmanager
def serving_https(directory: Path) -> Iterator[HttpsServer]:
    """Run the server (PKI files written in ``directory``) until the block ends."""
    ca, cert, key = make_pki(directory)
    state = HttpsServer(port=0, ca_bundle=str(ca), files={}, requests=[])
    stopping = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, data: bytes, pause_s: float) -> None:
            step = 1 if pause_s else len(data) or 1
            try:
                for i in range(0, len(data), step):
                    if stopping.is_set():
                        return
                    self.wfile.write(data[i : i + step])
                    self.wfile.flush()
                    time.sleep(pause_s)
            except OSError:  # the client gave up: what these tests expect it to do
                return

        def _respond(self, with_body: bool) -> None:
            state.requests.append((self.command, self.path))
            asked = {name.title(): value for name, value in self.headers.items()}
            state.headers.append(asked)
            self.close_connection = True
            reply = state.files.get(self.path)
            if reply is None:
                self.send_error(404)
                return
            if not_modified(reply, asked):
                self._send(_head(_unchanged_head(reply)), 0.0)
                return
            self._send(_head(reply), reply.trickle_head_s)
            if with_body:
                self._send(_body(reply), reply.trickle_s)

        def do_GET(self):
            self._respond(True)

        def do_HEAD(self):
            self._respond(False)

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
