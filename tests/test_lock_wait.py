"""Writers wait BALISE_LOCK_WAIT for a held write lock, then refuse in French (exit 1, no
traceback); readers never wait; an import, its audit line and its onboarding advance commit
together, so a killed import leaves nothing behind (SQLite and PostgreSQL, the lock held by
another process, as a running ingest holds it)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from balise.cli import cli
from balise.db import make_engine
from balise.formatting import THIN
from balise.models import AuditEntry, Onboarding, ProvisionedBal, Snapshot, WatchedMailbox
from balise.services import adoption
from balise.services.access import SYSTEM
from ingest import gate, jobs
from tests.support.apptest import app_as
from tests.support.lock_holder import ROOT, write_lock_held
from tests.test_ingest import ARA, A, finess_file, first_extract, second_extract

BUSY = (
    "Erreur : Une importation est en cours : la base est verrouillée en écriture depuis plus "
    f"de 0,5{THIN}s ; réessayez quand elle sera finie.\n"
)
BAL = "accueil@ehpad-a.test.mssante.fr"


@pytest.fixture
def busy_store(empty_db, tmp_path):
    """A store with FINESS, one directory snapshot, a watched mailbox and a requested BAL."""
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    now = datetime(2026, 11, 25)
    with empty_db.begin() as conn:
        conn.execute(insert(WatchedMailbox).values(
            address="suivi@ehpad-a.test.mssante.fr", department="38", imap_host="127.0.0.1",
            imap_port=143, tls_mode="starttls", auth_mode="password", secret_ref="env:NONE",
        ))  # fmt: skip
        conn.execute(insert(ProvisionedBal).values(
            address=BAL, bal_type="ORG", department="38", finess=A, backend="request",
            status="requested", created_at=now, updated_at=now,
        ))  # fmt: skip
    return empty_db


def writers(tmp_path) -> dict[str, list[str]]:
    """One command per kind of writer, each of which must wait for the lock."""
    return {
        "ingest": ["ingest", "annuaire", str(second_extract(tmp_path)), "--departments", "01,38"],
        "poll": ["poll"],
        "user add": ["user", "add", "ines@ars.example", "--role", "manager", "--oidc"],
        "mailbox add": ["mailbox", "add", "autre@ehpad-a.test.mssante.fr", "--department", "38",
                        "--host", "127.0.0.1", "--secret-env", "NONE"],
        "export": ["export", "csv", str(tmp_path / "evolution.csv"), "--table", "evolution"],
        "bal confirm": ["bal", "confirm", BAL],
        "onboarding advance": ["onboarding", "advance"],
    }  # fmt: skip


def run(database_url: str, args: list[str], lock_wait: str):
    env = {"BALISE_LOCK_WAIT": lock_wait, "BALISE_USER": ""}
    return CliRunner().invoke(cli, ["--database-url", database_url, *args], env=env)


def test_every_writer_waits_then_refuses_in_french(busy_store, database_url, tmp_path):
    outcomes, waited = {}, {}
    with write_lock_held(database_url):
        for name, args in writers(tmp_path).items():
            started = time.monotonic()
            r = run(database_url, args, "0.5")
            waited[name] = time.monotonic() - started
            outcomes[name] = (r.exit_code, r.output, type(r.exception).__name__)
    assert outcomes == dict.fromkeys(writers(tmp_path), (1, BUSY, "SystemExit"))
    assert min(waited.values()) >= 0.5, waited  # each one waited for the lock first


def test_a_writer_goes_through_when_the_lock_is_freed_within_its_wait(
    busy_store, database_url, tmp_path
):
    with write_lock_held(database_url) as holder:
        threading.Timer(1.0, holder.stdin.close).start()  # the "ingest" ends after 1 s
        started = time.monotonic()
        added = run(database_url, writers(tmp_path)["user add"], "20")
        assert added.exit_code == 0, added.output
        assert time.monotonic() - started >= 1.0


def test_readers_do_not_wait_while_an_ingest_holds_the_lock(busy_store, database_url, monkeypatch):
    monkeypatch.setenv("BALISE_LOCK_WAIT", "30")  # a reader that waited would take 30 s
    with write_lock_held(database_url):
        started = time.monotonic()
        listed = [
            run(database_url, [*cmd, "list"], "30") for cmd in (["mailbox"], ["user"], ["bal"])
        ]
        assert [r.exit_code for r in listed] == [0, 0, 0], [r.output for r in listed]
        regional = app_as(busy_store, monkeypatch, SYSTEM, page="regional")
        assert not regional.exception, regional.exception
        assert {m.label: m.value for m in regional.metric}["ESMS suivis"] == "4"
        followed = app_as(busy_store, monkeypatch, SYSTEM, page="accompagnement")
        assert not followed.exception, followed.exception  # a page view writes nothing
        assert time.monotonic() - started < 20


CHILD = """
import sys, time
from ingest import gate, jobs
advance = jobs.advance_in

def advance_then_hang(conn, departments):
    moved = advance(conn, departments)
    print("advanced", moved, flush=True)
    time.sleep(120)

jobs.advance_in = advance_then_hang
from balise.cli import cli
from balise.db import make_engine
cli(sys.argv[1:], prog_name="balise")
"""


def test_an_import_killed_before_commit_leaves_nothing_and_runs_again_in_full(
    empty_db, database_url, tmp_path
):
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    extract = str(first_extract(tmp_path))
    args = ["--database-url", database_url, "ingest", "annuaire", extract, "--departments", "01,38"]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().split()[0] == "advanced"  # rows, gate, advance: done
    finally:
        child.kill()  # SIGKILL: no rollback, no cleanup in the child
        child.wait(timeout=30)

    def state():
        with empty_db.connect() as conn:
            return (
                conn.scalars(select(Snapshot.source).order_by(Snapshot.id)).all(),
                conn.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all(),
                conn.scalars(select(Onboarding.stage)).all(),
            )

    assert state() == (["finess"], ["ingest.finess"], [])  # the FINESS import only
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "déjà importé" not in again.output
    sources, actions, stages = state()
    assert sources == ["finess", "annuaire"]
    assert actions[-2:] == ["onboarding_auto", "ingest.annuaire"]
    assert stages == ["bal_creee"] * 3  # A and E linked by ET, C by its EJ


def test_readers_do_not_wait_for_a_real_first_directory_ingest(
    empty_db, database_url, tmp_path, monkeypatch
):
    """The first directory ingest bulk-loads an empty table: on PostgreSQL it must not take
    locks that readers queue behind (DROP INDEX would, until the commit)."""
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    holding, release = threading.Event(), threading.Event()
    real_check = gate.check

    def check_then_hold(*args, **kwargs):
        holding.set()  # the rows are written, the transaction open
        release.wait(30)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(gate, "check", check_then_hold)
    ingest = threading.Thread(
        target=jobs.ingest, args=(empty_db, "annuaire", str(first_extract(tmp_path)), ARA)
    )
    ingest.start()
    reader = make_engine(database_url, lock_wait_s=30)
    try:
        assert holding.wait(30)
        started = time.monotonic()
        during = adoption.coverage(reader, SYSTEM, ARA)
        assert time.monotonic() - started < 10  # a reader that queued would wait 30 s
        assert during["equipped"].sum() == 0  # the previous state: no directory yet
    finally:
        release.set()
        ingest.join(30)
        reader.dispose()
    assert adoption.coverage(empty_db, SYSTEM, ARA)["equipped"].sum() == 3


def test_a_rerun_completes_an_import_left_without_its_audit_line(
    empty_db, database_url, tmp_path, monkeypatch
):
    """A store written by the former writer, which committed an import, then its audit line
    and onboarding advance apart, and was killed in between: the re-run completes them."""
    jobs.ingest(empty_db, "finess", str(finess_file(tmp_path)), ARA)
    with monkeypatch.context() as patched:
        patched.setattr(jobs, "_settle", lambda *args: None)  # the import alone was committed
        snapshot = jobs.ingest(empty_db, "annuaire", str(first_extract(tmp_path)), ARA).snapshot_id
    args = ["--database-url", database_url, "ingest", "annuaire", str(first_extract(tmp_path)),
            "--departments", "01,38"]  # fmt: skip
    again = CliRunner().invoke(cli, args)
    assert again.output == (
        "Annuaire MSSanté « Extraction_Correspondance_MSSante_202610010312.txt » : déjà importé "
        f"(instantané n° {snapshot}) ; sa ligne d'audit et l'avancement de l'accompagnement "
        "manquaient : complétés.\n"
    )
    with empty_db.connect() as conn:
        audited = conn.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "ingest.annuaire")
        ).all()
        stages = conn.scalars(select(Onboarding.stage)).all()
    assert [json.loads(d)["snapshot"] for d in audited] == [snapshot]
    assert stages == ["bal_creee"] * 3
    assert CliRunner().invoke(cli, args).output.endswith("rien à faire.\n")
