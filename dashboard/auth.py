"""The login gate: who is using the dashboard, as an ``Actor`` kept in session state.

- OIDC when ``[auth]`` is configured in ``.streamlit/secrets.toml``: Streamlit's own
  ``st.login()`` (any OpenID Connect provider: Pro Santé Connect, a regional SSO); the identity
  token's claims become an actor through ``balise.services.users.oidc_actor`` (the accounts
  table first, else a role claim).
- Otherwise local accounts: a login form checked by ``balise.services.users.authenticate``
  (scrypt, lock-out).
- With no account at all and no OIDC (a fresh ``make run``), the dashboard stays open as the
  local operator and says so: the first ``balise user add --role admin`` closes it (checked
  again at every run).

Fail closed: a secrets file that exists but cannot be read or parsed, or an ``[auth]`` section
missing what ``st.login`` needs, stops every page with an error; it never falls back to the open
mode. A database error while checking accounts is an error too (``store.store_errors``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import streamlit as st

from balise.errors import BaliseError
from balise.services.access import ROLES, SYSTEM, Actor
from dashboard import actions, data

ACTOR_KEY = "actor"
OPEN_KEY = "open_mode"  # set while the actor is the local operator of the open mode
OPEN_MODE = (
    "Aucun compte n'existe encore : le tableau de bord est ouvert à quiconque l'atteint. "
    "Créez le premier administrateur avec « balise user add LOGIN --role admin »."
)
SECRETS_BROKEN = (
    "Le fichier de secrets de Streamlit (.streamlit/secrets.toml) est illisible ou invalide : "
    "le tableau de bord reste fermé tant qu'il n'est pas corrigé ou retiré. Détails dans le "
    "journal du serveur."
)
# What st.login() needs for the default provider (Streamlit's own check, done up front).
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")

log = logging.getLogger(__name__)


def _secrets_files_exist() -> bool:
    return any(Path(p).exists() for p in st.get_option("secrets.files"))


def _stop(message: str) -> NoReturn:
    st.error(message)
    st.stop()
    raise AssertionError("unreachable: st.stop() raises")  # pragma: no cover


def oidc_configured() -> bool:
    """True when secrets.toml has a usable ``[auth]`` section (st.login then works); False
    when there is no secrets file at all. Anything else stops the page with an error."""
    try:
        auth = st.secrets.get("auth")
    except FileNotFoundError:  # Streamlit's "no secrets" error, or a parse error: which one?
        if not _secrets_files_exist():
            return False
        log.exception("secrets file present but unusable")
        _stop(SECRETS_BROKEN)
    except Exception:  # unreadable: permissions, a directory in its place...
        log.exception("secrets file unreadable")
        _stop(SECRETS_BROKEN)
    if auth is None:
        return False
    missing = [k for k in AUTH_KEYS if not isinstance(auth, Mapping) or k not in auth]
    if missing:
        log.error("[auth] in secrets.toml lacks %s", ", ".join(missing))
        _stop(
            "La section [auth] du fichier de secrets de Streamlit est incomplète (manque : "
            f"{', '.join(missing)}) : le tableau de bord reste fermé tant qu'elle n'est pas "
            "corrigée."
        )
    return True


def require_actor() -> Actor:
    """The signed-in actor; draws the login screen and stops the run until there is one."""
    oidc = oidc_configured()  # checked at every run: a broken secrets file closes at once
    actor = st.session_state.get(ACTOR_KEY)
    if actor is not None and not st.session_state.get(OPEN_KEY):
        return actor
    if not oidc and data.user_count() == 0:
        # Kept for this run's pages, and checked again at the next run: the first account
        # closes the open mode at once.
        st.session_state[ACTOR_KEY], st.session_state[OPEN_KEY] = SYSTEM, True
        return SYSTEM
    st.session_state.pop(ACTOR_KEY, None)
    st.session_state.pop(OPEN_KEY, None)
    actor = _oidc_actor() if oidc else _local_login()
    st.session_state[ACTOR_KEY] = actor
    return actor


def _oidc_actor() -> Actor:
    if not st.user.is_logged_in:
        st.title("Balise – connexion")
        st.write("Connectez-vous avec le compte de votre organisation.")
        if st.button("Se connecter", type="primary", key="oidc_login"):
            st.login()
        st.stop()
    try:
        return actions.oidc_login(st.user.to_dict())
    except BaliseError as exc:
        st.error(str(exc))
        if st.button("Se déconnecter", key="oidc_logout_refused"):
            st.logout()
        st.stop()


def _local_login() -> Actor:
    st.title("Balise – connexion")
    with st.form("login", enter_to_submit=True):
        login = st.text_input("Identifiant", key="login_name", max_chars=255)
        password = st.text_input("Mot de passe", type="password", key="login_password")
        submitted = st.form_submit_button("Se connecter", type="primary")
    if submitted:
        try:
            actor = actions.local_login(login, password)
        except BaliseError as exc:
            st.error(str(exc))
        else:
            st.session_state[ACTOR_KEY] = actor
            st.rerun()
    st.stop()


def account_box() -> None:
    """Who is signed in and the sign-out button, in the sidebar. Call it after st.navigation:
    in Streamlit 1.67 a button drawn before st.navigation (in runs that reach it) never reports
    its click, which the real browser shows and AppTest does not."""
    actor = st.session_state.get(ACTOR_KEY)
    if actor is None:
        return
    if st.session_state.get(OPEN_KEY):
        st.sidebar.warning(OPEN_MODE, icon="🔓")
        return
    where = ", ".join(actor.departments) if actor.departments else "tous les départements"
    st.sidebar.caption(f"Connecté : {actor.login} · {ROLES.get(actor.role, actor.role)} · {where}")
    if st.sidebar.button("Se déconnecter", key="logout"):
        st.session_state.clear()
        if oidc_configured():
            # Clears Streamlit's identity cookie through a redirect; a rerun here would drop
            # that redirect, so the run just ends.
            st.logout()
            st.stop()
        st.rerun()
