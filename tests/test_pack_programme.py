"""The webinar pack's programme sheets read back with openpyxl: « Indicateurs » (and what it
says when the catalogue is broken) and the usage of the watched mailboxes (« Activité »)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from balise.services import pack
from balise.services.access import SYSTEM
from tests.support.programme_catalogue import CATALOGUE, write_catalogue
from tests.support.programme_seed import WATCHED, seed_programme


@pytest.fixture
def db_with_programme(empty_db):
    seed_programme(empty_db)
    return empty_db


def _pack(engine, directory):
    return load_workbook(io.BytesIO(pack.build_pack(engine, SYSTEM, ["38", "69"], directory)))


def test_the_pack_has_the_indicators_and_the_usage_sheets(db_with_programme, tmp_path):
    book = _pack(db_with_programme, write_catalogue(tmp_path))
    assert book.sheetnames[-5:] == ["Accompagnement", "Activité", "Événements", "Indicateurs",
                                    "Structures"]  # fmt: skip
    sheet = book["Indicateurs"]
    assert sheet["A1"].value.startswith(
        "Catalogue 2026.toml (campagne 2026, seuils fixés par l'ARS)"
    )
    rows = {(r[0], r[4]): r for r in sheet.iter_rows(min_row=4, values_only=True)}
    assert len(rows) == 9 * 2  # 9 indicators x 2 departments
    # The reference month is the newest directory snapshot's: 11/2026.
    assert rows[("BAL ORG ou APP", "38 – Isère")][5:8] == (5, 3, 0.6)
    assert rows[("Département équipé en BAL ORG ou APP", "38 – Isère")][2:] == (
        "≥ 60 %", "11/2026", "38 – Isère", 1, 1, 1.0, 60.0)  # fmt: skip
    usage = book["Activité"]
    assert "35 messages par BAL et par mois" in usage["A1"].value
    header, *lines = list(usage.iter_rows(min_row=3, values_only=True))
    assert header[0] == "Adresse" and header[-1] == "Repère national"
    assert [(r[0], r[2], r[-2], r[-1]) for r in lines] == [(WATCHED, "EHPAD", 1, 35)]


def test_a_broken_catalogue_leaves_a_note_and_the_rest_of_the_pack(db_with_programme, tmp_path):
    broken = write_catalogue(tmp_path, CATALOGUE.replace('fait = "messages"', 'fait = "mails"'))
    book = _pack(db_with_programme, broken)
    assert "Structures" in book.sheetnames
    note = book["Indicateurs"]["A1"].value
    assert note.startswith("Catalogue 2026.toml, ligne ") and "« mails »" in note
