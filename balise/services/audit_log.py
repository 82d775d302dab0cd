"""Reading the audit trail (the « Journal d'audit » page and its CSV export) and the retention
purge, the one path that ever deletes audit lines.

Who reads what: administrators and programme managers read every line; an animator reads the
lines of their departments and their own actions (never other people's sign-ins).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Engine, delete, func, or_, select

from balise.errors import PermissionDenied, ValidationError
from balise.models import AUDIT_NO_DELETE, AuditEntry
from balise.services import audit
from balise.services.access import Actor
from balise.spreadsheets import frame_csv

log = logging.getLogger(__name__)

COLUMNS = ["at", "actor", "action", "object", "department", "outcome", "detail"]
LABELS = {
    "at": "Date (UTC)", "actor": "Qui", "action": "Action", "object": "Objet",
    "department": "Département", "outcome": "Résultat", "detail": "Détail",
}  # fmt: skip
OUTCOMES = {"ok": "Réussi", "refused": "Refusé", "failed": "Échoué"}
MAX_ROWS = 5000


@dataclass(frozen=True)
class AuditFilter:
    """The page's filters; empty values filter nothing. Dates are inclusive (UTC days)."""

    start: date | None = None
    end: date | None = None
    actors: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    search: str = ""  # part of the object (an address, a login)


def _scope(actor: Actor) -> list:
    if actor.sees_all:
        return []
    return [or_(AuditEntry.department.in_(actor.departments), AuditEntry.actor == actor.login)]


def _conditions(actor: Actor, flt: AuditFilter) -> list:
    a = AuditEntry
    conds = _scope(actor)
    if flt.start:
        conds.append(a.at >= datetime.combine(flt.start, time.min))
    if flt.end:
        conds.append(a.at < datetime.combine(flt.end + timedelta(days=1), time.min))
    for column, values in (
        (a.actor, flt.actors), (a.action, flt.actions),
        (a.outcome, flt.outcomes), (a.department, flt.departments),
    ):  # fmt: skip
        if values:
            conds.append(column.in_(values))
    if flt.search.strip():
        # Escaped LIKE: searching "50%" or "a_b" must not match everything.
        term = flt.search.strip().lower()
        for char in ("\\", "%", "_"):
            term = term.replace(char, "\\" + char)
        conds.append(func.lower(a.object).like(f"%{term}%", escape="\\"))
    return conds


def entries(
    engine: Engine, actor: Actor, flt: AuditFilter | None = None, limit: int = MAX_ROWS
) -> pd.DataFrame:
    """Audit lines matching ``flt``, newest first, at most ``limit``."""
    a = AuditEntry
    stmt = (
        select(a.at, a.actor, a.action, a.object, a.department, a.outcome, a.detail)
        .where(*_conditions(actor, flt or AuditFilter()))
        .order_by(a.at.desc(), a.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=COLUMNS)
    df["at"] = pd.to_datetime(df["at"])
    return df


def choices(engine: Engine, actor: Actor) -> dict[str, list[str]]:
    """Distinct actors and actions the actor may see (for the filter widgets; GROUP BY)."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for name, column in (("actors", AuditEntry.actor), ("actions", AuditEntry.action)):
            stmt = select(column).where(*_scope(actor)).group_by(column).order_by(column)
            out[name] = [v for (v,) in conn.execute(stmt)]
    return out


def counts_by_day(engine: Engine, actor: Actor, flt: AuditFilter | None = None) -> pd.DataFrame:
    """Lines per day and outcome (SQL GROUP BY), for the page's chart."""
    day = func.date(AuditEntry.at)
    stmt = (
        select(day, AuditEntry.outcome, func.count())
        .where(*_conditions(actor, flt or AuditFilter()))
        .group_by(day, AuditEntry.outcome)
        .order_by(day)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["day", "outcome", "lines"])
    df["day"] = pd.to_datetime(df["day"])
    return df


def export_csv(engine: Engine, actor: Actor, flt: AuditFilter | None = None) -> bytes:
    """The filtered lines as CSV (French spreadsheet conventions); the export is audited."""
    df = entries(engine, actor, flt)
    with engine.begin() as conn:
        audit.record(conn, actor, "audit.export", "journal d'audit", detail={"lignes": len(df)})
    df["at"] = df["at"].dt.strftime("%d/%m/%Y %H:%M:%S")
    df["outcome"] = df["outcome"].map(lambda o: OUTCOMES.get(o, o))
    return frame_csv(df.rename(columns=LABELS))


def purge(engine: Engine, actor: Actor, retention_days: int, now: datetime | None = None) -> int:
    """Delete the lines older than ``retention_days``; administrators only. Returns how many.

    The database refuses DELETE on audit_log; here, in one transaction, the no-delete trigger
    is dropped, the expired lines deleted and the trigger created again (DDL is transactional
    on SQLite and PostgreSQL, so no other connection sees the table unguarded). The purge
    itself is audited."""
    if actor.role != "admin":
        with engine.begin() as conn:
            audit.record(conn, actor, "audit.purge", "journal d'audit", "refused")
        raise PermissionDenied("Seul un administrateur purge le journal d'audit.")
    if retention_days < 30:
        raise ValidationError(
            "Le champ « conservation » doit valoir au moins 30 jours pour le journal d'audit."
        )
    cutoff = (now or datetime.now(UTC).replace(tzinfo=None)) - timedelta(days=retention_days)
    dialect = engine.dialect.name
    drop = "DROP TRIGGER audit_log_no_delete" + (" ON audit_log" if dialect != "sqlite" else "")
    with engine.begin() as conn:
        conn.exec_driver_sql(drop)
        deleted = conn.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount
        conn.exec_driver_sql(AUDIT_NO_DELETE[dialect])
        detail = {"supprimées": deleted, "avant": cutoff.isoformat(timespec="seconds")}
        audit.record(conn, actor, "audit.purge", "journal d'audit", detail=detail)
    log.info("audit purge: %d lines older than %s deleted", deleted, cutoff)
    return deleted


def marker(engine: Engine) -> int:
    """The newest line's id: changes whenever a line is added (cache key for the page)."""
    with engine.connect() as conn:
        return conn.scalar(select(func.max(AuditEntry.id))) or 0
