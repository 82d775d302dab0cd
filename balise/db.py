"""Engine, sessions, schema upgrades and the store-wide write lock.

SQLite runs in WAL mode so that readers (the dashboard) keep seeing the previous snapshot while an
ingest writes the next one; PostgreSQL gives the same through MVCC. Readers never wait.

Writers wait for a held lock at most ``BALISE_LOCK_WAIT`` seconds (SQLite's busy timeout,
PostgreSQL's ``lock_timeout``), then fail with an error that :func:`is_lock_timeout` recognises
and the edges turn into :func:`busy_message`. On SQLite, ``engine.begin()`` (the writers' way in)
starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads, then writes, cannot wait for
the lock (SQLite returns « database is locked » at once to avoid a deadlock, whatever the busy
timeout), whereas one that takes the lock first waits its turn. Reads (``engine.connect()``) stay
deferred and never take the lock.
"""

from __future__ import annotations

import re
import shutil
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError

from balise.errors import IngestBusyError
from balise.formatting import fr_seconds

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# conn.info key: (alias, path) of the scratch SQLite files a writer attached to its connection
# (``ingest.staging``). SQLite refuses DETACH inside the transaction that used them, so
# write_transaction detaches and deletes them once it has ended.
ATTACHED_KEY = "balise_attached_scratch"


# How long each engine's writers wait for the write lock (seconds), set by make_engine.
_LOCK_WAIT: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()


def busy_message(wait_s: float) -> str:
    """The French sentence for a writer that waited ``wait_s`` seconds for the lock in vain."""
    held = f" depuis plus de {fr_seconds(wait_s, None)}" if wait_s > 0 else ""
    return (
        f"Une importation est en cours : la base est verrouillée en écriture{held} ; "
        "réessayez quand elle sera finie."
    )


def is_lock_timeout(exc: BaseException) -> bool:
    """True for a driver error saying the write lock stayed held longer than the wait: SQLite's
    SQLITE_BUSY / SQLITE_LOCKED (« database is locked »), PostgreSQL's lock_timeout (55P03)."""
    orig = getattr(exc, "orig", exc)
    name = getattr(orig, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return True
    return getattr(orig, "sqlstate", None) == "55P03"


def _sqlite_pragmas(lock_wait_s: float):
    def on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLAlchemy's documented
        # recipe for SQLite), so that a writer can ask for BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(lock_wait_s * 1000)}")
        # Before WAL mode writes the first page: only a new, empty store takes it (an existing
        # store keeps its own page size, whatever this says).
        cur.execute(f"PRAGMA page_size={NEW_STORE_PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA temp_store={_READ_TEMP_STORE}")
        cur.close()

    return on_connect


# The page size of a new SQLite store: a bulk import writes a quarter as many pages as with
# SQLite's default 4096 bytes (the national directory into a new store: 0.2 s less to insert,
# index and checkpoint, measured), and the dashboard's pages read as fast.
NEW_STORE_PAGE_SIZE = 16384

# Connections keep temporary b-trees in memory (the onboarding page's queries: 1.4 s cold this
# way, 2.0 s with temporary files). A bulk writer's big sorts (index builds over the national
# directory) spill to temporary files instead, sorted by helper threads: the three mailbox
# indexes build in 0.65 s this way against 1.23 s in memory.
# Foreign keys go unchecked for the bulk transaction alone: its rows refer to the snapshot it
# opened itself (three lookups into ``snapshots`` per mailbox cost the directory import 0.1 s,
# and they keep SQLite from copying staged rows as they are). Every other connection, and the
# same one once the transaction has ended, checks them (tests/test_store.py).
_READ_TEMP_STORE = "MEMORY"
_BULK_PRAGMAS = ("PRAGMA temp_store=FILE", "PRAGMA threads=2", "PRAGMA foreign_keys=OFF")
_USUAL_PRAGMAS = (
    f"PRAGMA temp_store={_READ_TEMP_STORE}",
    "PRAGMA threads=0",
    "PRAGMA foreign_keys=ON",
)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def make_engine(url: str, lock_wait_s: float | None = None) -> Engine:
    """An engine for ``url``; SQLite files get their parent folder and pragmas. Its writers wait
    ``lock_wait_s`` seconds for the write lock (default: the ``BALISE_LOCK_WAIT`` setting)."""
    if lock_wait_s is None:
        from balise.config import load_settings

        lock_wait_s = load_settings().lock_wait
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas(lock_wait_s))
        event.listen(engine, "begin", _sqlite_begin)
        # Writers come in through engine.begin(): take the write lock first (see the module's
        # docstring). The option engine shares this engine's pool and events.
        engine.begin = engine.execution_options(sqlite_begin="BEGIN IMMEDIATE").begin  # type: ignore[method-assign]
    else:
        options = f"-c lock_timeout={_pg_ms(lock_wait_s)}"
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": options})
    _LOCK_WAIT[engine] = lock_wait_s
    return engine


def close_engines() -> None:
    """Close the pooled connections of every engine made here (the command line's exit,
    ``balise.launcher``); an engine stays usable (it reconnects on demand)."""
    for engine in list(_LOCK_WAIT.keys()):
        engine.dispose()


def _pg_ms(seconds: float) -> int:
    """PostgreSQL's lock_timeout in ms; 0 there means "wait forever", so never below 1."""
    return max(int(seconds * 1000), 1)


def lock_wait(engine: Engine | Connection) -> float:
    """How long ``engine``'s writers wait for the write lock, in seconds."""
    engine = getattr(engine, "engine", engine)  # a connection's engine
    engine = getattr(engine, "_proxied", engine)  # an engine with execution options
    return _LOCK_WAIT.get(engine, 60.0)


_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per URL per process (engines hold the connection pool)."""
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url)
    return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine ``engine_for`` made, and forget them. A
    process that moves from database to database (the tests: one per test) would otherwise
    keep idle connections to each until the server refuses new clients."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision. A store already there is recognised by
    one tiny query, without loading Alembic (a fifth of a second that every command paid); a
    new, empty store is created from the models and stamped, without Alembic either."""
    head = head_revision()
    stored = _stored_revision(engine)
    if stored == head:
        return
    if stored is None and head is not None and _create_new(engine, head):
        return
    migrate(engine)


def migrate(engine: Engine) -> None:
    """Run the Alembic migrations up to the head revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # A deferred transaction: at head, Alembic only reads, and a read-only command run during
    # an ingest must not wait for the write lock.
    with engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _create_new(engine: Engine, head: str) -> bool:
    """A store without any table: the models' tables (``create_all``, with the audit log's
    append-only triggers) and the head revision stamped in Alembic's own table, in one
    transaction; what ``migrate`` would build (``make schema`` generates the first revision
    from the models, and tests/test_store.py compares both ways). Alembic's import and run
    cost the first command of a new store about 0.3 s. False when the store has tables (an
    older store, or another command that just created it): then Alembic decides."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect

    from balise.models import Base

    with engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, a concurrent first command waits
        if inspect(conn).get_table_names():
            return False
        Base.metadata.create_all(conn)
        # Alembic's own definition of its table.
        version = Table(
            "alembic_version",
            MetaData(),
            Column("version_num", String(32), nullable=False),
            PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
        )
        version.create(conn)
        conn.execute(version.insert().values(version_num=head))
    return True


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
    engine: Engine, lock_name: str, wait_s: float | None = None, bulk: bool = False
) -> Iterator[Connection]:
    """One transaction holding the store-wide write lock named ``lock_name``.

    SQLite: ``BEGIN IMMEDIATE`` takes the database write lock (waiting up to ``wait_s``, by
    default the engine's lock wait). PostgreSQL: a transaction-scoped advisory lock, waited for
    at most ``wait_s``. A second writer therefore waits, then refuses with
    :class:`IngestBusyError`; nothing is half-written because everything happens inside the one
    transaction. ``bulk`` (ingests) sets SQLite up for big sorts, foreign keys unchecked, for the
    transaction's length.
    """
    wait_s = lock_wait(engine) if wait_s is None else wait_s
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
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{_pg_ms(wait_s)}ms'")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(lock_name)})
        except OperationalError as exc:
            if is_sqlite(conn):
                _after_sqlite_write(conn, bulk)
            if not is_lock_timeout(exc):
                raise
            raise IngestBusyError(busy_message(wait_s)) from exc
        try:
            yield conn
        except OperationalError as exc:
            conn.rollback()
            if is_lock_timeout(exc):  # a statement waited for another writer's rows
                raise IngestBusyError(busy_message(wait_s)) from exc
            raise
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            if is_sqlite(conn):
                _after_sqlite_write(conn, bulk)


def _after_sqlite_write(conn: Connection, bulk: bool) -> None:
    """Detach and delete the transaction's scratch files; back to the usual pragmas and the
    engine's own lock wait."""
    dbapi = conn.connection.driver_connection
    for alias, path in conn.info.pop(ATTACHED_KEY, []):
        dbapi.execute(f"DETACH DATABASE {alias}")
        shutil.rmtree(Path(path).parent, ignore_errors=True)
    for pragma in _USUAL_PRAGMAS if bulk else ():
        dbapi.execute(pragma)
    dbapi.execute(f"PRAGMA busy_timeout={int(lock_wait(conn) * 1000)}")


def _lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF
