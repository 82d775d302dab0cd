"""The animation pages (Accompagnement, Événements) in AppTest on the small adoption dataset,
SQLite and PostgreSQL: what they show, and the actions they drive."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from balise.models import AuditEntry, Onboarding
from balise.services import events
from balise.services.access import SYSTEM
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import open_page
from tests.test_events import MIDI, SHEET_CSV

E3 = "380000003"


@pytest.fixture
def animation_db(empty_db, monkeypatch, tmp_path):
    seed_small_adoption(empty_db)
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BALISE_REGION", "84")
    return empty_db


def _open(page: str) -> AppTest:
    at = open_page(page, departments=["38", "69"])
    assert not at.exception, at.exception
    return at


def _by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def test_viewing_the_board_writes_nothing(animation_db):
    """Automatic advances run in ingest, poll and the worker, never on page view: the facts
    would put E1 and E2 at « BAL créée », but a view leaves every structure where it was."""
    with animation_db.connect() as conn:
        before = (conn.scalar(select(func.count()).select_from(Onboarding)),
                  conn.scalar(select(func.count()).select_from(AuditEntry)))  # fmt: skip
    at = _open("accompagnement")
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert headers[0] == "**À contacter** (3)" and headers[4] == "**BAL créée** (0)"
    assert not [t for t in at.toast if "avancée" in t.value]
    with animation_db.connect() as conn:
        after = (conn.scalar(select(func.count()).select_from(Onboarding)),
                 conn.scalar(select(func.count()).select_from(AuditEntry)))  # fmt: skip
    assert after == before


def test_accompagnement_board_funnel_and_manual_move(animation_db):
    from balise.services import onboarding

    onboarding.advance_from_facts(animation_db)  # as ingest, poll and the worker do
    at = _open("accompagnement")
    assert at.title[0].value == "Accompagnement des structures"
    # The referents: one row each in a small table, not one paragraph.
    referents = next(m.value for m in at.markdown if m.value.startswith("| Département"))
    rows = referents.splitlines()[2:]
    assert [r for r in rows if "Sacha Témoin" in r] == [
        "| 38 – Isère | Sacha Témoin | sacha.temoin@example.org | 01 99 00 01 38 |"
    ]
    assert any("Noa Gabarit" in r and r.startswith("| 69 – Rhône") for r in rows)
    funnel = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert funnel["type"] == "funnel"
    assert funnel["y"][0] == "À contacter" and funnel["y"][-1] == "Usage régulier"
    # The board of Isère: facts put E1 and E2 at « BAL créée », E3 is still to contact.
    headers = [m.value for m in at.markdown if m.value.startswith("**")]
    assert headers[:7] == ["**À contacter** (1)", "**Contacté** (0)", "**Sensibilisé** (0)",
                           "**BAL demandée** (0)", "**BAL créée** (2)", "**BAL testée** (0)",
                           "**Usage régulier** (0)"]  # fmt: skip
    # Below, one wide table of the department's structures, whole names, stage order first.
    board = next(d.value for d in at.dataframe if "Étape" in d.value.columns)
    assert board["Étape"].tolist() == ["À contacter", "BAL créée", "BAL créée"]
    assert board["Prochaine action"].tolist() == ["—"] * 3  # never « None »
    at.multiselect(key="ob_stages").set_value(["bal_creee"]).run()
    board = next(d.value for d in at.dataframe if "Étape" in d.value.columns)
    assert board["Étape"].tolist() == ["BAL créée", "BAL créée"]
    at.multiselect(key="ob_stages").set_value(["usage_regulier"]).run()
    assert "Aucune structure à ces étapes dans ce département." in [c.value for c in at.caption]
    assert at.success[0].value.startswith("Rien à relancer")
    # Follow one structure and move it by hand.
    at.selectbox(key="ob_structure").set_value(E3).run()
    assert any(m.value.startswith("Étape actuelle : **À contacter**") for m in at.markdown)
    _by_label(at.selectbox, "Nouvelle étape").set_value("contacte")
    _by_label(at.text_input, "Motif (facultatif)").input("Appel à la direction")
    _by_label(at.button, "Changer d'étape").click().run()
    assert not at.exception, at.exception
    assert "Étape enregistrée : Contacté." in [s.value for s in at.success]
    with animation_db.connect() as conn:
        assert conn.scalar(select(Onboarding.stage).where(Onboarding.finess_et == E3)) == "contacte"
    history = at.dataframe[-1].value
    assert history["Vers"].tolist()[0] == "Contacté" and history["Origine"].tolist()[0] == "Manuel"


def test_accompagnement_lists_overdue_actions(animation_db):
    from balise.services import onboarding

    onboarding.plan_follow_up(animation_db, SYSTEM, E3, onboarding.FollowUp(
        "Rappeler la direction", date(2026, 1, 5), notes="Rappel", assigned_to="Sacha Témoin"))  # fmt: skip
    at = _open("accompagnement")
    late = next(d.value for d in at.dataframe if "Motif" in d.value.columns)
    assert late["Motif"].tolist() == ["Action prévue le 05/01/2026 : Rappeler la direction"]
    assert late["Suivie par"].tolist() == ["Sacha Témoin"]
    # A structure without follow-up beside one with: the form opens empty, then records.
    at.selectbox(key="ob_structure").set_value("380000001").run()
    assert not at.exception, at.exception
    assert _by_label(at.text_input, "Prochaine action").value == ""
    _by_label(at.text_input, "Prochaine action").input("Former l'équipe de nuit")
    _by_label(at.selectbox, "Suivie par").set_value("Sacha Témoin")
    _by_label(at.button, "Enregistrer le suivi").click().run()
    assert not at.exception, at.exception
    assert "Suivi enregistré." in [s.value for s in at.success]
    with animation_db.connect() as conn:
        row = conn.execute(
            select(Onboarding.next_action, Onboarding.assigned_to, Onboarding.stage).where(
                Onboarding.finess_et == "380000001"
            )
        ).one()
    # Planning leaves the stage where it was (no advance on page view either).
    assert tuple(row) == ("Former l'équipe de nuit", "Sacha Témoin", "a_contacter")


def test_evenements_create_review_and_compare(animation_db):
    at = _open("evenements")
    assert at.title[0].value == "Événements et webinaires"
    assert any("Aucun événement" in i.value for i in at.info)
    _by_label(at.text_input, "Titre").input("Atelier BAL organisationnelle")
    _by_label(at.button, "Créer l'événement").click().run()
    assert not at.exception, at.exception
    assert "Événement « Atelier BAL organisationnelle » créé." in [s.value for s in at.success]
    # The attendance file goes through the service (AppTest cannot drive a file uploader).
    midi = events.create_event(animation_db, SYSTEM, MIDI)
    events.import_attendance(animation_db, SYSTEM, midi, SHEET_CSV, "midi.csv")
    at = _open("evenements")
    at.selectbox(key="ev_pick").set_value(midi).run()
    assert any(m.value == "**2 rapprochement(s) à vérifier**" for m in at.markdown)
    at.button(
        key=next(b.key for b in at.button if b.key and b.key.startswith("ev_ok_"))
    ).click().run()
    assert not at.exception, at.exception
    assert "Rapprochement confirmé." in [s.value for s in at.success]
    assert any(m.value == "**1 rapprochement(s) à vérifier**" for m in at.markdown)
    table = next(d.value for d in at.dataframe if "Rapprochement" in d.value.columns)
    assert table["Rapprochement"].tolist().count("Exacte") == 2
    # An unmatched line attached by hand to its structure (E3, Voiron).
    lines = events.attendance(animation_db, SYSTEM, midi)
    voiron = int(lines.loc[lines["raw_name"] == "Mairie de Voiron", "id"].iloc[0])
    _by_label(at.selectbox, "Ligne").set_value(voiron)
    _by_label(at.text_input, "FINESS de la structure").input("380000003")
    _by_label(at.button, "Rattacher").click().run()
    assert not at.exception, at.exception
    assert "Ligne rattachée à la structure." in [s.value for s in at.success]
    table = next(d.value for d in at.dataframe if "Rapprochement" in d.value.columns)
    assert table["Rapprochement"].tolist().count("Exacte") == 3
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t["name"] for t in figure["data"]] == ["Participants", "Non participants"]
    assert (
        figure["layout"]["title"]["text"] == "Part des structures équipées : participantes ou non"
    )


def test_evenements_refuse_a_twin_and_confirm_a_deletion(animation_db):
    midi = events.create_event(animation_db, SYSTEM, MIDI)
    at = _open("evenements")
    listed = next(d.value for d in at.dataframe if "Replay" in d.value.columns)
    assert listed["Thème"].tolist() == ["La MSS"] and listed["Départements"].tolist() == ["38, 69"]
    # The same title, day and departments: the service's French refusal, nothing created.
    _by_label(at.text_input, "Titre").input(MIDI.title)
    _by_label(at.date_input, "Date").set_value(MIDI.date)
    _by_label(at.button, "Créer l'événement").click().run()
    assert [e.value for e in at.error] == [
        f"L'événement « {MIDI.title} » du 20/10/2026 existe déjà pour ces départements "
        f"(n° {midi}) : modifiez-le plutôt que d'en créer un second."
    ]
    # Deleting asks first; « Annuler » keeps the event, « Oui » deletes it.
    at.button(key="ev_delete").click().run()
    assert at.main.warning[0].value.startswith(
        f"Supprimer « {MIDI.title} » du 20/10/2026 et ses 0 "
    )
    assert len(events.list_events(animation_db, SYSTEM, None)) == 1
    at.button(key="ev_delete_no").click().run()
    assert not at.main.warning and len(events.list_events(animation_db, SYSTEM, None)) == 1
    at.button(key="ev_delete").click().run()
    at.button(key="ev_delete_yes").click().run()
    assert not at.exception, at.exception
    assert "Événement supprimé." in [s.value for s in at.success]
    assert events.list_events(animation_db, SYSTEM, None).empty


def test_follow_up_tab_picks_its_own_department(animation_db):
    """The « Suivi » tab no longer follows the board tab's department: it has its own picker."""
    at = _open("accompagnement")
    at.selectbox(key="ob_dep").set_value("69").run()  # the board shows the Rhône
    assert at.selectbox(key="ob_follow_dep").value == "38"
    assert at.selectbox(key="ob_structure").options == [  # by name, as the service orders
        '=HYPERLINK("http://x") EHPAD Le Chêne – VOIRON (380000003)',
        "EHPAD Les Tilleuls – GRENOBLE (380000001)",
        "SSIAD du Grésivaudan – CROLLES (380000002)",
    ]
    at.selectbox(key="ob_follow_dep").set_value("69").run()
    assert at.selectbox(key="ob_structure").options == [
        "EHPAD Bellecour – LYON (690000002)", "IME Les Cèdres – LYON (690000001)"
    ]  # fmt: skip
