"""Where the dashboard reaches the store: the settings, the engine, and how a database error
becomes one French message on the page. Reads (cached) are in ``dashboard.data``, actions (never
cached) in ``dashboard.actions``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from balise.config import Settings, load_settings
from balise.db import engine_for

log = logging.getLogger(__name__)


STORE_DOWN = (
    "La base de données ne répond pas ou est illisible : rien n'est affiché plutôt qu'un "
    "chiffre faux. Réessayez dans un instant ; si cela dure, prévenez l'administrateur "
    "(détails dans le journal du serveur)."
)


STORE_NOT_CREATED = (
    "La base de données n'est pas encore créée : lancez « balise demo » pour des données de "
    "démonstration, ou « balise ingest annuaire SOURCE »."
)


@st.cache_resource
def settings() -> Settings:
    return load_settings()


def engine():
    return engine_for(settings().resolved_database_url())


@contextmanager
def store_errors() -> Iterator[None]:
    """Around the whole run (dashboard/app.py): a database error anywhere becomes one French
    error on the page and its details go to the server log (the driver's message, not the
    statement's parameters); the run stops there."""
    try:
        yield
    except SQLAlchemyError as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc  # no statement parameters
        log.error("database error while drawing the page: %s: %s", type(exc).__name__, detail)
        st.error(STORE_NOT_CREATED if _store_not_created() else STORE_DOWN)
        st.stop()


def _store_not_created() -> bool:
    try:
        return not inspect(engine()).has_table("alembic_version")
    except SQLAlchemyError:  # unreachable too: the generic message
        return False
