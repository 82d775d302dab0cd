"""Building blocks shared by the read queries: run a statement into a small DataFrame, filter on
a selection of departments. pandas is imported only when a frame is built, so that commands
which print rows (``balise mailbox list``) start without it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement

if TYPE_CHECKING:
    import pandas as pd


def rows(engine: Engine, stmt: Select) -> list[dict]:
    """Run ``stmt`` and return its rows as dicts keyed by the selected columns' names."""
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def frame(engine: Engine, stmt: Select, columns: Sequence[str]) -> pd.DataFrame:
    """Run ``stmt`` and return its rows under ``columns`` (the statement's column order)."""
    import pandas as pd

    with engine.connect() as conn:
        found = conn.execute(stmt).all()
    return pd.DataFrame([tuple(r) for r in found], columns=list(columns))


def in_departments(column, departments: tuple[str, ...] | None) -> ColumnElement[bool]:
    """``column IN departments``, or always true when every department is wanted."""
    if departments is None:
        return column.is_not(None)
    return column.in_(departments)
