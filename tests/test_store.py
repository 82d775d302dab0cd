"""The store: migrations match the models on both backends; the write lock refuses clearly."""

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from balise.db import make_engine, write_transaction
from balise.errors import IngestBusyError
from balise.models import Base


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
