"""The directory ingest: the file's rows as new mailbox versions, diffed set-wise against the
current ones (in the caller's transaction). Removed and changed versions close, created and
changed ones open, linked to FINESS (``finess_links``); then the adoption figures of the snapshot
are frozen (``adoption``). An import of some departments only closes versions of those
departments: the others keep their current versions, hence their last imported state. What an
import would close in each department is counted for the deletion gate (``ingest.gate``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, text

from balise.models import Mailbox
from balise.services.snapshots import covered_departments
from ingest.load.adoption import freeze_adoption
from ingest.load.bulk import indexes_dropped, on_commit_drop, refresh_statistics
from ingest.load.finess_links import FinessNumbers, finess_numbers
from ingest.load.repeats import RepeatFinder
from ingest.load.snapshots import LoadResult, SnapshotMeta, count_drops, open_snapshot, scope_sql
from ingest.sources.rows import Chunk
from ingest.staging import Stage, copy_batches, index_stage, indexed_by, stage_batches

MAILBOX_COLUMNS = [
    ("address", "VARCHAR(255)"),
    ("bal_type", "VARCHAR(3)"),
    ("department", "VARCHAR(3)"),
    ("structure_id_type", "VARCHAR(2)"),
    ("structure_id", "VARCHAR(20)"),
    ("service", "VARCHAR(255)"),
    ("profession_code", "VARCHAR(8)"),
    ("structure_name", "VARCHAR(255)"),
    ("postcode", "VARCHAR(10)"),
    ("dematerialisation", "VARCHAR(1)"),
]
# Attributes whose change makes a new version (everything the file says about a mailbox).
VERSIONED = [c for c, _ in MAILBOX_COLUMNS if c != "address"]
# A new version as staged or inserted: the file's columns, then what the writer derives.
VERSION_COLUMNS = [c for c, _ in MAILBOX_COLUMNS] + ["link_kind", "first_seen", "valid_from"]


def load_directory(conn: Connection, meta: SnapshotMeta, chunks: Iterable[Chunk]) -> LoadResult:
    """Version the directory rows as snapshot ``meta`` (inside the caller's transaction)."""
    result = LoadResult(snapshot_id=open_snapshot(conn, meta))
    versions = _new_versions(result, chunks, finess_numbers(conn))
    has_current = conn.exec_driver_sql(
        "SELECT 1 FROM mailboxes WHERE valid_to IS NULL LIMIT 1"
    ).first()
    if has_current:
        stage = _stage(conn, result, versions)
        _close_removed(conn, result, meta.departments, stage)
        _open_new_and_changed(conn, result, stage)
    else:
        _insert_first(conn, result, versions)
    refresh_statistics(conn, "mailboxes")
    freeze_adoption(conn, result.snapshot_id, covered_departments(conn, result.snapshot_id))
    return result


def _insert_first(conn: Connection, result: LoadResult, versions: Iterator[pa.RecordBatch]) -> None:
    """Nothing to diff against: every row is a new version, written straight into
    ``mailboxes`` whose indexes are built once at the end (maintaining them row by row costs
    about three times as much). Ids follow the file's order, so the first line of a repeated
    address is the one with the smallest id."""
    repeats = RepeatFinder("address")
    with indexes_dropped(conn, Mailbox.__table__):
        batches = (b.drop_columns("line") for b in versions)
        written = copy_batches(conn, Mailbox.__table__, batches, repeats.see)
    among = ("id", repeats.candidates) if repeats.rows == written else None  # all seen: SQLite
    dropped = _drop_repeats(conn, "mailboxes", "id", current_only=True, among=among)
    result.kept = written - dropped
    result.created = result.kept


def _new_versions(
    result: LoadResult, chunks: Iterable[Chunk], numbers: FinessNumbers
) -> Iterator[pa.RecordBatch]:
    """Every accepted row as a new version (``line`` + ``VERSION_COLUMNS``), linked to FINESS
    (``numbers``); rejected rows go to the reject log. Repeated addresses are removed once written
    (``_drop_repeats``)."""
    for chunk in chunks:
        for rejected in chunk.rejected:
            result.rejects.add(rejected)
        rows = chunk.rows
        result.offered += rows.num_rows
        repeat = pa.array(np.full(rows.num_rows, result.snapshot_id, dtype=np.int64))
        arrays = [rows.column("line")] + [rows.column(c) for c, _ in MAILBOX_COLUMNS]
        arrays += [numbers.link_kinds(rows.column("structure_id")), repeat, repeat]
        yield pa.RecordBatch.from_arrays(arrays, names=["line", *VERSION_COLUMNS])


def _drop_repeats(
    conn: Connection,
    table: str,
    order: str,
    current_only: bool = False,
    among: tuple[str, list[int]] | None = None,
) -> int:
    """Delete the later rows of each address repeated in ``table`` (current versions only, with
    ``current_only``), keeping the smallest ``order``; returns how many went. ``among``: a
    column of integers and its values for the rows that may repeat an address (candidates of a
    ``RepeatFinder``, a superset of the repeats): only those rows are checked. Else SQL groups
    the addresses on their index, in one pass (0.12 s for the national directory)."""
    where = "{t}.valid_to IS NULL AND " if current_only else ""
    mine, other = where.format(t=table), where.format(t="o")
    later = (
        f"{order} > (SELECT min(o.{order}) FROM {table} o WHERE {other}o.address = {table}.address)"
    )
    if among is None:
        repeated = (
            f"SELECT address FROM {table} WHERE {mine}1 = 1 GROUP BY address HAVING count(*) > 1"
        )
        return conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {mine}address IN ({repeated}) AND {later}"
        ).rowcount
    column, values = among
    dropped = 0
    for at in range(0, len(values), _IDS_PER_STATEMENT):
        part = ",".join(str(int(v)) for v in values[at : at + _IDS_PER_STATEMENT])
        dropped += conn.exec_driver_sql(
            f"DELETE FROM {table} WHERE {mine}{column} IN ({part}) AND {later}"
        ).rowcount
    return dropped


_IDS_PER_STATEMENT = 10_000


def _stage(conn: Connection, result: LoadResult, versions: Iterator[pa.RecordBatch]) -> Stage:
    """The new file's versions staged, indexed on the address, one per address."""
    types = {"line": "INTEGER"} | dict(MAILBOX_COLUMNS) | {
        "link_kind": "VARCHAR(2)", "first_seen": "INTEGER", "valid_from": "INTEGER",
    }  # fmt: skip
    for name in ("stage_diff", "stage_current"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    repeats = RepeatFinder("address", ids=None)  # positions: the scratch table's rowids
    stage = stage_batches(conn, "stage_mailboxes", versions, types, repeats.see)
    index_stage(conn, stage, "address")
    among = ("rowid", repeats.candidates) if stage.scratch else None
    result.kept = stage.rows - _drop_repeats(conn, stage.table, "line", among=among)
    return stage


def _close_removed(
    conn: Connection, result: LoadResult, departments: tuple[str, ...] | None, stage: Stage
) -> None:
    """Close the current versions of the selected departments that the staged file (table
    ``stage``) no longer has, counting them per department for the gate."""
    scope, params = scope_sql(departments, "m.department")
    closed = conn.execute(
        text(
            "UPDATE mailboxes SET valid_to = :s WHERE id IN (SELECT m.id FROM mailboxes m "
            f"WHERE m.valid_to IS NULL AND {scope} AND NOT EXISTS "
            f"(SELECT 1 FROM {stage.table} st WHERE st.address = m.address)) RETURNING department"
        ),
        {"s": result.snapshot_id, **params},
    ).scalars()
    closing = Counter(closed)
    result.removed = closing.total()
    result.drops = count_drops(conn, "mailboxes", "valid_to IS NULL", closing, after=True)


def _open_new_and_changed(conn: Connection, result: LoadResult, stage: Stage) -> None:
    """Close the changed versions and open the new and changed ones, set-wise: one pass over
    the staged rows keeps the new and the changed ones, with their old version."""
    differs = " OR ".join(f"m.{c} IS DISTINCT FROM st.{c}" for c in VERSIONED)
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE stage_diff{on_commit_drop(conn)} AS SELECT st.*, m.id AS old_id, "
        f"m.first_seen AS old_first_seen FROM {_with_current_versions(conn, stage)} "
        f"WHERE m.id IS NULL OR {differs}"
    )
    result.changed = conn.execute(
        text(
            "UPDATE mailboxes SET valid_to = :s WHERE id IN "
            "(SELECT old_id FROM stage_diff WHERE old_id IS NOT NULL)"
        ),
        {"s": result.snapshot_id},
    ).rowcount
    cols = ", ".join(VERSION_COLUMNS[:-2])
    inserted = conn.exec_driver_sql(
        f"INSERT INTO mailboxes ({cols}, first_seen, valid_from) "
        f"SELECT {cols}, coalesce(old_first_seen, first_seen), valid_from FROM stage_diff"
    ).rowcount
    result.created = inserted - result.changed


def _with_current_versions(conn: Connection, stage: Stage) -> str:
    """The staged rows ``st`` and their current version ``m`` (if any), as a FROM clause.

    SQLite (a scratch stage) looks the addresses up in address order first, both indexes read
    in step, and keeps each staged row's current version in a table in the stage's order; the
    rows are then compared in that order, which is also about the order of their current
    versions (both follow the file). Looking each staged row's address up in file order
    reads the address index at random: three times as long on the national directory
    (1.5 s, more with 16 KB pages). PostgreSQL's hash join needs no help."""
    if conn.dialect.name != "sqlite" or stage.scratch is None:
        return (
            f"{stage.table} st LEFT JOIN mailboxes m "
            "ON m.address = st.address AND m.valid_to IS NULL"
        )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE stage_current AS SELECT st.rowid AS staged, m.id AS current "
        f"FROM {stage.table} AS st {indexed_by(stage, 'address')} LEFT JOIN mailboxes m "
        "ON m.address = st.address AND m.valid_to IS NULL ORDER BY st.rowid"
    )
    return (
        f"stage_current c JOIN {stage.table} st ON st.rowid = c.staged "
        "LEFT JOIN mailboxes m ON m.id = c.current"
    )
