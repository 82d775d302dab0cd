"""Département: the selection's referent animators and ESMS, equipped or not, with filters; a
click opens the structure."""

import streamlit as st

from balise.formatting import fr_int, fr_percent
from balise.services.labels import category_label
from balise.services.structures import STRUCTURE_COLUMNS, StructureFilter
from dashboard import charts, data, maps, store, tables
from dashboard.navigation import page_path
from dashboard.referents import referents_block
from dashboard.shell import page_context

STATUSES = {"": "Tous", "equipped": "Équipés", "not_equipped": "Non équipés"}

ctx = page_context("Département")
referents_block(ctx.departments)
cats = data.coverage(ctx.marker, ctx.actor, ctx.departments, by="category_code")[
    "category_code"
].tolist()
f1, f2, f3, f4 = st.columns([2, 2, 1, 2])
chosen_cats = f1.multiselect(
    "Catégorie",
    cats,
    format_func=category_label,
    key="dep_categories",
    placeholder="Toutes",
    select_all=False,
)
chosen_cities = f2.multiselect(
    "Commune",
    data.cities(ctx.marker, ctx.actor, ctx.departments),
    key="dep_cities",
    placeholder="Toutes",
    select_all=False,
)
status = f3.selectbox(
    "Statut", list(STATUSES), format_func=STATUSES.get, key="dep_status", placeholder="Choisir…"
)
search = f4.text_input("Recherche (nom ou FINESS)", key="dep_search")
flt = StructureFilter(tuple(chosen_cats), tuple(chosen_cities), status, search)
df = data.structure_list(ctx.marker, ctx.actor, ctx.departments, flt)

if df.empty:
    st.info("Aucune structure ne correspond à ces filtres.")
    st.stop()
equipped = int(df["equipped"].sum())
m1, m2, m3 = st.columns(3)
m1.metric("Structures affichées", fr_int(len(df)))
m2.metric("Équipées", fr_int(equipped))
m3.metric("Part équipée", fr_percent(equipped / len(df)))
st.plotly_chart(charts.status_bars(df), key="status")

event = tables.show(
    df, STRUCTURE_COLUMNS,
    on_select="rerun", selection_mode="single-row", key="structures_table",
)  # fmt: skip


def _open(finess: str) -> None:
    st.session_state["structure"] = finess
    st.switch_page(page_path("structure"))


def _structure_map() -> None:
    """The listed ESMS where FINESS places them; a click on a point opens its sheet."""
    placed = data.structure_points(ctx.marker, ctx.actor, ctx.departments, flt)
    if placed.unplaced:
        n = fr_int(placed.unplaced)
        st.caption(f"{n} ESMS sans coordonnées ne sont pas placés sur la carte."
                   if placed.unplaced > 1 else "1 ESMS sans coordonnées n'est pas placé sur la carte.")  # fmt: skip
    if placed.points.empty:
        st.info("Aucun ESMS de cette liste n'a de coordonnées : elles viennent du fichier FINESS "
                "(lignes de géolocalisation en Lambert-93, ou flux FiNESS+) ; les territoires "
                "d'outre-mer ne sont pas encore placés.")  # fmt: skip
        return
    geojson = data.boundaries(store.settings().geojson)
    figure = maps.structure_map(placed.points, geojson, ctx.departments)
    clicked = st.plotly_chart(figure, key="structures_map", on_select="rerun",
                              selection_mode="points")  # fmt: skip
    if finess := maps.clicked_finess(clicked.selection if clicked else None):
        _open(finess)


if event and event.selection.rows:
    _open(df.iloc[event.selection.rows[0]]["finess_et"])
_structure_map()
labels = {r.finess_et: f"{r.name} ({r.finess_et})" for r in df.itertuples()}
pick = st.selectbox(
    "Ouvrir la fiche d'une structure",
    list(labels),
    format_func=labels.get,
    key="dep_pick",
    placeholder="Choisir…",
)
if st.button("Ouvrir la fiche", key="dep_open"):
    _open(pick)
