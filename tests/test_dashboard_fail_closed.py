"""The dashboard fails closed (AppTest through dashboard/app.py): an unreadable or invalid
secrets.toml stops every page with a French error instead of opening the dashboard; a page run
without a signed-in actor stops instead of acting as the local operator; a database error is
shown as an error (details in the log), never as « no data yet »."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit import config
from streamlit.testing.v1 import AppTest

from balise.services import users
from balise.services.access import SYSTEM, Actor
from dashboard.auth import SECRETS_BROKEN
from dashboard.shell import NO_DATA, NO_SESSION
from dashboard.store import STORE_DOWN, STORE_NOT_CREATED
from tests.support.adoption_seed import seed_small_adoption
from tests.support.apptest import app_as, open_page

PASSWORD = "cheval-batterie-agrafe-correct"
VIEWS = Path(__file__).resolve().parents[1] / "dashboard" / "views"


@pytest.fixture
def secrets_path(tmp_path):
    """Streamlit reads its secrets from this path (nothing there yet) for the test."""
    saved = config.get_option("secrets.files")
    path = tmp_path / "secrets.toml"
    config.set_option("secrets.files", [str(path)])
    st.secrets._reset()  # the parsed secrets are kept process-wide
    yield path
    config.set_option("secrets.files", saved)
    st.secrets._reset()


def _open(engine, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("BALISE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_REGION", "84")
    at = open_page(**state)
    assert not at.exception, at.exception
    return at


def _closed(at: AppTest) -> bool:
    """Nothing of the dashboard drawn and nobody in the session."""
    return (
        not at.title
        and not at.metric
        and not at.sidebar.warning
        and "actor" not in (at.session_state)
    )


# ----- secrets.toml -----------------------------------------------------------------------------


def test_without_a_secrets_file_and_without_accounts_the_open_mode_stays(
    empty_db, monkeypatch, secrets_path
):
    at = _open(empty_db, monkeypatch)
    assert "Aucun compte n'existe encore" in at.sidebar.warning[0].value
    assert at.session_state["actor"] == SYSTEM


@pytest.mark.parametrize(
    "broken",
    ["invalid toml", "unreadable", "auth not a table"],
)
def test_a_broken_secrets_file_closes_the_dashboard(empty_db, monkeypatch, secrets_path, broken):
    # No account: before, any error reading the file opened the dashboard as administrator.
    if broken == "invalid toml":
        secrets_path.write_text('[auth\nredirect_uri = "http://x"\n')
    elif broken == "unreadable":
        secrets_path.mkdir()  # open() fails even for root
    else:
        secrets_path.write_text('auth = "oui"\n')
    at = _open(empty_db, monkeypatch)
    if broken == "auth not a table":
        assert [e.value for e in at.error] == [
            "La section [auth] du fichier de secrets de Streamlit est incomplète (manque : "
            "redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url) : le "
            "tableau de bord reste fermé tant qu'elle n'est pas corrigée."
        ]
    else:
        assert [e.value for e in at.error] == [SECRETS_BROKEN]
    assert _closed(at)


def test_an_incomplete_auth_section_closes_it_even_for_a_signed_in_session(
    empty_db, monkeypatch, secrets_path
):
    users.add_user(empty_db, SYSTEM, users.NewUser("anim38", "animator", ("38",), PASSWORD))
    secrets_path.write_text('[auth]\nredirect_uri = "http://127.0.0.1/oauth2callback"\n')
    at = _open(empty_db, monkeypatch, actor=Actor("anim38", "animator", ("38",)))
    assert [e.value for e in at.error] == [
        "La section [auth] du fichier de secrets de Streamlit est incomplète (manque : "
        "cookie_secret, client_id, client_secret, server_metadata_url) : le tableau de bord "
        "reste fermé tant qu'elle n'est pas corrigée."
    ]
    assert not at.title and not at.metric


# ----- a run without an actor -------------------------------------------------------------------


@pytest.mark.parametrize("page", ["audit", "comptes", "provisionner", "regional"])
def test_a_page_run_without_an_actor_stops_instead_of_acting_as_the_operator(
    empty_db, monkeypatch, page
):
    # A page script reached without the gate (no actor in the session): before, it acted as
    # the « système » administrator.
    seed_small_adoption(empty_db, demo=True)
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    at = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [NO_SESSION]
    assert not at.dataframe and not at.metric and not at.button


# ----- database errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "page"),
    [("snapshots", None), ("audit_log", "audit")],  # in the shared sidebar; inside a page
)
def test_a_database_error_is_an_error_not_no_data(empty_db, monkeypatch, caplog, table, page):
    users.add_user(empty_db, SYSTEM, users.NewUser("admin", "admin", (), PASSWORD))
    seed_small_adoption(empty_db, demo=True)
    with empty_db.begin() as conn:  # a table goes away under a signed-in user
        conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_perdue"))
    with caplog.at_level(logging.ERROR, logger="dashboard.store"):
        at = app_as(empty_db, monkeypatch, Actor("admin", "admin"), page)
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [STORE_DOWN]
    assert NO_DATA not in [i.value for i in at.info]
    assert not at.metric and not at.dataframe
    logged = [r.getMessage() for r in caplog.records if r.name == "dashboard.store"]
    assert logged and all(table in message for message in logged)


def test_an_unreachable_database_is_an_error_not_the_open_mode(tmp_path, monkeypatch):
    # No account could be read, so no open mode either: the gate stops on the error.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv(
        "BALISE_DATABASE_URL", f"postgresql+psycopg://balise@127.0.0.1:{port}/balise"
    )
    at = open_page()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [STORE_DOWN]
    assert _closed(at)


def test_a_file_that_is_not_a_database_is_an_error(tmp_path, monkeypatch):
    store = tmp_path / "balise.db"
    store.write_bytes(b"ceci n'est pas une base SQLite" * 100)
    monkeypatch.setenv("BALISE_DATABASE_URL", f"sqlite:///{store}")
    at = open_page()
    assert [e.value for e in at.error] == [STORE_DOWN]
    assert _closed(at)


def test_a_store_never_created_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BALISE_DATABASE_URL", f"sqlite:///{tmp_path / 'vide.db'}")
    at = open_page()
    assert [e.value for e in at.error] == [STORE_NOT_CREATED]
    assert _closed(at)
