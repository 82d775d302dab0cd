"""Adoption read queries: ESMS equipped with MSSanté mailboxes, by department, category and type.

Every function takes the acting user and the wanted departments (None = all), narrows them with
:func:`readable_departments`, and returns a small pandas DataFrame computed by SQL GROUP BY: the
dashboard and the exports never aggregate whole tables in pandas. "Equipped" comes from
:mod:`balise.services.links`, the one definition.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, and_, case, distinct, func, select
from sqlalchemy.sql.elements import ColumnElement

from balise.models import AdoptionStat, Establishment, Mailbox, Snapshot
from balise.referentials.bal_types import TYPE_COLUMNS, TYPES
from balise.referentials.categories import medico_social_codes
from balise.services.access import Actor, readable_departments
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.queries import frame, in_departments


def _share(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``share``: equipped / structures as a percentage (0-100), 0 when no structure."""
    structures = df["structures"].astype(float)
    df["share"] = (100.0 * df["equipped"] / structures.where(structures > 0)).fillna(0.0)
    return df


def type_counts() -> list:
    """One COUNT(DISTINCT mailbox) column per BAL type, over the joined current mailboxes."""
    return [
        func.count(distinct(case((Mailbox.bal_type == t.code, Mailbox.id)))).label(t.column)
        for t in TYPES
    ]


def _esms(departments: tuple[str, ...] | None) -> ColumnElement[bool]:
    return and_(
        Establishment.is_medico_social.is_(True),
        in_departments(Establishment.department, departments),
    )


def coverage(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    by: str = "department",
) -> pd.DataFrame:
    """ESMS and equipped ESMS now, grouped ``by`` "department" or "category_code", with share."""
    departments = readable_departments(actor, departments)
    key = getattr(Establishment, by)
    equipped = func.sum(case((is_equipped(), 1), else_=0))
    stmt = select(key, func.count(), equipped).where(_esms(departments)).group_by(key).order_by(key)
    df = frame(engine, stmt, [by, "structures", "equipped"])
    df["equipped"] = df["equipped"].fillna(0).astype(int)
    return _share(df)


def mailbox_mix(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, by: str = "department"
) -> pd.DataFrame:
    """Current mailboxes linked to ESMS, counted per BAL type, grouped ``by`` a column of the
    establishment ("department" or "category_code"). An EJ mailbox counts once per group."""
    departments = readable_departments(actor, departments)
    key = getattr(Establishment, by)
    stmt = (
        select(key, *type_counts())
        .select_from(Establishment)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .where(_esms(departments))
        .group_by(key)
        .order_by(key)
    )
    df = frame(engine, stmt, [by, *TYPE_COLUMNS])
    df["mailboxes"] = df[TYPE_COLUMNS].sum(axis=1)
    return df


def mailbox_totals(
    engine: Engine, actor: Actor, departments: Iterable[str] | None
) -> dict[str, int]:
    """Distinct current mailboxes linked to the selection's ESMS, per type code (PER...)."""
    departments = readable_departments(actor, departments)
    stmt = (
        select(*type_counts())
        .select_from(Establishment)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .where(_esms(departments))
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    return {t.code: int(n or 0) for t, n in zip(TYPES, row, strict=True)}


def _department_points(engine: Engine, departments: tuple[str, ...] | None) -> pd.DataFrame:
    """ESMS and equipped ESMS of each department at each directory snapshot, read from the
    frozen ``adoption_stats``: every snapshot holds every department the directory had covered
    by then, a department outside the import with its last imported state (see ``ingest.load.adoption``
    ``freeze_adoption``)."""
    when = func.coalesce(Snapshot.generated_at, Snapshot.ingested_at)
    stmt = (
        select(
            AdoptionStat.snapshot_id,
            func.max(when),
            AdoptionStat.department,
            func.sum(AdoptionStat.structures),
            func.sum(AdoptionStat.equipped),
        )
        .join(Snapshot, Snapshot.id == AdoptionStat.snapshot_id)
        .where(
            in_departments(AdoptionStat.department, departments),
            AdoptionStat.category_code.in_(sorted(medico_social_codes())),
        )
        .group_by(AdoptionStat.snapshot_id, AdoptionStat.department)
        .order_by(AdoptionStat.snapshot_id, AdoptionStat.department)
    )
    df = frame(engine, stmt, ["snapshot_id", "date", "department", "structures", "equipped"])
    df["date"] = pd.to_datetime(df["date"])
    df[["structures", "equipped"]] = df[["structures", "equipped"]].fillna(0).astype(int)
    return df


def trend(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Equipped share of the selection at each directory day (the day's last import): the sum
    over the departments of each one's latest import at or before it. ``departments`` counts
    the departments with a state then (one imported later joins the sum at its first import)."""
    from balise.services.snapshots import last_of_each_day

    departments = readable_departments(actor, departments)
    per_department = _department_points(engine, departments)
    points = (
        per_department.groupby(["snapshot_id", "date"], as_index=False)
        .agg(
            structures=("structures", "sum"),
            equipped=("equipped", "sum"),
            departments=("department", "count"),
        )
        .sort_values("snapshot_id")
    )
    return _share(last_of_each_day(points))


def _deltas(per_department: pd.DataFrame, last: int, before: int) -> dict:
    """Change of equipped ESMS and of the share between two snapshots, each department against
    its own state at ``before``; a department without one (first imported since) counts no
    change rather than all its ESMS as new."""
    counts = ["structures", "equipped"]
    at = per_department.set_index("department")
    now = at.loc[at["snapshot_id"] == last, counts]
    then = at.loc[at["snapshot_id"] == before, counts].reindex(now.index).fillna(now)
    share_now = 100.0 * now["equipped"].sum() / max(now["structures"].sum(), 1)
    share_then = 100.0 * then["equipped"].sum() / max(then["structures"].sum(), 1)
    return {
        "share_delta": float(share_now - share_then),
        "equipped_delta": int(now["equipped"].sum() - then["equipped"].sum()),
    }


def headline(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> dict:
    """The regional view's figures: ESMS, equipped, share, mailboxes by type, and the change of
    the share (in points) and of equipped ESMS since the previous directory day."""
    departments = readable_departments(actor, departments)
    cov = coverage(engine, actor, departments)
    structures, equipped = int(cov["structures"].sum()), int(cov["equipped"].sum())
    figures = {
        "structures": structures,
        "equipped": equipped,
        "share": 100.0 * equipped / structures if structures else 0.0,
        "mailboxes": mailbox_totals(engine, actor, departments),
        "share_delta": None,
        "equipped_delta": None,
    }
    per_department = _department_points(engine, departments)
    points = trend_days(per_department)
    if len(points) >= 2:
        figures |= _deltas(per_department, int(points[-1]), int(points[-2]))
    return figures


def trend_days(per_department: pd.DataFrame) -> list[int]:
    """The snapshot ids of the trend's points: the last snapshot of each directory day."""
    from balise.services.snapshots import last_of_each_day

    snaps = per_department[["snapshot_id", "date"]].drop_duplicates("snapshot_id")
    return last_of_each_day(snaps.sort_values("snapshot_id"))["snapshot_id"].tolist()
