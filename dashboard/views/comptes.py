"""Comptes (administrators): the accounts, a new account, a role or department change, a new
password, disabling. Every rule is checked again by balise.services.users."""

from functools import partial

import streamlit as st

from balise.referentials.departments import load_departments
from balise.services.access import ROLES
from balise.services.labels import department_label
from balise.services.users import NewUser
from dashboard import actions, data, tables
from dashboard.shell import act, current_actor, flash

COLUMNS = {
    "login": "Identifiant", "display_name": "Nom", "role": "Rôle", "departments": "Départements",
    "disabled": "Désactivé", "locked_until": "Verrouillé jusqu'à", "local": "Mot de passe local",
    "created_at": "Créé le",
}  # fmt: skip
PICK_DEPARTMENTS = "Choisir un ou plusieurs départements"

st.title("Comptes")
actor = current_actor()
if actor.role != "admin":
    st.info("Seul un administrateur gère les comptes.")
    st.stop()
flash("accounts_done")
accounts = data.users_frame(actor)
shown = tables.in_paris(accounts, "locked_until", "created_at").assign(
    role=accounts["role"].map(lambda r: ROLES.get(r, r))
)
tables.labelled(
    shown, COLUMNS, empty="Aucun compte : créez le premier ci-dessous.", caption=False,
    column_config={COLUMNS["locked_until"]: tables.instant(), COLUMNS["created_at"]: tables.instant()},
)  # fmt: skip
departments = list(load_departments())


_act = partial(act, key="accounts_done")


st.subheader("Nouveau compte")
with st.form("user_new", clear_on_submit=True):
    login = st.text_input("Identifiant (ou e-mail pour OIDC)", max_chars=255, key="new_login")
    name = st.text_input("Nom affiché", max_chars=255, key="new_name")
    role = st.selectbox(
        "Rôle", list(ROLES), format_func=ROLES.get, key="new_role", placeholder="Choisir…"
    )
    assigned = st.multiselect("Départements (animateur)", departments, key="new_departments",
                              format_func=department_label, placeholder=PICK_DEPARTMENTS,
                              select_all=False)  # fmt: skip
    password = st.text_input("Mot de passe (vide : connexion OIDC seulement)", type="password",
                             key="new_password")  # fmt: skip
    if st.form_submit_button("Créer le compte", type="primary"):
        new = NewUser(login, role, tuple(assigned), password or None, name)
        _act(lambda: actions.user_add(actor, new), f"Compte {login.strip().lower()} créé.")

if not accounts.empty:
    st.subheader("Modifier un compte")
    chosen = st.selectbox(
        "Compte", accounts["login"].tolist(), key="edit_login", placeholder="Choisir…"
    )
    current = accounts.set_index("login").loc[chosen]
    with st.form("user_edit"):
        # Keys carry the account, so that picking another one shows its own values.
        role = st.selectbox("Rôle", list(ROLES), index=list(ROLES).index(current["role"]),
                            format_func=ROLES.get, key=f"edit_role_{chosen}",
                            placeholder="Choisir…")  # fmt: skip
        mine = [d for d in (current["departments"] or "").split(",") if d]
        assigned = st.multiselect("Départements (animateur)", departments, default=mine,
                                  key=f"edit_departments_{chosen}", format_func=department_label,
                                  placeholder=PICK_DEPARTMENTS, select_all=False)  # fmt: skip
        if st.form_submit_button("Enregistrer le rôle"):
            _act(lambda: actions.user_set_role(actor, chosen, role, assigned), "Rôle enregistré.")
    with st.form("user_password", clear_on_submit=True):
        password = st.text_input("Nouveau mot de passe", type="password", key="edit_password")
        if st.form_submit_button("Changer le mot de passe"):
            _act(lambda: actions.user_set_password(actor, chosen, password), "Mot de passe changé.")
    if st.button("Désactiver ce compte", key="edit_disable"):
        _act(lambda: actions.user_disable(actor, chosen), f"Compte {chosen} désactivé.")
