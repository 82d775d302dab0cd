"""What the store holds and how fresh it is: the latest snapshot of each source, the list of
directory snapshots (for the trend and the « Évolutions » comparison)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine, func, select

from balise.models import Snapshot
from balise.services.queries import frame

SOURCES = ("annuaire", "finess")


def data_date():
    """The date a snapshot describes: the producer's generation time, else the ingest time."""
    return func.coalesce(Snapshot.generated_at, Snapshot.ingested_at)


def latest_by_source(engine: Engine) -> pd.DataFrame:
    """One row per source with its latest snapshot: id, date, file name, demo flag."""
    latest = select(func.max(Snapshot.id)).group_by(Snapshot.source).scalar_subquery()
    stmt = (
        select(Snapshot.source, Snapshot.id, data_date(), Snapshot.file_name, Snapshot.is_demo)
        .where(Snapshot.id.in_(latest))
        .order_by(Snapshot.source)
    )
    df = frame(engine, stmt, ["source", "snapshot_id", "date", "file_name", "is_demo"])
    df["date"] = pd.to_datetime(df["date"])
    df["is_demo"] = df["is_demo"].astype(bool)
    return df


def directory_snapshots(engine: Engine) -> pd.DataFrame:
    """Every directory snapshot, oldest first: id, date, departments covered."""
    stmt = (
        select(Snapshot.id, data_date(), Snapshot.departments)
        .where(Snapshot.source == "annuaire")
        .order_by(Snapshot.id)
    )
    df = frame(engine, stmt, ["snapshot_id", "date", "departments"])
    df["date"] = pd.to_datetime(df["date"])
    return df


def data_version(engine: Engine) -> int:
    """The newest snapshot id (0 when empty): dashboard caches key on it, so that a new ingest
    shows at the next rerun without clearing anything by hand."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(Snapshot.id), 0))).scalar_one())
