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
from balise.referentials.departments import load_departments, resolve_selection
from balise.referentials.lifecycles import DataSource
from balise.services.access import Actor
from dashboard import data, store

NO_SESSION = (
    "Aucun utilisateur n'est connecté pour cette page : ouvrez le tableau de bord par son "
    "adresse d'accueil pour vous connecter."
)
SELECTION_KEY = "departments"
WIDGET_KEY = "_departments_widget"
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


def _default_selection() -> list[str]:
    """The configured region, narrowed to what the actor may read (an animator's own
    departments when the region holds none of them)."""
    s = store.settings()
    wanted = resolve_selection(default_region=s.region, default_departments=s.departments)
    actor = current_actor()
    if actor.sees_all:
        return list(wanted or ())
    return [d for d in wanted or () if d in actor.departments] or list(actor.departments)


def selection() -> tuple[str, ...]:
    if SELECTION_KEY not in st.session_state:
        st.session_state[SELECTION_KEY] = _default_selection()
    return tuple(st.session_state[SELECTION_KEY])


def _keep_selection() -> None:
    # An empty selection shows nothing anywhere: fall back to the default one. It also happens
    # without the user: a click made while the first run is still drawing reruns with the
    # widgets seen so far, and the department list arrives empty.
    st.session_state[SELECTION_KEY] = list(st.session_state[WIDGET_KEY]) or _default_selection()


def sidebar() -> None:
    """The department multiselect, its value kept under ``departments`` across pages."""
    actor = current_actor()
    options = list(actor.departments) if not actor.sees_all else list(load_departments())
    # The permanent value lives under ``departments``; the widget's own key is dropped by
    # Streamlit whenever a run does not draw it, so it is re-seeded from the permanent one.
    if not st.session_state.get(WIDGET_KEY):
        st.session_state[WIDGET_KEY] = list(selection())
    st.sidebar.multiselect(
        "Départements",
        options,
        key=WIDGET_KEY,
        on_change=_keep_selection,
        format_func=lambda c: f"{c} – {load_departments()[c].name}",
        help="La sélection s'applique à toutes les pages.",
        placeholder="Choisir des départements",
    )
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
