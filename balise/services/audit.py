"""The audit trail: one line per action, appended in the action's own transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, insert

from balise.models import AuditEntry
from balise.services.access import Actor


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    obj: str | None,
    outcome: str = "ok",
    department: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one audit line. ``detail`` must hold no secret and no health data."""
    conn.execute(
        insert(AuditEntry).values(
            at=datetime.now(UTC).replace(tzinfo=None),
            actor=actor.login,
            action=action,
            object=obj,
            department=department,
            outcome=outcome,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )
