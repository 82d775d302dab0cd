"""Writer of where the establishments lie, for what the files leave out or give apart.

The etalab CSV gives its points after every establishment line (``geolocalisation`` section), so
they come in chunks of their own (``Chunk.points``): :func:`collect` keeps them on the way to
``ingest.load.finess`` and :func:`write_points` sets them once the establishments are written. A
file that gives no point for an establishment keeps the one an earlier ingest stored
(:func:`keep_earlier_points`): a CSV without geolocalisation lines after a FiNESS+ JSON does not
empty the map. Plain SQL that runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection

from ingest.sources.rows import Chunk, EstablishmentPoint
from ingest.staging import insert_rows


class Points:
    """The points of a file, kept compact (Arrow arrays, not a Python object per point: a
    national file has a hundred thousand) until the establishments are written."""

    def __init__(self) -> None:
        self._batches: list[pa.RecordBatch] = []

    def add(self, points: list[EstablishmentPoint]) -> None:
        if points:
            columns = zip(*points, strict=True)
            self._batches.append(pa.RecordBatch.from_arrays(
                [pa.array(c, t) for c, t in zip(columns, _TYPES, strict=True)], names=_NAMES
            ))  # fmt: skip

    def first_of_each(self) -> pa.Table:
        """One point per number: its first line's (as for the establishments)."""
        table = pa.Table.from_batches(self._batches, _SCHEMA)
        table = table.sort_by("line")
        _, first = np.unique(table.column("finess_et").to_numpy(), return_index=True)
        return table.take(pa.array(first)).drop_columns("line")


_NAMES = list(EstablishmentPoint._fields)
_TYPES = [pa.int64(), pa.string(), pa.float64(), pa.float64()]
_SCHEMA = pa.schema(list(zip(_NAMES, _TYPES, strict=True)))


def collect(chunks: Iterable[Chunk], points: Points) -> Iterator[Chunk]:
    """``chunks`` unchanged, their points kept in ``points``."""
    for chunk in chunks:
        points.add(chunk.points)
        yield chunk


def keep_earlier_points(conn: Connection) -> None:
    """Establishments staged (``stage_establishments``) without a point take the one stored
    for the same number."""
    conn.exec_driver_sql(
        "UPDATE stage_establishments SET "
        "latitude = (SELECT e.latitude FROM establishments e "
        "WHERE e.finess_et = stage_establishments.finess_et), "
        "longitude = (SELECT e.longitude FROM establishments e "
        "WHERE e.finess_et = stage_establishments.finess_et) "
        "WHERE latitude IS NULL AND EXISTS (SELECT 1 FROM establishments e WHERE "
        "e.finess_et = stage_establishments.finess_et AND e.latitude IS NOT NULL)"
    )


def write_points(conn: Connection, points: Points) -> int:
    """Set the file's points on its establishments; returns how many were set."""
    table = points.first_of_each()
    if not table.num_rows:
        return 0
    on_commit = "" if conn.dialect.name == "sqlite" else " ON COMMIT DROP"
    conn.exec_driver_sql("DROP TABLE IF EXISTS stage_points")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE stage_points (finess_et VARCHAR(9) PRIMARY KEY, latitude FLOAT, "
        f"longitude FLOAT){on_commit}"
    )
    rows = zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True)
    insert_rows(conn, "stage_points", ["finess_et", "latitude", "longitude"], rows)
    return conn.exec_driver_sql(
        "UPDATE establishments SET "
        "latitude = (SELECT sp.latitude FROM stage_points sp "
        "WHERE sp.finess_et = establishments.finess_et), "
        "longitude = (SELECT sp.longitude FROM stage_points sp "
        "WHERE sp.finess_et = establishments.finess_et) "
        "WHERE finess_et IN (SELECT finess_et FROM stage_points)"
    ).rowcount
