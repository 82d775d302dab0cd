"""Provisioning backends: one interface, chosen by the ``provision_backend`` setting.

- ``dovecot``: creates the account and its mailbox on a Dovecot server that authenticates from
  passwd-files: the sandbox operator of ``balise/mail/sandbox.py`` (:class:`DovecotBackend`), or
  a self-hosted Dovecot with one passwd-file of hashed passwords (:class:`PasswdFileDovecot`,
  settings ``dovecot_passwd_file`` and ``dovecot_config``). The password is returned once; the
  caller stores it only as an ``enc:`` reference.
- ``request``: writes the operator's request batch (xlsx + csv for the operator console); the BAL
  stays *requested* until someone confirms the operator created it.

Backends know nothing about the store: the service records statuses and audit lines.
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from balise.config import Settings
from balise.errors import ConfigurationError, MailError
from balise.mail.passwords import sha512_crypt
from balise.referentials.bal_rules import BalRequest
from balise.spreadsheets import append, csv_bytes, new_workbook, workbook_bytes

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
        book = new_workbook()
        sheet = book.active
        sheet.title = "Demande"
        for row in [header, *rows]:
            append(sheet, row)
        # Typed by users (a service named « =HYPERLINK(...) »): written inert, read by a person.
        xlsx.write_bytes(workbook_bytes(book))
        text.write_bytes(csv_bytes(header, rows))
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


class PasswdFileDovecot:
    """Accounts on a self-hosted Dovecot whose passdb/userdb is one passwd-file: a line per
    account with a SHA512-CRYPT hash made by ``doveadm pw`` (never the password in clear), then
    ``doveadm`` creates the mailbox. Dovecot re-reads the file at most once a second, so each
    batch waits until ``doveadm user`` sees every new account."""

    name = "dovecot"

    def __init__(self, passwd_file: Path, config: Path | None = None, wait_s: float = 5.0):
        self.passwd_file, self.config, self.wait_s = passwd_file, config, wait_s
        self._created: list[str] = []
        if not passwd_file.exists():
            raise ConfigurationError(
                f"Le fichier d'utilisateurs Dovecot {passwd_file} n'existe pas."
            )

    def _doveadm(self, *args: str) -> subprocess.CompletedProcess:
        config = ["-c", str(self.config)] if self.config else []
        return subprocess.run(["doveadm", *config, *args], capture_output=True, text=True)

    def users(self) -> set[str]:
        lines = self.passwd_file.read_text(encoding="utf-8").splitlines()
        return {line.split(":", 1)[0] for line in lines if line and not line.startswith("#")}

    def provision(self, requests: list[BalRequest]) -> tuple[list[Provisioned], list[Path]]:
        existing = self.users()
        fresh = [r.address for r in requests if r.address not in existing]
        self._created = list(fresh)
        passwords = {a: DovecotBackend._new_password() for a in fresh}
        try:
            lines = "".join(f"{a}:{self._hash(p)}::::::\n" for a, p in passwords.items())
            with open(self.passwd_file, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                fh.write(lines)
            for address in fresh:
                self._wait_until_known(address)
                self._check(self._doveadm("mailbox", "status", "-u", address, "messages", "INBOX"))
        except (OSError, RuntimeError) as exc:
            message = f"Le serveur Dovecot n'a pas créé la boîte : {exc}".rstrip(".") + "."
            raise MailError(message) from exc
        outcomes = [
            Provisioned(r.address, "provisioned", passwords.get(r.address), r.address in passwords)
            for r in requests
        ]
        return outcomes, []

    def _hash(self, password: str) -> str:
        return sha512_crypt(password, self.config)

    @staticmethod
    def _check(done: subprocess.CompletedProcess) -> None:
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"doveadm a échoué ({done.returncode})")

    def _wait_until_known(self, address: str, present: bool = True) -> None:
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            if (self._doveadm("user", address).returncode == 0) == present:
                return
            time.sleep(0.1)
        raise RuntimeError(f"Dovecot ne voit pas le changement pour {address}")

    def rollback(self) -> None:
        if not self._created:
            return
        gone = set(self._created)
        with open(self.passwd_file, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            kept = [x for x in fh.read().splitlines(True) if x.split(":", 1)[0] not in gone]
            fh.seek(0)
            fh.truncate()
            fh.write("".join(kept))
        # Wait until Dovecot has re-read the file: it reloads on a new mtime or size, at most
        # once a second, so a batch retried within the same second and of the same size would
        # otherwise keep serving the hashes of the rolled-back accounts.
        for address in self._created:
            self._wait_until_known(address, present=False)
        self._created = []


def backend_for(settings: Settings, name: str | None = None) -> Backend:
    """The backend named by ``name`` or by the ``provision_backend`` setting."""
    chosen = name or settings.provision_backend
    if chosen == "request":
        return RequestBackend(settings.data_dir / "demandes")
    if chosen == "dovecot" and settings.dovecot_passwd_file:
        config = Path(settings.dovecot_config) if settings.dovecot_config else None
        return PasswdFileDovecot(Path(settings.dovecot_passwd_file), config)
    if chosen == "dovecot":
        return DovecotBackend(settings.sandbox_dir)
    raise ConfigurationError(
        f"Moteur de provisionnement inconnu : {chosen} (attendu « dovecot » ou « request »)."
    )
