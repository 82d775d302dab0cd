"""The Programme page in AppTest (SQLite and PostgreSQL) on ``programme_seed``: the indicator ×
department table, the drill-down to the ESMS below a target, the organismes gestionnaires; and
the blocks added to Accompagnement (« Qui appeler d'abord ») and Activité (« Usage comparé »)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from balise.formatting import THIN
from balise.models import AuditEntry
from balise.services.access import Actor
from tests.support.apptest import open_page
from tests.support.programme_catalogue import write_catalogue
from tests.support.programme_seed import E3, E9, EJ1, seed_programme


@pytest.fixture
def programme_db(empty_db, monkeypatch, tmp_path):
    seed_programme(empty_db)
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_INDICATORS_DIR", str(write_catalogue(tmp_path / "ind")))
    return empty_db


def _table(at, first_column: str, nth: int = 0):
    """The ``nth`` table whose first column is ``first_column``."""
    return [d.value for d in at.dataframe if d.value.columns[0] == first_column][nth]


def test_programme_page_table_drill_down_and_organisations(programme_db):
    at = open_page("programme", departments=["38", "69"])
    assert not at.exception, at.exception
    assert at.title[0].value == "Programme ESMS numérique"
    matrix = _table(at, "Indicateur").set_index("Indicateur")
    assert matrix.loc["BAL ORG ou APP", "38 – Isère"] == f"60,0{THIN}% (3/5)"
    assert matrix.loc["Département équipé en BAL ORG ou APP", "38 – Isère"] == f"✔ 60,0{THIN}%"
    assert matrix.loc["Organismes équipés en BAL ORG ou APP", "Objectif"] == "≥ 80 %"
    # Drill down: the Isère's ESMS in organisations that miss the 80 % target.
    at.selectbox(key="prog_indicator").set_value("org-ej")
    at.selectbox(key="prog_department").set_value("38").run()
    assert sorted(_table(at, "FINESS")["FINESS"]) == [E3, E9]
    # Organisations: none « à fort levier » with 3 ESMS minimum; EJ1's ESMS and their BALs.
    assert any(i.value == "Aucun organisme à fort levier dans la sélection." for i in at.info)
    at.selectbox(key="prog_ej").set_value(EJ1).run()
    bals = _table(at, "FINESS", -1).set_index("Nom")["BAL"]
    assert bals["SSIAD du Grésivaudan"] == "APP dpi@asso-grenoble.mssante.fr (EJ)"


def test_a_broken_catalogue_is_said_on_the_page(programme_db, tmp_path):
    write_catalogue(tmp_path / "ind", "[campagne]\nannee = 2026\n")
    at = open_page("programme", departments=["38"])
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Catalogue 2026.toml, ligne 1 : le champ « statut » de [campagne] manque : valeurs "
        "possibles « exemple », « arrete »."
    ]


def test_accompagnement_says_whom_to_call_first(programme_db):
    at = open_page("accompagnement", departments=["38"])
    assert not at.exception, at.exception
    calls = _table(at, "Rang")
    assert calls["Structure"].tolist()[1] == "SSIAD du Vercors"
    assert calls["Pourquoi"].tolist()[1].startswith("1 ESMS du même organisme est équipé ; ")


def test_activite_shows_usage_beside_peers(programme_db):
    anim = Actor("anim38", "animator", ("38",))
    at = open_page("activite", actor=anim)
    assert not at.exception, at.exception
    usage = next(d.value for d in at.dataframe if "Médiane de la catégorie" in d.value.columns)
    assert usage["Adresse"].tolist() == ["accueil@tilleuls.mssante.fr"]
    assert any("repère national : environ 35 messages" in c.value for c in at.caption)


def test_a_tampered_selection_is_refused_by_the_services(programme_db):
    # The sidebar never offers 69 to an animator of the Isère; forced into the session, the
    # services refuse it and nothing is read.
    anim = Actor("anim38", "animator", ("38",))
    at = open_page("programme", actor=anim, departments=["69"])
    assert [e.value for e in at.error] == ["Vous n'avez pas accès au département 69."]
    assert not at.dataframe
    with programme_db.connect() as conn:
        refused = conn.execute(select(AuditEntry.actor, AuditEntry.action)
                               .where(AuditEntry.outcome == "refused")).all()  # fmt: skip
    assert ("anim38", "page.programme") in [tuple(r) for r in refused]  # (and the first page's)
