"""Évolutions: mailboxes created and removed between two directory snapshots."""

import streamlit as st

from balise.formatting import fr_date, fr_int, fr_signed
from dashboard import charts, data, tables
from dashboard.shell import page_context

ctx = page_context("Évolutions")
snaps = data.directory_snapshots(ctx.marker)
if len(snaps) < 2:
    st.info(
        "Il faut au moins deux extractions de l'annuaire : relancez `balise ingest annuaire SOURCE` un autre jour."
    )
    st.stop()
labels = {int(r.snapshot_id): f"Extraction du {fr_date(r.date)}" for r in snaps.itertuples()}
ids = list(labels)
c1, c2 = st.columns(2)
before = c1.selectbox(
    "Depuis",
    ids,
    index=len(ids) - 2,
    format_func=labels.get,
    key="changes_before",
    placeholder="Choisir…",
)
after = c2.selectbox(
    "Jusqu'à",
    ids,
    index=len(ids) - 1,
    format_func=labels.get,
    key="changes_after",
    placeholder="Choisir…",
)
if before >= after:
    st.warning("Choisissez une extraction de départ antérieure à celle d'arrivée.")
    st.stop()

st.caption(
    "Chaque département est comparé à son propre état : un département non réimporté entre "
    "les deux extractions ne change pas ; un département importé pour la première fois entre "
    "les deux n'est pas compté."
)
totals = data.changes_totals(ctx.marker, ctx.actor, ctx.departments, before, after)
m1, m2, m3 = st.columns(3)
m1.metric("BAL créées", fr_int(totals["created"]))
m2.metric("BAL supprimées", fr_int(totals["removed"]))
m3.metric("Solde", fr_signed(totals["created"] - totals["removed"]))
by_dep = data.changes_between(ctx.marker, ctx.actor, ctx.departments, before, after, "department")
by_cat = data.changes_between(
    ctx.marker, ctx.actor, ctx.departments, before, after, "category_code"
)
if by_dep.empty:
    st.info("Aucune BAL créée ni supprimée entre ces deux extractions.")
    st.stop()
st.plotly_chart(charts.changes_bars(by_dep, "department"), key="changes_dep")
left, right = st.columns(2)
with left:
    st.subheader("Par département")
    tables.show(by_dep, ["department", "created", "removed"])
with right:
    st.subheader("Par catégorie de structure")
    by_cat = by_cat.sort_values(["created", "removed"], ascending=False, kind="stable")
    tables.show(by_cat, ["category_code", "created", "removed"])
