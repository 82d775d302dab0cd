"""Another process holding the store's write lock the way an ingest does, for the tests of what
waits and what does not.

``python -m tests.support.lock_holder URL`` opens the ingest's own write transaction
(``write_transaction(engine, "ingest")``: SQLite's write lock, PostgreSQL's advisory lock) and
writes without committing: on PostgreSQL it also takes every table in EXCLUSIVE mode, which lets
plain reads through and makes every write wait, as SQLite's write lock does. It prints
``held`` once the locks are taken and lets go (rolling back) when its stdin closes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from balise.db import is_sqlite, make_engine, write_transaction
from balise.models import Base

ROOT = Path(__file__).resolve().parents[2]


def hold(url: str) -> None:
    engine = make_engine(url, lock_wait_s=10)
    with write_transaction(engine, "ingest") as conn:
        conn.execute(text("UPDATE snapshots SET rows_read = rows_read + 1"))  # uncommitted
        if not is_sqlite(conn):
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"LOCK TABLE {tables} IN EXCLUSIVE MODE"))
        print("held", flush=True)
        sys.stdin.read()
        raise SystemExit(0)  # rolls the transaction back


@contextmanager
def write_lock_held(url: str) -> Iterator[subprocess.Popen]:
    """The write lock of the store at ``url`` held by another process for the block's length."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.lock_holder", url],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    hold(sys.argv[1])
