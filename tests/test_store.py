"""The store: migrations match the models on both backends; coded columns hold their vocabularies;
the write lock refuses clearly."""

import threading
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import String, func, insert, inspect, select, text
from sqlalchemy.exc import StatementError

from balise.db import make_engine, write_transaction
from balise.errors import IngestBusyError
from balise.models import Base, Snapshot
from balise.referentials.lifecycles import DataSource


def test_migrations_create_exactly_the_models(empty_db):
    with empty_db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert "mailboxes" in inspect(empty_db).get_table_names()


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
