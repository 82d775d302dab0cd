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
- Into a model table with an integer id (:func:`copy_batches`, the directory's first import):
  the same, but the scratch table is the target's own definition, so that SQLite copies whole
  records without decoding them (0.25 s instead of 0.4 s for the national directory).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Table

from balise.db import ATTACHED_KEY, NEW_STORE_PAGE_SIZE
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
    batches = read_ahead(batches)
    first = next(batches, None)
    if first is None:
        return 0
    if conn.dialect.name != "sqlite":
        return insert_rows(conn, table, first.schema.names, _rows_of(first, batches))
    alias = _attach_scratch(conn, first, batches)
    cols = ", ".join(first.schema.names)
    return conn.exec_driver_sql(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {alias}.batches"
    ).rowcount


def copy_batches(
    conn: Connection,
    table: Table,
    batches: Iterator[pa.RecordBatch],
    numbered: Callable[[pa.RecordBatch], None] | None = None,
) -> int:
    """:func:`insert_batches` into the model table ``table`` whose primary key is one integer
    ``id``: the batches hold the other columns (any subset), each row gets a new id, in the
    batches' order (SQLite: from the largest + 1, each batch then shown to ``numbered`` with
    its ids, in the writer's thread; PostgreSQL: the table's sequence). Returns the count.

    On SQLite the scratch table is made with ``table``'s own definition (read from the store)
    and the rows are numbered there, so that the copy is SQLite's transfer of whole records
    (``INSERT INTO t SELECT * FROM s``: no column decoded, no record rebuilt); it needs the
    foreign keys unchecked, as in a bulk transaction (``balise.db``), else SQLite copies row
    by row, with the same result."""
    batches = read_ahead(batches)
    first = next(batches, None)
    if first is None:
        return 0
    if conn.dialect.name != "sqlite":
        return insert_rows(conn, table.name, first.schema.names, _rows_of(first, batches))
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
    ).scalar_one()
    last = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    rows = _numbered(_chain(first, batches), last + 1, numbered)
    alias = _attach_scratch(conn, next(rows), rows, (table.name, sql))
    return conn.exec_driver_sql(transfer_sql(table.name, alias)).rowcount


def transfer_sql(table: str, alias: str) -> str:
    """The copy of scratch file ``alias``'s ``table`` into the store's: whole records, when
    both have the same definition and SQLite may transfer them (see :func:`copy_batches`)."""
    return f"INSERT INTO {table} SELECT * FROM {alias}.{table}"


def _numbered(
    batches: Iterator[pa.RecordBatch],
    start: int,
    numbered: Callable[[pa.RecordBatch], None] | None,
) -> Iterator[pa.RecordBatch]:
    """``batches`` with a first column ``id``: ``start``, ``start + 1``... in their order."""
    for batch in batches:
        ids = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
        start += batch.num_rows
        batch = pa.RecordBatch.from_arrays([ids, *batch.columns], ["id", *batch.schema.names])
        if numbered is not None:
            numbered(batch)
        yield batch


@dataclass
class Stage:
    """Rows staged for set-wise SQL until the transaction ends."""

    table: str  # the name to use in SQL
    rows: int
    scratch: str | None  # SQLite: alias of the attached scratch file holding ``table``


def stage_batches(
    conn: Connection,
    name: str,
    batches: Iterator[pa.RecordBatch],
    types: dict[str, str],
    seen: Callable[[pa.RecordBatch], None] | None = None,
) -> Stage:
    """``batches`` (columns ``types``: name -> SQL type) where SQL can read them: on SQLite the
    attached scratch table itself (no copy; its rowids number the rows from 1, in order, each
    batch shown to ``seen`` in the writer's thread), on PostgreSQL the temporary table
    ``name``."""
    batches = read_ahead(batches)
    first = next(batches, None)
    sqlite = conn.dialect.name == "sqlite"
    if sqlite and first is not None:
        counted = _Counted(_chain(first, batches), seen)
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


def indexed_by(stage: Stage, column: str) -> str:
    """SQLite's clause that makes a query read a scratch stage through its index on ``column``
    (made by :func:`index_stage`), to follow that column's order."""
    if not stage.scratch:
        raise ValueError("only a scratch stage is read through a named index")
    return f"INDEXED BY ix_{column}"


class _Counted:
    """An iterator of batches that counts their rows (and shows each to ``seen``)."""

    def __init__(
        self,
        batches: Iterator[pa.RecordBatch],
        seen: Callable[[pa.RecordBatch], None] | None = None,
    ):
        self._batches, self._seen, self.rows = batches, seen, 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> pa.RecordBatch:
        batch = next(self._batches)
        self.rows += batch.num_rows
        if self._seen is not None:
            self._seen(batch)
        return batch


def _attach_scratch(
    conn: Connection,
    first: pa.RecordBatch,
    rest: Iterator[pa.RecordBatch],
    table: tuple[str, str] | None = None,
) -> str:
    """Write the batches into a new scratch file with ADBC, attach it, return its alias. Their
    table is ``<alias>.batches``, made from the batches' types, or, with ``table`` (name, SQL
    definition), that table. If anything fails before it is attached, the scratch folder
    goes, and an error raised by the batches themselves (a SourceError: a bad file) is raised
    as it was, not as the driver's report of it."""
    folder = Path(tempfile.mkdtemp(prefix="balise-stage-"))
    scratch = folder / "stage.db"
    batches = _Remembering(_chain(first, rest))
    try:
        reader = pa.RecordBatchReader.from_batches(first.schema, batches)
        _write_scratch(scratch, reader, table)
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


# The scratch file is thrown away after the transaction, or on any failure: no journal, no
# flush to disk; pages as big as a new store's.
_SCRATCH_PRAGMAS = (
    f"PRAGMA page_size={NEW_STORE_PAGE_SIZE}",
    "PRAGMA journal_mode=OFF",
    "PRAGMA synchronous=OFF",
    "PRAGMA foreign_keys=OFF",  # a table's own definition cites tables the file does not hold
)


def _write_scratch(
    path: Path, reader: pa.RecordBatchReader, table: tuple[str, str] | None = None
) -> None:
    """ADBC's bulk ingest into a new SQLite file: into table ``batches``, made from the
    reader's types, or into ``table`` (name, SQL definition), made first (the driver's
    low-level API: its DB-API module would also load pyarrow.dataset, 7 MB for nothing)."""
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    with (
        adbc_driver_sqlite.connect(str(path)) as database,
        adbc.AdbcConnection(database) as connection,
    ):
        for sql in _SCRATCH_PRAGMAS + ((table[1],) if table else ()):
            with adbc.AdbcStatement(connection) as statement:
                statement.set_sql_query(sql)
                statement.execute_update()
        with adbc.AdbcStatement(connection) as statement:
            mode = adbc.INGEST_OPTION_MODE_APPEND if table else adbc.INGEST_OPTION_MODE_CREATE
            statement.set_options(
                **{
                    adbc.INGEST_OPTION_TARGET_TABLE: table[0] if table else "batches",
                    adbc.INGEST_OPTION_MODE: mode,
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
