"""What every page shares: the acting user, the department selection kept across pages, the
data date and the demo banner. Pages call :func:`page_context` first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
from sqlalchemy.exc import OperationalError

from balise.db import busy_message, is_lock_timeout
from balise.errors import BaliseError
from balise.formatting import fr_date
from balise.referentials.lifecycles import DataSource
from balise.services.access import Actor
from dashboard import data, store
from dashboard import selection as department_selection

NO_SESSION = (
    "Aucun utilisateur n'est connecté pour cette page : ouvrez le tableau de bord par son "
    "adresse d'accueil pour vous connecter."
)
NO_DATA = (
    "Aucune donnée n'a encore été importée. Lancez `balise demo` pour des données de "
    "démonstration, ou `balise ingest annuaire SOURCE` puis `balise ingest finess SOURCE`."
)


@dataclass(frozen=True)
class PageContext:
    actor: Actor
    departments: tuple[str, ...]
    marker: int


def current_actor() -> Actor:
    """The signed-in actor, set by dashboard/auth.py (the local operator in the open mode, which
    auth.py decides). A run without one stops with an error: never a default account."""
    actor = st.session_state.get("actor")
    if actor is None:
        st.error(NO_SESSION)
        st.stop()
    return actor


def selection() -> tuple[str, ...]:
    """The departments the pages show (see dashboard/selection.py)."""
    return department_selection.current(current_actor())


def sidebar() -> None:
    """The department selection (kept across pages and in the page address), the data dates."""
    department_selection.picker(current_actor())
    _data_dates()


def _data_dates() -> None:
    latest = data.latest_snapshots(data.data_marker())
    lines = [f"{DataSource(r.source).label} : {fr_date(r.date)}" for r in latest.itertuples()]
    st.sidebar.caption(
        "Dates des données : " + " · ".join(lines) if lines else "Aucune donnée importée"
    )


def page_context(title: str) -> PageContext:
    """Title, data date, demo banner and empty states; stops the page when there is nothing."""
    st.title(title)
    marker = data.data_marker()
    latest = data.latest_snapshots(marker) if marker else None
    if latest is None or latest.empty:
        st.info(NO_DATA)
        st.stop()
    dates = " · ".join(
        f"{DataSource(r.source).label} du {fr_date(r.date)}" for r in latest.itertuples()
    )
    st.caption(f"Données : {dates}")
    if latest["is_demo"].any():
        st.warning("**Données de démonstration** : ces chiffres sont fictifs.", icon="⚠️")
    departments = selection()
    if not departments:
        st.info("Choisissez au moins un département dans la barre latérale.")
        st.stop()
    return PageContext(current_actor(), departments, marker)


def act(action: Callable[[], object], done: str, key: str) -> None:
    """Run one service action from a page. A refusal shows the service's French sentence; a
    success runs the page again so that its tables show the change, the message kept under
    ``key`` for that run (see ``flash``)."""
    try:
        action()
    except BaliseError as exc:
        st.error(str(exc))
    except OperationalError as exc:  # the write lock stayed held longer than BALISE_LOCK_WAIT
        if not is_lock_timeout(exc):
            raise
        st.error(busy_message(store.settings().lock_wait))
    else:
        st.session_state[key] = done
        st.rerun()


def flash(key: str) -> None:
    """Show the success message ``act`` kept for this run, once."""
    if done := st.session_state.pop(key, None):
        st.success(done)
