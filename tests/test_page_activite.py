"""The Activité page in an AppTest, on figures produced by a real poll of the Dovecot sandbox
(SQLite and PostgreSQL): metrics, weekly bars, the category Sankey, who to call, poll status."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.activity import seed_directory, seed_polled_activity
from tests.support.apptest import figure as rendered_figure
from tests.support.apptest import open_page

pytestmark = pytest.mark.mail


def _open_activite(engine, monkeypatch) -> AppTest:
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    at = open_page("activite")
    assert not at.exception, at.exception
    return at


@pytest.fixture
def db_with_polled_activity(empty_db, dovecot):
    return empty_db, seed_polled_activity(empty_db, dovecot)


def test_activite_page_shows_the_polled_figures(db_with_polled_activity, monkeypatch, dovecot):
    engine, boxes = db_with_polled_activity
    at = _open_activite(engine, monkeypatch)
    assert at.title[0].value == "Activité"
    assert {m.label: m.value for m in at.metric} == {
        "BAL suivies": "4",
        "BAL actives (30 jours)": "2",
        "Structures actives (30 jours)": "2",
    }
    weekly = rendered_figure(at, 0)
    assert {t["name"] for t in weekly["data"]} == {"38 – Isère · reçus", "38 – Isère · envoyés"}
    assert sum(sum(t["y"]) for t in weekly["data"]) == 5

    sankey = rendered_figure(at, 1)["data"][0]
    labels = sankey["node"]["label"]
    links = {
        (labels[s], labels[t]): v
        for s, t, v in zip(
            sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"], strict=True
        )
    }
    assert links == {
        ("Pharmacie", "EHPAD"): 2,
        ("DAC", "EHPAD"): 1,
        ("EHPAD", "Pharmacie"): 1,
        ("EHPAD", "DAC"): 1,
    }
    # Flows labelled with the seed's use cases: EHPAD <-> pharmacy, in both directions.
    prescription = "Transmission d'une prescription de l'EHPAD à sa pharmacie"
    cases = {
        (labels[s], labels[t]): c
        for s, t, c in zip(
            sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["label"], strict=True
        )
    }
    assert cases == {
        ("Pharmacie", "EHPAD"): prescription,
        ("DAC", "EHPAD"): "",
        ("EHPAD", "Pharmacie"): prescription,
        ("EHPAD", "DAC"): "",
    }
    assert at.subheader[0].value == "Cas d'usage reconnus"
    recognised = at.dataframe[0].value
    assert recognised.to_dict("records") == [
        {"Émetteurs": "Pharmacie", "Destinataires": "EHPAD", "Messages": 2, "Cas d'usage": prescription},
        {"Émetteurs": "EHPAD", "Destinataires": "Pharmacie", "Messages": 1, "Cas d'usage": prescription},
    ]  # fmt: skip

    silent = at.dataframe[1].value
    assert sorted(silent["Adresse"]) == sorted([boxes["quiet"], boxes["wrong"]])
    status = at.dataframe[2].value.set_index("Adresse")
    assert status.loc[boxes["ehpad"], "État"] == "OK"
    assert status.loc[boxes["wrong"], "État"] == "Échec"
    assert status.loc[boxes["wrong"], "Message"] == (
        f"Authentification refusée pour {boxes['wrong']} sur 127.0.0.1:{dovecot.imap_port} "
        "(mode password)."
    )


def test_activite_page_without_watched_mailboxes(empty_db, monkeypatch):
    seed_directory(empty_db)
    at = _open_activite(empty_db, monkeypatch)
    assert at.info[0].value.startswith("Aucune boîte suivie dans ces départements")
    assert not at.metric
