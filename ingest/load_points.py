"""Writer of where the establishments lie, for what the files leave out or give apart.

The etalab CSV gives its points after every establishment line (``geolocalisation`` section), so
they come in chunks of their own (``Chunk.points``): :func:`collect` keeps them on the way to
``load.load_finess`` and :func:`write_points` sets them once the establishments are written. A
file that gives no point for an establishment keeps the one an earlier ingest stored
(:func:`keep_earlier_points`): a CSV without geolocalisation lines after a FiNESS+ JSON does not
empty the map. Plain SQL that runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import Connection

from ingest.sources.rows import Chunk, EstablishmentPoint
from ingest.staging import insert_rows


def collect(chunks: Iterable[Chunk], points: dict[str, EstablishmentPoint]) -> Iterator[Chunk]:
    """``chunks`` unchanged, their points kept in ``points`` (the first line of a number wins,
    as for the establishments)."""
    for chunk in chunks:
        for point in chunk.points:
            points.setdefault(point.finess_et, point)
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


def write_points(conn: Connection, points: dict[str, EstablishmentPoint]) -> int:
    """Set the file's points on its establishments; returns how many were set."""
    if not points:
        return 0
    on_commit = "" if conn.dialect.name == "sqlite" else " ON COMMIT DROP"
    conn.exec_driver_sql("DROP TABLE IF EXISTS stage_points")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE stage_points (finess_et VARCHAR(9) PRIMARY KEY, latitude FLOAT, "
        f"longitude FLOAT){on_commit}"
    )
    rows = ((p.finess_et, p.latitude, p.longitude) for p in points.values())
    insert_rows(conn, "stage_points", ["finess_et", "latitude", "longitude"], rows)
    return conn.exec_driver_sql(
        "UPDATE establishments SET "
        "latitude = (SELECT sp.latitude FROM stage_points sp "
        "WHERE sp.finess_et = establishments.finess_et), "
        "longitude = (SELECT sp.longitude FROM stage_points sp "
        "WHERE sp.finess_et = establishments.finess_et) "
        "WHERE finess_et IN (SELECT finess_et FROM stage_points)"
    ).rowcount
