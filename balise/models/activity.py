"""The mailboxes ``balise poll`` watches, where each folder's last poll stopped, and the daily
counts it keeps: metadata only (no subject, body or attachment; counterparts by category).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
)

from balise.models.schema import metadata

# A mailbox whose activity ``balise poll`` counts. Secrets are referenced, never in clear:
# ``secret_ref`` is ``enc:<fernet token>``, ``env:VAR`` or ``file:/path``.
watched_mailboxes = Table(
    "watched_mailboxes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", String(255), nullable=False, unique=True),
    Column("department", String(3), nullable=False, index=True),
    Column("imap_host", String(255), nullable=False),
    Column("imap_port", Integer, nullable=False),
    Column("tls_mode", String(10), nullable=False),  # "starttls" | "implicit"
    Column("ca_bundle", String(1024)),
    Column("auth_mode", String(16), nullable=False),  # password | xoauth2 | oauthbearer | external
    Column("username", String(255)),
    Column("secret_ref", Text),
    Column("client_cert", String(1024)),
    Column("client_key_ref", Text),
    Column("folders", Text, nullable=False, default=""),  # comma list; empty = INBOX + \Sent
    # Submission endpoint as the operator publishes it (round-trip tests). NULL = derived from
    # IMAP: same host, same TLS mode, 587 for STARTTLS, 465 for implicit TLS.
    Column("smtp_host", String(255)),
    Column("smtp_port", Integer),
    Column("smtp_tls_mode", String(10)),  # "starttls" | "implicit"
    Column("enabled", Boolean, nullable=False, default=True),
    Column("last_poll_at", DateTime),
    Column("last_poll_ok", Boolean),
    Column("last_poll_message", Text),
    Column("last_activity_at", DateTime),
    # Set while a poll runs (lease), so that two polls of one mailbox never overlap.
    Column("poll_lease_until", DateTime),
)


def _watched_mailbox_key() -> Column:
    """First part of the key of a watched mailbox's own rows; they go with the mailbox."""
    return Column(
        "mailbox_id",
        Integer,
        ForeignKey("watched_mailboxes.id", ondelete="CASCADE"),
        primary_key=True,
    )


# Where the last good poll of one folder stopped (IMAP UIDVALIDITY + highest UID seen).
folder_states = Table(
    "folder_states",
    metadata,
    _watched_mailbox_key(),
    Column("folder", String(255), primary_key=True),
    Column("direction", String(3), nullable=False),  # "in" | "out"
    # IMAP UIDVALIDITY and UIDs are unsigned 32-bit: too big for a signed INTEGER.
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False, default=0),
    # Latest INTERNALDATE counted: after a UIDVALIDITY reset only later messages are counted.
    Column("last_seen_at", DateTime),
)


# Messages per day, mailbox, direction and counterpart category: metadata only.
daily_activity = Table(
    "daily_activity",
    metadata,
    _watched_mailbox_key(),
    Column("day", Date, primary_key=True),
    Column("direction", String(3), primary_key=True),
    # FINESS category code of the counterpart, "" when the domain resolves to no structure.
    Column("counterpart_category", String(4), primary_key=True),
    Column("messages", Integer, nullable=False, default=0),
    Column("bytes", BigInteger, nullable=False, default=0),  # a day of documents can pass 2 GB
)
