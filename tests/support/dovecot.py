"""Pytest glue for the real Dovecot sandbox (the server itself is ``sandbox.server``, started
for a test by ``sandbox.harness.running_sandbox``).

The ``dovecot`` fixture (tests/conftest.py) is one session-scoped :class:`MailSandbox`; tests get
fresh, unique addresses from :func:`unique_address` so that they never see each other's mail.
``rogue_dovecot`` is a second server presenting an untrusted self-signed certificate.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time

from balise.mail.connection import MailAccount
from balise.secrets import new_key
from sandbox.harness import sandbox_account
from sandbox.server import MailSandbox

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


# Dovecot behaving like other operators' servers (variants in sandbox.dovecot_config):
# no IDLE, a Cyrus-like "INBOX." namespace with "." as separator, folders without special-use
# flags that the server does not create by itself, and a relay that accepts at once then
# delivers 1 to 3 s later. Make its accounts with ``add_operator_account``.
OTHER_OPERATOR = {"idle": False, "inbox_prefix": "INBOX.", "special_use": False,
                  "auto_folders": False, "relay_delay": (1.0, 3.0)}  # fmt: skip


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
    """:func:`sandbox.harness.sandbox_account` with the session's key."""
    return sandbox_account(
        sandbox, address, TEST_SECRET_KEY, auth_mode, tls_mode, protocol, password, timeout
    )


def add_login(sandbox: MailSandbox, login: str, address: str, password: str) -> None:
    """A login distinct from the address (an operator's « jdupont » for jean.dupont@…), for an
    account ``address`` that already exists: a passwd-file entry for ``login`` whose ``user=``
    field renames the session to ``address``, so both reach the same mailbox. Waits until
    Dovecot accepts the login."""
    path = sandbox.users_dir / login
    path.write_text(f"{login}:{{PLAIN}}{password}::::::user={address.lower()}\n")
    path.chmod(0o640)
    if os.geteuid() == 0:
        shutil.chown(path, "root", "dovecot")
    deadline = time.monotonic() + 5
    while sandbox.doveadm("auth", "test", login, password, check=False).find("succeeded") < 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"dovecot did not accept the login {login}")
        time.sleep(0.05)


def add_operator_account(sandbox: MailSandbox, address: str, password: str | None = None) -> str:
    """An account as an operator provisions it: the mailbox and its Sent and Junk folders
    (``INBOX.Sent``, ``INBOX.Junk`` under a Cyrus-like namespace). Returns the password."""
    password = sandbox.add_user(address, password)
    if not sandbox.auto_folders:
        sandbox.doveadm("mailbox", "create", "-u", address, sandbox.sent_folder,
                        sandbox.junk_folder)  # fmt: skip
    return password
