"""Bulk insertion of row tuples, by the fastest path each database offers: ``executemany`` by
batches on SQLite, ``COPY`` on PostgreSQL. Callers deduplicate before (the first line of a
duplicated key wins) and choose the table: a temporary stage or the final table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from sqlalchemy import Connection

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
