"""Writer of where the establishments lie, for what the files leave out or give apart.

The etalab CSV gives its points after every establishment line (``geolocalisation`` section), so
they come in chunks of their own (``Chunk.points`` from the line reader, ``Chunk.point_columns``
from the bulk path): :func:`collect` keeps them, as Arrow columns, on the way to
``ingest.load.finess``; once the file is read, :func:`stage_points` puts one per number where SQL
can join them, and :func:`select_with_points` gives the establishments with their points, to be
inserted in one pass (no UPDATE of every row afterwards). A file that gives no point for an
establishment keeps the one an earlier ingest stored (:func:`keep_earlier_points`): a CSV without
geolocalisation lines after a FiNESS+ JSON does not empty the map. Plain SQL that runs the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection

from ingest.sources.finess_keys import finess_keys
from ingest.sources.rows import POINT_SCHEMA, Chunk, EstablishmentPoint
from ingest.staging import Stage, index_stage, stage_batches

POINT_TYPES = {"finess_et": "VARCHAR(9)", "latitude": "FLOAT", "longitude": "FLOAT"}
_POINT_COLUMNS = ("latitude", "longitude")


class Points:
    """The points of a file, kept compact (Arrow arrays, not a Python object per point: a
    national file has a hundred thousand) until the establishments are written."""

    def __init__(self) -> None:
        self._batches: list[pa.RecordBatch] = []

    def add(self, points: list[EstablishmentPoint]) -> None:
        """Points of the line reader."""
        if points:
            columns = zip(*points, strict=True)
            self._batches.append(pa.RecordBatch.from_arrays(
                [pa.array(c, f.type) for c, f in zip(columns, POINT_SCHEMA, strict=True)],
                schema=POINT_SCHEMA,
            ))  # fmt: skip

    def add_columns(self, points: pa.RecordBatch | None) -> None:
        """Points of the bulk path (``POINT_SCHEMA``)."""
        if points is not None and points.num_rows:
            self._batches.append(points)

    def first_of_each(self) -> pa.Table:
        """One point per number: its first line's (as for the establishments)."""
        table = pa.Table.from_batches(self._batches, POINT_SCHEMA).sort_by("line")
        _, first = np.unique(finess_keys(table.column("finess_et")), return_index=True)
        return table.take(first).drop_columns("line")


def collect(chunks: Iterable[Chunk], points: Points) -> Iterator[Chunk]:
    """``chunks`` unchanged, their points kept in ``points``."""
    for chunk in chunks:
        points.add(chunk.points)
        points.add_columns(chunk.point_columns)
        yield chunk


def stage_points(conn: Connection, points: Points) -> Stage | None:
    """The file's points, one per number, staged and indexed on the number; None when the file
    gave none (a FiNESS+ flow, a CSV without geolocalisation lines)."""
    table = points.first_of_each().combine_chunks()
    if not table.num_rows:
        return None
    stage = stage_batches(conn, "stage_points", iter(table.to_batches()), POINT_TYPES)
    index_stage(conn, stage, "finess_et")
    return stage


def select_with_points(columns: list[str], source: str, points: Stage | None) -> str:
    """A SELECT of ``columns`` from table ``source`` (rows with a ``finess_et``), where a point
    staged for the number replaces the row's ``latitude`` and ``longitude``."""
    if points is None:
        return f"SELECT {', '.join(columns)} FROM {source}"
    picked = [
        f"COALESCE(p.{c}, s.{c})" if c in _POINT_COLUMNS else f"s.{c}" for c in columns
    ]  # a staged point has both coordinates
    return (
        f"SELECT {', '.join(picked)} FROM {source} s "
        f"LEFT JOIN {points.table} p ON p.finess_et = s.finess_et"
    )


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
