"""Shared fixtures. Database fixtures run every test twice: on SQLite and on a real PostgreSQL
started for the session (``postgres_server``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from balise.db import make_engine, upgrade
from tests.support.postgres import PostgresServer, start_postgres

_db_names = itertools.count(1)


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
def empty_db(database_url) -> Iterator[Engine]:
    """An engine on a database with the schema and no data."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


# --- Mail: a real Dovecot sandbox for the session (issue 4; glue in tests/support/dovecot.py) ---
@pytest.fixture(scope="session")
def dovecot():
    """A running Dovecot sandbox (IMAP/IMAPS/LMTP/submission, every MSSanté auth mode).

    Shared by the session: make fresh accounts with ``tests.support.dovecot.unique_address``."""
    from tests.support.dovecot import running_sandbox

    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def rogue_dovecot():
    """A Dovecot sandbox presenting an untrusted self-signed server certificate."""
    from tests.support.dovecot import running_sandbox

    with running_sandbox(rogue=True) as sandbox:
        yield sandbox
