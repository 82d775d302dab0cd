"""The login gate: who is using the dashboard, as an ``Actor`` kept in session state.

- OIDC when ``[auth]`` is configured in ``.streamlit/secrets.toml``: Streamlit's own
  ``st.login()`` (any OpenID Connect provider: Pro Santé Connect, a regional SSO); the identity
  token's claims become an actor through ``balise.services.users.oidc_actor`` (the accounts
  table first, else a role claim).
- Otherwise local accounts: a login form checked by ``balise.services.users.authenticate``
  (scrypt, lock-out).
- With no account at all and no OIDC (a fresh ``make run``), the dashboard stays open as the
  local operator and says so: the first ``balise user add --role admin`` closes it.
"""

from __future__ import annotations

import streamlit as st

from balise.errors import BaliseError
from balise.services.access import ROLES, SYSTEM, Actor
from dashboard import data

ACTOR_KEY = "actor"
OPEN_MODE = (
    "Aucun compte n'existe encore : le tableau de bord est ouvert à quiconque l'atteint. "
    "Créez le premier administrateur avec « balise user add LOGIN --role admin »."
)


def oidc_configured() -> bool:
    """True when secrets.toml has an ``[auth]`` section (st.login then works)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def require_actor() -> Actor:
    """The signed-in actor; draws the login screen and stops the run until there is one."""
    actor = st.session_state.get(ACTOR_KEY)
    if actor is not None:
        return actor
    if oidc_configured():
        actor = _oidc_actor()
    elif data.user_count() == 0:
        return SYSTEM  # not kept: the first account must close the open mode at once
    else:
        actor = _local_login()
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
        return data.oidc_login(st.user.to_dict())
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
            actor = data.local_login(login, password)
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
