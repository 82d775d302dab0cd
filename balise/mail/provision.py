"""Provisioning backends: one interface, chosen by the ``provision_backend`` setting.

- ``dovecot``: creates the account and its mailbox on a Dovecot server that authenticates from
  passwd-files of hashed passwords (:class:`PasswdFileDovecot`, settings
  ``dovecot_passwd_file`` and ``dovecot_config``): a self-hosted Dovecot, or the sandbox
  operator of ``make run`` (package ``sandbox``, which the core never imports). The password is
  returned once; the caller stores it only as an ``enc:`` reference.
- ``request``: writes the operator's request batch (xlsx + csv for the operator console); the BAL
  stays *requested* until someone confirms the operator created it.

Backends know nothing about the store: the service records statuses and audit lines.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from balise.config import Settings
from balise.errors import ConfigurationError, MailError
from balise.mail.dovecot_accounts import (
    PasswdDirectory,
    doveadm,
    passwd_files,
    server_error,
    wait_until_known,
)
from balise.mail.passwords import sha512_crypt
from balise.referentials.bal_rules import BalRequest
from balise.referentials.lifecycles import BalStatus
from balise.spreadsheets import append, csv_bytes, new_workbook, workbook_bytes

log = logging.getLogger(__name__)


@dataclass
class Provisioned:
    """What a backend did for one BAL. ``secret`` is handed once and never logged."""

    address: str
    status: BalStatus  # REQUESTED (asked of the operator) or PROVISIONED (created)
    secret: str | None = field(default=None, repr=False)
    created: bool = True  # False when the account already existed (idempotent re-run)


class Backend(Protocol):
    name: str

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        """Provision ``requests``; return one outcome per request and the files written."""
        ...

    def check_server(self) -> None:
        """ConfigurationError, in French, when the backend's server cannot be used now."""
        ...

    def rollback(self) -> None:
        """Undo what the last ``provision`` call created, even if it then failed (a batch is
        never left half-applied). Accounts that existed before are left alone."""
        ...


# Columns of the operator request, in the order operator consoles usually ask for them.
REQUEST_COLUMNS: list[tuple[str, str]] = [
    ("address", "Adresse BAL"),
    ("bal_type", "Type de BAL"),
    ("department", "Département"),
    ("finess", "FINESS structure"),
    ("service", "Service"),
    ("first_name", "Prénom titulaire"),
    ("last_name", "Nom titulaire"),
    ("holder_id", "RPPS/ADELI titulaire"),
    ("responsible", "Professionnel responsable"),
    ("structure_head", "Responsable de la structure"),
    ("software", "Logiciel émetteur"),
    ("practice", "Cabinet"),
]


class RequestBackend:
    """Writes ``demande-BAL-<timestamp>.xlsx`` and ``.csv`` in ``<data_dir>/demandes``."""

    name = "request"

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self._written: list[Path] = []

    def check_server(self) -> None:
        """Nothing to reach: the request is a file."""

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        rows = [[getattr(r, key) for key, _ in REQUEST_COLUMNS] for r in requests]
        header = [label for _, label in REQUEST_COLUMNS]
        xlsx = self.out_dir / f"demande-BAL-{stamp}.xlsx"
        text = self.out_dir / f"demande-BAL-{stamp}.csv"
        self._written = [xlsx, text]
        book = new_workbook()
        sheet = book.active
        sheet.title = "Demande"
        for row in [header, *rows]:
            append(sheet, row)
        # Typed by users (a service named « =HYPERLINK(...) »): written inert, read by a person.
        xlsx.write_bytes(workbook_bytes(book))
        text.write_bytes(csv_bytes(header, rows))
        outcomes = [Provisioned(r.address, BalStatus.REQUESTED) for r in requests]
        return outcomes, [xlsx, text]

    def rollback(self) -> None:
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written = []


class PasswdFileDovecot:
    """Accounts on a Dovecot whose passdb/userdb are passwd-files (``dovecot_accounts``: one
    file, or one file per account with a path ending in ``%u``): a SHA512-CRYPT hash made by
    ``doveadm pw`` (never the password in clear) per account, then ``doveadm`` creates the
    mailbox. Each batch waits until ``doveadm user`` sees every new account (a shared file is
    re-read at most once a second). The sandbox operator of ``make run`` is one such Dovecot."""

    name = "dovecot"

    def __init__(self, passwd_file: Path | str, config: Path | None = None, wait_s: float = 5.0):
        self.config, self.wait_s = config, wait_s
        self._created: list[str] = []
        try:
            self.files = passwd_files(passwd_file)
        except ValueError as exc:
            raise ConfigurationError(f"BALISE_DOVECOT_PASSWD_FILE : {exc}") from exc
        if not self.files.exists():
            missing = (
                f"Le dossier des fichiers d'utilisateurs Dovecot {self.files.directory}"
                if isinstance(self.files, PasswdDirectory)
                else f"Le fichier d'utilisateurs Dovecot {self.files.path}"
            )
            raise ConfigurationError(f"{missing} n'existe pas.")

    def check_server(self) -> None:
        """ConfigurationError unless the Dovecot of ``config`` answers (before writing)."""
        if reason := server_error(self.config):
            log.warning("dovecot does not answer: %s", reason)
            where = f" ({self.config})" if self.config else ""
            raise ConfigurationError(
                f"Le serveur Dovecot{where} ne répond pas : démarrez-le (« make run » démarre "
                "l'opérateur bac à sable) ou choisissez le moteur « request »."
            )

    def users(self) -> set[str]:
        return self.files.users()

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        existing = self.users()
        fresh = [r.address for r in requests if r.address not in existing]
        self._created = []
        if fresh:
            self.check_server()
        self._created = list(fresh)
        passwords = {a: secrets.token_urlsafe(16) for a in fresh}
        try:
            self.files.add({a: self._hash(p) for a, p in passwords.items()})
            for address in fresh:
                wait_until_known(self.config, address, timeout=self.wait_s)
                # Opening the INBOX creates the mail directory (and the auto folders) now,
                # so that the first login and the first delivery find it.
                self._check(doveadm(self.config, "mailbox", "status", "-u", address,
                                    "messages", "INBOX"))  # fmt: skip
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("dovecot provisioning failed: %s", type(exc).__name__)
            message = f"Le serveur Dovecot n'a pas créé la boîte : {exc}".rstrip(".") + "."
            raise MailError(message) from exc
        outcomes = [
            Provisioned(
                r.address, BalStatus.PROVISIONED, passwords.get(r.address), r.address in passwords
            )
            for r in requests
        ]
        return outcomes, []

    def _hash(self, password: str) -> str:
        return sha512_crypt(password, self.config)

    @staticmethod
    def _check(done: subprocess.CompletedProcess) -> None:
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"doveadm a échoué ({done.returncode})")

    def rollback(self) -> None:
        if not self._created:
            return
        present = self.users()
        self.files.remove([a for a in self._created if a in present])
        # Wait until Dovecot has forgotten them: a shared file is reloaded on a new mtime or
        # size, at most once a second, so a batch retried within the same second and of the
        # same size would otherwise keep serving the hashes of the rolled-back accounts.
        for address in self._created:
            wait_until_known(self.config, address, present=False, timeout=self.wait_s)
        self._created = []


def backend_for(settings: Settings, name: str | None = None) -> Backend:
    """The backend named by ``name`` or by the ``provision_backend`` setting."""
    chosen = name or settings.provision_backend
    if chosen == "request":
        return RequestBackend(settings.data_dir / "demandes")
    if chosen == "dovecot" and settings.dovecot_passwd_file:
        config = Path(settings.dovecot_config) if settings.dovecot_config else None
        return PasswdFileDovecot(settings.dovecot_passwd_file, config)
    if chosen == "dovecot":
        raise ConfigurationError(
            "Le moteur « dovecot » crée les comptes dans le fichier d'utilisateurs du serveur : "
            "définissez BALISE_DOVECOT_PASSWD_FILE (et BALISE_DOVECOT_CONFIG) ; « make run » y "
            "met ceux de l'opérateur bac à sable."
        )
    raise ConfigurationError(
        f"Moteur de provisionnement inconnu : {chosen} (attendu « dovecot » ou « request »)."
    )
