"""FiNESS+ groupings read back: which establishments belong to the same grouping (a GHT, a
cooperation grouping) as a given one, and the Programme page's view per grouping (its ESMS, how
many are equipped, their BALs). Groupings name their members by the flow's technical ids: legal
entities (``legal_entities.pm_id``, every ESMS of the entity is then a member) and
establishments (``establishments.ege_id``). Only a national FiNESS+ ingest fills them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, and_, case, func, or_, select
from sqlalchemy.sql import Subquery

from balise.errors import NotFoundError
from balise.models import Establishment, FinessGroup, FinessGroupMember, LegalEntity, Mailbox
from balise.referentials.bal_types import TYPE_COLUMNS
from balise.services.access import Actor, readable_departments
from balise.services.adoption import frame, type_counts
from balise.services.esms_facts import esms_in
from balise.services.links import is_equipped, links_to_establishment, valid_at
from balise.services.organisations import esms_with_bals, organisation_label
from balise.services.structures import establishment

GROUP_MATE_COLUMNS = ["group_name", "kind", "finess_et", "name", "category_code", "department"]
GROUPING_COLUMNS = ["group_id", "kind", "name", "departments", "organisations", "esms",
                    "equipped", "share", *TYPE_COLUMNS, "mailboxes"]  # fmt: skip
KINDS = {"gcc": "Groupement conventionnel (GHT…)", "gco": "Groupement de coopération (GCSMS…)"}


def _members_of() -> list:
    """How a grouping member designates an establishment: by its legal entity or by itself."""
    by_entity = and_(
        FinessGroupMember.pm_id == LegalEntity.pm_id,
        LegalEntity.finess_ej == Establishment.finess_ej,
    )
    return [or_(by_entity, FinessGroupMember.ege_id == Establishment.ege_id)]


def group_mates(engine: Engine, actor: Actor, finess_et: str) -> pd.DataFrame:
    """The other establishments of the groupings ``finess_et`` belongs to, in the departments
    ``actor`` may read (NotFoundError / PermissionDenied as for the establishment itself)."""
    establishment(engine, actor, finess_et)
    mine = (
        select(FinessGroupMember.group_id)
        .select_from(Establishment)
        .join(LegalEntity, LegalEntity.finess_ej == Establishment.finess_ej, isouter=True)
        .join(FinessGroupMember, *_members_of())
        .where(Establishment.finess_et == finess_et)
    )
    e = Establishment
    stmt = (
        select(
            FinessGroup.name, FinessGroup.kind, e.finess_et, e.name, e.category_code, e.department
        )  # fmt: skip
        .select_from(FinessGroupMember)
        .join(FinessGroup, FinessGroup.group_id == FinessGroupMember.group_id)
        .join(LegalEntity, LegalEntity.pm_id == FinessGroupMember.pm_id, isouter=True)
        .join(e, *_members_of())
        .where(FinessGroupMember.group_id.in_(mine), e.finess_et != finess_et)
        .distinct()
        .order_by(FinessGroup.name, e.finess_et)
    )
    departments = readable_departments(actor, None)
    if departments is not None:
        stmt = stmt.where(e.department.in_(departments))
    return frame(engine, stmt, GROUP_MATE_COLUMNS)


def _grouped_esms(departments: tuple[str, ...] | None) -> Subquery:
    """(group_id, finess_et): each ESMS of ``departments`` a grouping holds, once (a member by
    its legal entity and by itself is one ESMS)."""
    e = Establishment
    return (
        select(FinessGroupMember.group_id, e.finess_et)
        .select_from(FinessGroupMember)
        .join(LegalEntity, LegalEntity.pm_id == FinessGroupMember.pm_id, isouter=True)
        .join(e, *_members_of())
        .where(*esms_in(departments))
        .distinct()
        .subquery()
    )


def groupings(engine: Engine, actor: Actor, departments: Iterable[str] | None) -> pd.DataFrame:
    """One row per grouping holding ESMS of the selection (only those counted): kind, name,
    departments, names of the organisations, ESMS, equipped, share (0-100), current BALs per
    type (a BAL linked to several of its ESMS counted once)."""
    departments = readable_departments(actor, departments)
    pairs, e, g = _grouped_esms(departments), Establishment, FinessGroup
    in_group = e.finess_et == pairs.c.finess_et
    equipped = func.sum(case((is_equipped(), 1), else_=0))
    counts = frame(
        engine,
        select(g.group_id, g.kind, g.name, func.count(), equipped)
        .join(pairs, pairs.c.group_id == g.group_id).join(e, in_group)
        .group_by(g.group_id, g.kind, g.name),
        ["group_id", "kind", "name", "esms", "equipped"],
    )  # fmt: skip
    mix = frame(
        engine,
        select(pairs.c.group_id, *type_counts()).join(e, in_group)
        .join(Mailbox, and_(links_to_establishment(), valid_at(None))).group_by(pairs.c.group_id),
        ["group_id", *TYPE_COLUMNS],
    )  # fmt: skip
    members = frame(
        engine,
        select(pairs.c.group_id, e.department, e.finess_ej, LegalEntity.name).join(e, in_group)
        .outerjoin(LegalEntity, LegalEntity.finess_ej == e.finess_ej).distinct(),
        ["group_id", "department", "finess_ej", "ej_name"],
    )  # fmt: skip
    df = counts.merge(mix, on="group_id", how="left").merge(_listed(members), on="group_id")
    df[TYPE_COLUMNS] = df[TYPE_COLUMNS].fillna(0).astype(int)
    df["equipped"] = df["equipped"].fillna(0).astype(int)
    df["mailboxes"] = df[TYPE_COLUMNS].sum(axis=1)
    df["share"] = 100.0 * df["equipped"] / df["esms"]
    df = df.sort_values(["esms", "group_id"], ascending=[False, True], ignore_index=True)
    return df[GROUPING_COLUMNS]


def _listed(members: pd.DataFrame) -> pd.DataFrame:
    """Per grouping: its departments « 38, 69 » and its organisations « NAME (EJ n) ; … »."""
    members = members.assign(
        label=[organisation_label(ej, name) if ej else ""
               for ej, name in zip(members["finess_ej"], members["ej_name"], strict=True)]
    )  # fmt: skip
    out = members.groupby("group_id").agg(
        departments=("department", lambda d: ", ".join(sorted(set(d)))),
        organisations=("label", lambda n: " ; ".join(sorted({x for x in n if x}))),
    )
    return out.reset_index()


def grouping_esms(engine: Engine, actor: Actor, group_id: str) -> pd.DataFrame:
    """The ESMS of one grouping that the actor may read, with their organisation, whether they
    are equipped and their BALs (``organisations.esms_with_bals``)."""
    departments = readable_departments(actor, None)
    pairs = _grouped_esms(departments)
    held = select(pairs.c.finess_et).where(pairs.c.group_id == group_id)
    df = esms_with_bals(engine, (Establishment.finess_et.in_(held),))
    if df.empty:
        raise NotFoundError(f"Aucun ESMS lisible pour le groupement FiNESS+ {group_id}.")
    return df
