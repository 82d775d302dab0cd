"""Every table of the store as a SQLAlchemy Core ``Table``, defined once in the module of its
concept and all gathered here (importing this module puts each of them in ``metadata``). No ORM:
what reads and writes rows with Core statements (an import, a poll) needs nothing more, and
saves the ORM's start-up; the ORM classes of ``balise.models.orm`` are mapped onto these tables.
"""

from __future__ import annotations

from balise.models.activity import daily_activity, folder_states, watched_mailboxes
from balise.models.animation import animators, attendance, events, onboarding, onboarding_history
from balise.models.directory import (
    establishments,
    finess_group_members,
    finess_groups,
    inactive_establishments,
    legal_entities,
    mailboxes,
)
from balise.models.provisioning import bal_tests, provisioned_bals
from balise.models.schema import metadata
from balise.models.security import audit_chain, audit_log, keyring, users
from balise.models.snapshots import adoption_stats, ingest_alerts, snapshots, source_checks

__all__ = [
    "metadata", "adoption_stats", "animators", "attendance", "audit_chain", "audit_log",
    "bal_tests", "daily_activity", "establishments", "events", "finess_group_members",
    "finess_groups", "folder_states", "inactive_establishments", "ingest_alerts", "keyring",
    "legal_entities", "mailboxes", "onboarding", "onboarding_history", "provisioned_bals",
    "snapshots", "source_checks", "users", "watched_mailboxes",
]  # fmt: skip
