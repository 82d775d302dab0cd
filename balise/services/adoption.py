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
from balise.referentials.bal_types import BAL_TYPES
from balise.referentials.categories import medico_social_codes
from balise.services.access import Actor, readable_departments
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.queries import frame, in_departments

TYPE_COLUMNS = [f"mailboxes_{code.lower()}" for code in BAL_TYPES]


def _share(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``share``: equipped / structures as a percentage (0-100), 0 when no structure."""
    structures = df["structures"].astype(float)
    df["share"] = (100.0 * df["equipped"] / structures.where(structures > 0)).fillna(0.0)
    return df


def type_counts() -> list:
    """One COUNT(DISTINCT mailbox) column per BAL type, over the joined current mailboxes."""
    return [
        func.count(distinct(case((Mailbox.bal_type == code, Mailbox.id)))).label(col)
        for code, col in zip(BAL_TYPES, TYPE_COLUMNS, strict=True)
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
    deps = readable_departments(actor, departments)
    key = getattr(Establishment, by)
    equipped = func.sum(case((is_equipped(), 1), else_=0))
    stmt = select(key, func.count(), equipped).where(_esms(deps)).group_by(key).order_by(key)
    df = frame(engine, stmt, [by, "structures", "equipped"])
    df["equipped"] = df["equipped"].fillna(0).astype(int)
    return _share(df)


def mailbox_mix(
    engine: Engine, actor: Actor, departments: Iterable[str] | None, by: str = "department"
) -> pd.DataFrame:
    """Current mailboxes linked to ESMS, counted per BAL type, grouped ``by`` a column of the
    establishment ("department" or "category_code"). An EJ mailbox counts once per group."""
    deps = readable_departments(actor, departments)
    key = getattr(Establishment, by)
    stmt = (
        select(key, *type_counts())
        .select_from(Establishment)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .where(_esms(deps))
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
    deps = readable_departments(actor, departments)
    stmt = (
        select(*type_counts())
        .select_from(Establishment)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .where(_esms(deps))
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    return {code: int(n or 0) for code, n in zip(BAL_TYPES, row, strict=True)}


def trend(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """Equipped share at each directory snapshot, read from the frozen ``adoption_stats``."""
    deps = readable_departments(actor, departments)
    when = func.coalesce(Snapshot.generated_at, Snapshot.ingested_at)
    stmt = (
        select(
            AdoptionStat.snapshot_id,
            func.max(when),
            func.sum(AdoptionStat.structures),
            func.sum(AdoptionStat.equipped),
        )
        .join(Snapshot, Snapshot.id == AdoptionStat.snapshot_id)
        .where(
            in_departments(AdoptionStat.department, deps),
            AdoptionStat.category_code.in_(sorted(medico_social_codes())),
        )
        .group_by(AdoptionStat.snapshot_id)
        .order_by(AdoptionStat.snapshot_id)
    )
    df = frame(engine, stmt, ["snapshot_id", "date", "structures", "equipped"])
    df["date"] = pd.to_datetime(df["date"])
    df[["structures", "equipped"]] = df[["structures", "equipped"]].fillna(0).astype(int)
    return _share(df)


def headline(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> dict:
    """The regional view's figures: ESMS, equipped, share, mailboxes by type, and the change of
    the share (in points) and of equipped ESMS since the previous directory snapshot."""
    deps = readable_departments(actor, departments)
    cov = coverage(engine, actor, deps)
    structures, equipped = int(cov["structures"].sum()), int(cov["equipped"].sum())
    figures = {
        "structures": structures,
        "equipped": equipped,
        "share": 100.0 * equipped / structures if structures else 0.0,
        "mailboxes": mailbox_totals(engine, actor, deps),
        "share_delta": None,
        "equipped_delta": None,
    }
    points = trend(engine, actor, deps)
    if len(points) >= 2:
        last, before = points.iloc[-1], points.iloc[-2]
        figures["share_delta"] = float(last["share"] - before["share"])
        figures["equipped_delta"] = int(last["equipped"] - before["equipped"])
    return figures
