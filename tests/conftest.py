"""Shared fixtures. Database fixtures run every test twice: on SQLite and on a real PostgreSQL
started for the session (``postgres_server``)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text

from balise.db import dispose_engines, make_engine, upgrade
from sandbox.postgres import PostgresServer, start_postgres
from tests.support.boundaries import write_boundary_file

# The map's default boundary file is a download from the internet: no test may reach it. Tests
# that draw the map set BALISE_GEOJSON to ``boundary_file``; the others (and every process they
# start) get the offline tile map.
os.environ["BALISE_GEOJSON"] = ""
# Likewise the default sources (data.gouv.fr) and the archive of imported files (under the
# project's data/): tests that fetch or archive point these at their own server and folder.
os.environ["BALISE_ANNUAIRE_URL"] = ""
os.environ["BALISE_FINESS_URL"] = ""
os.environ["BALISE_ARCHIVE_DIR"] = ""

_db_names = itertools.count(1)

# CI replays the same examples every run (a failure there is reproducible, never a coin toss);
# locally hypothesis explores new ones each time.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# Fixtures that start a real server, and the marker every test using them must carry (so that
# ``-m "not mail"`` leaves out every Dovecot test). Added here rather than remembered in each file.
SERVER_MARKERS = {
    "dovecot": "mail",
    "rogue_dovecot": "mail",
    "dovecot_other_operator": "mail",
    "dovecot_silent_idle": "mail",
    "self_hosted_dovecot": "mail",
    "sandbox_operator_dir": "mail",
    "postgres_server": "postgres",
}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects on markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker in sorted({SERVER_MARKERS[f] for f in used & SERVER_MARKERS.keys()}):
            if item.get_closest_marker(marker) is None:
                item.add_marker(marker)


@pytest.fixture
def boundary_file(tmp_path) -> Path:
    """A small generated boundary file for the Auvergne-Rhône-Alpes departments."""
    return write_boundary_file(tmp_path / "departements.geojson")


@pytest.fixture(autouse=True)
def _pooled_connections_closed() -> Iterator[None]:
    """Each test's database gets its own engine (``engine_for``, in the CLI and the pages run
    in-process): close their pools after the test, so PostgreSQL never runs out of clients."""
    yield
    dispose_engines()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, once per module of browser journeys."""
    from tests.support.browser import chromium

    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    """A fresh French page (its own context: cookies, downloads) in that browser."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 2000}, locale="fr-FR", accept_downloads=True
    )
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def _fresh_postgres_url(server: PostgresServer) -> str:
    name = f"balise_test_{next(_db_names)}"
    admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.url(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A URL to an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'balise.db'}"
    return _fresh_postgres_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def second_database_url(database_url, tmp_path, request) -> str:
    """Another empty database on the same backend as ``database_url`` (a rebuild's target)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    return _fresh_postgres_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def empty_db(database_url) -> Iterator[Engine]:
    """An engine on a database with the schema and no data."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_with_ain_ehpad(empty_db) -> Engine:
    """The empty store plus one FINESS establishment, 010001246 (EHPAD Les Lilas, Ain 01): a
    BAL of the 01 may name it as its structure."""
    from tests.support.finess import seed_establishment

    seed_establishment(empty_db)
    return empty_db


# --- Mail: a real Dovecot sandbox for the session (glue in tests/support/dovecot.py) ---
@pytest.fixture(scope="session")
def dovecot():
    """A running Dovecot sandbox (IMAP/IMAPS/LMTP/submission, every MSSanté auth mode).

    Shared by the session: make fresh accounts with ``tests.support.dovecot.unique_address``."""
    from sandbox.harness import running_sandbox

    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def rogue_dovecot():
    """A Dovecot sandbox presenting an untrusted self-signed server certificate."""
    from sandbox.harness import running_sandbox

    with running_sandbox(rogue=True) as sandbox:
        yield sandbox


# --- Downloads: a real local TLS server (glue in tests/support/https.py) ---
@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """A TLS server on 127.0.0.1 whose certificate only a test CA vouches for; set what each
    path answers in ``https_server.files`` (``tests.support.https.Reply``)."""
    from tests.support.https import serving_https

    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with serving_https(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_other_operator():
    """Dovecot behaving like another operator's server: no IDLE, an ``INBOX.`` namespace with
    "." as separator, unflagged Sent/Junk folders, a relay delivering 1–3 s after accepting
    (``tests.support.dovecot.OTHER_OPERATOR``)."""
    from sandbox.harness import running_sandbox
    from tests.support.dovecot import OTHER_OPERATOR

    with running_sandbox(**OTHER_OPERATOR) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def dovecot_silent_idle():
    """(sandbox, proxy): a server that offers IDLE but never pushes (``SilentIdleProxy`` in
    front of Dovecot), behind a relay delivering 1–3 s after accepting. Connect IMAP to the
    proxy's port with implicit TLS."""
    from sandbox.harness import running_sandbox
    from tests.support.silent_idle import SilentIdleProxy

    with running_sandbox(relay_delay=(1.0, 3.0)) as sandbox, SilentIdleProxy(sandbox) as proxy:
        yield sandbox, proxy
