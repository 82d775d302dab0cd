"""What the store holds and how fresh it is: the latest snapshot of each source, the list of
directory snapshots (for the trend and the « Évolutions » comparison), and which departments the
directory had covered at a given snapshot.

An import may cover a few departments only (``--departments 38``). A department outside it keeps
its last imported state: its mailbox versions stay valid (``valid_to`` is only set for the
departments an import covers), so "the directory at snapshot S" is, for each department, its
latest import at or before S. A department no import had covered yet at S has no state there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, func, select

from balise.models.tables import snapshots
from balise.referentials.lifecycles import DataSource
from balise.services.queries import frame

if TYPE_CHECKING:  # pandas loads with the pages' reads, not with an ingest
    import pandas as pd

EVERY_DEPARTMENT = "*"


def data_date():
    """The date a snapshot describes: the producer's generation time, else the ingest time."""
    return func.coalesce(snapshots.c.generated_at, snapshots.c.ingested_at)


def latest_by_source(engine: Engine) -> pd.DataFrame:
    """One row per source with its latest snapshot: id, date, file name, demo flag."""
    latest = select(func.max(snapshots.c.id)).group_by(snapshots.c.source).scalar_subquery()
    stmt = (
        select(
            snapshots.c.source,
            snapshots.c.id,
            data_date(),
            snapshots.c.file_name,
            snapshots.c.is_demo,
        )
        .where(snapshots.c.id.in_(latest))
        .order_by(snapshots.c.source)
    )
    import pandas as pd

    df = frame(engine, stmt, ["source", "snapshot_id", "date", "file_name", "is_demo"])
    df["date"] = pd.to_datetime(df["date"])
    df["is_demo"] = df["is_demo"].astype(bool)
    return df


def directory_snapshots(engine: Engine) -> pd.DataFrame:
    """The directory's states worth comparing, oldest first: one per data day, the last import
    of that day (id, date, departments it covered). Importing one department again, or the
    departments of one extract one by one, adds no day: the day's last import carries every
    department's latest state."""
    stmt = (
        select(snapshots.c.id, data_date(), snapshots.c.departments)
        .where(snapshots.c.source == DataSource.ANNUAIRE)
        .order_by(snapshots.c.id)
    )
    import pandas as pd

    df = frame(engine, stmt, ["snapshot_id", "date", "departments"])
    df["date"] = pd.to_datetime(df["date"])
    return last_of_each_day(df)


def last_of_each_day(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``df`` (ordered by ``snapshot_id``, with a ``date``) that are the last of
    their calendar day."""
    day = df["date"].dt.normalize()
    return df[~day.duplicated(keep="last")].reset_index(drop=True)


def covered_departments(conn: Connection, upto: int) -> tuple[str, ...] | None:
    """The departments some directory import up to snapshot ``upto`` covered (None: every
    department, once an import covered them all)."""
    rows = conn.scalars(
        select(snapshots.c.departments)
        .distinct()
        .where(snapshots.c.source == DataSource.ANNUAIRE, snapshots.c.id <= upto)
    ).all()
    if EVERY_DEPARTMENT in rows:
        return None
    return tuple(sorted({d for row in rows for d in row.split(",") if d}))


def known_departments(
    engine: Engine, upto: int, wanted: tuple[str, ...] | None
) -> tuple[str, ...] | None:
    """``wanted`` (None: all) narrowed to the departments the directory had covered at
    ``upto``: the others have no state to compare with yet."""
    with engine.connect() as conn:
        covered = covered_departments(conn, upto)
    if covered is None:
        return wanted
    if wanted is None:
        return covered
    return tuple(d for d in wanted if d in covered)


def data_version(engine: Engine) -> int:
    """The newest snapshot id (0 when empty): dashboard caches key on it, so that a new ingest
    shows at the next rerun without clearing anything by hand."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(snapshots.c.id), 0))).scalar_one())
