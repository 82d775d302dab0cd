"""Figures of the Tester page (issue 5): pure functions, DataFrame in, plotly Figure out.
Kept beside charts.py, with its layout and palette, while that module is being reworked."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts import OKABE_ITO, _layout
from dashboard.format import fr_date

OUTCOME_LABELS = {
    "passed": "Réussi",
    "junk": "Réussi (indésirables)",
    "timeout": "Délai dépassé",
    "failed": "Échec",
}
OUTCOME_COLOURS = {
    "passed": OKABE_ITO[2],
    "junk": OKABE_ITO[1],
    "timeout": OKABE_ITO[3],
    "failed": OKABE_ITO[5],
}


def roundtrip_latency(history: pd.DataFrame) -> go.Figure:
    """Each test's time to see the message (connect + auth + submit + visible), by outcome."""
    fig = go.Figure()
    total = history[["connexion_s", "authentification_s", "envoi_s", "reception_s"]].sum(axis=1)
    for outcome, label in OUTCOME_LABELS.items():
        rows = history["resultat"] == outcome
        if rows.any():
            fig.add_trace(
                go.Scatter(
                    x=history.loc[rows, "debut"], y=total[rows], mode="markers", name=label,
                    marker={"color": OUTCOME_COLOURS[outcome], "size": 9},
                    text=history.loc[rows, "adresse"],
                    hovertemplate="%{text}<br>%{y:.2f} s<extra></extra>",
                )
            )  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(tickformat="%d/%m %H:%M")
    return _layout(fig, "Durée des tests aller-retour", "Date du test", "Secondes", height=360)


def roundtrip_outcomes(counts: pd.DataFrame) -> go.Figure:
    """Tests per day, stacked by outcome."""
    fig = go.Figure()
    days = sorted(counts["jour"].unique())
    for outcome, label in OUTCOME_LABELS.items():
        rows = counts[counts["resultat"] == outcome].set_index("jour")["tests"]
        if not rows.empty:
            # Days as labels: one bar per day, whatever the span (no time-of-day axis).
            fig.add_trace(
                go.Bar(x=[fr_date(d) for d in days], y=rows.reindex(days, fill_value=0),
                       name=label, marker_color=OUTCOME_COLOURS[outcome])
            )  # fmt: skip
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    return _layout(fig, "Résultats des tests par jour", "Jour", "Nombre de tests", height=360)
