"""The sandbox's part of Pro Santé Connect: it issues OAuth2 access tokens and answers Dovecot's
token introspection (RFC 7662 style) for them.

Tokens live in one JSON file (``tokens.json`` of the sandbox directory), so any process can issue
one for a running sandbox; the introspection service reads that file on every request. Tokens
travel in requests: nothing here logs them.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; {} when it is absent or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def issue_token(tokens_path: Path, address: str) -> str:
    """A fresh access token for ``address``, added to the tokens file under a lock."""
    token = secrets.token_urlsafe(24)
    with open(tokens_path, "r+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        tokens = json.loads(fh.read() or "{}")
        tokens[token] = address.lower()
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps(tokens))
    return token


class _Introspection(BaseHTTPRequestHandler):
    """Answers ``POST /introspect`` (form field ``token``) from the tokens file."""

    tokens_path: Path

    def do_POST(self) -> None:  # http.server calls it by this name
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        token = (form.get("token") or [""])[0]
        username = read_json(self.tokens_path).get(token)
        body = json.dumps({"active": True, "username": username} if username else {"active": False})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args) -> None:  # tokens travel in requests: never log them
        pass


def start_introspection(tokens_path: Path, port: int) -> ThreadingHTTPServer:
    """Serve introspection on 127.0.0.1:``port`` in a daemon thread; ``shutdown()`` stops it."""
    if not tokens_path.exists():
        tokens_path.write_text("{}")
    handler = type("Handler", (_Introspection,), {"tokens_path": tokens_path})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
