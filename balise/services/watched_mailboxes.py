"""The watched mailboxes: what a user fills in to watch one (checked field by field), and the
actions that register it, change or move its endpoints, list and remove it.

Actions check the actor's rights and write one audit line in the same transaction. Secrets are
stored as ``balise.secrets`` references: a secret typed by the user is sealed with the Fernet key
(``enc:``), or the user names where it lives (``env:VAR``, ``file:/path``). The client key of an
applicative mailbox is a file path (TLS libraries load keys from files), kept as ``file:/path``.
:func:`poll_scope` says which departments' mailboxes an actor may poll. The plain rows of the
list are read by ``balise.services.watch_list`` (Core only, for ``balise mailbox list``); what the
mailboxes exchanged, by ``balise.services.activity``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import Engine, delete, insert, select, update

from balise.errors import NotFoundError, ValidationError
from balise.mail.endpoints import AUTH_MODES, TLS_MODES, submission_endpoint
from balise.models import DailyActivity, WatchedMailbox
from balise.referentials.departments import load_departments
from balise.secrets import describe, seal
from balise.services import audit, keyring
from balise.services.access import (
    Actor,
    actable_departments,
    check_can_act,
    readable_departments,
)
from balise.services.refusals import refusals_audited
from balise.services.watch_list import watched_rows, with_submission

if TYPE_CHECKING:
    import pandas as pd

ADDRESS_RE = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class WatchRequest:
    """What a user fills in to watch a mailbox. ``secret`` is the clear password/token to seal,
    or None when ``secret_ref`` already names where it lives (env:/file:)."""

    address: str
    department: str
    imap_host: str
    imap_port: int
    tls_mode: str = "starttls"
    auth_mode: str = "password"
    username: str | None = None
    secret: str | None = None
    secret_ref: str | None = None
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    folders: tuple[str, ...] = ()
    # Submission as the operator publishes it; None = derived (connection.submission_endpoint).
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_tls_mode: str | None = None


def _problems(req: WatchRequest) -> list[tuple[str, str]]:
    found = []
    if not ADDRESS_RE.match(req.address.strip().lower()):
        found.append(("address", f"L'adresse « {req.address} » n'est pas une adresse valide."))
    if req.department not in load_departments():
        found.append(("department", f"Le département « {req.department} » n'existe pas."))
    if req.tls_mode not in TLS_MODES:
        found.append(("tls_mode", "Le mode TLS doit être starttls ou implicit."))
    if req.auth_mode not in AUTH_MODES:
        found.append(
            ("auth_mode", f"Le mode d'authentification doit être {', '.join(AUTH_MODES)}.")
        )
    if not 0 < req.imap_port < 65536:
        found.append(("imap_port", "Le port IMAP doit être compris entre 1 et 65535."))
    if req.smtp_port is not None and not 0 < req.smtp_port < 65536:
        found.append(("smtp_port", "Le port SMTP doit être compris entre 1 et 65535."))
    if req.smtp_tls_mode is not None and req.smtp_tls_mode not in TLS_MODES:
        found.append(("smtp_tls_mode", "Le mode TLS de l'envoi doit être starttls ou implicit."))
    if not req.imap_host.strip() or (req.smtp_host is not None and not req.smtp_host.strip()):
        found.append(("imap_host", "Le nom du serveur ne peut pas être vide."))
    if req.auth_mode == "external" and not (req.client_cert and req.client_key):
        found.append(("client_cert", "Le mode EXTERNAL demande un certificat et une clé client."))
    if req.auth_mode in ("password", "xoauth2", "oauthbearer") and not (
        req.secret or req.secret_ref
    ):
        found.append(
            ("secret", "Un mot de passe ou un jeton (ou sa référence env:/file:) est requis.")
        )
    if req.secret_ref:
        found += _reference_problems(req.secret_ref)
    return found


def _reference_problems(reference: str) -> list[tuple[str, str]]:
    """Where a secret lives: ``env:NAME`` (a variable name) or ``file:/path`` (not empty)."""
    kind, _, value = reference.partition(":")
    if kind not in ("env", "file"):
        return [("secret", "La référence du secret doit commencer par env: ou file:.")]
    if kind == "env" and not value.strip():
        return [("secret", "Le nom de la variable d'environnement du secret est vide.")]
    if kind == "env" and not ENV_NAME_RE.match(value):
        return [("secret", f"« {value} » n'est pas un nom de variable d'environnement "
                           "(lettres, chiffres et _, par exemple BALISE_SECRET_ACCUEIL).")]  # fmt: skip
    if kind == "file" and not value.strip():
        return [("secret", "Le chemin du fichier secret est vide.")]
    return []


def _secret_ref(req: WatchRequest, key: str) -> str | None:
    if req.auth_mode == "external":
        return None
    return seal(req.secret, key) if req.secret else req.secret_ref


def _require_key(engine: Engine, req: WatchRequest, secret_key: str) -> None:
    """A typed secret is sealed with the store's key only (missing or another: refused)."""
    if req.secret and req.auth_mode != "external":
        keyring.require_key(engine, secret_key)


def _endpoint_values(req: WatchRequest, secret_key: str) -> dict:
    """The columns that say how to reach and log into the mailbox (IMAP and submission)."""
    smtp_host, smtp_port, smtp_tls = submission_endpoint(
        req.imap_host.strip(), req.tls_mode, (req.smtp_host or "").strip() or None,
        req.smtp_port, req.smtp_tls_mode,
    )  # fmt: skip
    return {
        "imap_host": req.imap_host.strip(),
        "imap_port": req.imap_port,
        "tls_mode": req.tls_mode,
        "smtp_host": smtp_host,
        "smtp_port": smtp_port,
        "smtp_tls_mode": smtp_tls,
        "auth_mode": req.auth_mode,
        "username": (req.username or "").strip() or req.address.strip().lower(),
        "secret_ref": _secret_ref(req, secret_key),
        "ca_bundle": req.ca_bundle or None,
        "client_cert": req.client_cert or None,
        "client_key_ref": f"file:{req.client_key}" if req.client_key else None,
    }


def _audit_detail(req: WatchRequest, values: dict) -> dict:
    return {"auth_mode": req.auth_mode, "host": values["imap_host"],
            "smtp": f"{values['smtp_host']}:{values['smtp_port']}"}  # fmt: skip


def add_watched(engine: Engine, actor: Actor, req: WatchRequest, secret_key: str) -> int:
    """Start watching a mailbox; return its id. Refusals are French sentences naming the field."""
    address = req.address.strip().lower()
    with refusals_audited(engine, actor, "mailbox.add", address, req.department):
        check_can_act(actor, req.department, "mailbox")
    problems = _problems(req)
    if problems:
        raise ValidationError(problems[0][1], problems)
    _require_key(engine, req, secret_key)
    values = {"address": address, "department": req.department, "folders": ",".join(req.folders),
              "enabled": True} | _endpoint_values(req, secret_key)  # fmt: skip
    with engine.begin() as conn:
        if conn.scalar(select(WatchedMailbox.id).where(WatchedMailbox.address == address)):
            raise ValidationError(f"La boîte {address} est déjà suivie.", [("address", "")])
        new_id = conn.execute(insert(WatchedMailbox).values(**values)).inserted_primary_key[0]
        audit.record(conn, actor, "mailbox.add", address, department=req.department,
                     detail=_audit_detail(req, values))  # fmt: skip
    return int(new_id)


def save_endpoints(engine: Engine, actor: Actor, req: WatchRequest, secret_key: str) -> bool:
    """The pages' form: watch the mailbox, or change how to reach it (servers, login, auth)
    when it is already watched, keeping its counts, folder positions and, when none is typed,
    its secret. True when the mailbox was added."""
    address = req.address.strip().lower()
    w = WatchedMailbox
    with engine.connect() as conn:
        row = conn.execute(select(w.department, w.secret_ref).where(w.address == address)).first()
    if row is None:
        add_watched(engine, actor, req, secret_key)
        return True
    check_can_act(actor, row.department, "mailbox")
    if not (req.secret or req.secret_ref) and row.secret_ref and req.auth_mode != "external":
        req = replace(req, secret_ref=row.secret_ref)
    problems = _problems(replace(req, department=row.department))
    if problems:
        raise ValidationError(problems[0][1], problems)
    _require_key(engine, req, secret_key)
    values = _endpoint_values(req, secret_key)
    with engine.begin() as conn:
        conn.execute(update(w).where(w.address == address).values(**values))
        audit.record(conn, actor, "mailbox.update", address, department=row.department,
                     detail=_audit_detail(req, values))  # fmt: skip
    return False


def endpoints(engine: Engine, actor: Actor, address: str) -> dict | None:
    """How a watched mailbox is reached (no secret: only its description), or None."""
    w = WatchedMailbox
    with engine.connect() as conn:
        row = conn.execute(
            select(w.address, w.department, w.imap_host, w.imap_port, w.tls_mode, w.smtp_host,
                   w.smtp_port, w.smtp_tls_mode, w.username, w.auth_mode, w.secret_ref,
                   w.ca_bundle, w.client_cert, w.client_key_ref)
            .where(w.address == address.strip().lower())
        ).mappings().first()  # fmt: skip
    if row is None:
        return None
    readable_departments(actor, [row["department"]])
    found = with_submission(dict(row))
    found["secret"] = describe(found.pop("secret_ref"))
    found["client_key"] = (found.pop("client_key_ref") or "").removeprefix("file:") or None
    return found


def move_watched(
    engine: Engine, actor: Actor, address: str, imap_host: str, imap_port: int, ca_bundle: str
) -> bool:
    """Point a watched mailbox at its server's new endpoint (a restarted sandbox operator may
    get new ports); False when nothing changed. Counts and UID positions are kept."""
    address = address.strip().lower()
    w = WatchedMailbox
    endpoint = {"imap_host": imap_host, "imap_port": imap_port, "ca_bundle": ca_bundle}
    _check_watched(engine, actor, address, "mailbox.move")
    with engine.begin() as conn:
        row = conn.execute(
            select(w.department, w.imap_host, w.imap_port, w.ca_bundle).where(w.address == address)
        ).first()
        if (row.imap_host, row.imap_port, row.ca_bundle) == tuple(endpoint.values()):
            return False
        conn.execute(update(w).where(w.address == address).values(**endpoint))
        audit.record(
            conn, actor, "mailbox.move", address, department=row.department,
            detail={"host": imap_host, "port": imap_port},
        )  # fmt: skip
    return True


def _check_watched(engine: Engine, actor: Actor, address: str, action: str) -> str:
    """The department of the watched mailbox at ``address``, if ``actor`` may act on it
    (refusals audited)."""
    with engine.connect() as conn:
        department = conn.scalar(
            select(WatchedMailbox.department).where(WatchedMailbox.address == address)
        )
    if department is None:
        raise NotFoundError(f"La boîte {address} n'est pas suivie.")
    with refusals_audited(engine, actor, action, address, department):
        check_can_act(actor, department, "mailbox")
    return department


def poll_scope(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None = None,
    addresses: Iterable[str] | None = None,
) -> tuple[str, ...] | None:
    """The departments whose watched mailboxes ``actor`` polls (None: all). Every department
    and every mailbox named must be one the actor acts on (a poll signs in to the mailboxes
    and writes their counts); without any, an animator polls their own departments only."""
    with refusals_audited(engine, actor, "poll"):
        allowed = actable_departments(actor, departments, "poll")
        if addresses is None or actor.role == "admin":
            return allowed
        named = [a.strip().lower() for a in addresses]
        with engine.connect() as conn:
            found = conn.execute(
                select(WatchedMailbox.address, WatchedMailbox.department)
                .where(WatchedMailbox.address.in_(named))
                .order_by(WatchedMailbox.address)
            ).all()
        for row in found:
            check_can_act(actor, row.department, "poll")
    return allowed


def remove_watched(engine: Engine, actor: Actor, address: str) -> None:
    """Stop watching a mailbox; its counts go with it."""
    address = address.strip().lower()
    _check_watched(engine, actor, address, "mailbox.remove")
    with engine.begin() as conn:
        row = conn.execute(
            select(WatchedMailbox.id, WatchedMailbox.department).where(
                WatchedMailbox.address == address
            )
        ).one()
        conn.execute(delete(DailyActivity).where(DailyActivity.mailbox_id == row.id))
        conn.execute(delete(WatchedMailbox).where(WatchedMailbox.id == row.id))
        audit.record(conn, actor, "mailbox.remove", address, department=row.department)


def watched(engine: Engine, actor: Actor, departments: Iterable[str] | None = None) -> pd.DataFrame:
    """:func:`watched_rows` as a DataFrame, for the pages."""
    import pandas as pd

    columns = [*WATCHED_COLUMNS, "secret"]
    return pd.DataFrame(watched_rows(engine, actor, departments), columns=columns)


WATCHED_COLUMNS = (
    "address", "department", "imap_host", "imap_port", "tls_mode", "smtp_host", "smtp_port",
    "smtp_tls_mode", "username", "auth_mode", "last_poll_at", "last_poll_ok",
    "last_poll_message", "last_activity_at",
)  # fmt: skip
