"""The imports and what they leave behind: one snapshot per ingested file, the last check of each
published source, the imports the deletion gate held for a decision, and the adoption figures
frozen at each directory snapshot.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from balise.models.schema import coded, metadata
from balise.referentials.lifecycles import DataSource

# One ingest of one source file for one department selection.
snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", coded(DataSource, 16), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("sha256", String(64), nullable=False),
    # When the producer generated the file (ANS file name timestamp, FINESS metadata date).
    Column("generated_at", DateTime),
    Column("ingested_at", DateTime, nullable=False),
    # Comma-separated INSEE department codes this snapshot covers; "*" = every department.
    Column("departments", Text, nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_kept", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("created", Integer, nullable=False, default=0),
    Column("removed", Integer, nullable=False, default=0),
    Column("changed", Integer, nullable=False, default=0),
    # JSON: {"reasons": {reason: count}, "examples": [[line, reason], ...]} (bounded).
    Column("rejects", Text, nullable=False, default="{}"),
    Column("encoding", String(16)),
    Column("is_demo", Boolean, nullable=False, default=False),
    Column("duration_s", Double),
    Index("ix_snapshots_source_sha", "source", "sha256"),
)


# The last check of each published source at its URL (``balise ingest annuaire|finess``
# without a file, the worker's daily refresh): the validators the server gave for conditional
# requests, when it was last checked and with what outcome, when its content last changed, and
# the file it holds. ``balise sources`` and the Vue régionale read it.
source_checks = Table(
    "source_checks",
    metadata,
    Column("source", coded(DataSource, 16), primary_key=True),
    Column("url", Text, nullable=False),
    Column("etag", String(255)),
    Column("last_modified", String(64)),  # the header, as received
    Column("checked_at", DateTime),
    # "imported" (a new file was read into a snapshot), "unchanged" or "failed".
    Column("outcome", String(16)),
    # French: why the last attempt failed, or how "unchanged" was known.
    Column("message", Text),
    Column("changed_at", DateTime),
    Column("file_name", String(255)),
    # The date the file carries (its name, its URL, its metadata line or JSON date).
    Column("file_date", DateTime),
    Column("sha256", String(64)),
    Column("snapshot_id", Integer),
)


# An import the deletion gate refused with nobody at the keyboard (the worker's daily
# refresh): the Vue régionale shows it until someone decides, by importing again with
# ``--accept-drop`` or by dismissing it (both audited).
ingest_alerts = Table(
    "ingest_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("source", coded(DataSource, 16), nullable=False),
    Column("file_name", String(255), nullable=False),
    # Comma list of the departments over the threshold; ``detail``: JSON
    # [{"department", "current", "closing"}]; ``message``: the refusal, in French.
    Column("departments", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("decision", String(16)),  # None (open) | accepted | dismissed
    Column("decided_at", DateTime),
    Column("decided_by", String(255)),
)


# Adoption figures frozen at each directory snapshot, per department and category, so that
# trends are a read of a small table rather than a replay of history.
adoption_stats = Table(
    "adoption_stats",
    metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id"), primary_key=True),
    Column("department", String(3), primary_key=True),
    Column("category_code", String(4), primary_key=True),
    Column("structures", Integer, nullable=False, default=0),
    Column("equipped", Integer, nullable=False, default=0),
    Column("mailboxes_per", Integer, nullable=False, default=0),
    Column("mailboxes_org", Integer, nullable=False, default=0),
    Column("mailboxes_app", Integer, nullable=False, default=0),
    Column("mailboxes_cab", Integer, nullable=False, default=0),
)
