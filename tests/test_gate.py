"""The deletion gate (SQLite and PostgreSQL): an import that would close more than
BALISE_MAX_DROP % (and at least 20) of a department's mailboxes or establishments is refused and
changes nothing, unless --accept-drop, which the audit line records; the worker's refresh leaves
an alert that the Vue régionale shows until someone accepts or dismisses it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from balise.cli import cli
from balise.config import load_settings
from balise.errors import PermissionDenied
from balise.formatting import fr_date, paris_time
from balise.models import AuditEntry, IngestAlert, Snapshot
from balise.services import ingest_alerts
from balise.services.access import Actor
from dashboard.markdown import plain
from ingest.worker import Runtime, refresh_source
from tests.support.apptest import app_as
from tests.support.extracts import (
    directory_line,
    finess_line,
    luhn_complete,
    write_directory,
    write_finess,
)
from tests.support.https import Reply
from tests.support.store_dump import rows_by_table

T = "\u202f"  # the narrow no-break space of French figures (« 75,0 % »)
FIRST = "Extraction_Correspondance_MSSante_202610010312.txt"
SECOND = "Extraction_Correspondance_MSSante_202611010312.txt"


def boxes(department: str, n: int, start: int = 0) -> list[str]:
    postcode = f"{department}000"
    return [
        directory_line("ORG", f"m{i}@d{department}.mssante.fr", "", postcode, department)
        for i in range(start, start + n)
    ]


def run(database_url: str, *args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["--database-url", database_url, *args], env=env)


@pytest.fixture
def db_with_two_departments(database_url, tmp_path):
    """38 with 40 directory mailboxes, 01 with 30."""
    first = write_directory(tmp_path / FIRST, boxes("38", 40) + boxes("01", 30))
    result = run(database_url, "ingest", "annuaire", str(first), "--departments", "01,38")
    assert result.exit_code == 0, result.output
    return database_url


def audit_lines(engine, action: str) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.outcome, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [(outcome, json.loads(detail or "{}")) for outcome, detail in rows]


def test_an_import_closing_too_many_mailboxes_is_refused_and_changes_nothing(
    db_with_two_departments, empty_db, tmp_path
):
    # 38 keeps 10 of its 40 mailboxes (a cut-off file); 01 keeps all of its 30.
    second = write_directory(tmp_path / SECOND, boxes("38", 10) + boxes("01", 30))
    before = rows_by_table(empty_db)
    result = run(
        db_with_two_departments, "ingest", "annuaire", str(second), "--departments", "01,38"
    )
    assert result.exit_code == 1
    assert result.output == (
        f"Erreur : Import refusé : il fermerait 30 BAL sur 40 dans le 38 (75,0{T}%), au-delà du "
        f"seuil de 5{T}% (BALISE_MAX_DROP, et 20 au moins). Fichier tronqué ou partiel ? Rien "
        "n'a été modifié ; si ces suppressions sont réelles, relancez avec --accept-drop.\n"
    )
    assert rows_by_table(empty_db) == before


def test_accept_drop_lets_it_through_and_the_audit_line_says_so(
    db_with_two_departments, empty_db, tmp_path
):
    second = write_directory(tmp_path / SECOND, boxes("38", 10) + boxes("01", 30))
    result = run(db_with_two_departments, "ingest", "annuaire", str(second),
                 "--departments", "01,38", "--accept-drop")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        f"Suppressions acceptées (--accept-drop) : 30 BAL sur 40 dans le 38 (75,0{T}%).\n"
    )
    last = audit_lines(empty_db, "ingest.annuaire")[-1]
    assert last[0] == "ok"
    assert last[1]["suppressions acceptées"] == [{"department": "38", "current": 40, "closing": 30}]


def test_every_department_over_the_threshold_is_named(db_with_two_departments, tmp_path):
    second = write_directory(tmp_path / SECOND, boxes("38", 10) + boxes("01", 5))
    result = run(
        db_with_two_departments, "ingest", "annuaire", str(second), "--departments", "01,38"
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Erreur : Import refusé : il fermerait 25 BAL sur 30 dans le 01 (83,3{T}%) et 30 BAL "
        f"sur 40 dans le 38 (75,0{T}%), au-delà du seuil"
    )


def test_small_drops_and_a_raised_threshold_pass(db_with_two_departments, empty_db, tmp_path):
    # 01: 19 of 30 go (63 %, but fewer than 20: the noise floor); 38: 2 of 40 (5 %, not more).
    second = write_directory(tmp_path / SECOND, boxes("38", 38) + boxes("01", 11))
    result = run(
        db_with_two_departments, "ingest", "annuaire", str(second), "--departments", "01,38"
    )
    assert result.exit_code == 0, result.output
    assert "supprimées" in result.output and "acceptées" not in result.output
    # 38 then loses 28 of 38 (73.7 %): under a threshold of 80 %, no refusal.
    third = write_directory(
        tmp_path / "Extraction_Correspondance_MSSante_202612010312.txt",
        boxes("38", 10) + boxes("01", 11),
    )
    raised = run(db_with_two_departments, "ingest", "annuaire", str(third), "--departments", "01,38",
                 env={"BALISE_MAX_DROP": "80"})  # fmt: skip
    assert raised.exit_code == 0, raised.output
    with empty_db.connect() as conn:
        assert conn.scalars(select(Snapshot.removed).order_by(Snapshot.id)).all() == [0, 21, 28]


def test_a_finess_file_missing_most_establishments_is_refused(database_url, empty_db, tmp_path):
    numbers = [luhn_complete(f"38{i:06d}") for i in range(1, 26)]
    full = write_finess(
        tmp_path / "full.csv", [finess_line(n, "380000999", "500") for n in numbers]
    )
    assert run(database_url, "ingest", "finess", str(full), "--departments", "38").exit_code == 0
    before = rows_by_table(empty_db)
    partial = write_finess(
        tmp_path / "partial.csv", [finess_line(n, "380000999", "500") for n in numbers[:3]]
    )
    result = run(database_url, "ingest", "finess", str(partial), "--departments", "38")
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Erreur : Import refusé : il fermerait 22 établissements sur 25 dans le 38 (88,0{T}%), "
        "au-delà du seuil"
    )
    assert rows_by_table(empty_db) == before


# --- the worker: an alert until someone decides -----------------------------------------------


def _serve(server, name: str, lines: list[str], tmp_path) -> str:
    body = write_directory(tmp_path / name, lines).read_bytes()
    disposition = f'attachment; filename="{name}"'
    server.files["/annuaire"] = Reply(body, {"Content-Disposition": disposition})
    return server.url("/annuaire")


@pytest.fixture
def refused_by_the_worker(empty_db, https_server, tmp_path):
    """The worker imported 38's 40 mailboxes, then refused a file keeping 10 of them."""
    url = _serve(https_server, FIRST, boxes("38", 40), tmp_path)
    settings = load_settings(annuaire_url=url, ca_bundle=https_server.ca_bundle, departments="38")
    rt = Runtime(empty_db, settings)
    assert refresh_source(rt, "annuaire") == f"importé : {FIRST}"
    _serve(https_server, SECOND, boxes("38", 10), tmp_path)
    return rt, https_server, url


def test_the_worker_refuses_and_leaves_one_alert_per_file(refused_by_the_worker, empty_db):
    rt, _server, _url = refused_by_the_worker
    before = rows_by_table(empty_db)
    refusal = (
        f"refusé (alerte n° 1) : Import refusé : il fermerait 30 BAL sur 40 dans le 38 "
        f"(75,0{T}%), au-delà du seuil de 5{T}% (BALISE_MAX_DROP, et 20 au moins). Fichier "
        "tronqué ou partiel ? Rien n'a été modifié ; si ces suppressions sont réelles, relancez "
        "avec --accept-drop."
    )
    assert refresh_source(rt, "annuaire") == refusal
    after = rows_by_table(empty_db)
    changed = {t for t in after if after[t] != before[t]}
    # The alert, its audit line and the failed check (``balise sources``); no data.
    assert changed - {"audit_log", "audit_chain"} == {"ingest_alerts", "source_checks"}
    # The next refresh asks again (the last good file's validators are kept) and is refused
    # again: the same alert, not a second one.
    assert refresh_source(rt, "annuaire") == refusal
    with empty_db.connect() as conn:
        assert conn.scalars(select(IngestAlert.id)).all() == [1]
    assert audit_lines(empty_db, "ingest.annuaire")[-1] == (
        "refused", {"alerte": 1, "suppressions": [{"department": "38", "current": 40, "closing": 30}]}
    )  # fmt: skip


def test_the_regional_view_shows_the_alert_until_dismissed(
    refused_by_the_worker, empty_db, monkeypatch
):
    rt, _server, _url = refused_by_the_worker
    refresh_source(rt, "annuaire")
    with pytest.raises(PermissionDenied):  # an animator of another department may not decide
        ingest_alerts.dismiss(empty_db, Actor("anim69", "animator", ("69",)), 1)
    admin = Actor("admin", "admin")
    at = app_as(empty_db, monkeypatch, admin, page="regional")
    assert not at.exception, at.exception
    assert at.error[0].value.startswith(
        plain(
            f"Alerte n° 1 — import automatique du {_today()} (« {SECOND} ») : Import refusé : "
            "il fermerait 30 BAL sur 40 dans le 38"
        )
    )
    at.button(key="dismiss_alert_1").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Alerte n° 1 ignorée (tracé dans le journal d'audit)."
    assert not at.error
    refused, dismissed = audit_lines(empty_db, "ingest.alert_dismiss")
    assert refused == ("refused", {"motif": "Vous n'avez pas accès au département 38."})
    assert dismissed == ("ok", {"alerte": 1, "motif": "ignorée depuis la Vue régionale"})
    with empty_db.connect() as conn:
        assert conn.execute(select(IngestAlert.decision, IngestAlert.decided_by)).one() == (
            "dismissed",
            "admin",
        )


def _today() -> str:
    """Today in Paris, as the alerts give their day."""
    from datetime import UTC, datetime

    return fr_date(paris_time(datetime.now(UTC)))


def test_an_import_with_accept_drop_settles_the_alert(
    refused_by_the_worker, empty_db, database_url
):
    rt, server, url = refused_by_the_worker
    refresh_source(rt, "annuaire")
    listed = run(database_url, "ingest", "alerts")
    assert listed.output.startswith(f"n° 1 du {_today()} (Annuaire MSSanté, « {SECOND} ») : Import")
    result = run(database_url, "ingest", "annuaire", url, "--departments", "38",
                 "--ca-bundle", server.ca_bundle, "--accept-drop")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.endswith(" Alerte(s) n° 1 close(s).\n")
    assert audit_lines(empty_db, "ingest.annuaire")[-1][1]["alertes closes"] == [1]
    assert run(database_url, "ingest", "alerts").output == "Aucune alerte d'import en attente.\n"
