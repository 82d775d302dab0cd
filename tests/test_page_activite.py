"""The Activité page in an AppTest, on figures produced by a real poll of the Dovecot sandbox
(SQLite and PostgreSQL): metrics, weekly bars, the category Sankey, who to call, poll status;
« Suivre une boîte » (secret sealed, audit line, rights, French refusals) and « Relever
maintenant » on a box added from the page."""

from __future__ import annotations

import logging
from unittest.mock import ANY

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from balise.errors import PermissionDenied
from balise.models import AuditEntry, WatchedMailbox
from balise.secrets import new_key
from balise.services import activity
from balise.services.access import SYSTEM, Actor
from sandbox.harness import raw_message
from tests.support.activity import seed_directory, seed_polled_activity
from tests.support.apptest import app_as, open_page
from tests.support.apptest import figure as rendered_figure
from tests.support.dovecot import unique_address
from tests.support.store_dump import all_text

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


# ----- « Suivre une boîte » and « Relever maintenant » ---------------------------------------------
SECRET = "Mdp-Suivi-Page-7"
ANIMATOR = Actor("anne", "animator", ("38",))


@pytest.fixture
def activite_env(empty_db, monkeypatch):
    """A directory to show, a secret key, the region; signed in as an animator of the Isère."""
    seed_directory(empty_db)
    monkeypatch.setenv("BALISE_SECRET_KEY", new_key())
    monkeypatch.setenv("BALISE_REGION", "84")
    return empty_db


def _fill(at: AppTest, **typed) -> AppTest:
    for name, value in typed.items():
        at.text_input(key=f"watch_{name}").input(value)
    return at


def _poll_status(at: AppTest):
    """The « Dernière relève de chaque boîte » table, by address."""
    return next(d.value for d in at.dataframe if "État" in d.value.columns).set_index("Adresse")


def _audit(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.object, AuditEntry.department,
                   AuditEntry.outcome, AuditEntry.detail).order_by(AuditEntry.id)
        )]  # fmt: skip


def test_suivre_une_boite_watches_it_secret_sealed_and_audited(activite_env, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    at = app_as(activite_env, monkeypatch, ANIMATOR, page="activite")
    assert not at.exception, at.exception
    assert at.expander[0].label == "Suivre une boîte"
    assert not at.error  # no validation message before a first submit
    assert at.selectbox(key="watch_department").options == ["38 – Isère"]
    _fill(at, address="Suivi@Ehpad-Rose.test", imap_host="127.0.0.1", imap_port="143",
          username="suivi-rose", secret=SECRET)  # fmt: skip
    at.button(key="watch_save").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == (
        "Boîte suivi@ehpad-rose.test suivie : elle sera relevée par « balise poll » ou "
        "« balise worker »."
    )
    # It appears: counted, and in the poll status table, never polled yet.
    assert {m.label: m.value for m in at.metric}["BAL suivies"] == "1"
    status = _poll_status(at)
    assert status.loc["suivi@ehpad-rose.test", "État"] == "Jamais"
    found = activity.endpoints(activite_env, SYSTEM, "suivi@ehpad-rose.test")
    assert (found["username"], found["imap_port"], found["tls_mode"], found["secret"]) == (
        "suivi-rose", 143, "starttls", "chiffré",
    )  # fmt: skip
    with activite_env.connect() as conn:
        ref = conn.scalar(select(WatchedMailbox.secret_ref))
    assert ref.startswith("enc:")
    assert SECRET not in all_text(activite_env)  # sealed, nowhere in clear (audit included)
    assert SECRET not in caplog.text
    assert _audit(activite_env) == [(
        "anne", "mailbox.add", "suivi@ehpad-rose.test", "38", "ok",
        '{"auth_mode": "password", "host": "127.0.0.1", "smtp": "127.0.0.1:587"}',
    )]  # fmt: skip
    # Twice: refused in French, nothing changed.
    at.button(key="watch_save").click().run()
    assert [e.value for e in at.error] == ["La boîte suivi@ehpad-rose.test est déjà suivie."]


def test_suivre_une_boite_refuses_bad_input_in_french(activite_env, monkeypatch):
    at = app_as(activite_env, monkeypatch, ANIMATOR, page="activite")
    _fill(at, address="accueil@ehpad-rose.test", imap_host="127.0.0.1", imap_port="70000",
          secret=SECRET)  # fmt: skip
    at.button(key="watch_save").click().run()
    assert [e.value for e in at.error] == ["Le port IMAP doit être compris entre 1 et 65535."]
    _fill(at, imap_port="cent-quarante-trois")
    at.button(key="watch_save").click().run()
    assert [e.value for e in at.error] == [
        "Le champ « port IMAP » doit être un nombre (par exemple 587)."
    ]
    _fill(at, imap_port="", address="pas-une-adresse")
    at.button(key="watch_save").click().run()
    assert [e.value for e in at.error] == [
        "L'adresse « pas-une-adresse » n'est pas une adresse valide."
    ]
    # The secret named, not typed: an environment variable, its name checked.
    _fill(at, address="accueil@ehpad-rose.test")
    at.radio(key="watch_secret_place").set_value("env").run()
    _fill(at, secret_env="1-pas une variable")
    at.button(key="watch_save").click().run()
    assert [e.value for e in at.error] == [
        "« 1-pas une variable » n'est pas un nom de variable d'environnement (lettres, chiffres "
        "et _, par exemple BALISE_SECRET_ACCUEIL)."
    ]
    with activite_env.connect() as conn:
        assert conn.scalar(select(func.count(WatchedMailbox.id))) == 0
    _fill(at, secret_env="BALISE_SECRET_ACCUEIL")
    at.button(key="watch_save").click().run()
    assert not at.error, [e.value for e in at.error]
    found = activity.endpoints(activite_env, SYSTEM, "accueil@ehpad-rose.test")
    assert (found["imap_port"], found["secret"]) == (143, "variable BALISE_SECRET_ACCUEIL")


def test_suivre_une_boite_is_not_for_a_reader(activite_env, monkeypatch):
    manager = Actor("marc", "manager")
    at = app_as(activite_env, monkeypatch, manager, page="activite")
    assert not at.exception, at.exception
    assert at.info[0].value == "Un chargé de programme consulte et exporte mais n'agit pas."
    assert not [b for b in at.button if b.key in ("watch_save", "poll_now")]
    # The service refuses them too (a forged request), and audits the refusal.
    request = activity.WatchRequest("a@ehpad-rose.test", "38", "127.0.0.1", 143, secret=SECRET)
    with pytest.raises(PermissionDenied):
        activity.add_watched(activite_env, manager, request, new_key())
    assert _audit(activite_env) == [("marc", "mailbox.add", "a@ehpad-rose.test", "38",
                                     "refused", ANY)]  # fmt: skip


def test_a_box_added_on_the_page_is_polled_from_it(activite_env, monkeypatch, dovecot):
    """Against the real Dovecot sandbox: the box typed in the form is read by « Relever
    maintenant », which counts the message delivered to it."""
    address = unique_address("suivi", "ehpad-rose.test")
    password = dovecot.add_user(address)
    dovecot.deliver(address, raw_message("a@pharma.test", [address]), sender="a@pharma.test")
    first = activity.WatchRequest("a@ehpad-rose.test", "38", "127.0.0.1", 143,
                                  secret_ref="env:BALISE_SECRET_A")  # fmt: skip
    activity.add_watched(activite_env, SYSTEM, first, "")  # listed first: not the one offered
    at = app_as(activite_env, monkeypatch, ANIMATOR, page="activite")
    _fill(at, address=address, imap_host=dovecot.host, imap_port=str(dovecot.imap_port),
          secret=password, ca_bundle=str(dovecot.ca_path))  # fmt: skip
    at.button(key="watch_save").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="poll_pick").value == address  # the new box, not the first
    at.button(key="poll_now").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == f"Boîte {address} relevée : 1 nouveau message compté."
    status = _poll_status(at)
    assert status.loc[address, "État"] == "OK"
    assert {m.label: m.value for m in at.metric}["BAL actives (30 jours)"] == "1"
    # A wrong password: the failure is said in French, and recorded on the box.
    dovecot.remove_user(address)
    dovecot.add_user(address)
    at.button(key="poll_now").click().run()
    assert [e.value for e in at.error] == [
        f"Authentification refusée pour {address} sur 127.0.0.1:{dovecot.imap_port} "
        "(mode password)."
    ]
