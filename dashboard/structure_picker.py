"""Structure first, on the Provisionner and Tester pages: one search box over the ESMS of the
selected departments (name, commune or FINESS), then the structure's identity and its BALs.

The picked structure is kept in the page address (``?finess=…``): the Structure page links here
with it, and a reload keeps it. A number the actor may not read is refused with the services'
French sentence (and an audit line), never shown."""

from __future__ import annotations

import streamlit as st

from balise.errors import NotFoundError, PermissionDenied
from balise.services.access import Actor
from balise.services.labels import bal_type_label, category_label, department_label
from balise.services.provisioning import STATUSES
from dashboard import actions, data
from dashboard.navigation import page_path

QUERY_KEY = "finess"
PLACEHOLDER = "Rechercher une structure par nom, commune ou numéro FINESS"
BAL_COLUMNS = {"adresse": "Adresse", "type": "Type de BAL", "annuaire": "Dans l'annuaire",
               "statut": "Provisionnement"}  # fmt: skip


def _keep_in_address(key: str) -> None:
    """The box's value goes to the page address, so that a reload or a shared link keeps it."""
    picked = st.session_state.get(key)
    if picked:
        st.query_params[QUERY_KEY] = picked
    elif QUERY_KEY in st.query_params:
        del st.query_params[QUERY_KEY]


def explain_outside(actor: Actor, finess: str, page: str) -> None:
    """Why the structure of the address is not offered: another department's (refused and
    audited), unknown, or outside the sidebar selection."""
    try:
        ident = data.establishment(data.data_marker(), actor, finess)
    except PermissionDenied as exc:
        actions.audit_refusal(actor, f"page.{page}", exc)
        st.error(str(exc))
        return
    except NotFoundError as exc:
        st.error(str(exc))
        return
    st.warning(
        f"{ident['name']} (FINESS {finess}) est dans le département "
        f"{department_label(ident['department'])}, hors de la sélection : ajoutez ce "
        "département dans la barre latérale pour la choisir."
    )


def pick_structure(
    actor: Actor, departments: tuple[str, ...], key: str, page: str, on_change=None
) -> dict | None:
    """The search box; the picked structure's identity (``structures.establishment``) or None.
    ``on_change`` runs too when the user picks another structure (a form to start again)."""
    choices = data.structure_search_labels(data.data_marker(), actor, departments)
    wanted = st.query_params.get(QUERY_KEY)
    if wanted in choices:
        st.session_state[key] = wanted
    elif wanted:
        explain_outside(actor, wanted, page)

    def changed() -> None:
        _keep_in_address(key)
        if on_change is not None:
            on_change()

    picked = st.selectbox(
        "Structure", list(choices), index=None, format_func=choices.get, key=key,
        placeholder=PLACEHOLDER if choices else "Aucune structure dans la sélection",
        filter_mode="contains", on_change=changed,
        help="Les ESMS des départements choisis dans la barre latérale.",
    )  # fmt: skip
    if picked is None:
        return None
    return data.establishment(data.data_marker(), actor, picked)


def show_structure(actor: Actor, ident: dict, where=None) -> list[str]:
    """Identity and current BALs of the picked structure, in ``where`` (a container; the page
    by default); returns their addresses."""
    finess = ident["finess_et"]
    with (where or st.container()).container(border=True):
        st.markdown(
            f"**{ident['name']}**  \n**FINESS** {finess} · **Catégorie** "
            f"{category_label(ident['category_code'])} · **Commune** {ident['city'] or '—'} · "
            f"**Département** {department_label(ident['department'])}"
        )
        bals = data.structure_bals(data.structure_bals_marker(), actor, finess)
        if bals.empty:
            st.caption("Aucune BAL pour l'instant : ni dans l'annuaire, ni provisionnée.")
            return []
        shown = bals.assign(
            type=bals["type"].map(bal_type_label),
            annuaire=bals["annuaire"].map({True: "oui", False: "non"}),
            statut=bals["statut"].map(STATUSES).fillna("—"),
        )
        st.dataframe(shown.rename(columns=BAL_COLUMNS), hide_index=True)
        return bals["adresse"].tolist()


def link_with_structure(url_path: str, label: str, icon: str, finess: str) -> None:
    """A link to the page ``url_path`` with this structure picked; the address's other
    parameters (the department selection) go along."""
    params = {**st.query_params.to_dict(), QUERY_KEY: finess}
    st.page_link(page_path(url_path), label=label, icon=icon, query_params=params)
