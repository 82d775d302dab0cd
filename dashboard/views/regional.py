"""Vue régionale: imports awaiting a decision, headline figures, map of the equipped share,
trend, categories."""

import streamlit as st

from balise.formatting import fr_date, fr_int, fr_percent, fr_points, fr_signed, paris_time
from balise.referentials.bal_types import TYPE_COLUMNS, TYPES
from dashboard import actions, charts, data, maps, store, tables
from dashboard.markdown import plain
from dashboard.shell import act, flash, page_context

ctx = page_context("Vue régionale")
if problems := data.source_problems(ctx.marker):
    st.warning("\n".join(f"- {plain(p)}" for p in problems), icon="⏳")  # « balise sources »
flash("ingest_alert_done")
for alert in data.open_ingest_alerts(ctx.actor, ctx.departments).itertuples():
    st.error(  # plain text: a file name's underscores are no markdown
        plain(
            f"Alerte n° {alert.id} — import automatique du {fr_date(paris_time(alert.created_at))} "
            f"(« {alert.file_name} ») : {alert.message} Sinon, une fois le fichier vérifié, "
            "ignorez l'alerte."
        )
    )
    if st.button("Ignorer cette alerte", key=f"dismiss_alert_{alert.id}"):
        act(
            lambda alert_id=alert.id: actions.dismiss_ingest_alert(ctx.actor, alert_id),
            f"Alerte n° {alert.id} ignorée (tracé dans le journal d'audit).",
            "ingest_alert_done",
        )
h = data.headline(ctx.marker, ctx.actor, ctx.departments)
if h["structures"] == 0:
    st.info(
        "Aucun ESMS dans cette sélection : importez le fichier FINESS (`balise ingest finess SOURCE`)."
    )
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("ESMS suivis", fr_int(h["structures"]))
c2.metric("ESMS équipés", fr_int(h["equipped"]), fr_signed(h["equipped_delta"]),
          help="Évolution depuis l'extraction précédente de l'annuaire.")  # fmt: skip
c3.metric("Part équipée", fr_percent(h["share"] / 100), fr_points(h["share_delta"]))
c4.metric("BAL des ESMS", fr_int(sum(h["mailboxes"].values())))
for col, t in zip(st.columns(len(TYPES)), TYPES, strict=True):
    col.metric(t.plural, fr_int(h["mailboxes"][t.code]))

cov = data.coverage(ctx.marker, ctx.actor, ctx.departments)
geojson = data.boundaries(store.settings().geojson)
if geojson is not None:
    st.plotly_chart(maps.choropleth(geojson, cov), key="map")
else:
    st.plotly_chart(maps.tile_map(data.tile_grid(), cov), key="map")
    st.caption(
        "Carte schématique : aucun fichier de contours (réglage BALISE_GEOJSON) n'est disponible."
    )

left, right = st.columns(2)
points = data.trend(ctx.marker, ctx.actor, ctx.departments)
with left:
    if points.empty:
        st.info(
            "L'évolution apparaîtra après la première importation de l'annuaire (`balise ingest annuaire SOURCE`)."
        )
    else:
        st.plotly_chart(charts.trend_line(points), key="trend")
with right:
    st.plotly_chart(
        charts.category_bars(
            data.coverage(ctx.marker, ctx.actor, ctx.departments, by="category_code")
        ),
        key="categories",
    )

st.subheader("Par département")
mix = data.mailbox_mix(ctx.marker, ctx.actor, ctx.departments)
table = cov.merge(mix, on="department", how="left").fillna(0)
tables.show(
    table,
    [
        "department",
        "structures",
        "equipped",
        "share",
        *TYPE_COLUMNS,
    ],
)
