"""The one models module: every table of the store (SQLAlchemy 2, same schema on SQLite and
PostgreSQL). Migrations in ``balise/migrations`` are generated from it (``make schema``).

Privacy: no table holds a message subject, body or attachment, an INS, a patient address, or a
secret in clear. Mail activity is kept as daily counts by counterpart *category*.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from balise.referentials.lifecycles import (
    BalStatus,
    DataSource,
    LinkKind,
    OnboardingStage,
    RoundTripOutcome,
)


class Base(DeclarativeBase):
    pass


def coded(vocabulary: type[StrEnum], length: int) -> Enum:
    """A column of one of ``balise.referentials.lifecycles``' vocabularies: stored as its plain
    codes in a VARCHAR (no database enum type, no CHECK: a new code needs no migration), read back
    as members; a code outside the vocabulary is refused when written or compared."""
    return Enum(
        vocabulary, native_enum=False, create_constraint=False, length=length,
        values_callable=lambda members: [m.value for m in members], validate_strings=True,
    )  # fmt: skip


class Snapshot(Base):
    """One ingest of one source file for one department selection."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[DataSource] = mapped_column(coded(DataSource, 16))
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    # When the producer generated the file (ANS file name timestamp, FINESS metadata date).
    generated_at: Mapped[datetime | None] = mapped_column(DateTime)
    ingested_at: Mapped[datetime] = mapped_column(DateTime)
    # Comma-separated INSEE department codes this snapshot covers; "*" = every department.
    departments: Mapped[str] = mapped_column(Text)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_kept: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    # JSON: {"reasons": {reason: count}, "examples": [[line, reason], ...]} (bounded).
    rejects: Mapped[str] = mapped_column(Text, default="{}")
    encoding: Mapped[str | None] = mapped_column(String(16))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_s: Mapped[float | None] = mapped_column()

    __table_args__ = (Index("ix_snapshots_source_sha", "source", "sha256"),)


class SourceCheck(Base):
    """The last check of each published source at its URL (``balise ingest annuaire|finess``
    without a file, the worker's daily refresh): the validators the server gave for conditional
    requests, when it was last checked and with what outcome, when its content last changed, and
    the file it holds. ``balise sources`` and the Vue régionale read it."""

    __tablename__ = "source_checks"

    source: Mapped[DataSource] = mapped_column(coded(DataSource, 16), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(255))
    last_modified: Mapped[str | None] = mapped_column(String(64))  # the header, as received
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # "imported" (a new file was read into a snapshot), "unchanged" or "failed".
    outcome: Mapped[str | None] = mapped_column(String(16))
    # French: why the last attempt failed, or how "unchanged" was known.
    message: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    file_name: Mapped[str | None] = mapped_column(String(255))
    # The date the file carries (its name, its URL, its metadata line or JSON date).
    file_date: Mapped[datetime | None] = mapped_column(DateTime)
    sha256: Mapped[str | None] = mapped_column(String(64))
    snapshot_id: Mapped[int | None] = mapped_column(Integer)


class Mailbox(Base):
    """One version of a directory mailbox (slowly changing dimension, type 2).

    A version is valid from the snapshot that first showed it in this form (``valid_from``) until
    the snapshot that removed or changed it (``valid_to``, exclusive; NULL = current). The address
    is the only key the ANS file carries; ``first_seen`` is carried over from version to version.
    """

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(255))
    bal_type: Mapped[str] = mapped_column(String(3))  # PER | ORG | APP | CAB
    department: Mapped[str] = mapped_column(String(3))
    structure_id_type: Mapped[str | None] = mapped_column(String(2))
    structure_id: Mapped[str | None] = mapped_column(String(20))
    # Which FINESS number the structure id matched (none: the line equips no structure).
    link_kind: Mapped[LinkKind | None] = mapped_column(coded(LinkKind, 2))
    service: Mapped[str | None] = mapped_column(String(255))
    profession_code: Mapped[str | None] = mapped_column(String(8))
    structure_name: Mapped[str | None] = mapped_column(String(255))
    postcode: Mapped[str | None] = mapped_column(String(10))
    # Column « Dématérialisation » of the directory: "O" | "N" | NULL (absent or other value).
    dematerialisation: Mapped[str | None] = mapped_column(String(1))
    first_seen: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    valid_from: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    valid_to: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id"))

    __table_args__ = (
        # Address first: the diff looks every staged address up (an index led by valid_to
        # tempts SQLite into scanning every current row for each lookup).
        Index("ix_mailboxes_address", "address", "valid_to"),
        Index("ix_mailboxes_department", "department", "valid_to", "bal_type"),
        Index("ix_mailboxes_structure", "structure_id", "valid_to"),
    )


class Establishment(Base):
    """A FINESS establishment (ET) as in the latest FINESS snapshot of its department."""

    __tablename__ = "establishments"

    finess_et: Mapped[str] = mapped_column(String(9), primary_key=True)
    finess_ej: Mapped[str | None] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(255))
    long_name: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    postcode: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(128))
    commune_code: Mapped[str | None] = mapped_column(String(5))
    department: Mapped[str] = mapped_column(String(3))
    category_code: Mapped[str] = mapped_column(String(4))
    category_label: Mapped[str | None] = mapped_column(String(255))
    siret: Mapped[str | None] = mapped_column(String(14))
    opened_on: Mapped[date | None] = mapped_column(Date)
    is_medico_social: Mapped[bool] = mapped_column(Boolean, default=False)
    luhn_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))
    # FiNESS+ only: WGS 84 point checked against the territory (never a point in another
    # territory), and the flow's technical id, which groupings refer to.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    ege_id: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_establishments_dept_cat", "department", "is_medico_social", "category_code"),
    )


class LegalEntity(Base):
    """A FINESS legal entity (EJ, FiNESS+ ``pmej``) as in the latest FiNESS+ ingest."""

    __tablename__ = "legal_entities"

    finess_ej: Mapped[str] = mapped_column(String(9), primary_key=True)
    pm_id: Mapped[str | None] = mapped_column(String(20), index=True)  # pmSmsseId
    siren: Mapped[str | None] = mapped_column(String(9))
    legal_status: Mapped[str | None] = mapped_column(String(4))  # statutJuridique (TRE-R400)
    name: Mapped[str] = mapped_column(String(255))
    long_name: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    closed_on: Mapped[date | None] = mapped_column(Date)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))


class InactiveEstablishment(Base):
    """A closed or inactive establishment of the FiNESS+ flow, kept apart from
    ``establishments`` (which every count and link reads) so that it is never counted."""

    __tablename__ = "inactive_establishments"

    finess_et: Mapped[str] = mapped_column(String(9), primary_key=True)
    finess_ej: Mapped[str | None] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(255))
    department: Mapped[str] = mapped_column(String(3), index=True)
    category_code: Mapped[str] = mapped_column(String(4))
    closed_on: Mapped[date | None] = mapped_column(Date)
    ege_id: Mapped[str | None] = mapped_column(String(20))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))


class FinessGroup(Base):
    """A FiNESS+ grouping: ``gcc`` (conventional, e.g. a GHT) or ``gco`` (cooperation, itself a
    legal entity whose ``pm_id`` is given)."""

    __tablename__ = "finess_groups"

    group_id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "gcc:12", "gco:1001"
    kind: Mapped[str] = mapped_column(String(3))
    group_type: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    pm_id: Mapped[str | None] = mapped_column(String(20))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"))


class FinessGroupMember(Base):
    """A member of a grouping: a legal entity (``pm_id``) or an establishment (``ege_id``),
    by the flow's technical ids (``legal_entities.pm_id``, ``establishments.ege_id``)."""

    __tablename__ = "finess_group_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(40), index=True)
    pm_id: Mapped[str | None] = mapped_column(String(20), index=True)
    ege_id: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str | None] = mapped_column(String(8))  # typeRoleEntiteGroupe: S support, M


class AdoptionStat(Base):
    """Adoption figures frozen at each directory snapshot, per department and category, so that
    trends are a read of a small table rather than a replay of history."""

    __tablename__ = "adoption_stats"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id"), primary_key=True)
    department: Mapped[str] = mapped_column(String(3), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(4), primary_key=True)
    structures: Mapped[int] = mapped_column(Integer, default=0)
    equipped: Mapped[int] = mapped_column(Integer, default=0)
    mailboxes_per: Mapped[int] = mapped_column(Integer, default=0)
    mailboxes_org: Mapped[int] = mapped_column(Integer, default=0)
    mailboxes_app: Mapped[int] = mapped_column(Integer, default=0)
    mailboxes_cab: Mapped[int] = mapped_column(Integer, default=0)


class IngestAlert(Base):
    """An import the deletion gate refused with nobody at the keyboard (the worker's daily
    refresh): the Vue régionale shows it until someone decides, by importing again with
    ``--accept-drop`` or by dismissing it (both audited)."""

    __tablename__ = "ingest_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[DataSource] = mapped_column(coded(DataSource, 16))
    file_name: Mapped[str] = mapped_column(String(255))
    # Comma list of the departments over the threshold; ``detail``: JSON
    # [{"department", "current", "closing"}]; ``message``: the refusal, in French.
    departments: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(16))  # None (open) | accepted | dismissed
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(255))


class WatchedMailbox(Base):
    """A mailbox whose activity ``balise poll`` counts. Secrets are referenced, never in clear:
    ``secret_ref`` is ``enc:<fernet token>``, ``env:VAR`` or ``file:/path``."""

    __tablename__ = "watched_mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(255), unique=True)
    department: Mapped[str] = mapped_column(String(3), index=True)
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer)
    tls_mode: Mapped[str] = mapped_column(String(10))  # "starttls" | "implicit"
    ca_bundle: Mapped[str | None] = mapped_column(String(1024))
    auth_mode: Mapped[str] = mapped_column(
        String(16)
    )  # password | xoauth2 | oauthbearer | external
    username: Mapped[str | None] = mapped_column(String(255))
    secret_ref: Mapped[str | None] = mapped_column(Text)
    client_cert: Mapped[str | None] = mapped_column(String(1024))
    client_key_ref: Mapped[str | None] = mapped_column(Text)
    folders: Mapped[str] = mapped_column(Text, default="")  # comma list; empty = INBOX + \Sent
    # Submission endpoint as the operator publishes it (round-trip tests). NULL = derived from
    # IMAP: same host, same TLS mode, 587 for STARTTLS, 465 for implicit TLS.
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_tls_mode: Mapped[str | None] = mapped_column(String(10))  # "starttls" | "implicit"
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_poll_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_poll_message: Mapped[str | None] = mapped_column(Text)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set while a poll runs (lease), so that two polls of one mailbox never overlap.
    poll_lease_until: Mapped[datetime | None] = mapped_column(DateTime)


class FolderState(Base):
    """Where the last good poll of one folder stopped (IMAP UIDVALIDITY + highest UID seen)."""

    __tablename__ = "folder_states"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("watched_mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    folder: Mapped[str] = mapped_column(String(255), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    # IMAP UIDVALIDITY and UIDs are unsigned 32-bit: too big for a signed INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # Latest INTERNALDATE counted: after a UIDVALIDITY reset only later messages are counted.
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)


class DailyActivity(Base):
    """Messages per day, mailbox, direction and counterpart category: metadata only."""

    __tablename__ = "daily_activity"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("watched_mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    # FINESS category code of the counterpart, "" when the domain resolves to no structure.
    counterpart_category: Mapped[str] = mapped_column(String(4), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # a day of documents can pass 2 GB


class ProvisionedBal(Base):
    """A BAL the project provisioned or requested. Lifecycle: requested -> provisioned ->
    test_passed | test_failed -> active | disabled."""

    __tablename__ = "provisioned_bals"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(255), unique=True)
    bal_type: Mapped[str] = mapped_column(String(3))
    department: Mapped[str] = mapped_column(String(3), index=True)
    finess: Mapped[str | None] = mapped_column(String(9), index=True)
    service: Mapped[str | None] = mapped_column(String(255))
    holder_name: Mapped[str | None] = mapped_column(String(255))
    holder_id: Mapped[str | None] = mapped_column(String(20))  # RPPS or ADELI (public ids)
    responsible: Mapped[str | None] = mapped_column(String(255))
    structure_head: Mapped[str | None] = mapped_column(String(255))
    software: Mapped[str | None] = mapped_column(String(255))
    practice: Mapped[str | None] = mapped_column(String(255))  # CAB: the practice's name
    # How the BAL signs in for a round trip: password | xoauth2 | external (client certificate).
    auth_mode: Mapped[str] = mapped_column(String(16), default="password")
    backend: Mapped[str] = mapped_column(String(16))
    status: Mapped[BalStatus] = mapped_column(coded(BalStatus, 16), index=True)
    secret_ref: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class BalTest(Base):
    """One round-trip test (SMTP submit -> IMAP arrival), with the time of each step."""

    __tablename__ = "bal_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    test_id: Mapped[str] = mapped_column(String(64), unique=True)
    sender: Mapped[str] = mapped_column(String(255), index=True)
    recipient: Mapped[str] = mapped_column(String(255), index=True)
    use_case: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    outcome: Mapped[RoundTripOutcome] = mapped_column(coded(RoundTripOutcome, 16))
    failed_step: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    connect_s: Mapped[float | None] = mapped_column()
    auth_s: Mapped[float | None] = mapped_column()
    submit_s: Mapped[float | None] = mapped_column()
    visible_s: Mapped[float | None] = mapped_column()
    folder: Mapped[str | None] = mapped_column(String(255))
    # How the message was seen: "submit" (look when SMTP accepted it), "check" (periodic
    # NOOP + UID SEARCH), "push" (IDLE announcement): balise.mail.roundtrip.SEEN_BY.
    seen_by: Mapped[str | None] = mapped_column(String(16))


class User(Base):
    """A person who signs in. ``departments`` is a comma list (animators); empty = all."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(255), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | manager | animator
    departments: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str | None] = mapped_column(Text)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Append-only trail of who did what on which object, and how it ended.

    Each line is a link of a hash chain (``balise.services.audit_chain``): ``prev_hash`` is the
    previous line's ``row_hash`` (or the chain's anchor), ``row_hash`` the SHA-256 of
    ``prev_hash`` and of this line's content, so ``balise audit verify`` finds any line changed,
    removed or slipped in."""

    __tablename__ = "audit_log"
    # SQLite: AUTOINCREMENT, so that an id is never given twice (without it, a purge that empties
    # the table would hand out id 1 again, behind the chain's anchor).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | refused | failed
    detail: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChain(Base):
    """The audit chain's one state row (``id`` = 1). ``head_*``: the newest line, which the next
    line links to; appending locks this row first, so that two writers never link to the same
    head (PostgreSQL row lock; SQLite's write lock). ``anchor_*``: the last line the retention
    purge deleted (0 and the genesis hash before any purge), which the oldest kept line links
    to; only the purge changes it, and its audit line records it."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    anchor_id: Mapped[int] = mapped_column(BigInteger, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    head_id: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))


class Keyring(Base):
    """Fingerprints of the keys the store depends on: ``name`` = "secret_key" holds the SHA-256
    of the BALISE_SECRET_KEY that sealed the ``enc:`` secrets (never the key itself), so that
    another key is refused instead of sealing new secrets under a second key."""

    __tablename__ = "keyring"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column(DateTime)


# --- audit_log is append-only, enforced by the database itself --------------------------------
# Triggers refuse every UPDATE and DELETE (and TRUNCATE on PostgreSQL, REPLACE on SQLite). The
# retention purge (balise.services.audit_log.purge) is the one deletion path: in a single
# transaction it drops the no-delete trigger, deletes the expired lines and creates the trigger
# again, so no other connection ever sees the table unguarded. Alembic revision 0002 creates
# the same triggers. Beyond the triggers (which a database owner can drop), the hash chain
# proves the trail whole: ``balise audit verify``.
_REFUSED = "audit_log est en ajout seul : modification ou suppression refusée"
AUDIT_NO_DELETE: dict[str, str] = {
    "sqlite": "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    "postgresql": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
}
AUDIT_APPEND_ONLY: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
        AUDIT_NO_DELETE["sqlite"],
        # INSERT OR REPLACE deletes the line it collides with without firing the delete
        # trigger (recursive_triggers is off): refuse any insert that reuses an existing id,
        # whatever its conflict clause. (PostgreSQL has no REPLACE; its ON CONFLICT DO UPDATE
        # fires the update trigger.)
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log "  # noqa: S608
        "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN RAISE EXCEPTION '{_REFUSED}'; END $$",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        AUDIT_NO_DELETE["postgresql"],
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
}
for _dialect, _statements in AUDIT_APPEND_ONLY.items():
    for _statement in _statements:
        event.listen(
            AuditEntry.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect)
        )


# --- territorial animation: onboarding pipeline, animators, events ---------------------------
class Onboarding(Base):
    """Where one structure stands on the way from first contact to regular use. A structure
    without a row is « à contacter »."""

    __tablename__ = "onboarding"

    finess_et: Mapped[str] = mapped_column(String(9), primary_key=True)
    department: Mapped[str] = mapped_column(String(3), index=True)
    stage: Mapped[OnboardingStage] = mapped_column(coded(OnboardingStage, 16))
    stage_since: Mapped[datetime] = mapped_column(DateTime)
    next_action: Mapped[str | None] = mapped_column(String(255))
    next_action_on: Mapped[date | None] = mapped_column(Date, index=True)
    notes: Mapped[str | None] = mapped_column(Text)  # follow-up notes: never patient data
    assigned_to: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class OnboardingHistory(Base):
    """Append-only trail of stage changes; ``source`` is "auto" (from facts) or "manuel"."""

    __tablename__ = "onboarding_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess_et: Mapped[str] = mapped_column(String(9), index=True)
    from_stage: Mapped[OnboardingStage | None] = mapped_column(coded(OnboardingStage, 16))
    to_stage: Mapped[OnboardingStage] = mapped_column(coded(OnboardingStage, 16))
    source: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime)


class Animator(Base):
    """A referent territorial animator; ``departments`` is a comma list."""

    __tablename__ = "animators"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(255), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    departments: Mapped[str] = mapped_column(Text)


class Event(Base):
    """A webinar or meeting (« Midis du collectif »...); ``departments`` is a comma list."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    date: Mapped[date] = mapped_column(Date, index=True)
    theme: Mapped[str | None] = mapped_column(String(255))
    departments: Mapped[str] = mapped_column(Text, default="")
    replay_url: Mapped[str | None] = mapped_column(String(1024))


class Attendance(Base):
    """One line of an event's attendance sheet and the structure it was matched to."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    finess_et: Mapped[str | None] = mapped_column(String(9), index=True)
    raw_name: Mapped[str] = mapped_column(String(255))
    commune: Mapped[str | None] = mapped_column(String(128))
    match_kind: Mapped[str] = mapped_column(String(8))  # exact | fuzzy | none
    score: Mapped[float | None] = mapped_column()
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
