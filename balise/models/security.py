"""Who may act and what they did: the users, the append-only audit trail and its chain's state,
and the fingerprints of the keys the store depends on.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    event,
)

from balise.models.schema import metadata

# A person who signs in. ``departments`` is a comma list (animators); empty = all.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(255), nullable=False, unique=True),
    Column("display_name", String(255), nullable=False, default=""),
    Column("role", String(16), nullable=False),  # admin | manager | animator
    Column("departments", Text, nullable=False, default=""),
    Column("password_hash", Text),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
)


# Append-only trail of who did what on which object, and how it ended.
#
# Each line is a link of a hash chain (``balise.services.audit_chain``): ``prev_hash`` is the
# previous line's ``row_hash`` (or the chain's anchor), ``row_hash`` the SHA-256 of
# ``prev_hash`` and of this line's content, so ``balise audit verify`` finds any line changed,
# removed or slipped in.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("object", String(255)),
    Column("department", String(3)),
    Column("outcome", String(16), nullable=False),  # ok | refused | failed
    Column("detail", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    # SQLite: AUTOINCREMENT, so that an id is never given twice (without it, a purge that empties
    # the table would hand out id 1 again, behind the chain's anchor).
    sqlite_autoincrement=True,
)


# The audit chain's one state row (``id`` = 1). ``head_*``: the newest line, which the next
# line links to; appending locks this row first, so that two writers never link to the same
# head (PostgreSQL row lock; SQLite's write lock). ``anchor_*``: the last line the retention
# purge deleted (0 and the genesis hash before any purge), which the oldest kept line links
# to; only the purge changes it, and its audit line records it.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("anchor_id", BigInteger, nullable=False, default=0),
    Column("anchor_hash", String(64), nullable=False),
    Column("head_id", BigInteger, nullable=False, default=0),
    Column("head_hash", String(64), nullable=False),
)


# Fingerprints of the keys the store depends on: ``name`` = "secret_key" holds the SHA-256
# of the BALISE_SECRET_KEY that sealed the ``enc:`` secrets (never the key itself), so that
# another key is refused instead of sealing new secrets under a second key.
keyring = Table(
    "keyring",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("since", DateTime, nullable=False),
)


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
        event.listen(audit_log, "after_create", DDL(_statement).execute_if(dialect=_dialect))
