"""Imports the deletion gate refused while nobody was watching (the worker's refresh): stored,
shown on the Vue régionale until someone decides — import again with ``--accept-drop``
(:func:`accept_open`, inside that import's transaction) or dismiss (:func:`dismiss`). Both
decisions are audited."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, insert, select, update

from balise.clock import utc_now
from balise.errors import NotFoundError, ValidationError
from balise.models.tables import ingest_alerts
from balise.services import audit
from balise.services.access import Actor, check_can_act, readable_departments
from balise.services.queries import frame
from balise.services.refusals import refusals_audited

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["id", "created_at", "source", "file_name", "departments", "message"]


def record(conn: Connection, actor: Actor, source: str, file_name: str, refusal) -> int:
    """Store the refusal ``refusal`` (a ``DropRefused``) of ``file_name`` as an open alert, with
    its audit line; returns the alert's id."""
    drops = [
        {"department": d.department, "current": d.current, "closing": d.closing}
        for d in refusal.drops
    ]
    departments = ",".join(d["department"] for d in drops)
    alert_id = conn.execute(
        insert(ingest_alerts)
        .values(
            created_at=utc_now(), source=source, file_name=file_name, departments=departments,
            detail=json.dumps(drops), message=str(refusal),
        )
        .returning(ingest_alerts.c.id)
    ).scalar_one()  # fmt: skip
    audit.record(conn, actor, f"ingest.{source}", file_name, "refused",
                 detail={"alerte": alert_id, "suppressions": drops})  # fmt: skip
    return alert_id


def open_alerts(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Undecided alerts touching the selection (None: all departments), oldest first."""
    departments = readable_departments(actor, departments)
    stmt = select(*(ingest_alerts.c[c] for c in COLUMNS)).where(ingest_alerts.c.decision.is_(None))
    df = frame(engine, stmt.order_by(ingest_alerts.c.id), COLUMNS)
    if departments is not None:
        touches = df["departments"].map(lambda d: bool(set(d.split(",")) & set(departments)))
        df = df[touches].reset_index(drop=True)
    return df


def is_open_for(engine: Engine, source: str, file_name: str) -> int | None:
    """The open alert already raised for this file of ``source``, if any."""
    with engine.connect() as conn:
        return conn.scalar(
            select(ingest_alerts.c.id).where(
                ingest_alerts.c.source == source,
                ingest_alerts.c.file_name == file_name,
                ingest_alerts.c.decision.is_(None),
            )
        )


def accept_open(
    conn: Connection, actor: Actor, source: str, departments: tuple[str, ...] | None
) -> list[int]:
    """Close, as accepted, the open alerts of ``source`` whose departments the import (with
    ``--accept-drop``) covers; returns their ids (the import's audit line names them)."""
    rows = conn.execute(
        select(ingest_alerts.c.id, ingest_alerts.c.departments).where(
            ingest_alerts.c.source == source, ingest_alerts.c.decision.is_(None)
        )
    ).all()
    covered = [
        alert_id
        for alert_id, alert_departments in rows
        if departments is None or set(alert_departments.split(",")) <= set(departments)
    ]
    if covered:
        conn.execute(
            update(ingest_alerts)
            .where(ingest_alerts.c.id.in_(covered))
            .values(decision="accepted", decided_at=utc_now(), decided_by=actor.login)
        )
    return covered


def dismiss(engine: Engine, actor: Actor, alert_id: int, reason: str = "") -> None:
    """Close an open alert without importing (the file was checked and left aside). Only someone
    allowed to import every department it names may; audited, a refusal too."""
    with engine.connect() as conn:
        alert = conn.execute(select(ingest_alerts).where(ingest_alerts.c.id == alert_id)).first()
    if alert is None:
        raise NotFoundError(f"Aucune alerte d'import n° {alert_id}.")
    with refusals_audited(engine, actor, "ingest.alert_dismiss", alert.file_name):
        for department in alert.departments.split(","):
            check_can_act(actor, department, "import")
    with engine.begin() as conn:
        closed = conn.execute(
            update(ingest_alerts)
            .where(ingest_alerts.c.id == alert_id, ingest_alerts.c.decision.is_(None))
            .values(decision="dismissed", decided_at=utc_now(), decided_by=actor.login)
        ).rowcount
        if not closed:
            raise ValidationError(f"L'alerte n° {alert_id} est déjà close.")
        audit.record(conn, actor, "ingest.alert_dismiss", alert.file_name,
                     detail={"alerte": alert_id, "motif": reason.strip() or None})  # fmt: skip
