"""The audit trail: one line per action, appended in the action's own transaction, each line
linked to the previous one by a hash chain (``balise.services.audit_chain``)."""

from __future__ import annotations

import json

from sqlalchemy import Connection

from balise.services.access import Actor
from balise.services.audit_chain import Line, append


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    obj: str | None,
    outcome: str = "ok",
    department: str | None = None,
    detail: dict | None = None,
) -> None:
    """Append one audit line. ``detail`` must hold no secret and no health data.

    The append locks the chain until the caller's transaction ends: call it once the action's
    own writes are done, so that other writers wait as little as possible."""
    text = json.dumps(detail, ensure_ascii=False, default=str) if detail else None
    append(conn, Line(actor.login, action, obj, department, outcome, text))
