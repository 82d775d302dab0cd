"""The audit trail: every action writes exactly one line; the database refuses UPDATE, DELETE
and REPLACE/upsert/MERGE on audit_log (SQLite triggers, PostgreSQL trigger function); the
retention purge is the one deletion path, is itself audited and leaves the chain verifiable;
the « Journal d'audit » page and its CSV export. The hash chain itself: test_audit_chain.py."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from balise.cli import cli
from balise.config import Settings
from balise.db import make_engine
from balise.errors import PermissionDenied, ValidationError
from balise.formatting import fr_datetime
from balise.models import AuditEntry, Base
from balise.referentials.bal_rules import BalRequest
from balise.referentials.bal_sheet import HEADER, template_bytes
from balise.secrets import new_key
from balise.services import audit, audit_chain, audit_log, bal_import, bal_tests, pack, users
from balise.services import provisioning as prov
from balise.services.access import SYSTEM, Actor
from balise.services.activity import WatchRequest, add_watched
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import app_as
from tests.support.dovecot import unique_address
from tests.support.extracts import finess_line, luhn_complete, write_finess

PASSWORD = "cheval-batterie-agrafe-correct"
REFUSED = "audit_log est en ajout seul"


def _lines(engine, after_id: int = 0) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(AuditEntry.action, AuditEntry.object, AuditEntry.outcome)
            .where(AuditEntry.id > after_id)
            .order_by(AuditEntry.id)
        ).all()


@contextmanager
def exactly_one_line(engine, action: str, obj: str | None, outcome: str = "ok"):
    """Assert that the block appends exactly one audit line, the expected one."""
    before = audit_log.marker(engine)
    yield
    assert _lines(engine, before) == [(action, obj, outcome)]


# ----- append-only at the database level --------------------------------------------------


def _seed_line(engine) -> None:
    with engine.begin() as conn:
        audit.record(conn, SYSTEM, "bal.provision", "a@x.test", department="38")


def _stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            select(AuditEntry.id, AuditEntry.actor, AuditEntry.object, AuditEntry.row_hash)
        ).all()


# A forged line reusing id 1, with every column filled (only the triggers may refuse it).
_FORGED = (
    "(id, at, actor, action, object, outcome, prev_hash, row_hash) VALUES "
    "(1, '2026-01-01 00:00:00', 'faussaire', 'bal.provision', 'b@x.test', 'ok', 'x', 'y')"
)
_REWRITES = {
    "update": "UPDATE audit_log SET outcome = 'ok', actor = 'quelqu''un'",
    "delete all": "DELETE FROM audit_log",
    "delete where": "DELETE FROM audit_log WHERE action = 'bal.provision'",
    "upsert": f"INSERT INTO audit_log {_FORGED} ON CONFLICT (id) DO UPDATE SET actor = excluded.actor",
}
_DIALECT_REWRITES = {
    "sqlite": {
        "insert or replace": f"INSERT OR REPLACE INTO audit_log {_FORGED}",
        "replace": f"REPLACE INTO audit_log {_FORGED}",
        "upsert do nothing then replace": f"INSERT OR REPLACE INTO audit_log {_FORGED} "
        "ON CONFLICT (id) DO NOTHING",
    },
    "postgresql": {
        "merge": "MERGE INTO audit_log t USING (SELECT 1 AS id) s ON t.id = s.id "
        "WHEN MATCHED THEN UPDATE SET actor = 'faussaire'",
        "merge delete": "MERGE INTO audit_log t USING (SELECT 1 AS id) s ON t.id = s.id "
        "WHEN MATCHED THEN DELETE",
        "truncate": "TRUNCATE audit_log",
    },
}


@pytest.mark.parametrize("kind", ["update", "delete all", "delete where", "upsert", "dialect"])
def test_the_database_refuses_every_rewrite_of_a_line(empty_db, kind):
    """UPDATE, DELETE, upsert on both databases; REPLACE on SQLite (it deletes the old line
    without firing the delete trigger), MERGE and TRUNCATE on PostgreSQL."""
    _seed_line(empty_db)
    before = _stored(empty_db)
    statements = (
        _DIALECT_REWRITES[empty_db.dialect.name] if kind == "dialect" else {kind: _REWRITES[kind]}
    )
    for name, sql in statements.items():
        with pytest.raises(DBAPIError, match=REFUSED), empty_db.begin() as conn:
            conn.execute(text(sql))
        assert _stored(empty_db) == before, name
    assert before[0][1:3] == ("système", "a@x.test")
    assert audit_log.verify(empty_db, SYSTEM).problem is None


def test_a_new_line_can_still_be_added_after_the_refusals(empty_db):
    # A reused id is refused (the REPLACE guard on SQLite, the primary key on PostgreSQL), not
    # inserts: the next line gets id 2 and links on.
    _seed_line(empty_db)
    refusal = REFUSED if empty_db.dialect.name == "sqlite" else "duplicate key"
    with pytest.raises(DBAPIError, match=refusal), empty_db.begin() as conn:
        conn.execute(text(f"INSERT INTO audit_log {_FORGED}"))
    _seed_line(empty_db)
    rows = _stored(empty_db)
    assert [r[0] for r in rows] == [1, 2]
    with empty_db.connect() as conn:
        assert conn.scalar(select(AuditEntry.prev_hash).where(AuditEntry.id == 2)) == rows[0][3]


def test_create_all_installs_the_same_guard(tmp_path):
    # Without Alembic (Base.metadata.create_all), the after_create DDL installs the triggers.
    engine = make_engine(f"sqlite:///{tmp_path / 'bare.db'}")
    Base.metadata.create_all(engine)
    _seed_line(engine)
    for sql in (_REWRITES["update"], _DIALECT_REWRITES["sqlite"]["insert or replace"]):
        with pytest.raises(DBAPIError, match=REFUSED), engine.begin() as conn:
            conn.execute(text(sql))
    assert [r[1] for r in _stored(engine)] == ["système"]
    engine.dispose()


def _old_lines(engine, now: datetime, ages: tuple[int, ...]) -> None:
    with engine.begin() as conn:
        for days in ages:
            line = audit_chain.Line("x", f"old.{days}")
            audit_chain.append(conn, line, at=now - timedelta(days=days))


def test_purge_deletes_only_expired_lines_and_is_audited(empty_db):
    now = datetime(2026, 11, 25, 12, 0)
    _old_lines(empty_db, now, (500, 401, 399, 1))
    with empty_db.connect() as conn:
        anchor = conn.scalar(select(AuditEntry.row_hash).where(AuditEntry.action == "old.401"))
    assert audit_log.purge(empty_db, SYSTEM, 400, now=now) == 2
    assert [a for a, _, _ in _lines(empty_db)] == ["old.399", "old.1", "audit.purge"]
    with empty_db.connect() as conn:
        detail = conn.scalar(select(AuditEntry.detail).where(AuditEntry.action == "audit.purge"))
    assert json.loads(detail) == {
        "supprimées": 2, "avant": "2025-10-21T12:00:00",
        "ancre": {"ligne": 2, "empreinte": anchor},
    }  # fmt: skip
    # the guard is back after the purge, and the kept lines still verify from the anchor
    with pytest.raises(DBAPIError, match=REFUSED), empty_db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert audit_log.verify(empty_db, SYSTEM).problem is None


def test_purge_stops_at_the_first_line_to_keep(empty_db):
    # Clock set back between two lines: the expired line after a kept one stays, so the kept
    # lines remain one unbroken run of the chain (and no line younger than the cutoff goes).
    now = datetime(2026, 11, 25, 12, 0)
    _old_lines(empty_db, now, (500, 10, 450, 5))
    assert audit_log.purge(empty_db, SYSTEM, 400, now=now) == 1
    assert [a for a, _, _ in _lines(empty_db)] == ["old.10", "old.450", "old.5", "audit.purge"]
    assert audit_log.verify(empty_db, SYSTEM).problem is None


def test_only_an_administrator_purges_and_never_below_30_days(empty_db):
    with pytest.raises(PermissionDenied, match="Seul un administrateur purge"):
        audit_log.purge(empty_db, Actor("chef", "manager"), 400)
    with pytest.raises(ValidationError, match="au moins 30 jours"):
        audit_log.purge(empty_db, SYSTEM, 7)
    assert _lines(empty_db) == [("audit.purge", "journal d'audit", "refused")]


# ----- every action: exactly one line ------------------------------------------------------


DOMAIN = "ehpad-lilas.mssante.fr"


def _per(address: str) -> BalRequest:
    return BalRequest("PER", "01", address, "Jeanne", "Durand", "10003456786")


def _sheet(address: str) -> bytes:
    book = load_workbook(io.BytesIO(template_bytes()))
    row = {"bal_type": "CAB", "department": "01", "address": address, "practice": "Cabinet"}
    book["BAL"].append([row.get(name) for name in HEADER])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_account_login_export_and_purge_actions_write_one_line_each(empty_db):
    seed_small_adoption(empty_db)
    new = users.NewUser("anim38", "animator", ("38",), PASSWORD)
    with exactly_one_line(empty_db, "user.add", "anim38"):
        users.add_user(empty_db, SYSTEM, new)
    with exactly_one_line(empty_db, "user.role", "anim38"):
        users.set_role(empty_db, SYSTEM, "anim38", "animator", ["38", "69"])
    with exactly_one_line(empty_db, "user.passwd", "anim38"):
        users.set_password(empty_db, SYSTEM, "anim38", PASSWORD + "!")
    with exactly_one_line(empty_db, "login", "anim38"):
        anim = users.authenticate(empty_db, "anim38", PASSWORD + "!")
    with exactly_one_line(empty_db, "login", "anim38", "failed"), pytest.raises(PermissionDenied):
        users.authenticate(empty_db, "anim38", "faux")
    with exactly_one_line(empty_db, "export", "pack xlsx"):
        pack.build_pack(empty_db, anim, ["38"])
    with exactly_one_line(empty_db, "export", "csv structures"):
        pack.table_csv(empty_db, anim, ["38"], "structures")
    with (
        exactly_one_line(empty_db, "export", "csv departements", "refused"),
        pytest.raises(PermissionDenied),
    ):
        pack.table_csv(empty_db, anim, ["75"], "departements")
    with exactly_one_line(empty_db, "audit.export", "journal d'audit"):
        audit_log.export_csv(empty_db, SYSTEM)
    with exactly_one_line(empty_db, "user.disable", "anim38"):
        users.disable_user(empty_db, SYSTEM, "anim38")
    with exactly_one_line(empty_db, "audit.purge", "journal d'audit"):
        audit_log.purge(empty_db, SYSTEM, 400)


def test_an_ingest_from_the_command_line_writes_one_line(empty_db, tmp_path):
    source = write_finess(
        tmp_path / "finess.csv", [finess_line(luhn_complete("38000001"), "380000900", "500")]
    )
    url = empty_db.url.render_as_string(hide_password=False)
    args = ["--database-url", url, "ingest", "finess", str(source), "--departments", "38"]
    with exactly_one_line(empty_db, "ingest.finess", "finess.csv"):
        res = CliRunner().invoke(cli, args, env={"BALISE_USER": ""})
        assert res.exit_code == 0, res.output


def test_credential_change_on_a_watched_mailbox_writes_one_line(empty_db):
    request = WatchRequest(
        address="suivi@ehpad.test", department="38", imap_host="127.0.0.1", imap_port=143,
        tls_mode="starttls", auth_mode="password", secret="mot-de-passe-imap",
    )  # fmt: skip
    with exactly_one_line(empty_db, "mailbox.add", "suivi@ehpad.test"):
        add_watched(empty_db, SYSTEM, request, new_key())


@pytest.mark.mail
def test_provision_test_and_import_write_one_line_each(empty_db, tmp_path, dovecot):
    settings = Settings(
        data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=new_key(),
        **dovecot.provisioning_settings(),
    )  # fmt: skip
    anim = Actor("anne", "animator", ("01",))
    address = unique_address("jeanne", DOMAIN)
    with exactly_one_line(empty_db, "bal.provision", address):
        prov.provision(empty_db, anim, settings, _per(address))
    with exactly_one_line(empty_db, "bal.test", address):
        assert bal_tests.run_bal_test(empty_db, anim, settings, address).outcome == "passed"
    cab = unique_address("cabinet", DOMAIN)
    before = audit_log.marker(empty_db)
    bal_import.apply(empty_db, anim, settings, _sheet(cab))
    # one line for the import itself, and the one line of the BAL it provisioned
    assert _lines(empty_db, before) == [("bal.provision", cab, "ok"), ("bal.import", None, "ok")]
    other = Actor("paul", "animator", ("69",))
    with (
        exactly_one_line(empty_db, "bal.test", address, "refused"),
        pytest.raises(PermissionDenied),
    ):
        bal_tests.run_bal_test(empty_db, other, settings, address)


# ----- reading: scope, filters, export, page, CLI ------------------------------------------


def _mixed_trail(engine) -> None:
    with engine.begin() as conn:
        audit.record(conn, Actor("anne", "animator", ("38",)), "bal.provision", "a@x.test",
                     department="38")  # fmt: skip
        audit.record(conn, Actor("paul", "animator", ("69",)), "bal.provision", "b@x.test",
                     department="69")  # fmt: skip
        audit.record(conn, Actor("paul", "animator", ("69",)), "login", "paul")
        audit.record(conn, SYSTEM, "user.add", "anne", "ok")
        audit.record(conn, Actor("anne", "animator", ("38",)), "bal.test", "a@x.test",
                     "failed", "38")  # fmt: skip


def test_animators_read_their_departments_and_own_lines_only(empty_db):
    _mixed_trail(empty_db)
    anne = Actor("anne", "animator", ("38",))
    assert audit_log.entries(empty_db, anne)["object"].tolist() == ["a@x.test", "a@x.test"]
    assert len(audit_log.entries(empty_db, Actor("chef", "manager"))) == 5
    assert audit_log.choices(empty_db, anne) == {
        "actors": ["anne"],
        "actions": ["bal.provision", "bal.test"],
    }


def test_filters_combine(empty_db):
    _mixed_trail(empty_db)
    flt = audit_log.AuditFilter(actions=("bal.provision", "bal.test"), outcomes=("ok",))
    assert audit_log.entries(empty_db, SYSTEM, flt)["object"].tolist() == ["b@x.test", "a@x.test"]
    flt = audit_log.AuditFilter(search="B@X", departments=("69",))
    assert audit_log.entries(empty_db, SYSTEM, flt)["actor"].tolist() == ["paul"]
    assert audit_log.entries(empty_db, SYSTEM, audit_log.AuditFilter(search="%")).empty
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert audit_log.entries(empty_db, SYSTEM, audit_log.AuditFilter(start=tomorrow)).empty


def test_csv_export_is_french_and_neutralises_formulas(empty_db):
    with empty_db.begin() as conn:
        audit.record(conn, SYSTEM, "bal.provision", "=HYPERLINK(1)", "refused", "38")
    data = audit_log.export_csv(empty_db, SYSTEM).decode("utf-8-sig").splitlines()
    assert data[0] == "Date (heure de Paris);Qui;Action;Objet;Département;Résultat;Détail"
    assert data[1].split(";")[1:6] == ["système", "bal.provision", "'=HYPERLINK(1)", "38", "Refusé"]
    stored = audit_log.entries(empty_db, SYSTEM)["at"].iloc[0].to_pydatetime()  # UTC
    assert data[1].split(";")[0] == fr_datetime(stored, seconds=True)  # in Paris


def test_cli_audit_export_and_purge(database_url, tmp_path):
    out = tmp_path / "journal.csv"
    run = CliRunner().invoke
    res = run(cli, ["--database-url", database_url, "audit", "export", str(out)],
              env={"BALISE_USER": ""})  # fmt: skip
    assert res.output == f"Journal d'audit écrit dans {out} : 0 lignes.\n"
    res = run(cli, ["--database-url", database_url, "audit", "purge"],
              env={"BALISE_USER": "", "BALISE_AUDIT_RETENTION_DAYS": "90"})  # fmt: skip
    assert res.output == "Journal d'audit purgé : 0 ligne(s) de plus de 90 jours supprimée(s).\n"
    res = run(cli, ["--database-url", database_url, "audit", "purge", "--days", "3"],
              env={"BALISE_USER": ""})  # fmt: skip
    assert (res.exit_code, res.stderr) == (
        1, "Erreur : Le champ « conservation » doit valoir au moins 30 jours pour le journal d'audit.\n"
    )  # fmt: skip


def _page(engine, monkeypatch, actor: Actor) -> AppTest:
    at = app_as(engine, monkeypatch, actor, "audit")
    assert not at.exception, at.exception
    return at


def test_audit_page_filters_and_exports(empty_db, monkeypatch):
    _mixed_trail(empty_db)
    at = _page(empty_db, monkeypatch, SYSTEM)
    assert at.title[0].value == "Journal d'audit"
    assert {m.label: m.value for m in at.metric} == {"Lignes": "5", "Refus et échecs": "1"}
    table = at.dataframe[0].value
    assert table["Qui"].tolist() == ["anne", "système", "paul", "paul", "anne"]
    # Actions in words, departments named, no raw None: « — » where a line has no value.
    assert table["Action"].tolist() == [
        "Test de BAL", "Compte créé", "Connexion", "BAL provisionnée", "BAL provisionnée"
    ]  # fmt: skip
    assert table["Département"].tolist() == ["38 – Isère", "—", "—", "69 – Rhône", "38 – Isère"]
    assert table["Détail"].tolist() == ["—"] * 5
    assert at.multiselect(key="audit_actions").format_func("bal.test") == "Test de BAL"
    at.multiselect(key="audit_actions").set_value(["login"]).run()
    assert at.dataframe[0].value["Objet"].tolist() == ["paul"]
    at.button(key="audit_build_csv").click().run()
    csv_lines = at.session_state["audit_csv"][1].decode("utf-8-sig").splitlines()
    assert len(csv_lines) == 2 and ";paul;login;paul;;Réussi;" in csv_lines[1]
    assert at.get("download_button")
    with empty_db.connect() as conn:
        assert conn.scalar(select(func.count()).where(AuditEntry.action == "audit.export")) == 1


def test_audit_page_reads_details_as_text(empty_db, monkeypatch):
    with empty_db.begin() as conn:
        audit.record(conn, SYSTEM, "ingest.finess", None, detail={"snapshot": 3, "lignes": 1200})
    at = _page(empty_db, monkeypatch, SYSTEM)
    table = at.dataframe[0].value
    assert table.iloc[0][["Action", "Objet", "Détail"]].tolist() == [
        "Import FINESS", "—", "extraction : 3 · lignes : 1\u202f200"
    ]  # fmt: skip


def test_audit_page_shows_an_animator_only_their_lines(empty_db, monkeypatch):
    _mixed_trail(empty_db)
    at = _page(empty_db, monkeypatch, Actor("paul", "animator", ("69",)))
    assert at.dataframe[0].value["Objet"].tolist() == ["paul", "b@x.test"]
    assert at.multiselect(key="audit_actors").options == ["paul"]
