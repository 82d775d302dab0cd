"""The department selection every page shows: kept in the session across pages and in the page
address (``?departements=38,63``) so that a link or a reload opens the same departments.

The session holds the selection under ``departments``; the address is written back on every
run (Streamlit clears the query parameters when the menu switches pages). A different value in
the address comes from outside the session (a link, a reload, the browser's back button): it
is read, narrowed to the user's rights (fail closed: a foreign department is dropped with a
French warning, never shown), and becomes the selection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from balise.referentials.departments import load_departments, resolve_selection
from balise.services.access import Actor
from balise.services.labels import department_label
from dashboard import store

SELECTION_KEY = "departments"
WIDGET_KEY = "_departments_widget"
ONLY_KEY = "_departments_only"
ADDRESS_SEEN_KEY = "_departments_address"  # the address value this session last read or wrote
ADDRESS_PARAM = "departements"


@dataclass(frozen=True)
class AddressSelection:
    """What an address asked for, split by what the user may read."""

    kept: list[str]
    refused: list[str]  # real departments outside the user's rights
    unknown: int  # codes that are no department at all


def parse_address(values: Sequence[str], allowed: Sequence[str]) -> AddressSelection:
    """``?departements=38,63`` or ``?departements=38&departements=63``, in ``allowed``'s order;
    codes are compared as the referential writes them (« 2A », « 01 »)."""
    asked = {c.strip().upper() for v in values for c in v.split(",") if c.strip()}
    known = load_departments()
    return AddressSelection(
        kept=[d for d in allowed if d in asked],
        refused=sorted(d for d in asked if d in known and d not in allowed),
        unknown=sum(1 for d in asked if d not in known),
    )


def options(actor: Actor) -> list[str]:
    """The departments this user may select."""
    return list(load_departments()) if actor.sees_all else list(actor.departments)


def default_selection(actor: Actor) -> list[str]:
    """An animator's own departments; for a regional manager or an administrator, the configured
    region (or ``BALISE_DEPARTMENTS``)."""
    if not actor.sees_all:
        return list(actor.departments)
    s = store.settings()
    wanted = resolve_selection(default_region=s.region, default_departments=s.departments)
    return list(wanted or ())


def current(actor: Actor) -> tuple[str, ...]:
    if SELECTION_KEY not in st.session_state:
        st.session_state[SELECTION_KEY] = default_selection(actor)
    return tuple(st.session_state[SELECTION_KEY])


def _choose(departments: list[str]) -> None:
    st.session_state[SELECTION_KEY] = departments
    st.session_state[WIDGET_KEY] = list(departments)


def read_address(actor: Actor) -> None:
    """Adopt the address's selection when it is new to this session; warn about what it asked
    for and may not be shown."""
    values = st.query_params.get_all(ADDRESS_PARAM)
    raw = ",".join(values)
    if not raw.strip(", ") or raw == st.session_state.get(ADDRESS_SEEN_KEY):
        return
    st.session_state[ADDRESS_SEEN_KEY] = raw
    asked = parse_address(values, options(actor))
    if asked.refused:
        names = ", ".join(department_label(d) for d in asked.refused)
        them = "il est retiré" if len(asked.refused) == 1 else "ils sont retirés"
        st.sidebar.warning(
            f"Le lien demandait aussi {names} : votre compte n'y donne pas accès, {them} de "
            "la sélection.",
            icon="⚠️",
        )
    if asked.unknown:
        st.sidebar.warning(
            "Le lien contenait un code de département inconnu, ignoré."
            if asked.unknown == 1
            else f"Le lien contenait {asked.unknown} codes de département inconnus, ignorés.",
            icon="⚠️",
        )
    if not asked.kept:
        st.sidebar.info("Aucun département du lien n'est consultable : sélection par défaut.")
    _choose(asked.kept or default_selection(actor))


def write_address(departments: Sequence[str]) -> None:
    """Put the selection in the page address (only when it changed: each write is a message to
    the browser)."""
    value = ",".join(departments)
    if not value:  # an account without departments: nothing to keep, no empty parameter
        st.query_params.pop(ADDRESS_PARAM, None)
    elif st.query_params.get_all(ADDRESS_PARAM) != [value]:
        st.query_params[ADDRESS_PARAM] = value
    st.session_state[ADDRESS_SEEN_KEY] = value


def _keep_widget_value(actor: Actor) -> None:
    # An empty selection shows nothing anywhere: fall back to the default one. It also happens
    # without the user: a click made while the first run is still drawing reruns with the
    # widgets seen so far, and the department list arrives empty.
    picked = set(st.session_state[WIDGET_KEY])
    in_order = [d for d in options(actor) if d in picked]  # one address for one selection
    st.session_state[SELECTION_KEY] = in_order or default_selection(actor)


def _keep_only() -> None:
    if only := st.session_state[ONLY_KEY]:
        _choose([only])
    st.session_state[ONLY_KEY] = None  # the shortcut is a command, not a state


def _back_to_default(actor: Actor) -> None:
    _choose(default_selection(actor))


def _default_label(actor: Actor) -> str:
    if not actor.sees_all:
        return "Tous mes départements"
    return "Départements par défaut" if store.settings().departments else "Toute la région"


def picker(actor: Actor) -> tuple[str, ...]:
    """The sidebar's department multiselect and its shortcuts (« Seulement ce département »,
    back to the default); returns the selection, also written in the page address."""
    read_address(actor)
    allowed = options(actor)
    # The widget's own key is dropped by Streamlit whenever a run does not draw it (a page
    # switch may), so it is re-seeded from the permanent value.
    if not st.session_state.get(WIDGET_KEY):
        st.session_state[WIDGET_KEY] = list(current(actor))
    st.sidebar.multiselect(
        "Départements",
        allowed,
        key=WIDGET_KEY,
        on_change=_keep_widget_value,
        args=(actor,),
        format_func=department_label,
        help="La sélection s'applique à toutes les pages et reste dans l'adresse de la page : "
        "un lien ou un rechargement l'ouvre telle quelle.",
        placeholder="Choisir des départements",
        select_all=False,  # Streamlit's « Select all » is English; « Toute la région » does it
    )
    # The shortcut lists the usual departments and the selected ones, not all 101 of France.
    usual = {*default_selection(actor), *current(actor)}
    shortcuts = [d for d in allowed if d in usual]
    if len(shortcuts) > 1:
        st.sidebar.selectbox(
            "Seulement ce département",
            shortcuts,
            index=None,
            key=ONLY_KEY,
            on_change=_keep_only,
            format_func=department_label,
            placeholder="Garder un seul département…",
            help="Remplace la sélection par ce seul département, en un clic.",
        )
        st.sidebar.button(_default_label(actor), key="_departments_default",
                          on_click=_back_to_default, args=(actor,))  # fmt: skip
    chosen = current(actor)
    write_address(chosen)
    return chosen
