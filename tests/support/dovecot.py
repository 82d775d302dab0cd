"""Pytest glue for the real Dovecot sandbox (the server itself is ``balise.mail.sandbox``, started
for a test by ``ingest.demo.mail.running_sandbox``).

The ``dovecot`` fixture (tests/conftest.py) is one session-scoped :class:`MailSandbox`; tests get
fresh, unique addresses from :func:`unique_address` so that they never see each other's mail.
``rogue_dovecot`` is a second server presenting an untrusted self-signed certificate.
"""

from __future__ import annotations

import itertools
import os

from balise.mail.connection import MailAccount
from balise.mail.sandbox import MailSandbox
from balise.secrets import new_key
from ingest.demo.mail import sandbox_account

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
    """:func:`ingest.demo.mail.sandbox_account` with the session's key."""
    return sandbox_account(
        sandbox, address, TEST_SECRET_KEY, auth_mode, tls_mode, protocol, password, timeout
    )
