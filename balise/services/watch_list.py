"""The watched mailboxes as plain rows (``balise mailbox list``, the Activité page's table),
read with SQLAlchemy Core alone: neither the ORM nor ``balise.models`` load for this read, a
good part of what the command paid at start-up (bench/cli_start.py).

The table is named here by the columns this read needs (``sqlalchemy.table``): a handle for one
query, not a second schema; ``WatchedMailbox`` in ``balise.models`` stays its definition, and
tests/test_cli_start.py checks that every column named here is one of its columns, same type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, DateTime, Integer, String, Text, column, select, table

from balise.mail.endpoints import submission_endpoint
from balise.secrets import describe
from balise.services.access import Actor, readable_departments
from balise.services.queries import in_departments, rows

if TYPE_CHECKING:
    from sqlalchemy import Engine

WATCHED = table(
    "watched_mailboxes",
    column("address", String), column("department", String), column("imap_host", String),
    column("imap_port", Integer), column("tls_mode", String), column("smtp_host", String),
    column("smtp_port", Integer), column("smtp_tls_mode", String), column("username", String),
    column("auth_mode", String), column("secret_ref", Text), column("last_poll_at", DateTime),
    column("last_poll_ok", Boolean), column("last_poll_message", Text),
    column("last_activity_at", DateTime),
)  # fmt: skip


def watched_rows(
    engine: Engine, actor: Actor, departments: Iterable[str] | None = None
) -> list[dict]:
    """The watched mailboxes of the departments ``actor`` may read and their last poll, secrets
    described, never shown."""
    departments = readable_departments(actor, departments)
    w = WATCHED.c
    stmt = (
        select(WATCHED)
        .where(in_departments(w.department, departments))
        .order_by(w.department, w.address)
    )
    found = [with_submission(r) for r in rows(engine, stmt)]
    for r in found:
        r["secret"] = describe(r.pop("secret_ref"))
    return found


def with_submission(found: dict) -> dict:
    """Rows written before the submission columns existed get the derived endpoint; the login
    is the address unless the row names another."""
    found["smtp_host"], found["smtp_port"], found["smtp_tls_mode"] = submission_endpoint(
        found["imap_host"], found["tls_mode"], found["smtp_host"], found["smtp_port"],
        found["smtp_tls_mode"],
    )  # fmt: skip
    found["username"] = found["username"] or found["address"]
    return found
