"""The webinar pack and CSV exports: the command, the workbook's layout, formula neutralisation,
and the file opened by a real LibreOffice whose values match the database."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from balise.cli import cli
from balise.models import AuditEntry
from balise.services import adoption, events
from balise.services.access import SYSTEM
from balise.spreadsheets import frame_csv, neutralise
from tests.support.adoption_seed import seed_small_adoption
from tests.support.libreoffice import libreoffice_csv

ARA = ["38", "69"]
SHEETS = [
    "Couverture",
    "Départements",
    "Catégories",
    "Types de BAL",
    "Évolution",
    "Créations-suppressions",
    "Accompagnement",
    "Activité",
]
# After « Événements » (when the selection has one): the programme, then the long list.
PROGRAMME = ["Indicateurs", "Structures"]


@pytest.fixture
def db_with_small_adoption(empty_db):
    seed_small_adoption(empty_db)
    return empty_db


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _export(engine, *args: str):
    return CliRunner().invoke(cli, ["--database-url", _url(engine), "export", *args])


def test_export_xlsx_writes_the_pack(db_with_small_adoption, tmp_path):
    out = tmp_path / "pack.xlsx"
    result = _export(
        db_with_small_adoption, "xlsx", str(out), "--department", "38", "--department", "69"
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"Pack webinaire écrit dans {out} : 10 feuilles, 2 départements.\n"
    wb = load_workbook(out)
    assert wb.sheetnames == [*SHEETS, *PROGRAMME]
    cover = {r[0]: r[1] for r in wb["Couverture"].iter_rows(min_row=3, values_only=True)}
    assert cover["Sélection"] == "38 Isère, 69 Rhône"
    assert cover["Annuaire MSSanté"] == "extraction du 15/11/2026 (annuaire-3.txt)"
    assert cover["FINESS"] == "extraction du 01/10/2026 (finess-1.txt)"
    departments = wb["Départements"]
    assert [c.value for c in departments[1]][:5] == [
        "Département",
        "ESMS",
        "ESMS équipés",
        "Part équipée (%)",
        "BAL personnelles",
    ]
    assert (
        departments["A1"].font.bold
        and departments.freeze_panes == "A2"
        and departments.auto_filter.ref == "A1:H3"
    )
    assert [departments["A2"].value, departments["B2"].value, departments["C2"].value] == [
        "38 – Isère",
        3,
        2,
    ]
    assert (
        departments["D2"].value == pytest.approx(2 / 3)
        and departments["D2"].number_format == "0.0 %"
    )
    assert departments["B2"].number_format == "# ##0"
    assert departments.column_dimensions["A"].width >= 12
    assert len(departments._charts) == 1 and len(wb["Évolution"]._charts) == 1
    assert wb["Évolution"]["A2"].number_format == "dd/mm/yyyy"
    with db_with_small_adoption.connect() as conn:
        audit = conn.execute(select(AuditEntry.action, AuditEntry.object, AuditEntry.actor)).all()
    assert audit == [("export", "pack xlsx", SYSTEM.login)]


def test_export_xlsx_counts_the_events_sheet(db_with_small_adoption, tmp_path):
    # The pack adds « Événements » when the selection has an event: the summary says 11 sheets.
    midi = events.EventInput("Midis du collectif #7", date(2026, 10, 20), "La MSS", ("38",))
    events.create_event(db_with_small_adoption, SYSTEM, midi)
    out = tmp_path / "pack.xlsx"
    result = _export(db_with_small_adoption, "xlsx", str(out), "--department", "38")
    assert result.exit_code == 0, result.output
    assert result.output == f"Pack webinaire écrit dans {out} : 11 feuilles, 1 département.\n"
    assert load_workbook(out).sheetnames == [*SHEETS, "Événements", *PROGRAMME]


def test_structure_names_cannot_inject_formulas(db_with_small_adoption, tmp_path):
    out = tmp_path / "pack.xlsx"
    assert _export(db_with_small_adoption, "xlsx", str(out)).exit_code == 0
    # The exact name, as a text cell (not a formula): a spreadsheet shows it and runs nothing.
    names = {c.value: c for c in load_workbook(out)["Structures"]["B"][1:]}
    hostile = names['=HYPERLINK("http://x") EHPAD Le Chêne']
    assert (hostile.data_type, hostile.quotePrefix) == ("s", True)
    csv_out = tmp_path / "structures.csv"
    result = _export(db_with_small_adoption, "csv", str(csv_out), "--table", "structures")
    assert (
        result.output
        == f"Tableau « structures » écrit dans {csv_out} : 5 lignes, 12 départements.\n"
    )
    assert "'=HYPERLINK" in csv_out.read_text(encoding="utf-8-sig")


@pytest.mark.parametrize("raw", ["=1+1", "+33 6", "-2", "@SUM(A1)", "\tx"])
def test_neutralise_prefixes_dangerous_text(raw):
    assert neutralise(raw) == "'" + raw
    assert neutralise(-2) == -2 and neutralise("EHPAD") == "EHPAD"


def test_csv_uses_french_conventions():
    import pandas as pd

    df = pd.DataFrame(
        {
            "Nom": ["=cmd", "A"],
            "Part équipée (%)": [45.25, 3.0],
            "Date": pd.to_datetime(["2026-11-25", "2026-01-02"]),
        }
    )
    text = frame_csv(df).decode("utf-8-sig")
    assert text.splitlines() == [
        "Nom;Part équipée (%);Date",
        "'=cmd;45,25;25/11/2026",
        "A;3,0;02/01/2026",
    ]


def test_export_errors_are_french(empty_db, tmp_path):
    result = _export(empty_db, "xlsx", str(tmp_path / "p.xlsx"))
    assert result.exit_code == 1
    assert result.output.startswith(
        "Erreur : La base ne contient aucune donnée d'adoption : lancez d'abord « balise demo »"
    )
    seed_small_adoption(empty_db)
    result = _export(empty_db, "xlsx", str(tmp_path / "p.xlsx"), "--department", "99")
    assert (result.exit_code, result.output) == (1, "Erreur : Département inconnu : 99.\n")
    assert not (tmp_path / "p.xlsx").exists()


def test_pack_opens_in_libreoffice_with_database_values(db_with_small_adoption, tmp_path):
    engine = db_with_small_adoption
    out = tmp_path / "pack.xlsx"
    assert _export(engine, "xlsx", str(out)).exit_code == 0
    sheets = libreoffice_csv(out, tmp_path)
    assert set(sheets) == {*SHEETS, *PROGRAMME}
    shown = {row[0]: row for row in sheets["Départements"][1:]}
    for _, dep in adoption.coverage(engine, SYSTEM, ARA).iterrows():
        row = shown[f"{dep['department']} – " + {"38": "Isère", "69": "Rhône"}[dep["department"]]]
        assert int(row[1].replace("\u00a0", "").replace(" ", "")) == dep["structures"]
        assert int(row[2]) == dep["equipped"]
        assert row[3] == f"{dep['share']:.1f}".replace(".", ",") + " %"
    # The formula-like structure name is shown as typed, not run (HYPERLINK would show its link).
    assert '=HYPERLINK("http://x") EHPAD Le Chêne' in [r[1] for r in sheets["Structures"]]
    trend = sheets["Évolution"][1:]
    assert [r[0] for r in trend] == ["15/10/2026", "15/11/2026"]
    assert [r[3] for r in trend] == ["80,0 %", "60,0 %"]
