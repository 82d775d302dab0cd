"""Organismes gestionnaires by FiNESS+ grouping, and organisations named by their raison
sociale, on a small national FiNESS+ flow with two groupings and a directory extract; SQLite
and PostgreSQL."""

from __future__ import annotations

import pytest

from balise.errors import NotFoundError
from balise.services import indicators, organisations, priorities
from balise.services.access import SYSTEM, Actor
from balise.services.finess_groups import grouping_esms, groupings
from balise.services.programme_sheets import misses_table
from ingest import jobs
from tests.support.apptest import open_page
from tests.support.extracts import directory_line, write_directory
from tests.support.finess_plus import (
    EHPAD_AIN,
    EJ,
    EJ_VERCORS,
    IME,
    VERCORS_1,
    VERCORS_2,
    grouped_flow,
)
from tests.support.programme_catalogue import write_catalogue
from tests.support.programme_seed import seed_programme

ANIM38 = Actor("anim38", "animator", ("38",))
TILLEULS = f"ASSOCIATION LES TILLEULS (EJ {EJ})"
VERCORS = f"FONDATION DU VERCORS (EJ {EJ_VERCORS})"


@pytest.fixture
def db_with_groupings(empty_db, tmp_path):
    """The flow of ``grouped_flow`` (national ingest: groupings kept), then a directory: an ORG
    BAL for the IME, an APP BAL naming the foundation (so both its ESMS are equipped)."""
    flow = tmp_path / "finess-structures-journalier-20261101.json"
    flow.write_bytes(grouped_flow())
    jobs.ingest(empty_db, "finess", str(flow), None)
    extract = write_directory(tmp_path / "Extraction_Correspondance_MSSante_202611150312.txt", [
        directory_line("ORG", "accueil@ime-tilleuls.mssante.fr", IME, "01270", "01"),
        directory_line("APP", "dpi@vercors.mssante.fr", EJ_VERCORS, "38000", "38"),
    ])  # fmt: skip
    jobs.ingest(empty_db, "annuaire", str(extract), ("01", "38"))
    return empty_db


def test_one_row_per_grouping_with_its_esms_equipped_and_bals(db_with_groupings):
    df = groupings(db_with_groupings, SYSTEM, None)
    rows = df[["group_id", "kind", "name", "departments", "esms", "equipped", "mailboxes_org",
               "mailboxes_app", "mailboxes"]].values.tolist()  # fmt: skip
    # GHT: the association's two ESMS (the IME named twice, counted once) and Vercors 1.
    # GCSMS: the foundation's two ESMS (its EJ-wide BAL counted once) and the IME.
    assert rows == [
        ["gcc:7", "gcc", "GHT DÉMO", "01, 38", 3, 2, 1, 1, 2],
        ["gco:501", "gco", "GCSMS DU VERCORS", "01, 38", 3, 3, 1, 1, 2],
    ]
    assert df["organisations"].tolist() == [f"{TILLEULS} ; {VERCORS}"] * 2
    assert df["share"].round(1).tolist() == [66.7, 100.0]


def test_an_animator_counts_only_the_esms_of_their_departments(db_with_groupings):
    df = groupings(db_with_groupings, ANIM38, None)
    assert df[["group_id", "esms", "departments", "organisations"]].values.tolist() == [
        ["gco:501", 2, "38", VERCORS],
        ["gcc:7", 1, "38", VERCORS],
    ]
    assert grouping_esms(db_with_groupings, ANIM38, "gcc:7")["finess_et"].tolist() == [VERCORS_1]


def test_a_groupings_esms_with_their_organisation_and_bals(db_with_groupings):
    df = grouping_esms(db_with_groupings, SYSTEM, "gco:501").set_index("finess_et")
    assert df.index.tolist() == [VERCORS_1, VERCORS_2, IME]  # by name: « ESMS … », « IME … »
    assert df.loc[IME, "ej_name"] == "ASSOCIATION LES TILLEULS"
    assert df.loc[IME, "bals"] == "ORG accueil@ime-tilleuls.mssante.fr"
    assert df.loc[VERCORS_2, "bals"] == "APP dpi@vercors.mssante.fr (EJ)"
    assert df["equipped"].tolist() == [True, True, True]
    with pytest.raises(NotFoundError) as info:
        grouping_esms(db_with_groupings, SYSTEM, "gcc:404")
    assert str(info.value) == "Aucun ESMS lisible pour le groupement FiNESS+ gcc:404."
    assert EHPAD_AIN in grouping_esms(db_with_groupings, SYSTEM, "gcc:7")["finess_et"].tolist()


def test_organisations_are_named_by_their_raison_sociale(db_with_groupings):
    df = organisations.organisations(db_with_groupings, SYSTEM, None)
    assert df[["finess_ej", "ej_name", "esms", "equipped"]].values.tolist() == [
        [EJ, "ASSOCIATION LES TILLEULS", 2, 1],
        [EJ_VERCORS, "FONDATION DU VERCORS", 2, 2],
    ]
    assert organisations.organisation_label(EJ, None) == f"EJ {EJ}"


def test_programme_page_names_organisations_and_shows_the_groupings(
    db_with_groupings, monkeypatch, tmp_path
):
    url = db_with_groupings.url.render_as_string(hide_password=False)
    monkeypatch.setenv("BALISE_DATABASE_URL", url)
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_INDICATORS_DIR", str(write_catalogue(tmp_path / "ind")))
    at = open_page("programme", departments=["01", "38"])
    assert not at.exception, at.exception
    orgs = next(d.value for d in at.dataframe if "Ses ESMS" in d.value.columns)
    assert orgs["Organisme"].tolist() == ["ASSOCIATION LES TILLEULS", "FONDATION DU VERCORS"]
    assert at.selectbox(key="prog_ej").options == [TILLEULS, VERCORS]
    groups = next(d.value for d in at.dataframe if "Groupement" in d.value.columns)
    assert groups[["Groupement", "Départements", "ESMS", "Équipés", "BAL"]].values.tolist() == [
        ["GHT DÉMO", "01, 38", 3, 2, 2],
        ["GCSMS DU VERCORS", "01, 38", 3, 3, 2],
    ]
    assert groups["Type"].tolist()[1] == "Groupement de coopération (GCSMS…)"
    at.selectbox(key="prog_group").set_value("gcc:7").run()
    esms = at.dataframe[-1].value.set_index("FINESS")
    assert esms.loc[EHPAD_AIN, "Statut"] == "Non équipé"
    assert esms.loc[VERCORS_1, "Organisme"] == "FONDATION DU VERCORS"
    assert esms.loc[VERCORS_1, "BAL"] == "APP dpi@vercors.mssante.fr (EJ)"


def test_programme_page_without_groupings_says_where_they_come_from(empty_db, monkeypatch,
                                                                     tmp_path):  # fmt: skip
    seed_programme(empty_db)
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_INDICATORS_DIR", str(write_catalogue(tmp_path / "ind")))
    at = open_page("programme", departments=["38"])
    assert not at.exception, at.exception
    assert any(c.value.startswith("Aucun groupement dans la sélection") for c in at.caption)
    # The legacy FINESS file names no organisation: the selector shows the EJ number.
    assert at.selectbox(key="prog_ej").options[0] == "EJ 380000100"


def test_priorities_name_the_organisation_of_the_equipped_siblings(db_with_groupings):
    df = priorities.priorities(db_with_groupings, SYSTEM, ["01"]).set_index("finess_et")
    assert df.loc[EHPAD_AIN, "ej_name"] == "ASSOCIATION LES TILLEULS"
    assert df.loc[EHPAD_AIN, "reasons"].startswith(
        "1 ESMS du même organisme (ASSOCIATION LES TILLEULS) est équipé"
    )


def test_the_esms_below_a_target_carry_their_organisation_name(db_with_groupings, tmp_path):
    report = indicators.evaluate(db_with_groupings, SYSTEM, ["01", "38"],
                                 directory=write_catalogue(tmp_path / "ind"))  # fmt: skip
    below = indicators.misses(report, "org-ej", "01")
    assert below[["finess_et", "ej_name"]].values.tolist() == [
        [EHPAD_AIN, "ASSOCIATION LES TILLEULS"]
    ]
    sheet = misses_table(report)  # the pack's sheet of the ESMS below each target
    row = sheet[sheet["FINESS"] == EHPAD_AIN].iloc[0]
    assert (row["Organisme"], row["FINESS EJ"]) == ("ASSOCIATION LES TILLEULS", EJ)


def test_accompagnement_names_the_organisation_of_whom_to_call(
    db_with_groupings, monkeypatch, tmp_path
):
    url = db_with_groupings.url.render_as_string(hide_password=False)
    monkeypatch.setenv("BALISE_DATABASE_URL", url)
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    at = open_page("accompagnement", departments=["01"])
    assert not at.exception, at.exception
    calls = next(d.value for d in at.dataframe if "Pourquoi" in d.value.columns)
    row = calls.set_index("Structure").loc[f"ESMS {EHPAD_AIN}"]
    assert row["Organisme"] == "ASSOCIATION LES TILLEULS"
    assert row["Pourquoi"].startswith("1 ESMS du même organisme (ASSOCIATION LES TILLEULS)")
