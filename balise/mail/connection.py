"""The one connection module for IMAP and SMTP, with every MSSanté transport and auth mode.

Transport: STARTTLS or implicit TLS, TLS 1.2 minimum, a configured CA bundle (IGC-Santé is not in
public stores), optionally a CRL and the ANS cipher list, and a client certificate for applicative
mailboxes. Authentication: password (PLAIN/LOGIN), XOAUTH2, OAUTHBEARER (a Pro Santé Connect
token), or SASL EXTERNAL (the client certificate is the identity).

Usage::

    account = MailAccount(host, port, username, tls_mode="starttls", auth_mode="password",
                          secret_ref="enc:...", ca_bundle="/etc/balise/igc-sante.pem")
    timings = {}
    client = open_imap(account, timings)     # an authenticated imapclient.IMAPClient
    smtp = open_smtp(account_smtp, timings)  # an authenticated smtplib.SMTP
    timings -> {"connect": s, "tls": s, "auth": s}

Every failure becomes :class:`MailStepError` (a ``balise.errors.MailError``) whose French message
says which step failed and whose ``step`` is "secret", "connect", "tls" or "auth". The secret is
resolved from its ``balise.secrets`` reference at call time and never logged.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from balise import secrets
from balise.errors import MailError, SecretError
from balise.formatting import fr_seconds
from balise.mail.endpoints import AUTH_MODES, TLS_MODES

log = logging.getLogger(__name__)

ANS_CIPHERS = (
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
)
T = TypeVar("T")


class MailStepError(MailError):
    """A mail failure that knows its step: secret, connect, tls, auth (or a caller's own)."""

    def __init__(self, message: str, step: str):
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class MailAccount:
    """How to reach and log into one mailbox on one endpoint (IMAP or SMTP)."""

    host: str
    port: int
    username: str
    tls_mode: str = "starttls"  # "starttls" | "implicit"
    auth_mode: str = "password"  # password | xoauth2 | oauthbearer | external
    # balise.secrets reference (enc:/env:/file:) of the password or access token.
    secret_ref: str | None = None
    ca_bundle: str | None = None  # PEM file; None = the system's trust store
    crl: str | None = None  # PEM CRL: revocation checking of the server certificate
    client_cert: str | None = None  # PEM paths, for EXTERNAL (applicative mailboxes)
    client_key: str | None = None
    timeout: float = 30.0
    ans_ciphers: bool = False
    # Fernet key that opens ``enc:`` references; empty = BALISE_SECRET_KEY from the settings.
    secret_key: str = field(default="", repr=False, compare=False)
    # The mailbox's e-mail address when the login (``username``) is something else.
    address: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def email(self) -> str:
        """The address mail is sent from and to: ``address``, else the login itself."""
        return self.address or self.username

    def secret(self) -> str:
        """The password or token, read from its reference now (never kept)."""
        key = self.secret_key
        if not key and self.secret_ref and self.secret_ref.startswith("enc:"):
            from balise.config import load_settings

            key = load_settings().secret_key
        try:
            return secrets.reveal(self.secret_ref, key)
        except SecretError as exc:
            raise MailStepError(
                f"Secret de {self.username} indisponible : {exc}", "secret"
            ) from exc

    def with_token(self, token: str) -> MailAccount:
        """This account signing in with ``token`` (a Pro Santé Connect access token), sealed
        under a throw-away key: never stored, never logged."""
        key = secrets.new_key()
        return replace(self, secret_ref=secrets.seal(token, key), secret_key=key)


def ssl_context(
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    ans_ciphers: bool = False,
    crl: str | None = None,
) -> ssl.SSLContext:
    """A verifying client context: TLS >= 1.2, the CA bundle, the client chain, ANS ciphers."""
    ctx = (
        ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if ans_ciphers:
        # The ANS list names TLS 1.2 suites; TLS 1.3 suites cannot be restricted the same way.
        ctx.set_ciphers(ANS_CIPHERS)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if crl:
        ctx.load_verify_locations(cafile=crl)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if client_cert:
        ctx.load_cert_chain(client_cert, client_key)
    return ctx


def _context_for(account: MailAccount) -> ssl.SSLContext:
    try:
        return ssl_context(
            account.ca_bundle,
            account.client_cert,
            account.client_key,
            account.ans_ciphers,
            account.crl,
        )
    except (OSError, ssl.SSLError) as exc:
        raise MailStepError(
            f"Certificats locaux illisibles pour {account.username} (autorité, CRL ou certificat "
            f"client) : {exc.strerror or exc}.",
            "tls",
        ) from exc


@contextmanager
def timed_step(account: MailAccount, step: str, timings: dict[str, float]) -> Iterator[None]:
    """Time one step and translate its failures into a French MailStepError.

    Callers use it for their own steps too ("select", "fetch", "submit"...)."""
    started = time.perf_counter()
    try:
        yield
    except MailError:
        raise
    except TimeoutError as exc:
        raise MailStepError(
            f"Délai dépassé ({fr_seconds(account.timeout, None)}) à l'étape « {_LABELS.get(step, step)} » avec "
            f"{account.where}.",
            step,
        ) from exc
    except ssl.SSLCertVerificationError as exc:
        raise MailStepError(
            f"Certificat du serveur refusé par {account.where} : {exc.verify_message}.", "tls"
        ) from exc
    except ssl.SSLError as exc:
        raise MailStepError(
            f"Échec de la négociation TLS avec {account.where} ({exc.reason}).", "tls"
        ) from exc
    except (IMAPClientError, smtplib.SMTPException, OSError) as exc:
        raise MailStepError(_failure_message(account, step, exc), step) from exc
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


_LABELS = {
    "connect": "connexion",
    "tls": "TLS",
    "auth": "authentification",
    "select": "ouverture du dossier",
    "fetch": "lecture des messages",
    "submit": "envoi",
}


def _failure_message(account: MailAccount, step: str, exc: Exception) -> str:
    if step == "connect":
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return f"Connexion impossible à {account.where} ({reason})."
    if step == "tls":
        return f"STARTTLS refusé ou impossible avec {account.where}."
    if step != "auth":
        label = _LABELS.get(step, step)
        return f"Échec à l'étape « {label} » avec {account.where} : {exc}."
    fault = server_fault(exc)
    if fault is not None:  # the server could not check: not a refusal of the credentials
        return (
            f"Le serveur {account.where} n'a pas pu vérifier l'identifiant {account.username} "
            f"(erreur interne du serveur : « {fault} ») ; voir son journal."
        )
    return (
        f"Authentification refusée pour {account.username} sur {account.where} "
        f"(mode {account.auth_mode})."
    )


# IMAP response codes of a server that failed by itself (RFC 5530), not of a refusal.
_IMAP_SERVER_FAULT = re.compile(r"\[(?:UNAVAILABLE|SERVERBUG)\]\s*([^\[\]'\"]*)")


def server_fault(exc: Exception) -> str | None:
    """The server's own words when a login failed on its side (IMAP ``[UNAVAILABLE]`` or
    ``[SERVERBUG]``, an SMTP 4xx reply: « Temporary authentication failure. »), else None."""
    if isinstance(exc, smtplib.SMTPResponseException):
        if 400 <= exc.smtp_code < 500:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)  # fmt: skip
            return text.strip() or str(exc.smtp_code)
        return None
    found = _IMAP_SERVER_FAULT.search(str(exc))
    return found.group(1).strip() if found else None


def _check_modes(account: MailAccount) -> None:
    if account.tls_mode not in TLS_MODES:
        raise MailStepError(f"Mode TLS inconnu : {account.tls_mode}.", "connect")
    if account.auth_mode not in AUTH_MODES:
        raise MailStepError(f"Mode d'authentification inconnu : {account.auth_mode}.", "auth")
    if account.auth_mode == "external" and not account.client_cert:
        raise MailStepError(
            f"Le mode EXTERNAL demande un certificat client pour {account.username}.", "auth"
        )


def open_imap(account: MailAccount, timings: dict[str, float] | None = None) -> IMAPClient:
    """An authenticated IMAPClient for ``account``; ``timings`` gets connect/tls/auth seconds."""
    timings = {} if timings is None else timings
    _check_modes(account)
    ctx = _context_for(account)
    secret = None if account.auth_mode == "external" else account.secret()
    implicit = account.tls_mode == "implicit"
    # With implicit TLS the handshake happens inside the connection step.
    with timed_step(account, "connect", timings):
        client = IMAPClient(
            account.host, account.port, ssl=implicit, ssl_context=ctx, timeout=account.timeout
        )
    try:
        if not implicit:
            with timed_step(account, "tls", timings):
                client.starttls(ctx)
        with timed_step(account, "auth", timings):
            _imap_login(client, account, secret)
    except BaseException:
        _quietly(client.shutdown)
        raise
    log.info(
        "imap %s %s (%s) ready %s", account.where, account.username, account.auth_mode, timings
    )
    return client


def _imap_login(client: IMAPClient, account: MailAccount, secret: str | None) -> None:
    user, mode = account.username, account.auth_mode
    if mode == "password":
        client.login(user, secret)
    elif mode == "xoauth2":
        client.oauth2_login(user, secret)
    elif mode == "oauthbearer":
        client.oauthbearer_login(user, secret)
    else:
        client.sasl_login("EXTERNAL", lambda _challenge: b"")


def open_smtp(account: MailAccount, timings: dict[str, float] | None = None) -> smtplib.SMTP:
    """An authenticated SMTP submission session for ``account`` (STARTTLS or implicit TLS)."""
    timings = {} if timings is None else timings
    _check_modes(account)
    ctx = _context_for(account)
    secret = None if account.auth_mode == "external" else account.secret()
    with timed_step(account, "connect", timings):
        if account.tls_mode == "implicit":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                account.host, account.port, context=ctx, timeout=account.timeout
            )
        else:
            smtp = smtplib.SMTP(account.host, account.port, timeout=account.timeout)
    try:
        if account.tls_mode == "starttls":
            with timed_step(account, "tls", timings):
                smtp.starttls(context=ctx)
        with timed_step(account, "auth", timings):
            smtp.ehlo()
            _smtp_login(smtp, account, secret)
    except BaseException:
        _quietly(smtp.close)
        raise
    log.info(
        "smtp %s %s (%s) ready %s", account.where, account.username, account.auth_mode, timings
    )
    return smtp


def _smtp_login(smtp: smtplib.SMTP, account: MailAccount, secret: str | None) -> None:
    user, mode = account.username, account.auth_mode
    if mode == "password":
        smtp.login(user, secret or "")
        return
    if mode == "external":
        smtp.auth("EXTERNAL", lambda challenge=None: "")
        return
    if mode == "xoauth2":
        first = f"user={user}\x01auth=Bearer {secret}\x01\x01"
    else:
        first = f"n,a={user},\x01auth=Bearer {secret}\x01\x01"

    # On failure the server sends an error challenge; the client answers with an empty line.
    def answer(challenge: bytes | None = None) -> str:
        return first if challenge is None else ""

    smtp.auth(mode.upper(), answer)


def _quietly(action: Callable[[], T]) -> T | None:
    try:
        return action()
    except Exception:
        return None
