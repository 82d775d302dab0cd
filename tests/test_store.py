"""The store: migrations match the models on both backends; every table has its mapped class;
coded columns hold their vocabularies; the write lock refuses clearly."""

import sqlite3
import threading
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import String, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from balise import models
from balise.db import NEW_STORE_PAGE_SIZE, make_engine, migrate, upgrade, write_transaction
from balise.errors import IngestBusyError
from balise.models import Base, Mailbox, Snapshot, orm, tables
from balise.referentials.lifecycles import DataSource


def test_migrations_create_exactly_the_models(database_url):
    engine = make_engine(database_url)
    migrate(engine)  # Alembic, from an empty database
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert "mailboxes" in inspect(engine).get_table_names()


def test_a_new_store_is_created_as_the_migrations_would_create_it(
    database_url, second_database_url
):
    created, migrated = make_engine(database_url), make_engine(second_database_url)
    upgrade(created)  # no table yet: from the models, stamped, without Alembic
    migrate(migrated)
    assert schema_of(created) == schema_of(migrated)
    assert "audit_log_no_update" in schema_of(created)["triggers"]
    migrate(created)  # Alembic finds it at its head: nothing to do
    assert schema_of(created) == schema_of(migrated)


def schema_of(engine) -> dict:
    """Tables (columns, keys, indexes, constraints), triggers and the stamped revision."""
    found = inspect(engine)
    tables = {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
            found.get_pk_constraint(name)["constrained_columns"],
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in found.get_indexes(name)
            ),
            sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(name)),
            sorted(
                (f["referred_table"], tuple(f["constrained_columns"]))
                for f in found.get_foreign_keys(name)
            ),
        )  # fmt: skip
        for name in found.get_table_names()
    }
    triggers = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if engine.dialect.name == "sqlite"
        else "SELECT DISTINCT trigger_name FROM information_schema.triggers"
    )
    with engine.connect() as conn:
        names = sorted(conn.execute(text(triggers)).scalars())
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return {"tables": tables, "triggers": names, "revision": revision}


def test_every_table_is_mapped_by_one_class_that_balise_models_gives():
    mapped = {name: getattr(models, name) for name in models.MAPPED - {"Base"}}
    assert sorted(cls.__table__.name for cls in mapped.values()) == sorted(tables.metadata.tables)
    assert all(
        cls.__table__ is tables.metadata.tables[cls.__tablename__] for cls in mapped.values()
    )
    assert Base.metadata is tables.metadata is models.metadata
    in_orm = {n for n, v in vars(orm).items() if isinstance(v, type) and issubclass(v, Base)}
    assert in_orm == models.MAPPED  # a class added to balise.models.orm is named in MAPPED too
    with pytest.raises(ImportError, match="Snapshots"):
        from balise.models import Snapshots  # noqa: F401


def test_second_writer_is_refused_while_first_holds_the_lock(empty_db, database_url):
    holding = threading.Event()
    release = threading.Event()

    def first():
        with write_transaction(empty_db, "ingest"):
            holding.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    assert holding.wait(10)
    other = make_engine(database_url)
    try:
        with (
            pytest.raises(IngestBusyError, match="Une importation est en cours"),
            write_transaction(other, "ingest", wait_s=0.2),
        ):
            pass
    finally:
        release.set()
        t.join()
        other.dispose()
    # once the first commits, the lock is free again
    with write_transaction(empty_db, "ingest", wait_s=0.2):
        pass


def test_coded_columns_store_plain_codes_and_read_back_their_vocabulary(empty_db):
    """Statuses and sources are enums in the models: stored as their codes (plain VARCHAR, no
    database enum), read back as members, and a code outside the vocabulary is refused."""
    row = {"file_name": "f.txt", "sha256": "0" * 64, "ingested_at": datetime(2026, 11, 25),
           "departments": "*"}  # fmt: skip
    with empty_db.begin() as conn:
        conn.execute(insert(Snapshot).values(source="finess", **row))
        assert conn.scalar(select(Snapshot.source)) is DataSource.FINESS
        assert conn.execute(text("SELECT source FROM snapshots")).scalar() == "finess"
        assert conn.scalar(select(func.count()).where(Snapshot.source == DataSource.FINESS)) == 1
    columns = {c["name"]: c["type"] for c in inspect(empty_db).get_columns("snapshots")}
    assert isinstance(columns["source"], String) and columns["source"].length == 16
    refused = pytest.raises(StatementError, match="'fichier' is not among the defined enum values")
    with refused, empty_db.begin() as conn:
        conn.execute(insert(Snapshot).values(source="fichier", **row))


def _orphan_mailbox() -> dict:
    """A mailbox version citing a snapshot that does not exist."""
    return {"address": "orpheline@x.mssante.fr", "bal_type": "ORG", "department": "69",
            "first_seen": 999, "valid_from": 999}  # fmt: skip


def test_foreign_keys_are_checked_everywhere_but_inside_a_bulk_transaction(empty_db):
    """An ingest's bulk transaction skips the checks on SQLite (its rows cite the snapshot it
    opened); every other write, and the same pooled connection afterwards, checks them."""
    refused = pytest.raises(IntegrityError, match="(?i)foreign key")
    with refused, write_transaction(empty_db, "ingest") as conn:
        conn.execute(insert(Mailbox).values(**_orphan_mailbox()))
    with refused, empty_db.begin() as conn:
        conn.execute(insert(Mailbox).values(**_orphan_mailbox()))
    if empty_db.dialect.name == "sqlite":
        with pytest.raises(RuntimeError), write_transaction(empty_db, "ingest", bulk=True) as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 0
            conn.execute(insert(Mailbox).values(**_orphan_mailbox()))  # not checked: no error
            raise RuntimeError("rolled back")
        with empty_db.connect() as conn:  # the pooled connection the bulk transaction used
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with refused, write_transaction(empty_db, "ingest") as conn:
        conn.execute(insert(Mailbox).values(**_orphan_mailbox()))
    with empty_db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Mailbox)) == 0


def test_a_new_sqlite_store_gets_big_pages_and_an_existing_one_keeps_its_own(tmp_path):
    new = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    upgrade(new)
    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as db:  # a store made before: SQLite's default page size
        db.execute("CREATE TABLE t (x)")
    old = make_engine(f"sqlite:///{old_path}")
    upgrade(old)
    try:
        sizes = []
        for engine in (new, old):
            with engine.connect() as conn:
                sizes.append(conn.execute(text("PRAGMA page_size")).scalar())
        assert sizes == [NEW_STORE_PAGE_SIZE, 4096]
    finally:
        new.dispose()
        old.dispose()
