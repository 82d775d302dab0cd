"""Bulk loading of reader rows into a per-transaction staging table, deduplicated on a key.

The fastest path each database offers: ``executemany`` with ``INSERT OR IGNORE`` on SQLite, ``COPY``
into an unkeyed table then ``DISTINCT ON`` on PostgreSQL. In both, the first line of a duplicated
key wins. Staging tables are temporary: they vanish with the connection and touch no reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import islice

from sqlalchemy import Connection

BATCH = 20_000


def create_stage(conn: Connection, name: str, columns: Sequence[tuple[str, str]], key: str) -> None:
    """A temporary table ``name`` with an integer ``line`` column first, then ``columns``."""
    cols = ", ".join(f"{c} {t}" for c, t in columns)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {name} (line INTEGER, {cols}, PRIMARY KEY ({key}))"
        )
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}_raw")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {name}_raw (line INTEGER, {cols}) ON COMMIT DROP")
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {name} (line INTEGER, {cols}, PRIMARY KEY ({key})) ON COMMIT DROP"
        )


def load_stage(
    conn: Connection,
    name: str,
    columns: Sequence[str],
    key: str,
    rows: Iterable[tuple],
    on_reject: Callable[[tuple], None],
    accept: type,
) -> int:
    """Write the ``accept``-typed rows of ``rows`` into stage ``name``; hand others to ``on_reject``.

    Rows are tuples whose fields are (line, *columns). Returns how many rows were offered (before
    de-duplication); ``SELECT count(*)`` on the stage gives how many distinct keys were kept.
    """
    kept = _filtering(rows, accept, on_reject)
    all_cols = ["line", *columns]
    if conn.dialect.name == "sqlite":
        return insert_rows(conn, name, all_cols, kept, or_ignore=True)
    offered = insert_rows(conn, f"{name}_raw", all_cols, kept)
    cols = ", ".join(all_cols)
    conn.exec_driver_sql(
        f"INSERT INTO {name} ({cols}) SELECT DISTINCT ON ({key}) {cols} "
        f"FROM {name}_raw ORDER BY {key}, line"
    )
    return offered


def insert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[tuple],
    or_ignore: bool = False,
) -> int:
    """Bulk-insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count.

    SQLite: ``executemany`` by batches (``or_ignore``: duplicates of a key are dropped);
    PostgreSQL: ``COPY`` (no ``or_ignore``: callers deduplicate another way)."""
    dbapi = conn.connection.driver_connection
    cols = ", ".join(columns)
    count = 0
    if conn.dialect.name == "sqlite":
        verb = "INSERT OR IGNORE" if or_ignore else "INSERT"
        sql = f"{verb} INTO {table} ({cols}) VALUES ({', '.join('?' * len(columns))})"
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


def _filtering(rows: Iterable[tuple], accept: type, on_reject: Callable[[tuple], None]):
    for row in rows:
        if type(row) is accept:
            yield row
        else:
            on_reject(row)
