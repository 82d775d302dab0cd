"""Provisionner: one BAL through a form by type with live validation, or a spreadsheet of BALs
(dry run, then apply), and the list of provisioned BALs with their status."""

import streamlit as st

from balise.errors import BaliseError
from balise.referentials.bal_rules import FIELD_LABELS, REQUIRED, BalRequest, suggest_address
from balise.referentials.bal_types import BAL_TYPES
from balise.referentials.lifecycles import BalStatus
from balise.services.provisioning import STATUSES
from dashboard import actions, data, store, tables
from dashboard.operator_servers import operator_servers_form
from dashboard.shell import current_actor, selection

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
departments = list(selection()) or list(actor.departments)
if not departments:
    st.info("Choisissez au moins un département dans la barre latérale.")
    st.stop()

tab_one, tab_many, tab_list = st.tabs(["Une BAL", "Import en lot", "BAL provisionnées"])


def _form() -> BalRequest:
    kind = st.radio(
        "Type de BAL", list(BAL_TYPES), format_func=lambda c: f"{c} – {BAL_TYPES[c]}",
        horizontal=True, key="prov_type",
    )  # fmt: skip
    department = st.selectbox("Département", departments, key="prov_department")
    values = {"bal_type": kind, "department": department}
    cols = st.columns(2)
    for i, name in enumerate(REQUIRED[kind]):
        label = FIELD_LABELS[name][0].upper() + FIELD_LABELS[name][1:]
        values[name] = cols[i % 2].text_input(label, key=f"prov_{name}")
    # Whose FINESS it is, as soon as it is typed (the checks below refuse another
    # department's or an unknown one).
    typed_finess = values.get("finess", "").strip()
    if typed_finess and (owner := data.bal_finess_owner(actor, typed_finess)):
        st.caption(f"FINESS {owner.finess} : {owner.label()}")
    domains = [d for d in settings.allowed_domains if not d.startswith("*.")]
    if domains:
        domain = st.selectbox("Domaine", domains, key="prov_domain")
    else:
        domain = st.text_input("Domaine", placeholder="structure.mssante.fr", key="prov_domain")
    request = BalRequest.from_mapping(values)
    suggested = suggest_address(request, domain or "")
    typed = st.text_input(
        "Adresse", placeholder=suggested, key="prov_address",
        help="Laissez vide pour utiliser l'adresse proposée (convention de l'opérateur).",
    )  # fmt: skip
    request.address = typed or suggested
    if suggested and not typed:
        st.caption(f"Adresse proposée : {suggested}")
    return request


with tab_one:
    request = _form()
    problems = actions.bal_check(actor, request)
    if problems:
        st.markdown("**À corriger avant de provisionner :**")
        for _, message in problems:
            st.error(message)
    else:
        st.success(
            "La demande respecte les règles : elle peut être provisionnée.",
            icon=":material/check_circle:",
        )
    if st.button("Provisionner", type="primary", disabled=bool(problems), key="prov_submit"):
        try:
            report = actions.bal_provision(actor, request)
        except BaliseError as exc:
            st.error(str(exc))
        else:
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

with tab_many:
    st.download_button(
        "Télécharger le modèle d'import", data.bal_template(), file_name="import_bal.xlsx",
        key="prov_template",
    )  # fmt: skip
    uploaded = st.file_uploader("Classeur d'import (xlsx)", type=["xlsx"], key="prov_upload")
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
    bals = data.bal_list(marker, actor, tuple(departments))
    if bals.empty:
        st.info("Aucune BAL provisionnée dans cette sélection.")
    else:
        shown = tables.in_paris(bals, "mis_a_jour").assign(statut=bals["statut"].map(STATUSES))
        st.dataframe(
            shown.rename(columns=LIST_COLUMNS), hide_index=True,
            column_config={LIST_COLUMNS["mis_a_jour"]: tables.instant()},
        )  # fmt: skip
        waiting = bals.loc[bals["statut"] == BalStatus.REQUESTED, "adresse"].tolist()
        if waiting:
            chosen = st.selectbox("BAL demandée à confirmer", waiting, key="prov_confirm_pick")
            if st.button("Confirmer sa création par l'opérateur", key="prov_confirm"):
                try:
                    actions.bal_confirm(actor, chosen)
                    st.success(f"BAL {chosen} confirmée.")
                except BaliseError as exc:
                    st.error(str(exc))
        at_operator = bals.loc[bals["moteur"] == "request"]
        if not at_operator.empty:
            st.subheader("Serveurs de l'opérateur")
            picked = st.selectbox("BAL", at_operator["adresse"].tolist(), key="prov_servers_pick")
            where = at_operator.set_index("adresse").loc[picked, "departement"]
            operator_servers_form(actor, picked, where, key="prov_servers")
