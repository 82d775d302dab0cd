"""The writer's plumbing: the read-ahead thread and the scratch files of a SQLite ingest."""

from __future__ import annotations

import tempfile
import threading
import time

import pyarrow as pa
import pytest
from sqlalchemy import insert, select, text

from balise.db import ATTACHED_KEY, write_transaction
from balise.models import Mailbox
from ingest import jobs
from ingest.load import directory
from ingest.load.bulk import indexes_dropped
from ingest.load.snapshots import SnapshotMeta, open_snapshot
from ingest.staging import copy_batches, read_ahead, transfer_sql
from tests.support.store_dump import rows_by_table
from tests.test_ingest import ARA, finess_file, first_extract, second_extract


def test_read_ahead_gives_every_item_in_order():
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_an_error_in_the_reading_thread_is_raised_to_the_writer():
    def items():
        yield 1
        raise ValueError("bloc illisible")

    got = read_ahead(items())
    assert next(got) == 1
    with pytest.raises(ValueError, match="bloc illisible"):
        next(got)


def test_a_writer_that_stops_early_stops_the_reading_thread():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    got = read_ahead(items(), depth=2)
    assert next(got) == 0
    got.close()  # what an exception in the writer does to the generator
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count < 10
    assert not [t for t in threading.enumerate() if t.name == "balise-read-ahead"]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder for the test alone, to see what an ingest leaves in it."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_scratch_files_are_detached_and_deleted_after_ingests(empty_db, tmp_path, private_tmp):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    jobs.ingest(empty_db, "annuaire", str(second_extract(tmp_path)), ARA)
    assert list(private_tmp.iterdir()) == []
    if empty_db.dialect.name == "sqlite":
        with empty_db.connect() as conn:  # the pooled connection the ingests used
            names = [row[1] for row in conn.execute(text("PRAGMA database_list"))]
            temp_store = conn.execute(text("PRAGMA temp_store")).scalar()
        assert set(names) <= {"main", "temp"}  # no scratch file still attached
        assert temp_store == 2  # MEMORY again for the dashboard's queries


def test_a_failed_ingest_leaves_no_scratch_file_and_no_trace(
    empty_db, tmp_path, private_tmp, monkeypatch
):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    before = rows_by_table(empty_db)

    def fail(*args, **kwargs):  # after the rows were staged and copied
        raise RuntimeError("panne simulée")

    monkeypatch.setattr(directory, "freeze_adoption", fail)
    with pytest.raises(RuntimeError, match="panne simulée"):
        jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    assert list(private_tmp.iterdir()) == []
    assert rows_by_table(empty_db) == before
    if empty_db.dialect.name == "sqlite":
        with empty_db.connect() as conn:
            names = [row[1] for row in conn.execute(text("PRAGMA database_list"))]
        assert set(names) <= {"main", "temp"}  # no scratch file still attached


def test_copied_rows_get_new_ids_in_order_and_sqlite_copies_whole_records(empty_db):
    mailbox = {"bal_type": "ORG", "department": "38"}
    with write_transaction(empty_db, "ingest", bulk=True) as conn:
        snapshot = open_snapshot(conn, SnapshotMeta("annuaire", "f.txt", "0" * 64, None))
        versions = {"first_seen": snapshot, "valid_from": snapshot}
        conn.execute(insert(Mailbox).values(address="deja@x.fr", **mailbox, **versions))
        batches = [
            pa.RecordBatch.from_pylist([{"address": a, **mailbox, **versions} for a in addresses])
            for addresses in (["b@x.fr", "a@x.fr"], ["c@x.fr"])
        ]
        with indexes_dropped(conn, Mailbox.__table__):
            assert copy_batches(conn, Mailbox.__table__, iter(batches)) == 3
            if conn.dialect.name == "sqlite":
                alias = conn.info[ATTACHED_KEY][-1][0]
                plan = conn.exec_driver_sql(f"EXPLAIN {transfer_sql('mailboxes', alias)}")
                opcodes = {row[1] for row in plan}
                assert "RowData" in opcodes and "Column" not in opcodes  # nothing decoded
    with empty_db.connect() as conn:
        rows = conn.execute(select(Mailbox.address, Mailbox.id).order_by(Mailbox.id)).all()
    first = rows[0][1]
    assert [tuple(r) for r in rows] == [
        ("deja@x.fr", first), ("b@x.fr", first + 1), ("a@x.fr", first + 2), ("c@x.fr", first + 3)
    ]  # fmt: skip
