"""The points of the Département page's map: each ESMS of the selection where FINESS places it
(the FiNESS+ coordinates the ingest checked, ``ingest.sources.finess_geo``), equipped or not.

A point is drawn only inside the box of its department's territory
(``data/emprises_territoires.csv``): a coordinate the store holds but that lies elsewhere (a
row written by hand, an older ingest) is counted with the missing ones, never drawn in the sea.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine, case, func, select

from balise.models import Establishment
from balise.referentials.territories import box_of_department
from balise.services.access import Actor, readable_departments
from balise.services.links import is_equipped
from balise.services.queries import frame, in_departments
from balise.services.structures import StructureFilter, structure_conditions

POINT_COLUMNS = ["finess_et", "name", "category_code", "city", "department", "equipped",
                 "latitude", "longitude"]  # fmt: skip


@dataclass(frozen=True)
class StructurePoints:
    """``points``: one row per placed ESMS (``POINT_COLUMNS``); ``unplaced``: how many ESMS of
    the same selection have no usable coordinates."""

    points: pd.DataFrame
    unplaced: int


def _in_territory(points: pd.DataFrame) -> pd.Series:
    def fits(row) -> bool:
        box = box_of_department(row.department)
        return box is not None and box.holds(row.latitude, row.longitude)

    if points.empty:
        return pd.Series([], dtype=bool)
    return pd.Series([fits(r) for r in points.itertuples()], index=points.index)


def structure_points(
    engine: Engine,
    actor: Actor,
    departments: Iterable[str] | None,
    flt: StructureFilter | None = None,
) -> StructurePoints:
    """The ESMS of ``departments`` (readable by ``actor``, filtered as the page's list) with
    coordinates, and the count of those without."""
    departments = readable_departments(actor, departments)
    e = Establishment
    scope = (e.is_medico_social.is_(True), in_departments(e.department, departments),
             *structure_conditions(flt or StructureFilter()))  # fmt: skip
    located = e.latitude.is_not(None) & e.longitude.is_not(None)
    with engine.connect() as conn:
        missing = conn.scalar(select(func.count()).where(*scope, ~located)) or 0
    df = frame(
        engine,
        select(e.finess_et, e.name, e.category_code, e.city, e.department,
               case((is_equipped(), True), else_=False), e.latitude, e.longitude)
        .where(*scope, located).order_by(e.department, e.name),
        POINT_COLUMNS,
    )  # fmt: skip
    df["equipped"] = df["equipped"].astype(bool)
    inside = _in_territory(df)
    placed = df[inside].reset_index(drop=True)
    return StructurePoints(placed, int(missing) + int((~inside).sum()))
