"""The sandbox as the server of the BALs Balise provisioned on it: where a round trip reaches
them, and the credentials a holder would get elsewhere. It plays IGC-Santé (a client certificate
from its test CA, for SASL EXTERNAL) and Pro Santé Connect (a fresh OAuth2 token for this test
only, unless the caller brought one).

Plugged into the core through the ``balise.mail_servers`` entry points (pyproject.toml;
``balise.services.bal_tests``): the core asks, this answers for a BAL when the ``dovecot``
backend's configuration is a sandbox's, and says nothing otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from balise.config import Settings
from balise.errors import ConfigurationError
from balise.mail.connection import MailAccount
from balise.models import ProvisionedBal
from sandbox.server import MailSandbox


def served_directory(settings: Settings) -> Path | None:
    """The sandbox directory the ``dovecot`` backend provisions into, if it is a sandbox."""
    if not settings.dovecot_config:
        return None
    directory = Path(settings.dovecot_config).parent
    return directory if MailSandbox.is_sandbox(directory) else None


def bal_accounts(
    settings: Settings, bal: ProvisionedBal, token: str | None
) -> tuple[MailAccount, MailAccount] | None:
    """(submission, IMAP) accounts of ``bal`` on the sandbox, in its own auth mode."""
    directory = served_directory(settings)
    if directory is None:
        return None
    try:
        server = MailSandbox.attach(directory)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            "L'opérateur bac à sable n'est pas démarré : lancez « make run » pour tester cette BAL."
        ) from exc
    imap = MailAccount(server.host, server.imap_port, bal.address, "starttls", bal.auth_mode,
                       bal.secret_ref, str(server.ca_path), secret_key=settings.secret_key)  # fmt: skip
    if bal.auth_mode == "external":
        cert, key = server.client_cert_for(bal.address)
        imap = replace(imap, secret_ref=None, client_cert=str(cert), client_key=str(key))
    elif bal.auth_mode in ("xoauth2", "oauthbearer"):
        imap = imap.with_token(token or server.issue_token(bal.address))
    return replace(imap, port=server.submission_port), imap
