"""Exports: the webinar pack (xlsx) and single tables (CSV), built only when asked."""

import streamlit as st

from balise.errors import BaliseError
from balise.services.pack import TABLES, file_name
from dashboard import actions, charts, data
from dashboard.shell import page_context

TABLE_LABELS = {
    "departements": "Adoption par département",
    "categories": "Adoption par catégorie",
    "types": "BAL par type",
    "evolution": "Évolution de la part équipée",
    "changements": "BAL créées et supprimées",
    "structures": "Liste des structures",
}
ctx = page_context("Exports")
st.markdown(
    "Le **pack webinaire** rassemble dans un classeur Excel une page de garde (date, sélection, "
    "sources), les tableaux de chaque vue et leurs graphiques."
)
st.plotly_chart(
    charts.category_bars(data.coverage(ctx.marker, ctx.actor, ctx.departments, by="category_code")),
    key="preview",
)

if st.button("Préparer le pack webinaire", type="primary", key="build_pack"):
    try:
        with st.spinner("Préparation du classeur…"):
            st.session_state["pack"] = (
                ctx.departments,
                actions.build_pack(ctx.actor, ctx.departments),
            )
    except BaliseError as exc:
        st.error(str(exc))
ready = st.session_state.get("pack")
if ready and ready[0] == ctx.departments:
    st.download_button(
        "Télécharger le pack (xlsx)", ready[1], file_name=file_name(ready[0]),
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="download_pack",
    )  # fmt: skip

st.subheader("Un tableau en CSV")
table = st.selectbox(
    "Tableau", TABLES, format_func=TABLE_LABELS.get, key="csv_table", placeholder="Choisir…"
)
if st.button("Préparer le CSV", key="build_csv"):
    try:
        st.session_state["csv"] = (
            ctx.departments,
            table,
            actions.table_csv(ctx.actor, ctx.departments, table),
        )
    except BaliseError as exc:
        st.error(str(exc))
ready_csv = st.session_state.get("csv")
if ready_csv and ready_csv[:2] == (ctx.departments, table):
    st.download_button(
        "Télécharger le CSV",
        ready_csv[2],
        file_name=f"balise-{table}.csv",
        mime="text/csv",
        key="download_csv",
    )
