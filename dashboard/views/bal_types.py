"""Types de BAL: PER / ORG / APP / CAB by department and by category, in counts and shares."""

import streamlit as st

from balise.formatting import fr_int, fr_percent
from balise.referentials.bal_types import TYPE_COLUMNS, TYPES
from dashboard import charts, data, tables
from dashboard.shell import page_context

ctx = page_context("Types de BAL")
totals = data.headline(ctx.marker, ctx.actor, ctx.departments)["mailboxes"]
total = sum(totals.values())
if total == 0:
    st.info(
        "Aucune BAL rattachée aux ESMS de cette sélection : importez l'annuaire (`balise ingest annuaire SOURCE`)."
    )
    st.stop()
for col, t in zip(st.columns(len(TYPES)), TYPES, strict=True):
    col.metric(
        t.plural,
        fr_int(totals[t.code]),
        f"{fr_percent(totals[t.code] / total)} des BAL",
        delta_color="off",
        delta_arrow="off",
    )

as_share = (
    st.radio("Afficher", ["Nombre", "Part (%)"], horizontal=True, key="types_unit") == "Part (%)"
)
by_dep = data.mailbox_mix(ctx.marker, ctx.actor, ctx.departments, by="department")
by_cat = data.mailbox_mix(ctx.marker, ctx.actor, ctx.departments, by="category_code")
tab1, tab2 = st.tabs(["Par département", "Par catégorie"])
columns = [*TYPE_COLUMNS, "mailboxes"]
with tab1:
    st.plotly_chart(charts.mix_bars(by_dep, "department", as_share), key="mix_dep")
    tables.show(by_dep, ["department", *columns])
with tab2:
    st.plotly_chart(charts.mix_bars(by_cat, "category_code", as_share), key="mix_cat")
    tables.show(by_cat, ["category_code", *columns])
