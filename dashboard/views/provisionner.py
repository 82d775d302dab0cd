"""Provisionner: one BAL for a structure picked by name, commune or FINESS (its identity, its BALs
and the proposed address shown; the form's problems told from its first submit on), or a
spreadsheet of BALs (dry run, then apply), and the list of provisioned BALs with their status."""

import streamlit as st

from balise.errors import BaliseError
from balise.referentials.bal_rules import FIELD_LABELS, REQUIRED, BalRequest, suggest_address
from balise.referentials.bal_types import BAL_TYPES
from balise.referentials.lifecycles import BalStatus
from balise.services.labels import department_label
from balise.services.provisioning import STATUSES
from dashboard import actions, data, store, tables
from dashboard.operator_servers import operator_servers_form
from dashboard.shell import current_actor, selection
from dashboard.structure_picker import pick_structure, show_structure

LIST_COLUMNS = {
    "adresse": "Adresse", "type": "Type", "departement": "Département", "finess": "FINESS",
    "statut": "Statut", "moteur": "Moteur", "authentification": "Authentification",
    "mis_a_jour": "Mise à jour",
}  # fmt: skip

st.title("Provisionner des BAL")
actor = current_actor()
settings = store.settings()
if settings.provision_backend == "dovecot":
    st.caption(
        "Moteur : **serveur Dovecot** : les comptes y sont créés directement. Avec « make run », "
        "c'est l'opérateur bac à sable local : ses BAL sont fictives et servent à s'exercer."
    )
else:
    st.caption(
        "Moteur : **demande à l'opérateur** (fichier xlsx et csv). La BAL reste « demandée » "
        "jusqu'à ce que vous confirmiez sa création."
    )
if problem := data.bal_operator_status():
    st.warning(problem, icon=":material/warning:")
departments = tuple(selection()) or tuple(actor.departments)
if not departments:
    st.info("Choisissez au moins un département dans la barre latérale.")
    st.stop()

tab_one, tab_many, tab_list = st.tabs(["Une BAL", "Import en lot", "BAL provisionnées"])


TRIED = "prov_tried"  # submitted once: from then on the form's problems show as it changes
DOMAIN_FOR = "prov_domain_for"  # the structure whose domain the « Domaine » box was preset to


def _start_again() -> None:
    st.session_state[TRIED] = False


def _tried() -> None:
    st.session_state[TRIED] = True


def _department(structure: dict | None) -> str:
    if structure is not None:  # the structure's own: a BAL belongs to its structure's department
        return structure["department"]
    return st.selectbox(
        "Département",
        departments,
        format_func=department_label,
        key="prov_department",
        placeholder="Choisir…",
    )


def _domain(structure: dict | None, known: list[str]) -> str:
    """The domain, preset to the one the structure's BALs already use when it is allowed (set
    through the session state once per structure: a keyed widget keeps its value otherwise)."""
    domains = [d for d in settings.allowed_domains if not d.startswith("*.")]
    finess = structure["finess_et"] if structure is not None else ""
    if st.session_state.get(DOMAIN_FOR) != finess or "prov_domain" not in st.session_state:
        st.session_state[DOMAIN_FOR] = finess
        proposed = data.structure_domain(known)
        if proposed and (proposed in domains or not domains):
            st.session_state["prov_domain"] = proposed
    if domains:
        return st.selectbox("Domaine", domains, key="prov_domain", placeholder="Choisir…")
    return st.text_input("Domaine", placeholder="structure.mssante.fr", key="prov_domain")


def _form(structure: dict | None, known: list[str]) -> BalRequest:
    kind = st.radio(
        "Type de BAL", list(BAL_TYPES), format_func=lambda c: f"{c} – {BAL_TYPES[c]}",
        horizontal=True, key="prov_type", on_change=_start_again,
    )  # fmt: skip
    finess = structure["finess_et"] if structure is not None else ""
    values = {"bal_type": kind, "department": _department(structure), "finess": finess}
    if structure is None and "finess" in REQUIRED[kind]:
        st.info(
            f"Une BAL {BAL_TYPES[kind].lower()} porte le FINESS de sa structure : "
            "choisissez-la ci-dessus."
        )
    cols = st.columns(2)
    for i, name in enumerate(n for n in REQUIRED[kind] if n != "finess"):
        label = FIELD_LABELS[name][0].upper() + FIELD_LABELS[name][1:]
        values[name] = cols[i % 2].text_input(label, key=f"prov_{name}")
    domain = _domain(structure, known)
    request = BalRequest.from_mapping(values)
    suggested = suggest_address(request, domain or "")
    typed = st.text_input(
        "Adresse", placeholder=suggested or "Proposée d'après les champs ci-dessus",
        key="prov_address",
        help="Laissez vide pour utiliser l'adresse proposée (convention de l'opérateur).",
    )  # fmt: skip
    request.address = typed or suggested
    if suggested and not typed:
        st.caption(f"Adresse proposée : {suggested}")
    return request


def _provision(request: BalRequest) -> None:
    try:
        report = actions.bal_provision(actor, request)
    except BaliseError as exc:
        st.error(str(exc))
        return
    done = "créée" if report.status == BalStatus.PROVISIONED else "demandée à l'opérateur"
    st.success(f"BAL {report.address} {done}.")
    if report.secret:
        st.code(report.secret, language="text")
        st.caption("Mot de passe affiché une seule fois : transmettez-le au titulaire.")
    for path in report.files:
        st.download_button(
            f"Télécharger {path.name}", path.read_bytes(), file_name=path.name,
            key=f"dl_{path.name}",
        )  # fmt: skip


with tab_one:
    structure = pick_structure(
        actor, departments, key="prov_structure", page="provisionner", on_change=_start_again
    )
    card = st.empty()  # drawn again below once a BAL is provisioned: the card lists it at once
    known = show_structure(actor, structure, card.container()) if structure is not None else []
    request = _form(structure, known)
    # No verdict on a form nobody has submitted yet: the problems show after the first click.
    tried = st.session_state.get(TRIED, False)
    problems = actions.bal_check(actor, request) if tried else []
    if problems:
        st.markdown("**À corriger avant de provisionner :**")
        for _, message in problems:
            st.error(message)
    elif tried:
        st.success(
            "La demande respecte les règles : elle peut être provisionnée.",
            icon=":material/check_circle:",
        )
    clicked = st.button(
        "Provisionner", type="primary", disabled=bool(problems), key="prov_submit",
        on_click=_tried,
    )  # fmt: skip
    if clicked and not problems:
        _provision(request)
        if structure is not None:
            show_structure(actor, structure, card.container())

with tab_many:
    st.download_button(
        "Télécharger le modèle d'import", data.bal_template(), file_name="import_bal.xlsx",
        key="prov_template",
    )  # fmt: skip
    uploaded = st.file_uploader(
        "Classeur d'import (xlsx)",
        type=["xlsx"],
        key="prov_upload",
        help="Un classeur .xlsx rempli d'après le modèle ci-dessus.",
    )
    if uploaded is not None:
        content = uploaded.getvalue()
        try:
            check = actions.bal_import_check(actor, content)
        except BaliseError as exc:
            st.error(str(exc))
            st.stop()
        st.dataframe(
            [{"Ligne": r.line, "Adresse": r.address, "État": r.state,
              "Problèmes": " ; ".join(r.problems)} for r in check.rows],
            hide_index=True,
        )  # fmt: skip
        (st.error if check.errors else st.info)(check.summary())
        if st.button("Appliquer l'import", disabled=bool(check.errors), key="prov_apply"):
            try:
                st.success(actions.bal_import_apply(actor, content).summary())
            except BaliseError as exc:
                st.error(str(exc))

with tab_list:
    marker = data.bal_marker()
    bals = data.bal_list(marker, actor, departments)
    if bals.empty:
        st.info("Aucune BAL provisionnée dans cette sélection.")
    else:
        shown = tables.in_paris(bals, "mis_a_jour").assign(
            statut=bals["statut"].map(STATUSES),
            departement=bals["departement"].map(department_label),
        )
        st.dataframe(
            shown.rename(columns=LIST_COLUMNS), hide_index=True,
            column_config={LIST_COLUMNS["mis_a_jour"]: tables.instant()},
        )  # fmt: skip
        waiting = bals.loc[bals["statut"] == BalStatus.REQUESTED, "adresse"].tolist()
        if waiting:
            chosen = st.selectbox(
                "BAL demandée à confirmer", waiting, key="prov_confirm_pick", placeholder="Choisir…"
            )
            if st.button("Confirmer sa création par l'opérateur", key="prov_confirm"):
                try:
                    actions.bal_confirm(actor, chosen)
                    st.success(f"BAL {chosen} confirmée.")
                except BaliseError as exc:
                    st.error(str(exc))
        at_operator = bals.loc[bals["moteur"] == "request"]
        if not at_operator.empty:
            st.subheader("Serveurs de l'opérateur")
            picked = st.selectbox(
                "BAL",
                at_operator["adresse"].tolist(),
                key="prov_servers_pick",
                placeholder="Choisir…",
            )
            where = at_operator.set_index("adresse").loc[picked, "departement"]
            operator_servers_form(actor, picked, where, key="prov_servers")
