"""Bulk insertion, by the fastest path each database offers. Callers deduplicate before (the first
line of a duplicated key wins) and choose the table: a temporary stage or the final table.

- Row tuples (:func:`insert_rows`): ``executemany`` by batches on SQLite, ``COPY`` on PostgreSQL.
- Arrow record batches (:func:`insert_batches`, the directory's 536k rows): on SQLite the ADBC
  driver writes them, in C, into a scratch database file of their own; the store attaches that
  file and copies it with one ``INSERT ... SELECT`` inside the caller's transaction (sqlite3's
  ``executemany`` would spend three times as long binding values from Python). The batches are
  computed one thread ahead, so reading the file overlaps with writing the scratch file (copying
  in groups as the batches come was tried: slower on two cores). Scratch files are detached and
  deleted when the transaction ends
  (``balise.db.write_transaction``). On PostgreSQL the batches go through ``COPY``.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection

from balise.db import ATTACHED_KEY
from ingest.sources.ahead import read_ahead

BATCH = 20_000


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple],
) -> int:
    """Bulk-insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count."""
    dbapi = conn.connection.driver_connection
    cols = ", ".join(columns)
    count = 0
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
        cur = dbapi.cursor()
        it = iter(rows)
        while batch := list(islice(it, BATCH)):
            cur.executemany(sql, batch)
            count += len(batch)
        cur.close()
        return count
    with dbapi.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def insert_batches(conn: Connection, table: str, batches: Iterator[pa.RecordBatch]) -> int:
    """Bulk-insert Arrow ``batches`` (columns named as in ``table``; the first batch gives the
    names) into ``table``; returns the count. The batches are produced one thread ahead."""
    return insert_batches_finding_repeats(conn, table, batches, None)[0]


def insert_batches_finding_repeats(
    conn: Connection, table: str, batches: Iterator[pa.RecordBatch], key: str | None
) -> tuple[int, Future | None]:
    """:func:`insert_batches`, and on SQLite the values of column ``key`` that occur more than
    once, found by a thread reading the scratch file with its own connection while this one
    copies and indexes (a Future of a list; None on PostgreSQL: ask SQL afterwards)."""
    batches = read_ahead(batches)
    first = next(batches, None)
    if first is None:
        return 0, None
    if conn.dialect.name != "sqlite":
        return insert_rows(conn, table, first.schema.names, _rows_of(first, batches)), None
    alias = _attach_scratch(conn, first, batches)
    repeats = _repeated_values(conn.info[ATTACHED_KEY][-1][1], key) if key else None
    cols = ", ".join(first.schema.names)
    count = conn.exec_driver_sql(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {alias}.batches"
    ).rowcount
    return count, repeats


def _repeated_values(scratch: str, key: str) -> Future:
    def find() -> list:
        with closing(sqlite3.connect(scratch)) as db:
            sql = f"SELECT {key} FROM batches GROUP BY {key} HAVING count(*) > 1"
            return [value for (value,) in db.execute(sql)]

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balise-repeats")
    future = pool.submit(find)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return future


@dataclass
class Stage:
    """Rows staged for set-wise SQL until the transaction ends."""

    table: str  # the name to use in SQL
    rows: int
    scratch: str | None  # SQLite: alias of the attached scratch file holding ``table``


def stage_batches(
    conn: Connection, name: str, batches: Iterator[pa.RecordBatch], types: dict[str, str]
) -> Stage:
    """``batches`` (columns ``types``: name -> SQL type) where SQL can read them: on SQLite the
    attached scratch table itself (no copy), on PostgreSQL the temporary table ``name``."""
    batches = read_ahead(batches)
    first = next(batches, None)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and first is not None:
        counted = _Counted(_chain(first, batches))
        alias = _attach_scratch(conn, next(counted), counted)
        return Stage(f"{alias}.batches", counted.rows, alias)
    cols = ", ".join(f"{c} {t}" for c, t in types.items())
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({cols}){'' if sqlite else ' ON COMMIT DROP'}")
    rows = 0 if first is None else insert_rows(conn, name, list(types), _rows_of(first, batches))
    return Stage(name, rows, None)


def index_stage(conn: Connection, stage: Stage, column: str) -> None:
    if stage.scratch:  # an index of an attached database is named in it, its table is not
        sql = f"CREATE INDEX {stage.scratch}.ix_{column} ON batches ({column})"
    else:
        sql = f"CREATE INDEX ix_{stage.table}_{column} ON {stage.table} ({column})"
    conn.exec_driver_sql(sql)


class _Counted:
    """An iterator of batches that counts their rows."""

    def __init__(self, batches: Iterator[pa.RecordBatch]):
        self._batches, self.rows = batches, 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> pa.RecordBatch:
        batch = next(self._batches)
        self.rows += batch.num_rows
        return batch


def _attach_scratch(conn: Connection, first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> str:
    """Write the batches into a new scratch file with ADBC, attach it, return its alias (its
    table is ``<alias>.batches``). If anything fails before it is attached, the scratch folder
    goes, and an error raised by the batches themselves (a SourceError: a bad file) is raised
    as it was, not as the driver's report of it."""
    folder = Path(tempfile.mkdtemp(prefix="balise-stage-"))
    scratch = folder / "stage.db"
    batches = _Remembering(_chain(first, rest))
    try:
        _write_scratch(scratch, pa.RecordBatchReader.from_batches(first.schema, batches))
        attached = conn.info.setdefault(ATTACHED_KEY, [])
        alias = f"balise_stage_{len(attached)}"
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {alias}", (str(scratch),))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if batches.error is not None:
            raise batches.error from None
        raise
    attached.append((alias, str(scratch)))
    return alias


class _Remembering:
    """An iterator that keeps the exception its source raised: ADBC pulls the batches through
    Arrow's C stream, which reports a Python exception only as text in its own error."""

    def __init__(self, items: Iterator[pa.RecordBatch]):
        self._items = items
        self.error: BaseException | None = None

    def __iter__(self) -> _Remembering:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._items)
        except StopIteration:
            raise
        except BaseException as exc:
            self.error = exc
            raise


def _write_scratch(path: Path, reader: pa.RecordBatchReader) -> None:
    """ADBC's bulk ingest into table ``batches`` of a new SQLite file (the driver's low-level
    API: its DB-API module would also load pyarrow.dataset, 7 MB for nothing here)."""
    import adbc_driver_manager
    import adbc_driver_sqlite

    with (
        adbc_driver_sqlite.connect(str(path)) as database,
        adbc_driver_manager.AdbcConnection(database) as connection,
        adbc_driver_manager.AdbcStatement(connection) as statement,
    ):
        statement.set_options(
            **{
                adbc_driver_manager.INGEST_OPTION_TARGET_TABLE: "batches",
                adbc_driver_manager.INGEST_OPTION_MODE: adbc_driver_manager.INGEST_OPTION_MODE_CREATE,
            }
        )
        statement.bind_stream(reader.__arrow_c_stream__())
        statement.execute_update()


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _rows_of(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[tuple]:
    for batch in _chain(first, rest):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)
