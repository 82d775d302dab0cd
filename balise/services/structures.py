"""Structure-level reads: the list of a selection's ESMS with their mailboxes, and the sheet of
one establishment (identity, mailboxes, history across directory snapshots)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, and_, case, func, or_, select

from balise.errors import NotFoundError
from balise.models import Establishment, Mailbox, Snapshot
from balise.referentials.bal_types import TYPE_COLUMNS
from balise.referentials.lifecycles import DataSource
from balise.services.access import Actor, readable_departments
from balise.services.adoption import type_counts
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.queries import frame, in_departments
from balise.services.snapshots import data_date

STRUCTURE_COLUMNS = [
    "finess_et",
    "name",
    "category_code",
    "city",
    "department",
    "equipped",
    *TYPE_COLUMNS,
]


@dataclass(frozen=True)
class StructureFilter:
    """The « Département » page filters; empty values filter nothing."""

    categories: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    status: str = ""  # "" | "equipped" | "not_equipped"
    search: str = ""


def structure_conditions(flt: StructureFilter) -> list:
    """The WHERE conditions of ``flt`` on ``establishments`` (the list and the map share them)."""
    conds = []
    if flt.categories:
        conds.append(Establishment.category_code.in_(flt.categories))
    if flt.cities:
        conds.append(Establishment.city.in_(flt.cities))
    if flt.status == "equipped":
        conds.append(is_equipped())
    elif flt.status == "not_equipped":
        conds.append(~is_equipped())
    if flt.search.strip():
        # Escaped LIKE: a search for "50%" must not match everything.
        term = (
            flt.search.strip().lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        )
        conds.append(
            or_(
                func.lower(Establishment.name).like(f"%{term}%", escape="\\"),
                Establishment.finess_et.like(f"{term}%", escape="\\"),
            )
        )
    return conds


def structures(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    flt: StructureFilter | None = None,
) -> pd.DataFrame:
    """ESMS of the selection with equipped yes/no and their current mailboxes per type."""
    departments = readable_departments(actor, departments)
    e = Establishment
    scope = (e.is_medico_social.is_(True), in_departments(e.department, departments))
    # Mailbox counts per establishment in a subquery, so that the EXISTS of is_equipped()
    # correlates to the establishment only.
    counts = (
        select(e.finess_et, *type_counts())
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .where(*scope)
        .group_by(e.finess_et)
        .subquery()
    )
    stmt = (
        select(e.finess_et, e.name, e.category_code, e.city, e.department)
        .add_columns(case((is_equipped(), True), else_=False))
        .add_columns(*(func.coalesce(counts.c[col], 0) for col in TYPE_COLUMNS))
        .outerjoin(counts, counts.c.finess_et == e.finess_et)
        .where(*scope, *structure_conditions(flt or StructureFilter()))
        .order_by(e.department, e.name)
    )
    df = frame(engine, stmt, STRUCTURE_COLUMNS)
    df["equipped"] = df["equipped"].astype(bool)
    df["mailboxes"] = df[TYPE_COLUMNS].sum(axis=1)
    return df


def search_labels(
    engine: Engine, actor: Actor, departments: Iterable[str] | None
) -> dict[str, str]:
    """FINESS -> « name – commune – FINESS number » for the selection's ESMS, by department then
    name: what a search box offers, so that typing part of any of the three finds the structure.
    One light query (no mailbox counts)."""
    departments = readable_departments(actor, departments)
    e = Establishment
    stmt = (
        select(e.finess_et, e.name, e.city)
        .where(e.is_medico_social.is_(True), in_departments(e.department, departments))
        .order_by(e.department, e.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return {f: f"{name} – {city or 'commune inconnue'} – FINESS {f}" for f, name, city in rows}


def cities(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> list[str]:
    """The communes where the selection has ESMS (for the commune filter)."""
    departments = readable_departments(actor, departments)
    stmt = (
        select(Establishment.city)
        .where(
            Establishment.is_medico_social.is_(True),
            in_departments(Establishment.department, departments),
        )
        .where(Establishment.city.is_not(None))
        .group_by(Establishment.city)
        .order_by(Establishment.city)
    )
    with engine.connect() as conn:
        return [c for (c,) in conn.execute(stmt)]


def establishment(engine: Engine, actor: Actor, finess_et: str) -> dict:
    """Identity of one establishment; NotFoundError if unknown, PermissionDenied if not readable."""
    e = Establishment
    stmt = select(
        e.finess_et, e.finess_ej, e.name, e.long_name, e.address, e.postcode, e.city,
        e.department, e.category_code, e.category_label, e.is_medico_social,
    ).where(e.finess_et == finess_et)  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(f"L'établissement FINESS {finess_et} est inconnu.")
    readable_departments(actor, [row["department"]])
    return dict(row)


def establishment_mailboxes(engine: Engine, actor: Actor, finess_et: str) -> pd.DataFrame:
    """Current mailboxes linked to one establishment, with the date each first appeared."""
    establishment(engine, actor, finess_et)
    stmt = (
        select(Mailbox.address, Mailbox.bal_type, Mailbox.service, Mailbox.link_kind, data_date())
        .select_from(Establishment)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None)))
        .join(Snapshot, Snapshot.id == Mailbox.first_seen)
        .where(Establishment.finess_et == finess_et)
        .order_by(Mailbox.bal_type, Mailbox.address)
    )
    df = frame(engine, stmt, ["address", "bal_type", "service", "link_kind", "first_seen"])
    df["first_seen"] = pd.to_datetime(df["first_seen"])
    return df


def establishment_history(engine: Engine, actor: Actor, finess_et: str) -> pd.DataFrame:
    """Mailboxes linked to one establishment at each directory snapshot of its department."""
    ident = establishment(engine, actor, finess_et)
    stmt = (
        select(Snapshot.id, data_date(), Snapshot.departments, *type_counts())
        .select_from(Snapshot)
        .join(Establishment, Establishment.finess_et == finess_et)
        .outerjoin(Mailbox, and_(links_to_establishment(), valid_at(Snapshot.id)))
        .where(Snapshot.source == DataSource.ANNUAIRE)
        .group_by(Snapshot.id, data_date(), Snapshot.departments)
        .order_by(Snapshot.id)
    )
    df = frame(engine, stmt, ["snapshot_id", "date", "departments", *TYPE_COLUMNS])
    # As booleans: on no directory snapshot yet (FINESS imported first) the map of an empty
    # column is no boolean mask, and df[covers] would pick columns.
    covers = df["departments"].map(lambda d: d == "*" or ident["department"] in d.split(","))
    covers = covers.astype(bool)
    df = df[covers].drop(columns="departments").reset_index(drop=True)
    df["date"] = pd.to_datetime(df["date"])
    df["mailboxes"] = df[TYPE_COLUMNS].sum(axis=1)
    return df
