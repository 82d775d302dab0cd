"""What a bulk load does around its inserts: indexes built once at the end (SQLite), planner
statistics refreshed at once (PostgreSQL), scratch tables that go with the transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Table


@contextmanager
def indexes_dropped(conn: Connection, table: Table) -> Iterator[None]:
    """SQLite: the indexes of ``table`` dropped for a bulk load into it, built once at the end.
    Not on PostgreSQL: DROP INDEX holds an ACCESS EXCLUSIVE lock until commit, so every reader
    of the table (the dashboard) would wait for the whole ingest (24 s on the national demo,
    measured), whereas keeping the indexes costs the load a few per cent."""
    if conn.dialect.name != "sqlite":
        yield
        return
    for index in table.indexes:
        index.drop(conn)
    yield
    for index in table.indexes:
        index.create(conn)


def refresh_statistics(conn: Connection, table: str) -> None:
    """PostgreSQL: after a bulk load, the planner's statistics must be refreshed at once (not
    when autovacuum gets to it): with the estimates of an empty table, the equipped-structure
    queries pick nested loops over sequential scans and take minutes at national scale."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {table}")


def on_commit_drop(conn: Connection) -> str:
    """The clause that drops a temporary table with the transaction (PostgreSQL; SQLite's
    scratch tables go with the connection's temp schema)."""
    return "" if conn.dialect.name == "sqlite" else " ON COMMIT DROP"
