"""Reading the audit trail (the « Journal d'audit » page and its CSV export), checking its hash
chain (``balise audit verify``) and the retention purge, the one path that ever deletes audit
lines.

Who reads what: administrators and programme managers read every line; an animator reads the
lines of their departments and their own actions (never other people's sign-ins).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, or_, select, true

from balise.clock import utc_now
from balise.errors import PermissionDenied, ValidationError
from balise.formatting import MISSING, fr_datetime, fr_decimal, fr_int
from balise.models import AUDIT_NO_DELETE, AuditEntry
from balise.services import audit, audit_chain
from balise.services.access import Actor
from balise.services.refusals import refusals_audited
from balise.spreadsheets import frame_csv

log = logging.getLogger(__name__)

COLUMNS = ["at", "actor", "action", "object", "department", "outcome", "detail"]
LABELS = {
    "at": "Date (heure de Paris)", "actor": "Qui", "action": "Action", "object": "Objet",
    "department": "Département", "outcome": "Résultat", "detail": "Détail",
}  # fmt: skip
OUTCOMES = {"ok": "Réussi", "refused": "Refusé", "failed": "Échoué"}
MAX_ROWS = 5000

# Every action the code writes, in words (tests/test_audit_labels.py walks the sources for the
# codes written literally); ``ingest.*`` and ``page.*`` are families, and a refused command
# line is named after its command (``action_label`` writes « balise bal test »).
ACTIONS = {
    "login": "Connexion", "user.list": "Liste des comptes", "user.add": "Compte créé", "user.role": "Rôle modifié",
    "user.disable": "Compte désactivé", "user.passwd": "Mot de passe changé",
    "bal.provision": "BAL provisionnée", "bal.import": "Import de BAL (classeur)",
    "bal.retry": "Provisionnement relancé", "bal.confirm": "BAL confirmée par l'opérateur",
    "bal.disable": "BAL désactivée", "bal.activate": "BAL active", "bal.test": "Test de BAL",
    "poll": "Relève des boîtes suivies", "mailbox.add": "Boîte suivie ajoutée", "mailbox.update": "Boîte suivie modifiée",
    "mailbox.move": "Boîte suivie déplacée", "mailbox.remove": "Boîte suivie retirée",
    "ingest.alert_dismiss": "Alerte d'import ignorée", "export": "Export",
    "audit.export": "Export du journal d'audit", "audit.purge": "Purge du journal d'audit",
    "audit.verify": "Vérification du journal d'audit",
    "secret_key.rotate": "Rotation de la clé secrète",
    "onboarding_auto": "Accompagnement : avancée automatique",
    "onboarding_move": "Accompagnement : étape changée",
    "onboarding_plan": "Accompagnement : suivi enregistré",
    "event_create": "Événement créé", "event_update": "Événement modifié",
    "event_delete": "Événement supprimé", "attendance_import": "Présences importées",
    "attendance_review": "Présence vérifiée",
}  # fmt: skip
SOURCES = {"annuaire": "annuaire MSSanté", "finess": "FINESS", "finess_plus": "FiNESS+"}
# Detail keys written in English or as codes; the others are French already.
DETAIL_KEYS = {"snapshot": "extraction", "host": "serveur", "status": "état",
               "title": "titre", "a_verifier": "à vérifier", "non_reconnues": "non reconnues"}  # fmt: skip
IDENTIFIER_KEYS = {"snapshot", "port", "finess", "finess_et"}  # numbers that name, not count


def action_label(code: str) -> str:
    """« Import FINESS » for ``ingest.finess``, « Connexion » for ``login``."""
    if code in ACTIONS:
        return ACTIONS[code]
    family, _, rest = code.partition(".")
    if family == "ingest" and rest:
        return f"Import {SOURCES.get(rest, rest)}"
    if family == "page" and rest:
        return f"Lecture de la page « {rest} »"
    return f"Commande « balise {code.replace('.', ' ')} »"


def detail_text(detail: str | None) -> str:
    """A line's detail (JSON) as one readable line: « extraction n° 5 · départements : 01, 03 »;
    text that is no JSON object is shown as it is."""
    if not detail:
        return MISSING
    try:
        values = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(values, dict):
        return detail
    return " · ".join(
        f"{DETAIL_KEYS.get(k, k).replace('_', ' ')} : "
        f"{v if k in IDENTIFIER_KEYS else _value_text(v)}"
        for k, v in values.items()
    )


def _value_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value) or MISSING
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value_text(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int):
        return fr_int(value)
    if isinstance(value, float):
        return fr_decimal(value, None)
    return MISSING if value is None else str(value)


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
    df["at"] = [fr_datetime(at, seconds=True) for at in df["at"]]
    df["outcome"] = df["outcome"].map(lambda o: OUTCOMES.get(o, o))
    return frame_csv(df.rename(columns=LABELS))


def purge(engine: Engine, actor: Actor, retention_days: int, now: datetime | None = None) -> int:
    """Delete the lines older than ``retention_days``; administrators only. Returns how many.

    The database refuses DELETE on audit_log; here, in one transaction, the no-delete trigger
    is dropped, the expired lines deleted and the trigger created again (DDL is transactional
    on SQLite and PostgreSQL, so no other connection sees the table unguarded). Only a run of
    the oldest lines goes (those before the first line still to keep), so the kept lines stay
    one unbroken chain; the last deleted line becomes the chain's anchor, recorded in the
    chain's state and in the purge's own audit line."""
    if actor.role != "admin":
        with engine.begin() as conn:
            audit.record(conn, actor, "audit.purge", "journal d'audit", "refused")
        raise PermissionDenied("Seul un administrateur purge le journal d'audit.")
    if retention_days < 30:
        raise ValidationError(
            "Le champ « conservation » doit valoir au moins 30 jours pour le journal d'audit."
        )
    cutoff = (now or utc_now()) - timedelta(days=retention_days)
    with engine.begin() as conn:
        state = audit_chain.lock(conn)
        anchor_id, anchor_hash, deleted = _delete_expired(conn, cutoff, state)
        detail = {
            "supprimées": deleted, "avant": cutoff.isoformat(timespec="seconds"),
            "ancre": {"ligne": anchor_id, "empreinte": anchor_hash},
        }  # fmt: skip
        audit.record(conn, actor, "audit.purge", "journal d'audit", detail=detail)
    log.info("audit purge: %d lines older than %s deleted", deleted, cutoff)
    return deleted


def _delete_expired(conn: Connection, cutoff: datetime, state) -> tuple[int, str, int]:
    """Delete the lines before the first one at or after ``cutoff``; (anchor id, anchor hash,
    lines deleted). Every deleted line is older than ``cutoff``."""
    a = AuditEntry
    first_kept = conn.scalar(select(func.min(a.id)).where(a.at >= cutoff))
    last_gone = conn.execute(
        select(a.id, a.row_hash)
        .where(a.id < first_kept if first_kept is not None else true())
        .order_by(a.id.desc())
        .limit(1)
    ).first()
    if last_gone is None:
        return state.anchor_id, state.anchor_hash, 0
    dialect = conn.dialect.name
    drop = "DROP TRIGGER audit_log_no_delete" + (" ON audit_log" if dialect != "sqlite" else "")
    conn.exec_driver_sql(drop)
    deleted = conn.execute(delete(a).where(a.id <= last_gone.id)).rowcount
    conn.exec_driver_sql(AUDIT_NO_DELETE[dialect])
    audit_chain.set_anchor(conn, last_gone.id, last_gone.row_hash)
    return last_gone.id, last_gone.row_hash, deleted


def verify(engine: Engine, actor: Actor) -> audit_chain.ChainReport:
    """Walk the whole chain (administrators and programme managers); the check is audited,
    « failed » when a link is broken. The caller decides what a broken chain means."""
    with refusals_audited(engine, actor, "audit.verify", "journal d'audit"):
        if not actor.sees_all:
            raise PermissionDenied(
                "Seuls un administrateur et un chargé de programme vérifient le journal d'audit."
            )
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # the head and every line from one snapshot
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        report = audit_chain.verify(conn)
    detail = {"lignes": report.lines, "rupture": report.broken_id}
    with engine.begin() as conn:
        outcome = "failed" if report.problem else "ok"
        audit.record(conn, actor, "audit.verify", "journal d'audit", outcome, detail=detail)
    return report


def marker(engine: Engine) -> int:
    """The newest line's id: changes whenever a line is added (cache key for the page)."""
    with engine.connect() as conn:
        return conn.scalar(select(func.max(AuditEntry.id))) or 0
