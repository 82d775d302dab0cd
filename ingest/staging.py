"""Bulk insertion, by the fastest path each database offers. Callers deduplicate before (the first
line of a duplicated key wins) and choose the table: a temporary stage or the final table.

- Row tuples (:func:`insert_rows`): ``executemany`` by batches on SQLite, ``COPY`` on PostgreSQL.
- Arrow record batches (:func:`insert_batches`, the directory's 536k rows): on SQLite the ADBC
  driver writes them, in C, into a scratch database file of their own; the store attaches that
  file and copies with one ``INSERT ... SELECT`` inside the caller's transaction (sqlite3's
  ``executemany`` would spend three times as long binding values from Python). The scratch file
  is detached and deleted when the transaction ends (``balise.db.write_transaction``). On
  PostgreSQL the batches go through ``COPY``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection

from balise.db import ATTACHED_KEY

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
    names) into ``table``; returns the count."""
    first = next(batches, None)
    if first is None:
        return 0
    if conn.dialect.name != "sqlite":
        return insert_rows(conn, table, first.schema.names, _rows_of(first, batches))
    scratch = Path(tempfile.mkdtemp(prefix="balise-stage-")) / "stage.db"
    attached = conn.info.setdefault(ATTACHED_KEY, [])
    alias = f"balise_stage_{len(attached)}"
    reader = pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))
    _write_scratch(scratch, reader)
    conn.exec_driver_sql(f"ATTACH DATABASE ? AS {alias}", (str(scratch),))
    attached.append((alias, str(scratch)))
    cols = ", ".join(first.schema.names)
    return conn.exec_driver_sql(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {alias}.batches"
    ).rowcount


def _write_scratch(path: Path, reader: pa.RecordBatchReader) -> None:
    import adbc_driver_sqlite.dbapi as adbc_sqlite  # ~20 ms to import: only when needed

    with adbc_sqlite.connect(str(path)) as scratch:
        with scratch.cursor() as cur:
            cur.adbc_ingest("batches", reader, mode="create")
        scratch.commit()


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _rows_of(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[tuple]:
    for batch in _chain(first, rest):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)
