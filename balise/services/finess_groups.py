"""FiNESS+ groupings read back: which establishments belong to the same grouping (a GHT, a
cooperation grouping) as a given one. Groupings name their members by the flow's technical ids:
legal entities (``legal_entities.pm_id``) and establishments (``establishments.ege_id``)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, and_, or_, select

from balise.models import Establishment, FinessGroup, FinessGroupMember, LegalEntity
from balise.services.access import Actor, readable_departments
from balise.services.adoption import frame
from balise.services.structures import establishment

GROUP_MATE_COLUMNS = ["group_name", "kind", "finess_et", "name", "category_code", "department"]


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
