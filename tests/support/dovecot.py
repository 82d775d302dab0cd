"""Pytest glue for the real Dovecot sandbox (the server itself is ``balise.mail.sandbox``).

The ``dovecot`` fixture (tests/conftest.py) is one session-scoped :class:`MailSandbox`; tests get
fresh, unique addresses from :func:`unique_address` so that they never see each other's mail.
``rogue_dovecot`` is a second server presenting an untrusted self-signed certificate.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from balise.mail.connection import MailAccount
from balise.mail.sandbox import MailSandbox
from balise.secrets import new_key, seal

_counter = itertools.count(1)

# Every (auth mode, TLS mode) pair a watched mailbox or a round trip can use (domain/clients.md).
AUTH_MODES = [
    ("password", "starttls"),
    ("password", "implicit"),
    ("xoauth2", "starttls"),
    ("oauthbearer", "implicit"),
    ("external", "implicit"),
    ("external", "starttls"),
]


def unique_address(prefix: str = "bal", domain: str = "sandbox.test") -> str:
    """An address no other test of this session uses."""
    return f"{prefix}.{os.getpid()}.{next(_counter)}@{domain}"


@contextmanager
def running_sandbox(rogue: bool = False, special_use: bool = True) -> Iterator[MailSandbox]:
    """A started sandbox in a fresh temporary directory, stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="balise-dovecot-"))
    sandbox = MailSandbox(directory, rogue=rogue, special_use=special_use).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)


# A Fernet key for the session: accounts below carry ``enc:`` references sealed with it.
TEST_SECRET_KEY = new_key()


def account_for(
    sandbox: MailSandbox,
    address: str,
    auth_mode: str = "password",
    tls_mode: str = "starttls",
    protocol: str = "imap",
    password: str | None = None,
    timeout: float = 10.0,
) -> MailAccount:
    """A MailAccount reaching ``address`` on the sandbox with that auth and TLS mode.

    ``password`` is the account's password (auth_mode "password"); tokens and client
    certificates are made here. The secret travels as an ``enc:`` reference."""
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
        secret_ref=seal(secret, TEST_SECRET_KEY) if secret else None,
        ca_bundle=str(sandbox.ca_path),
        client_cert=str(cert) if cert else None,
        client_key=str(key) if key else None,
        timeout=timeout,
        secret_key=TEST_SECRET_KEY,
    )
