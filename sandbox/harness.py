"""What the tests and the benchmarks share to drive a sandbox: one started in a throw-away
directory, an account reaching one of its mailboxes in any MSSanté mode, and a placeholder
message (nothing but a generic subject and body, never health data)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path

from balise.mail.connection import MailAccount
from balise.secrets import seal
from sandbox.server import MailSandbox


@contextmanager
def running_sandbox(
    rogue: bool = False, special_use: bool = True, **variants
) -> Iterator[MailSandbox]:
    """A started sandbox in a fresh temporary directory, stopped and removed afterwards.
    ``variants``: ``idle``, ``inbox_prefix``, ``auto_folders``, ``relay_delay`` (MailSandbox)."""
    directory = Path(tempfile.mkdtemp(prefix="balise-dovecot-"))
    sandbox = MailSandbox(directory, rogue=rogue, special_use=special_use, **variants).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)


def sandbox_account(
    sandbox: MailSandbox,
    address: str,
    secret_key: str,
    auth_mode: str = "password",
    tls_mode: str = "starttls",
    protocol: str = "imap",
    password: str | None = None,
    timeout: float = 10.0,
) -> MailAccount:
    """A MailAccount reaching ``address`` on the sandbox with that auth and TLS mode.

    ``password`` is the account's password (auth_mode "password"); tokens and client
    certificates are made here. The secret travels as an ``enc:`` reference sealed with
    ``secret_key``."""
    ports = {
        ("imap", "starttls"): sandbox.imap_port,
        ("imap", "implicit"): sandbox.imaps_port,
        ("smtp", "starttls"): sandbox.submission_port,
        ("smtp", "implicit"): sandbox.submissions_port,
    }
    secret = {"password": password, "external": None}.get(auth_mode, "")
    if secret == "":
        secret = sandbox.issue_token(address)
    cert, key = sandbox.client_cert_for(address) if auth_mode == "external" else (None, None)
    return MailAccount(
        host=sandbox.host,
        port=ports[(protocol, tls_mode)],
        username=address,
        tls_mode=tls_mode,
        auth_mode=auth_mode,
        secret_ref=seal(secret, secret_key) if secret else None,
        ca_bundle=str(sandbox.ca_path),
        client_cert=str(cert) if cert else None,
        client_key=str(key) if key else None,
        timeout=timeout,
        secret_key=secret_key,
    )


def raw_message(
    sender: str,
    to: Sequence[str],
    cc: Sequence[str] = (),
    subject: str = "Essai",
    body: str = "Bonjour",
) -> bytes:
    """A plain-text message from ``sender`` to ``to`` (and ``cc``), dated now."""
    lines = [
        f"From: Expéditeur <{sender}>",
        f"To: {', '.join(to)}",
        *([f"Cc: {', '.join(cc)}"] if cc else []),
        f"Subject: {subject}",
        f"Message-ID: {make_msgid(domain='sandbox.test')}",
        f"Date: {format_datetime(datetime.now().astimezone())}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
        "",
    ]
    return "\r\n".join(lines).encode()
