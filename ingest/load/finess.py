"""The FINESS ingest: the establishments of the selected departments replaced by the file's
(with what a FiNESS+ flow adds, ``finess_plus``, and the etalab CSV's points, ``points``), the
current mailboxes relinked to them and the latest directory snapshot's adoption figures
recomputed, in the caller's transaction. What the replacement would close in each department
is counted for the deletion gate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, text

from balise.models.tables import establishments
from balise.referentials.categories import medico_social_codes
from balise.services.snapshots import covered_departments
from ingest.load import finess_plus, points
from ingest.load.adoption import freeze_adoption
from ingest.load.bulk import indexes_dropped, on_commit_drop, refresh_statistics
from ingest.load.finess_links import relink_mailboxes
from ingest.load.snapshots import (
    LoadResult,
    SnapshotMeta,
    count_drops,
    latest_directory_snapshot,
    open_snapshot,
    scope_sql,
)
from ingest.sources.finess_keys import FirstSeen
from ingest.sources.rows import Chunk
from ingest.staging import stage_batches

ESTABLISHMENT_COLUMNS = [
    ("finess_et", "VARCHAR(9)"),
    ("finess_ej", "VARCHAR(9)"),
    ("name", "VARCHAR(255)"),
    ("long_name", "VARCHAR(255)"),
    ("address", "VARCHAR(255)"),
    ("postcode", "VARCHAR(10)"),
    ("city", "VARCHAR(128)"),
    ("commune_code", "VARCHAR(5)"),
    ("department", "VARCHAR(3)"),
    ("category_code", "VARCHAR(4)"),
    ("category_label", "VARCHAR(255)"),
    ("siret", "VARCHAR(14)"),
    ("opened_on", "DATE"),
    ("luhn_ok", "BOOLEAN"),
    ("latitude", "FLOAT"),  # FiNESS+ (the etalab CSV's points are joined in: ``points``)
    ("longitude", "FLOAT"),
    ("ege_id", "VARCHAR(20)"),
]
# An establishment as staged or inserted: the file's columns, then what the writer derives.
ESTABLISHMENT_ROW = [c for c, _ in ESTABLISHMENT_COLUMNS] + ["is_medico_social", "snapshot_id"]
ROW_TYPES = dict(ESTABLISHMENT_COLUMNS) | {"is_medico_social": "BOOLEAN", "snapshot_id": "INTEGER"}
STAGE = "stage_establishments"
FILE_STAGE = "stage_file_establishments"  # the file's rows as read (PostgreSQL; SQLite: scratch)


def load_finess(conn: Connection, meta: SnapshotMeta, chunks: Iterable[Chunk]) -> LoadResult:
    """Replace the establishments of the selected departments with the file's (and, from a
    FiNESS+ file, its legal entities, inactive establishments and groupings)."""
    result = LoadResult(snapshot_id=open_snapshot(conn, meta))
    extras, found = finess_plus.Extras(), points.Points()
    tapped = points.collect(finess_plus.collect(chunks, extras), found)
    staged = stage_batches(conn, FILE_STAGE, _new_establishments(result, tapped), ROW_TYPES)
    # The whole file is read: its points go in with the establishments.
    rows = points.select_with_points(
        ESTABLISHMENT_ROW, staged.table, points.stage_points(conn, found)
    )
    if conn.exec_driver_sql("SELECT 1 FROM establishments LIMIT 1").first() is None:
        with indexes_dropped(conn, establishments):
            result.created = _insert(conn, "establishments", rows)
    else:
        _replace_establishments(conn, result, meta.departments, rows)
    finess_plus.write_extras(conn, extras, result.snapshot_id, meta.departments)
    refresh_statistics(conn, "establishments")
    relink_mailboxes(conn)
    latest = latest_directory_snapshot(conn)
    if latest is not None:
        freeze_adoption(conn, latest, covered_departments(conn, latest), replace=True)
    return result


def _insert(conn: Connection, table: str, rows: str) -> int:
    return conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(ESTABLISHMENT_ROW)}) {rows}"
    ).rowcount


def _new_establishments(result: LoadResult, chunks: Iterable[Chunk]) -> Iterator[pa.RecordBatch]:
    """The first line of each FINESS number (``ESTABLISHMENT_ROW``), flagged médico-social or
    not; rejected rows go to the reject log. ``result.kept`` ends as the number of distinct
    numbers."""
    medico_social = pa.array(sorted(medico_social_codes()), pa.string())
    seen = FirstSeen()
    for chunk in chunks:
        for rejected in chunk.rejected:
            result.rejects.add(rejected)
        rows = chunk.rows
        result.offered += rows.num_rows
        rows = rows.filter(pa.array(seen.first(rows.column("finess_et"))))
        _note_wrong_keys(result, rows)
        arrays = [rows.column(c) for c, _ in ESTABLISHMENT_COLUMNS]
        # Dates as ISO text: what SQLAlchemy's Date reads back on SQLite, and COPY accepts.
        arrays[ESTABLISHMENT_ROW.index("opened_on")] = pc.cast(
            rows.column("opened_on"), pa.string()
        )
        arrays += [
            pc.is_in(rows.column("category_code"), medico_social),
            pa.array(np.full(rows.num_rows, result.snapshot_id, dtype=np.int64)),
        ]
        yield pa.RecordBatch.from_arrays(arrays, names=ESTABLISHMENT_ROW)
    result.kept = len(seen.keys)


def _note_wrong_keys(result: LoadResult, rows: pa.RecordBatch) -> None:
    """Count the kept numbers whose Luhn key is wrong, keep the first three as examples."""
    wrong = rows.column("finess_et").filter(pc.invert(rows.column("luhn_ok")))
    room = max(0, 3 - len(result.wrong_key_examples))
    result.wrong_key_examples += wrong.slice(0, room).to_pylist()
    result.wrong_keys += len(wrong)


def _replace_establishments(
    conn: Connection, result: LoadResult, departments: tuple[str, ...] | None, rows: str
) -> None:
    """Stage the file's establishments (``rows``: a SELECT of them), count what goes per
    department, then swap: the selected departments' rows and the file's numbers out, the
    staged rows in."""
    _stage(conn, rows)
    points.keep_earlier_points(conn)
    scope, params = scope_sql(departments, "e.department")
    closing = Counter(
        dict(
            conn.execute(
                text(
                    f"SELECT e.department, count(*) FROM establishments e WHERE {scope} AND NOT "
                    f"EXISTS (SELECT 1 FROM {STAGE} st WHERE st.finess_et = e.finess_et) "
                    "GROUP BY e.department"
                ),
                params,
            ).all()
        )
    )
    result.removed = closing.total()
    result.drops = count_drops(conn, "establishments", "1 = 1", closing, after=False)
    result.created = conn.exec_driver_sql(
        f"SELECT count(*) FROM {STAGE} st WHERE NOT EXISTS "
        "(SELECT 1 FROM establishments e WHERE e.finess_et = st.finess_et)"
    ).scalar_one()
    if departments is None:  # every row goes: SQLite then drops whole pages (six times faster)
        conn.exec_driver_sql("DELETE FROM establishments")
    else:
        conn.execute(
            text(
                f"DELETE FROM establishments WHERE finess_et IN (SELECT e.finess_et FROM "
                f"establishments e WHERE {scope}) OR finess_et IN (SELECT finess_et FROM {STAGE})"
            ),
            params,
        )
    names = ", ".join(ESTABLISHMENT_ROW)
    conn.exec_driver_sql(f"INSERT INTO establishments ({names}) SELECT {names} FROM {STAGE}")


def _stage(conn: Connection, rows: str) -> None:
    """The file's establishments in a temporary table indexed on their number."""
    cols = ", ".join(f"{c} {t}" for c, t in ROW_TYPES.items())
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {STAGE}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGE} ({cols}){on_commit_drop(conn)}")
    _insert(conn, STAGE, rows)
    conn.exec_driver_sql(f"CREATE INDEX ix_{STAGE} ON {STAGE} (finess_et)")
