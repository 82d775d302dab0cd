"""Tester: pick a structure by name, commune or FINESS (its identity and BALs shown) or test any
BAL of the selection; run the round trips and watch each step turn green or red as it happens;
test a whole department; history of latency and outcomes."""

import streamlit as st

from balise.errors import BaliseError
from balise.formatting import fr_seconds
from balise.mail.roundtrip import SEEN_BY, STEPS
from balise.referentials.lifecycles import ROUND_TRIP_OUTCOMES, RoundTripOutcome
from balise.services.bal_tests import TESTABLE
from balise.services.labels import department_label
from dashboard import actions, charts, data, tables
from dashboard.operator_servers import operator_servers_form
from dashboard.shell import current_actor, selection
from dashboard.structure_picker import link_with_structure, pick_structure, show_structure

STEP_LABELS = {"connect": "Connexion", "auth": "Authentification", "submit": "Envoi",
               "visible": "Réception"}  # fmt: skip
HISTORY_COLUMNS = {
    "debut": "Début", "adresse": "Adresse", "departement": "Département",
    "resultat": "Résultat", "etape_en_echec": "Étape en échec", "connexion_s": "Connexion (s)",
    "authentification_s": "Authentification (s)", "envoi_s": "Envoi (s)",
    "reception_s": "Réception (s)", "dossier": "Dossier", "vu_par": "Vu par",
    "message": "Message",
}  # fmt: skip
# Material icons ship with Streamlit (emoji fonts are often missing on work stations).
ICONS = {
    "waiting": ":gray[:material/radio_button_unchecked:]",
    "running": ":blue[:material/pending:]",
    "ok": ":green[:material/check_circle:]",
    "failed": ":red[:material/cancel:]",
}

st.title("Tester des BAL")
actor = current_actor()
if problem := data.bal_operator_status():
    st.warning(problem, icon=":material/warning:")
departments = tuple(selection()) or tuple(actor.departments)
if not departments:
    st.info("Choisissez au moins un département dans la barre latérale.")
    st.stop()
marker = data.bal_marker()
bals = data.bal_list(marker, actor, departments)


def _step_line(step: str, state: str, seconds: float | None) -> str:
    timing = f" {fr_seconds(seconds, 2)}" if seconds is not None else ""
    return f"{ICONS[state]} {STEP_LABELS[step]}{timing}"


def _run_one(address: str, case_id: str, with_xdm: bool) -> None:
    st.markdown(f"**{address}**")
    cells = dict(zip(STEPS, st.columns(len(STEPS)), strict=True))
    slots = {step: cells[step].empty() for step in STEPS}
    for step in STEPS:
        slots[step].markdown(_step_line(step, "waiting", None))

    def on_step(step: str, state: str, seconds: float | None) -> None:
        slots[step].markdown(_step_line(step, state, seconds))

    try:
        result = actions.bal_run_test(actor, address, case_id, with_xdm, on_step)
    except BaliseError as exc:
        st.error(str(exc))
        return
    show = {RoundTripOutcome.PASSED: st.success, RoundTripOutcome.JUNK: st.warning}.get(
        result.outcome, st.error
    )
    show(result.message)


def _testable(structure: dict | None) -> list[str]:
    """The BALs that can be tested: the picked structure's, else the whole selection's."""
    if bals.empty:
        return []
    ready = bals["statut"].isin(TESTABLE)
    if structure is not None:
        ready &= bals["finess"] == structure["finess_et"]
    return bals.loc[ready, "adresse"].tolist()


def _nothing_to_test(structure: dict | None) -> None:
    if structure is None:
        st.info(
            "Aucune BAL à tester dans cette sélection : provisionnez-en une (page Provisionner) "
            "ou confirmez une BAL demandée."
        )
        return
    st.info(
        "Aucune BAL provisionnée de cette structure n'est prête pour un test : provisionnez-en "
        "une ou confirmez une BAL demandée."
    )
    link_with_structure(
        "provisionner", "Provisionner une BAL", ":material/person_add:", structure["finess_et"]
    )


tab_run, tab_history = st.tabs(["Lancer des tests", "Historique"])
with tab_run:
    structure = pick_structure(actor, departments, key="test_structure", page="tester")
    if structure is not None:
        show_structure(actor, structure)
    testable = _testable(structure)
    if not testable:
        _nothing_to_test(structure)
    else:
        picked = st.multiselect(
            "BAL à tester",
            testable,
            default=testable[:1],
            key="test_pick",
            placeholder="Choisir…",
            select_all=False,
        )
        cases = data.bal_use_cases()
        case_id = st.selectbox(
            "Cas d'usage du message",
            list(cases),
            format_func=cases.get,
            key="test_case",
            placeholder="Choisir…",
        )
        with_xdm = st.checkbox("Joindre une archive IHE_XDM.ZIP factice", key="test_xdm")
        at_operator = bals.loc[bals["moteur"] == "request"]
        if not at_operator.empty:
            with st.expander("Serveurs de l'opérateur d'une BAL"):
                chosen = st.selectbox(
                    "BAL",
                    at_operator["adresse"].tolist(),
                    key="test_servers_pick",
                    placeholder="Choisir…",
                )
                where = at_operator.set_index("adresse").loc[chosen, "departement"]
                operator_servers_form(actor, chosen, where, key="test_servers")
        if st.button("Lancer les tests", type="primary", disabled=not picked, key="test_run"):
            for address in picked:
                _run_one(address, case_id, with_xdm)
        st.divider()
        department = st.selectbox(
            "Département",
            departments,
            format_func=department_label,
            key="test_department",
            placeholder="Choisir…",
        )
        if st.button("Tester toutes les BAL du département", key="test_department_run"):
            with st.spinner("Tests en cours…"):
                try:
                    results = actions.bal_run_department(actor, department)
                except BaliseError as exc:
                    st.error(str(exc))
                    results = []
            passed = sum(r.outcome.arrived for r in results)
            st.info(f"{passed} BAL sur {len(results)} ont réussi leur test.")
            st.dataframe(
                [{"Adresse": r.sender, "Résultat": r.outcome.label,
                  "Message": r.message} for r in results],
                hide_index=True,
            )  # fmt: skip

with tab_history:
    marker = data.bal_marker()
    history = tables.in_paris(data.bal_test_history(marker, actor, departments), "debut")
    if history.empty:
        st.info("Aucun test enregistré pour cette sélection.")
    else:
        counts = data.bal_outcome_counts(marker, actor, departments)
        st.plotly_chart(charts.roundtrip_latency(history), key="test_latency")
        st.plotly_chart(charts.roundtrip_outcomes(counts), key="test_outcomes")
        shown = history.assign(
            resultat=history["resultat"].map(ROUND_TRIP_OUTCOMES),
            departement=history["departement"].map(department_label),
            etape_en_echec=history["etape_en_echec"].fillna("—"),
            dossier=history["dossier"].fillna("—"),
            vu_par=history["vu_par"].map(SEEN_BY).fillna("—"),
        )
        # Step times the French way (« 0,016 »), never « 0.0163 »; a step not reached reads « — ».
        steps = ["connexion_s", "authentification_s", "envoi_s", "reception_s"]
        tables.labelled(
            shown.assign(**{s: shown[s].astype(float).round(3) for s in steps}),
            {c: h for c, h in HISTORY_COLUMNS.items() if c in shown.columns},
            column_config={HISTORY_COLUMNS["debut"]: tables.instant(seconds=True)},
        )
