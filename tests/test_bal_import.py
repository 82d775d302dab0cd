"""Bulk import: the template, a dry run listing every bad row by line number, an all-or-nothing
apply, and the ``balise bal import|template`` commands (SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from balise.cli import cli
from balise.config import Settings
from balise.errors import SourceError, ValidationError
from balise.models import AuditEntry, ProvisionedBal
from balise.referentials.bal_sheet import HEADER, read_sheet, template_bytes
from balise.secrets import new_key
from balise.services import bal_import
from balise.services.access import SYSTEM

DOMAIN = "ehpad-lilas.mssante.fr"
GOOD = [
    {"bal_type": "PER", "department": "01", "address": f"jeanne.durand@{DOMAIN}",
     "first_name": "Jeanne", "last_name": "Durand", "holder_id": "10003456786"},
    {"bal_type": "ORG", "department": "1", "address": f"soins@{DOMAIN}", "finess": 10001246,
     "service": "Soins", "responsible": "Dr Durand", "structure_head": "Paul Martin"},
    {"bal_type": "CAB", "department": "01", "address": f"cabinet@{DOMAIN}",
     "practice": "Cabinet des Lilas"},
]  # fmt: skip
BAD = [
    {"bal_type": "APP", "department": "01", "address": f"dpi@{DOMAIN}", "finess": "010001246"},
    {"bal_type": "PER", "department": "01", "address": "x@gmail.com", "first_name": "X",
     "last_name": "Y", "holder_id": "123"},
    {"bal_type": "CAB", "department": "01", "address": f"cabinet@{DOMAIN}", "practice": "Bis"},
]  # fmt: skip


def _workbook(rows: list[dict]) -> bytes:
    book = load_workbook(io.BytesIO(template_bytes()))
    sheet = book["BAL"]
    for row in rows:
        sheet.append([row.get(name) for name in HEADER])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, allowed_domains=(DOMAIN,), secret_key=new_key())


def _count(engine, model, *where) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model).where(*where))


def test_template_has_the_columns_and_a_help_sheet():
    book = load_workbook(io.BytesIO(template_bytes()))
    assert book.sheetnames == ["BAL", "Aide"]
    header = [c.value for c in book["BAL"][1]]
    assert header[:3] == ["Type de BAL", "Département", "Adresse"]
    assert book["BAL"].max_row == 1  # the example lives in "Aide", never imported
    assert [r[0] for r in book["Aide"].iter_rows(min_row=2, max_row=5, values_only=True)] == [
        "PER", "ORG", "APP", "CAB",
    ]  # fmt: skip
    assert read_sheet(template_bytes()) == []


def test_reader_refuses_files_without_the_key_columns():
    with pytest.raises(SourceError) as exc:
        read_sheet(b"not a workbook")
    assert str(exc.value) == "Le fichier n'est pas un classeur xlsx lisible."
    book = load_workbook(io.BytesIO(template_bytes()))
    book["BAL"].delete_cols(2, 2)
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(SourceError) as exc:
        read_sheet(buffer.getvalue())
    assert str(exc.value) == "Colonnes manquantes dans le fichier : Département, Adresse."


def test_dry_run_reports_every_bad_row_with_its_line(db_with_ain_ehpad, tmp_path):
    report = bal_import.dry_run(
        db_with_ain_ehpad, SYSTEM, _settings(tmp_path), _workbook(GOOD + BAD)
    )
    assert [r.state for r in report.rows] == ["à créer"] * 3 + ["erreur"] * 3
    assert report.problem_lines() == [
        "Ligne 5 : Le champ « professionnel responsable » est obligatoire pour une BAL APP.",
        "Ligne 5 : Le champ « logiciel émetteur » est obligatoire pour une BAL APP.",
        "Ligne 6 : Le champ « RPPS ou ADELI du titulaire » doit contenir un RPPS (11 chiffres) "
        "ou un ADELI (9 caractères).",
        "Ligne 6 : Le champ « adresse » utilise le domaine gmail.com, qui n'est pas autorisé "
        f"(domaines autorisés : {DOMAIN}).",
        f"Ligne 7 : Le champ « adresse » : cabinet@{DOMAIN} existe déjà plus haut dans ce fichier.",
    ]
    assert (
        report.summary()
        == "3 ligne(s) en erreur sur 6 : corrigez le fichier, rien n'a été importé."
    )
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 0


def test_apply_is_all_or_nothing_then_idempotent(db_with_ain_ehpad, tmp_path):
    settings = _settings(tmp_path)
    with pytest.raises(ValidationError) as exc:
        bal_import.apply(db_with_ain_ehpad, SYSTEM, settings, _workbook(GOOD + BAD))
    assert len(exc.value.problems) == 5
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 0
    assert not (tmp_path / "demandes").exists()

    report = bal_import.apply(db_with_ain_ehpad, SYSTEM, settings, _workbook(GOOD))
    assert report.applied and report.summary() == (
        "Import appliqué : 3 BAL créées ou demandées, 0 déjà présentes."
    )
    with db_with_ain_ehpad.connect() as conn:
        rows = conn.execute(
            select(ProvisionedBal.address, ProvisionedBal.finess, ProvisionedBal.department)
            .order_by(ProvisionedBal.address)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        (f"cabinet@{DOMAIN}", None, "01"),
        (f"jeanne.durand@{DOMAIN}", None, "01"),
        (f"soins@{DOMAIN}", "010001246", "01"),  # zeros restored
    ]
    # One request batch for the whole file.
    assert len(list((tmp_path / "demandes").glob("*.xlsx"))) == 1
    again = bal_import.apply(db_with_ain_ehpad, SYSTEM, settings, _workbook(GOOD))
    assert again.summary() == "Import appliqué : 0 BAL créées ou demandées, 3 déjà présentes."
    assert _count(db_with_ain_ehpad, ProvisionedBal) == 3
    assert _count(db_with_ain_ehpad, AuditEntry, AuditEntry.action == "bal.import") == 2


def _run(database_url, tmp_path, *args):
    env = {
        "BALISE_DATABASE_URL": database_url,
        "BALISE_DATA_DIR": str(tmp_path),
        "BALISE_ALLOWED_DOMAINS": DOMAIN,
        "BALISE_PROVISION_BACKEND": "request",
    }
    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_template_dry_run_and_apply(db_with_ain_ehpad, database_url, tmp_path):
    result = _run(database_url, tmp_path, "bal", "template", str(tmp_path / "modele.xlsx"))
    assert (result.exit_code, result.output) == (
        0, f"Modèle d'import écrit : {tmp_path / 'modele.xlsx'}\n",
    )  # fmt: skip
    bad = tmp_path / "lot.xlsx"
    bad.write_bytes(_workbook(GOOD[:1] + BAD[:1]))
    result = _run(database_url, tmp_path, "bal", "import", str(bad), "--dry-run")
    assert result.exit_code == 1
    assert result.output == (
        "1 ligne(s) en erreur sur 2 : corrigez le fichier, rien n'a été importé.\n"
        "Ligne 3 : Le champ « professionnel responsable » est obligatoire pour une BAL APP.\n"
        "Ligne 3 : Le champ « logiciel émetteur » est obligatoire pour une BAL APP.\n"
    )
    result = _run(database_url, tmp_path, "bal", "import", str(bad))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Erreur : 1 ligne(s) en erreur sur 2 : corrigez le fichier, rien n'a été importé.\n"
        "Ligne 3 : Le champ « professionnel responsable »"
    )
    good = tmp_path / "bon.xlsx"
    good.write_bytes(_workbook(GOOD))
    result = _run(database_url, tmp_path, "bal", "import", str(good), "--dry-run")
    assert result.output == "Essai à blanc : 3 BAL à créer, 0 déjà présentes, aucune erreur.\n"
    result = _run(database_url, tmp_path, "bal", "import", str(good))
    assert (result.exit_code, result.output) == (
        0, "Import appliqué : 3 BAL créées ou demandées, 0 déjà présentes.\n",
    )  # fmt: skip
    result = _run(database_url, tmp_path, "bal", "list")
    assert result.output.splitlines() == [
        f"cabinet@{DOMAIN}  CAB  01  Demandée",
        f"jeanne.durand@{DOMAIN}  PER  01  Demandée",
        f"soins@{DOMAIN}  ORG  01  Demandée",
    ]
    result = _run(database_url, tmp_path, "bal", "confirm", f"soins@{DOMAIN}")
    assert result.output == f"BAL soins@{DOMAIN} confirmée (statut : créée).\n"
    result = _run(database_url, tmp_path, "bal", "test", f"cabinet@{DOMAIN}")
    assert (result.exit_code, result.stderr) == (
        1, "Erreur : Le champ « statut » ne permet pas de tester : la BAL est demandée.\n",
    )  # fmt: skip
    result = _run(database_url, tmp_path, "bal", "test", f"soins@{DOMAIN}")
    assert result.stderr == (
        f"Erreur : Aucun serveur connu pour soins@{DOMAIN} : enregistrez la boîte avec "
        "« balise mailbox add » (serveur, TLS, authentification) pour la tester.\n"
    )
