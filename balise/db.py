"""Engine, sessions, schema upgrades and the store-wide write lock.

SQLite runs in WAL mode so that readers (the dashboard) keep seeing the previous snapshot while an
ingest writes the next one; PostgreSQL gives the same through MVCC.
"""

from __future__ import annotations

import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from balise.errors import IngestBusyError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# conn.info key: (alias, path) of the scratch SQLite files a writer attached to its connection
# (``ingest.staging``). SQLite refuses DETACH inside the transaction that used them, so
# write_transaction detaches and deletes them once it has ended.
ATTACHED_KEY = "balise_attached_scratch"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy's documented
    # recipe for SQLite), so that a writer can ask for BEGIN IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute(f"PRAGMA temp_store={_READ_TEMP_STORE}")
    cur.close()


# Connections keep temporary b-trees in memory (the onboarding page's queries: 1.4 s cold this
# way, 2.0 s with temporary files). A bulk writer's big sorts (index builds over the national
# directory) spill to temporary files instead, sorted by helper threads: the three mailbox
# indexes build in 0.65 s this way against 1.23 s in memory.
_READ_TEMP_STORE = "MEMORY"
_BULK_PRAGMAS = ("PRAGMA temp_store=FILE", "PRAGMA threads=2")
_USUAL_PRAGMAS = (f"PRAGMA temp_store={_READ_TEMP_STORE}", "PRAGMA threads=0")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their parent folder and pragmas."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


@cache
def engine_for(url: str) -> Engine:
    """One engine per URL per process (engines hold the connection pool)."""
    return make_engine(url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision. A store already there is recognised by
    one tiny query, without loading Alembic (a fifth of a second that every command paid)."""
    if _stored_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_REVISION_LINE = re.compile(r"^(down_)?revision(?:: [\w| ]+)? = [\"']([^\"']+)[\"']", re.M)


@cache
def head_revision() -> str | None:
    """The newest revision of ``migrations/versions``, read from the files' ``revision`` and
    ``down_revision`` lines (the one no other file names as its parent); None if unclear."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the store, or None (new store, no table yet)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def is_sqlite(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "sqlite"


@contextmanager
def write_transaction(
    engine: Engine, lock_name: str, wait_s: float = 5.0, bulk: bool = False
) -> Iterator[Connection]:
    """One transaction holding the store-wide write lock named ``lock_name``.

    SQLite: ``BEGIN IMMEDIATE`` takes the database write lock (waiting up to ``wait_s``).
    PostgreSQL: a transaction-scoped advisory lock, waited for at most ``wait_s``.
    A second writer therefore waits, then refuses with :class:`IngestBusyError`; nothing is
    half-written because everything happens inside the one transaction. ``bulk`` (ingests)
    sets SQLite up for big sorts for the transaction's length.
    """
    with engine.connect() as conn:
        try:
            if is_sqlite(conn):
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
                conn.commit()
                for pragma in _BULK_PRAGMAS if bulk else ():  # outside any transaction
                    conn.connection.driver_connection.execute(pragma)
                conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                conn.begin()
            else:
                conn.begin()
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(wait_s * 1000)}ms'")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(lock_name)})
        except OperationalError as exc:
            raise IngestBusyError(
                "Une autre importation est en cours sur cette base ; réessayez quand elle sera finie."
            ) from exc
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            if is_sqlite(conn):
                _after_sqlite_write(conn, bulk)


def _after_sqlite_write(conn: Connection, bulk: bool) -> None:
    """Detach and delete the transaction's scratch files; back to the usual pragmas."""
    dbapi = conn.connection.driver_connection
    for alias, path in conn.info.pop(ATTACHED_KEY, []):
        dbapi.execute(f"DETACH DATABASE {alias}")
        shutil.rmtree(Path(path).parent, ignore_errors=True)
    for pragma in _USUAL_PRAGMAS if bulk else ():
        dbapi.execute(pragma)


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF
