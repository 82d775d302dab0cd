"""Events (webinars such as the « Midis du collectif », meetings): CRUD, attendance import with
matching and review, and the adoption of attending vs non-attending structures over time.

An event names its departments (comma list; empty = the whole region, which only a role that
sees every department may manage). A structure *attended* when one attendance line is matched to
it exactly, or by a fuzzy match a person confirmed (review step).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from balise.errors import NotFoundError, PermissionDenied, ValidationError
from balise.exports import Chart, Sheet
from balise.formatting import fr_date
from balise.models import Attendance, Establishment, Event
from balise.referentials.attendance_sheet import read_attendance
from balise.referentials.departments import load_departments
from balise.services import audit, snapshots
from balise.services.access import Actor, check_can_act, readable_departments
from balise.services.attendance_match import Matcher
from balise.services.links import is_equipped
from balise.services.queries import frame, in_departments

KINDS = {"exact": "Exacte", "fuzzy": "À vérifier", "none": "Non reconnue"}


@dataclass(frozen=True)
class EventInput:
    title: str
    date: date | None
    theme: str = ""
    departments: tuple[str, ...] = ()
    replay_url: str = ""


def _values(ev: EventInput) -> dict:
    problems = []
    if not ev.title.strip():
        problems.append(("title", "Le titre de l'événement est obligatoire."))
    if ev.date is None:
        problems.append(("date", "La date de l'événement est obligatoire."))
    unknown = [d for d in ev.departments if d not in load_departments()]
    if unknown:
        problems.append(("departments", f"Département inconnu : {', '.join(unknown)}."))
    url = ev.replay_url.strip()
    if url and not url.startswith(("https://", "http://")):
        problems.append(("replay_url", "Le lien du replay doit commencer par https://."))
    if problems:
        raise ValidationError(problems[0][1], problems)
    return {"title": ev.title.strip(), "date": ev.date, "theme": ev.theme.strip() or None,
            "departments": ",".join(sorted(set(ev.departments))), "replay_url": url or None}  # fmt: skip


def _departments(value: str) -> tuple[str, ...]:
    return tuple(d for d in value.split(",") if d)


def _check(
    conn: Connection, actor: Actor, departments: tuple[str, ...], action: str, obj: str
) -> None:
    """The actor may act on every department of the event (a regional event: all of them)."""
    try:
        if not departments and actor.role != "admin":
            raise PermissionDenied(
                "Un événement régional (sans département) est géré par un administrateur."
            )
        for dep in departments:
            check_can_act(actor, dep, "events")
    except PermissionDenied as exc:
        conn.rollback()
        audit.record(conn, actor, action, obj, "refused", departments[0] if departments else None,
                     {"motif": str(exc)})  # fmt: skip
        conn.commit()
        exc.audited = True
        raise


def _refuse_duplicate(conn: Connection, values: dict, other_than: int | None = None) -> None:
    """One event per title (case aside), day and departments: a second click on « Créer »
    must not count the same webinar twice."""
    same = conn.scalar(
        select(Event.id).where(
            func.lower(Event.title) == values["title"].lower(),
            Event.date == values["date"],
            Event.departments == values["departments"],
            Event.id != (other_than or -1),
        )
    )
    if same is not None:
        where = "pour ces départements" if values["departments"] else "pour la région"
        message = (
            f"L'événement « {values['title']} » du {fr_date(values['date'])} existe déjà {where} "
            f"(n° {same}) : modifiez-le plutôt que d'en créer un second."
        )
        raise ValidationError(message, [("title", message)])


def _event(conn: Connection, event_id: int):
    row = conn.execute(select(Event.__table__).where(Event.id == event_id)).first()
    if row is None:
        raise NotFoundError(f"L'événement n° {event_id} n'existe pas.")
    return row


def create_event(engine: Engine, actor: Actor, ev: EventInput) -> int:
    values = _values(ev)
    with engine.connect() as conn:
        _check(conn, actor, _departments(values["departments"]), "event_create", values["title"])
        _refuse_duplicate(conn, values)
        event_id = conn.execute(insert(Event).values(**values).returning(Event.id)).scalar_one()
        audit.record(
            conn, actor, "event_create", f"événement {event_id}", detail={"titre": values["title"]}
        )
        conn.commit()
    return event_id


def update_event(engine: Engine, actor: Actor, event_id: int, ev: EventInput) -> None:
    values = _values(ev)
    with engine.connect() as conn:
        old = _event(conn, event_id)
        both = tuple(
            sorted(set(_departments(old.departments)) | set(_departments(values["departments"])))
        )
        _check(conn, actor, both, "event_update", f"événement {event_id}")
        _refuse_duplicate(conn, values, other_than=event_id)
        conn.execute(update(Event).where(Event.id == event_id).values(**values))
        audit.record(
            conn, actor, "event_update", f"événement {event_id}", detail={"titre": values["title"]}
        )
        conn.commit()


def delete_event(engine: Engine, actor: Actor, event_id: int) -> None:
    with engine.connect() as conn:
        old = _event(conn, event_id)
        _check(conn, actor, _departments(old.departments), "event_delete", f"événement {event_id}")
        conn.execute(delete(Attendance).where(Attendance.event_id == event_id))
        conn.execute(delete(Event).where(Event.id == event_id))
        audit.record(
            conn, actor, "event_delete", f"événement {event_id}", detail={"titre": old.title}
        )
        conn.commit()


def _visible(departments: tuple[str, ...] | None) -> ColumnElement[bool]:
    """Events touching one of ``departments``, and regional events (no department)."""
    if departments is None:
        return Event.id.is_not(None)
    padded = "," + Event.departments + ","
    return or_(Event.departments == "", *[padded.like(f"%,{d},%") for d in departments])


def confirmed() -> ColumnElement[bool]:
    """An attendance line that counts: exact, or fuzzy and confirmed in review."""
    return and_(
        Attendance.finess_et.is_not(None),
        or_(Attendance.match_kind == "exact", Attendance.reviewed.is_(True)),
    )


def list_events(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Events of the selection, latest first, with their attendance counts."""
    departments = readable_departments(actor, departments)
    to_review = and_(Attendance.match_kind == "fuzzy", Attendance.reviewed.is_(False))
    stmt = (
        select(
            Event.id, Event.title, Event.date, Event.theme, Event.departments, Event.replay_url,
            func.count(Attendance.id),
            func.count(func.distinct(case((confirmed(), Attendance.finess_et)))),
            func.count(case((to_review, Attendance.id))),
            func.count(func.distinct(case((and_(confirmed(), is_equipped()), Attendance.finess_et)))),
        )
        .outerjoin(Attendance, Attendance.event_id == Event.id)
        .outerjoin(Establishment, Establishment.finess_et == Attendance.finess_et)
        .where(_visible(departments))
        .group_by(Event.id, Event.title, Event.date, Event.theme, Event.departments, Event.replay_url)
        .order_by(Event.date.desc(), Event.id.desc())
    )  # fmt: skip
    return frame(engine, stmt, ["id", "title", "date", "theme", "departments", "replay_url",
                                "lines", "structures", "to_review", "equipped"])  # fmt: skip


# ----- attendance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    exact: int
    fuzzy: int
    unmatched: int

    def summary(self) -> str:
        total = self.exact + self.fuzzy + self.unmatched
        return (f"{total} ligne(s) importée(s) : {self.exact} reconnue(s), {self.fuzzy} à "
                f"vérifier, {self.unmatched} non reconnue(s).")  # fmt: skip


def import_attendance(
    engine: Engine, actor: Actor, event_id: int, data: bytes, filename: str
) -> ImportReport:
    """Replace the event's attendance with the sheet's lines, each matched to a structure."""
    rows = read_attendance(data, filename)
    with engine.connect() as conn:
        event = _event(conn, event_id)
        departments = _departments(event.departments)
        _check(conn, actor, departments, "attendance_import", f"événement {event_id}")
        matcher = Matcher(conn, departments or None)
        lines = []
        for row in rows:
            m = matcher.match(row)
            lines.append({"event_id": event_id, "finess_et": m.finess_et, "raw_name": row.name[:255] or row.finess,
                          "commune": row.commune[:128] or None, "match_kind": m.kind, "score": m.score,
                          "reviewed": False})  # fmt: skip
        conn.execute(delete(Attendance).where(Attendance.event_id == event_id))
        if lines:
            conn.execute(insert(Attendance), lines)
        kinds = [line["match_kind"] for line in lines]
        report = ImportReport(kinds.count("exact"), kinds.count("fuzzy"), kinds.count("none"))
        audit.record(conn, actor, "attendance_import", f"événement {event_id}",
                     detail={"exactes": report.exact, "a_verifier": report.fuzzy,
                             "non_reconnues": report.unmatched})  # fmt: skip
        conn.commit()
    return report


def attendance(engine: Engine, actor: Actor, event_id: int) -> pd.DataFrame:
    """Every line of an event's attendance with the structure it matched."""
    with engine.connect() as conn:
        readable_departments(actor, _departments(_event(conn, event_id).departments) or None)
    stmt = (
        select(Attendance.id, Attendance.raw_name, Attendance.commune, Attendance.match_kind,
               Attendance.score, Attendance.reviewed, Attendance.finess_et, Establishment.name,
               Establishment.city)
        .outerjoin(Establishment, Establishment.finess_et == Attendance.finess_et)
        .where(Attendance.event_id == event_id)
        .order_by(Attendance.id)
    )  # fmt: skip
    return frame(engine, stmt, ["id", "raw_name", "commune", "match_kind", "score", "reviewed",
                                "finess_et", "matched_name", "matched_city"])  # fmt: skip


def review(
    engine: Engine, actor: Actor, attendance_id: int, accept: bool, finess: str = ""
) -> None:
    """Confirm or reject a doubtful match; ``finess`` names the right structure by hand."""
    with engine.connect() as conn:
        line = conn.execute(
            select(Attendance.__table__).where(Attendance.id == attendance_id)
        ).first()
        if line is None:
            raise NotFoundError(f"La ligne de présence n° {attendance_id} n'existe pas.")
        event = _event(conn, line.event_id)
        _check(
            conn,
            actor,
            _departments(event.departments),
            "attendance_review",
            f"présence {attendance_id}",
        )
        values = _review_values(conn, line, accept, finess.strip())
        conn.execute(update(Attendance).where(Attendance.id == attendance_id).values(**values))
        audit.record(conn, actor, "attendance_review", f"présence {attendance_id}",
                     detail={"decision": "confirmée" if values["finess_et"] else "rejetée",
                             "finess": values["finess_et"]})  # fmt: skip
        conn.commit()


def _review_values(conn: Connection, line, accept: bool, finess: str) -> dict:
    if finess:
        known = conn.scalar(
            select(Establishment.finess_et).where(Establishment.finess_et == finess)
        )
        if not known:
            raise ValidationError(f"Le FINESS {finess} n'existe pas dans le FINESS importé.")
        return {"finess_et": finess, "match_kind": "exact", "reviewed": True}
    if accept and line.finess_et:
        return {"finess_et": line.finess_et, "match_kind": line.match_kind, "reviewed": True}
    return {"finess_et": None, "match_kind": "none", "reviewed": True}


# ----- adoption: attending vs not -------------------------------------------------------------


def adoption_comparison(engine: Engine, actor: Actor, event_id: int) -> pd.DataFrame:
    """For each directory snapshot: structures, equipped and share (0-100) among the ESMS of the
    event's departments that attended and those that did not."""
    with engine.connect() as conn:
        event = _event(conn, event_id)
    departments = readable_departments(actor, _departments(event.departments) or None)
    attended = Establishment.finess_et.in_(
        select(Attendance.finess_et).where(Attendance.event_id == event_id, confirmed())
    )
    group = case((attended, "Participants"), else_="Non participants")
    frames = []
    for snap in snapshots.directory_snapshots(engine).itertuples():
        # Only the departments the directory had covered by then (the others have no state).
        known = snapshots.known_departments(engine, int(snap.snapshot_id), departments)
        stmt = (
            select(group, func.count(), func.sum(case((is_equipped(int(snap.snapshot_id)), 1), else_=0)))
            .where(Establishment.is_medico_social.is_(True), in_departments(Establishment.department, known))
            .group_by(group)
        )  # fmt: skip
        df = frame(engine, stmt, ["group", "structures", "equipped"])
        df.insert(0, "date", snap.date)
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["date", "group", "structures", "equipped", "share"])
    out = pd.concat(frames, ignore_index=True)
    out["equipped"] = out["equipped"].astype(int)
    out["share"] = (100.0 * out["equipped"] / out["structures"]).round(1)
    return out


# ----- the webinar pack's « Événements » sheet ------------------------------------------------

_PACK_COLUMNS = {"title": "Événement", "date": "Date", "theme": "Thème",
                 "departments": "Départements", "lines": "Lignes de présence",
                 "structures": "Structures participantes", "equipped": "Dont équipées",
                 "share": "Part équipée"}  # fmt: skip


def pack_sheet(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> Sheet | None:
    """The events of the selection and how many attending structures are equipped today;
    None when the selection has no event (the pack then keeps its usual sheets)."""
    df = list_events(engine, actor, departments)
    if df.empty:
        return None
    df = df.sort_values(["date", "id"], ignore_index=True)
    df["departments"] = df["departments"].replace("", "Région")
    structures = df["structures"].astype(float)
    df["share"] = (df["equipped"] / structures.where(structures > 0)).fillna(0.0)
    table = df[list(_PACK_COLUMNS)].rename(columns=_PACK_COLUMNS)
    counts = ("Lignes de présence", "Structures participantes", "Dont équipées")
    formats = {"Date": "date", "Part équipée": "pct"} | dict.fromkeys(counts, "int")
    chart = Chart("bar", "Structures participantes et équipées", "Événement",
                  ("Structures participantes", "Dont équipées"), "Structures", "Événement")  # fmt: skip
    note = "Participantes : lignes reconnues par FINESS ou par nom et commune, doutes vérifiés."
    return Sheet("Événements", table, formats, chart, note)
