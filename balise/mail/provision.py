"""Provisioning backends: one interface, chosen by the ``provision_backend`` setting.

- ``dovecot``: creates the account and its mailbox on a Dovecot server that authenticates from a
  passwd-file (the sandbox operator of ``balise/mail/sandbox.py``, or a self-hosted Dovecot laid
  out the same way: ``users`` file + ``dovecot.conf`` in one directory). The password is returned
  once; the caller stores it only as an ``enc:`` reference.
- ``request``: writes the operator's request batch (xlsx + csv for the operator console); the BAL
  stays *requested* until someone confirms the operator created it.

Backends know nothing about the store: the service records statuses and audit lines.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from openpyxl import Workbook

from balise.config import Settings
from balise.errors import ConfigurationError, MailError
from balise.referentials.bal_rules import BalRequest

log = logging.getLogger(__name__)


@dataclass
class Provisioned:
    """What a backend did for one BAL. ``secret`` is handed once and never logged."""

    address: str
    status: str  # "requested" | "provisioned"
    secret: str | None = field(default=None, repr=False)
    created: bool = True  # False when the account already existed (idempotent re-run)


class Backend(Protocol):
    name: str

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        """Provision ``requests``; return one outcome per request and the files written."""
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

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        rows = [[getattr(r, key) for key, _ in REQUEST_COLUMNS] for r in requests]
        header = [label for _, label in REQUEST_COLUMNS]
        xlsx = self.out_dir / f"demande-BAL-{stamp}.xlsx"
        text = self.out_dir / f"demande-BAL-{stamp}.csv"
        self._written = [xlsx, text]
        book = Workbook()
        sheet = book.active
        sheet.title = "Demande"
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        book.save(xlsx)
        # Semicolons and a BOM: what a French spreadsheet opens without an import wizard.
        with open(text, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, delimiter=";")
            writer.writerow(header)
            writer.writerows(rows)
        outcomes = [Provisioned(r.address, "requested") for r in requests]
        return outcomes, [xlsx, text]

    def rollback(self) -> None:
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written = []


class DovecotBackend:
    """Accounts on a passwd-file Dovecot (the sandbox operator or a self-hosted one)."""

    name = "dovecot"

    def __init__(self, directory: Path):
        from balise.mail.sandbox import MailSandbox

        self._created: list[str] = []
        try:
            self.server = MailSandbox.attach(directory)
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"Aucun serveur Dovecot (opérateur bac à sable) ne tourne dans {directory} : "
                "lancez « make run » ou choisissez le moteur « request »."
            ) from exc

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        existing = self.server.users()
        fresh = [r.address for r in requests if r.address not in existing]
        self._created = list(fresh)
        try:
            passwords = {a: self._new_password() for a in fresh}
            if passwords:
                self.server.add_users(passwords)
            for address in fresh:
                # Opening the INBOX creates the mail directory (and the auto folders) now,
                # so that the first login and the first delivery find it.
                self.server.doveadm("mailbox", "status", "-u", address, "messages", "INBOX")
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("dovecot provisioning failed: %s", type(exc).__name__)
            raise MailError(
                f"Le serveur Dovecot n'a pas créé la boîte : {exc}".rstrip(".") + "."
            ) from exc
        outcomes = [
            Provisioned(r.address, "provisioned", passwords.get(r.address), r.address in passwords)
            for r in requests
        ]
        return outcomes, []

    def rollback(self) -> None:
        present = self.server.users()
        for address in self._created:
            if address in present:
                self.server.remove_user(address)
        self._created = []

    @staticmethod
    def _new_password() -> str:
        import secrets

        return secrets.token_urlsafe(16)


def backend_for(settings: Settings, name: str | None = None) -> Backend:
    """The backend named by ``name`` or by the ``provision_backend`` setting."""
    chosen = name or settings.provision_backend
    if chosen == "request":
        return RequestBackend(settings.data_dir / "demandes")
    if chosen == "dovecot":
        return DovecotBackend(settings.sandbox_dir)
    raise ConfigurationError(
        f"Moteur de provisionnement inconnu : {chosen} (attendu « dovecot » ou « request »)."
    )
