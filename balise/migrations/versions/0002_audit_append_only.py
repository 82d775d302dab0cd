"""audit_log append-only: triggers refusing UPDATE, DELETE and REPLACE (hand-written;
``make schema`` regenerates 0001 only).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from balise.models import AUDIT_APPEND_ONLY

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_log_no_update",
        "DROP TRIGGER IF EXISTS audit_log_no_delete",
        "DROP TRIGGER IF EXISTS audit_log_no_replace",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log",
        "DROP TRIGGER IF EXISTS audit_log_no_delete ON audit_log",
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
        "DROP FUNCTION IF EXISTS audit_log_append_only()",
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Dropped first so that a store created by ``create_all`` (triggers already there) upgrades.
    for statement in _DROP.get(dialect, []) + AUDIT_APPEND_ONLY.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
