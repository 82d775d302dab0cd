"""Every table of the store (SQLAlchemy 2, same schema on SQLite and PostgreSQL), in two layers:

- the tables, SQLAlchemy Core, one module per concept: ``snapshots`` (imports, source checks,
  held imports, adoption figures), ``directory`` (directory mailboxes, FINESS structures),
  ``activity`` (watched mailboxes and their daily counts), ``provisioning`` (BALs and round-trip
  tests), ``security`` (users, audit trail, keyring), ``animation`` (onboarding, animators,
  events); ``balise.models.tables`` gathers them and imports no ORM;
- the ORM classes mapped onto them (``balise.models.orm``): ``from balise.models import Snapshot``
  gives one, and loads the ORM then, on the first class asked for (about 0.1 s of start-up that a
  command using only the tables does not pay).

Migrations in ``balise/migrations`` are generated from ``Base.metadata`` (``make schema``).

Privacy: no table holds a message subject, body or attachment, an INS, a patient address, or a
secret in clear. Mail activity is kept as daily counts by counterpart *category*.
"""

from __future__ import annotations

import importlib

from balise.models.schema import coded
from balise.models.security import AUDIT_APPEND_ONLY, AUDIT_NO_DELETE
from balise.models.tables import metadata

__all__ = ["AUDIT_APPEND_ONLY", "AUDIT_NO_DELETE", "MAPPED", "coded", "metadata"]

# The names ``balise.models.orm`` gives, each loaded on first use (PEP 562 module __getattr__).
MAPPED = frozenset({
    "Base", "Snapshot", "SourceCheck", "Mailbox", "Establishment", "LegalEntity",
    "InactiveEstablishment", "FinessGroup", "FinessGroupMember", "AdoptionStat",
    "IngestAlert", "WatchedMailbox", "FolderState", "DailyActivity", "ProvisionedBal",
    "BalTest", "User", "AuditEntry", "AuditChain", "Keyring", "Onboarding",
    "OnboardingHistory", "Animator", "Event", "Attendance",
})  # fmt: skip


def __getattr__(name: str) -> type:
    """``from balise.models import Snapshot``: the class, from ``balise.models.orm``, imported
    here and not above so that importing the tables alone never loads the ORM."""
    if name not in MAPPED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("balise.models.orm"), name)
