"""The ORM classes, each mapped onto its Core table (``balise.models.tables``: declarative with an
imperative table, so a column is defined once, there, with its type and why it exists).
``Snapshot.id``, ``select(Mailbox)``, ``Session(engine)`` work as with any declarative class.
Loaded by the first ``from balise.models import <class>``, never by the tables alone.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase, declared_attr

from balise.models import tables


class Base(DeclarativeBase):
    metadata = tables.metadata

    @declared_attr.directive
    def __tablename__(cls) -> str:
        return cls.__table__.name


class Snapshot(Base):
    __table__ = tables.snapshots


class SourceCheck(Base):
    __table__ = tables.source_checks


class Mailbox(Base):
    __table__ = tables.mailboxes


class Establishment(Base):
    __table__ = tables.establishments


class LegalEntity(Base):
    __table__ = tables.legal_entities


class InactiveEstablishment(Base):
    __table__ = tables.inactive_establishments


class FinessGroup(Base):
    __table__ = tables.finess_groups


class FinessGroupMember(Base):
    __table__ = tables.finess_group_members


class AdoptionStat(Base):
    __table__ = tables.adoption_stats


class IngestAlert(Base):
    __table__ = tables.ingest_alerts


class WatchedMailbox(Base):
    __table__ = tables.watched_mailboxes


class FolderState(Base):
    __table__ = tables.folder_states


class DailyActivity(Base):
    __table__ = tables.daily_activity


class ProvisionedBal(Base):
    __table__ = tables.provisioned_bals


class BalTest(Base):
    __table__ = tables.bal_tests


class User(Base):
    __table__ = tables.users


class AuditEntry(Base):
    __table__ = tables.audit_log


class AuditChain(Base):
    __table__ = tables.audit_chain


class Keyring(Base):
    __table__ = tables.keyring


class Onboarding(Base):
    __table__ = tables.onboarding


class OnboardingHistory(Base):
    __table__ = tables.onboarding_history


class Animator(Base):
    __table__ = tables.animators


class Event(Base):
    __table__ = tables.events


class Attendance(Base):
    __table__ = tables.attendance
