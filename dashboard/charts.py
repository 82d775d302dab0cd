"""Pure functions: DataFrame in, plotly Figure out. French titles and axes, a colour-blind-safe
palette (Okabe-Ito for categories, Cividis for the share), numbers written by balise.formatting."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from balise.formatting import THIN, fr_date, fr_int, fr_percent
from balise.referentials.bal_types import TYPE_COLUMNS, TYPES
from balise.referentials.lifecycles import RoundTripOutcome
from balise.services.labels import category_label, department_label

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
SHARE_SCALE = "Cividis"
PERCENT_SUFFIX = f"{THIN}%"  # as balise.formatting.fr_percent writes it


def layout(fig: go.Figure, title: str, x: str = "", y: str = "", height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0},
        xaxis_title=x,
        yaxis_title=y,
        separators=f",{THIN}",  # decimal comma; thousands as balise.formatting writes them
        colorway=OKABE_ITO,
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend_title_text="",
        hoverlabel={"namelength": -1},
    )
    return fig


def _count_axis(fig: go.Figure) -> None:
    """Counts are whole numbers: no « 2,5 » tick between 2 and 3 ESMS."""
    top = sum(
        max((v for v in (t.y if t.y is not None else []) if v is not None), default=0)
        for t in fig.data
    )
    fig.update_yaxes(tickformat=",d", rangemode="tozero", dtick=1 if top <= 8 else None)


def publication_gaps(dates: pd.Series) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The intervals between consecutive snapshots longer than twice the usual one (the median,
    at least a day): a publication gap, a worker that stopped. Fewer than three points: none."""
    dates = pd.Series(pd.to_datetime(dates)).sort_values().reset_index(drop=True)
    if len(dates) < 3:
        return []
    steps = dates.diff().iloc[1:]
    usual = max(steps.median(), pd.Timedelta(days=1))
    return [(dates[i - 1], dates[i]) for i, step in steps.items() if step > 2 * usual]


def trend_line(df: pd.DataFrame) -> go.Figure:
    """Equipped share per directory snapshot. A gap in the history is left as one: the line
    breaks there (an empty point, no invented value) and the span is shaded and named."""
    spans = publication_gaps(df["date"])
    breaks = pd.DataFrame({"date": [start + (end - start) / 2 for start, end in spans]})
    points = pd.concat([df, breaks], ignore_index=True).sort_values("date", kind="stable")
    shares = [None if pd.isna(s) else s for s in points["share"]]
    fig = go.Figure(
        go.Scatter(
            x=points["date"], y=shares, mode="lines+markers", line={"color": OKABE_ITO[0], "width": 3},
            connectgaps=False,
            text=["" if pd.isna(s) else f"{fr_date(d)} : {fr_percent(s / 100)} ({fr_int(e)} / {fr_int(n)})"
                  for d, s, e, n in zip(points["date"], points["share"], points["equipped"], points["structures"], strict=True)],
            hovertemplate="%{text}<extra></extra>",
        )
    )  # fmt: skip
    for start, end in spans:
        fig.add_vrect(
            x0=start, x1=end, fillcolor="#999999", opacity=0.15, line_width=0,
            annotation_text=f"aucun instantané entre le {fr_date(start)} et le {fr_date(end)}",
            annotation_position="top left",
        )  # fmt: skip
    fig.update_xaxes(tickformat="%d/%m/%Y", tickvals=df["date"] if len(df) <= 12 else None)
    fig.update_yaxes(ticksuffix=PERCENT_SUFFIX, rangemode="tozero")
    return layout(
        fig,
        "Évolution de la part des ESMS équipés",
        "Date de l'extraction de l'annuaire",
        "Part équipée (%)",
    )


def category_bars(df: pd.DataFrame) -> go.Figure:
    """Equipped share per ESMS category, longest bar on top."""
    df = df.sort_values("share")
    labels = df["category_code"].map(category_label)
    fig = go.Figure(
        go.Bar(
            x=df["share"], y=labels, orientation="h", marker_color=OKABE_ITO[2],
            text=[fr_percent(s / 100) for s in df["share"]], textposition="auto",
            customdata=[f"{fr_int(e)} sur {fr_int(n)}" for e, n in zip(df["equipped"], df["structures"], strict=True)],
            hovertemplate="%{y} : %{text} (%{customdata})<extra></extra>",
        )
    )  # fmt: skip
    fig.update_xaxes(ticksuffix=PERCENT_SUFFIX, range=[0, 100])
    return layout(
        fig,
        "Part des ESMS équipés par catégorie",
        "Part équipée (%)",
        "Catégorie",
        height=max(300, 40 * len(df) + 120),
    )


def mix_bars(df: pd.DataFrame, by: str, shares: bool = False) -> go.Figure:
    """PER / ORG / APP / CAB stacked per department or category, in counts or shares (%)."""
    labels = df[by].map(department_label if by == "department" else category_label)
    total = df[TYPE_COLUMNS].sum(axis=1).where(lambda s: s > 0)
    fig = go.Figure()
    for t in TYPES:
        values = (100 * df[t.column] / total).fillna(0) if shares else df[t.column]
        text = [fr_percent(v / 100) if shares else fr_int(v) for v in values]
        fig.add_trace(go.Bar(x=labels, y=values, name=t.label, marker_color=t.colour, text=text,
                             hovertemplate="%{x} · %{fullData.name} : %{text}<extra></extra>"))  # fmt: skip
    # Labels only where they fit: small segments stay readable through the hover.
    fig.update_traces(textposition="inside", insidetextanchor="middle", textangle=0)
    fig.update_layout(barmode="stack", uniformtext={"minsize": 10, "mode": "hide"})
    if shares:
        fig.update_yaxes(ticksuffix=PERCENT_SUFFIX, range=[0, 100])
    else:
        _count_axis(fig)
    axis = "Département" if by == "department" else "Catégorie"
    what = "Répartition (%)" if shares else "Nombre de BAL"
    title = f"BAL des ESMS par type et par {axis.lower()}" + (" (en %)" if shares else "")
    return layout(fig, title, axis, what)


def changes_bars(df: pd.DataFrame, by: str) -> go.Figure:
    labels = df[by].map(department_label if by == "department" else category_label)
    fig = go.Figure(
        [
            go.Bar(x=labels, y=df["created"], name="BAL créées", marker_color=OKABE_ITO[0]),
            go.Bar(x=labels, y=df["removed"], name="BAL supprimées", marker_color=OKABE_ITO[5]),
        ]
    )
    fig.update_layout(barmode="group")
    _count_axis(fig)
    axis = "Département" if by == "department" else "Catégorie"
    return layout(fig, f"BAL créées et supprimées par {axis.lower()}", axis, "Nombre de BAL")


def history_bars(df: pd.DataFrame) -> go.Figure:
    """One structure's mailboxes at each directory snapshot, stacked by type."""
    fig = go.Figure()
    for t in TYPES:
        fig.add_trace(
            go.Bar(
                x=[fr_date(d) for d in df["date"]], y=df[t.column], name=t.label,
                marker_color=t.colour,
            )
        )  # fmt: skip
    fig.update_layout(barmode="stack")
    _count_axis(fig)
    return layout(
        fig,
        "BAL de la structure à chaque extraction de l'annuaire",
        "Date de l'extraction",
        "Nombre de BAL",
        height=360,
    )


def status_bars(df: pd.DataFrame) -> go.Figure:
    """Equipped / not equipped structures per category in a list of structures."""
    counts = (
        df.groupby(["category_code", "equipped"]).size().unstack(fill_value=0)
        .reindex(columns=[True, False], fill_value=0)
    )  # fmt: skip
    labels = counts.index.map(category_label)
    fig = go.Figure(
        [
            go.Bar(x=labels, y=counts[True], name="Équipés", marker_color=OKABE_ITO[2]),
            go.Bar(x=labels, y=counts[False], name="Non équipés", marker_color=OKABE_ITO[1]),
        ]
    )
    fig.update_layout(barmode="stack")
    _count_axis(fig)
    return layout(
        fig,
        "Structures équipées et non équipées par catégorie",
        "Catégorie",
        "Nombre d'ESMS",
        height=360,
    )


# --- mailbox activity ----------------------------------------------------------------------
DIRECTIONS = {"in": "reçus", "out": "envoyés"}


def weekly_messages_bars(df: pd.DataFrame) -> go.Figure:
    """Messages per week (Monday), one bar series per department and direction."""
    fig = go.Figure()
    for (dep, direction), part in df.groupby(["department", "direction"], sort=True):
        name = f"{department_label(dep)} · {DIRECTIONS.get(direction, direction)}"
        fig.add_trace(go.Bar(
            x=[fr_date(w) for w in part["week"]], y=part["messages"], name=name,
            hovertemplate="Semaine du %{x} · %{fullData.name} : %{y} message(s)<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(barmode="group")
    _count_axis(fig)
    return layout(fig, "Messages par semaine", "Semaine du (lundi)", "Messages")


def category_sankey(flows: pd.DataFrame) -> go.Figure:
    """Who writes to whom: category -> category, senders on the left, recipients on the right
    (the same category appears on both sides, so that EHPAD -> EHPAD is not a loop); each link
    carries the use cases it belongs to (``use_cases`` column)."""
    left = list(dict.fromkeys(flows["source"]))
    right = list(dict.fromkeys(flows["target"]))
    labels = left + right
    colours = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(left))]
    colours += [OKABE_ITO[(left.index(r) if r in left else len(left) + i) % len(OKABE_ITO)]
                for i, r in enumerate(right)]  # fmt: skip
    fig = go.Figure(go.Sankey(
        node={"label": labels, "color": colours, "pad": 18, "thickness": 16},
        textfont={"color": "#1f1f1f", "size": 13},
        link={
            # Each flow takes its sender's colour, lightened, so that flows stay readable.
            "color": [colours[left.index(s)] + "66" for s in flows["source"]],
            "source": [left.index(s) for s in flows["source"]],
            "target": [len(left) + right.index(t) for t in flows["target"]],
            "value": flows["messages"].tolist(),
            # The seed's use cases the flow belongs to ("" when none), on hover.
            "label": flows["use_cases"].tolist(),
            "customdata": [f"<br>Cas d'usage : {c}" if c else "" for c in flows["use_cases"]],
            "hovertemplate": "%{source.label} → %{target.label} : %{value} message(s)"
                             "%{customdata}<extra></extra>",
        },
    ))  # fmt: skip
    return layout(fig, "Échanges entre catégories de structures (90 derniers jours)", height=460)


# --- BAL round-trip tests (Tester page) ----------------------------------------------------

OUTCOME_COLOURS = {
    RoundTripOutcome.PASSED: OKABE_ITO[2],
    RoundTripOutcome.JUNK: OKABE_ITO[1],
    RoundTripOutcome.TIMEOUT: OKABE_ITO[3],
    RoundTripOutcome.FAILED: OKABE_ITO[5],
}


# A time axis's labels as fine as its tick spacing (plotly picks the spacing from the span):
# four tests within one minute get « 09:34:10 », « 09:34:20 »…, never four « 30/11 09:34 ».
MINUTE_MS, DAY_MS = 60_000, 86_400_000
TIME_TICK_FORMATS = [
    {"dtickrange": [None, MINUTE_MS], "value": "%H:%M:%S"},
    {"dtickrange": [MINUTE_MS, DAY_MS], "value": "%d/%m %H:%M"},
    {"dtickrange": [DAY_MS, None], "value": "%d/%m/%Y"},
]  # fmt: skip


def roundtrip_latency(history: pd.DataFrame) -> go.Figure:
    """Each test's time to see the message (connect + auth + submit + visible), by outcome."""
    fig = go.Figure()
    total = history[["connexion_s", "authentification_s", "envoi_s", "reception_s"]].sum(axis=1)
    for outcome in RoundTripOutcome:
        rows = history["resultat"] == outcome
        if rows.any():
            fig.add_trace(
                go.Scatter(
                    x=history.loc[rows, "debut"], y=total[rows], mode="markers", name=outcome.label,
                    marker={"color": OUTCOME_COLOURS[outcome], "size": 9},
                    text=history.loc[rows, "adresse"],
                    hovertemplate="%{text}<br>%{x}<br>%{y:.2f} s<extra></extra>",
                )
            )  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(tickformatstops=TIME_TICK_FORMATS, hoverformat="%d/%m/%Y %H:%M:%S")
    first, last = history["debut"].min(), history["debut"].max()
    if last - first < pd.Timedelta(seconds=5):
        # One test (or a burst): plotly would spread ticks over milliseconds, all reading the
        # same second. Ten minutes around it give whole-minute ticks.
        middle = first + (last - first) / 2
        fig.update_xaxes(range=[middle - pd.Timedelta(minutes=5), middle + pd.Timedelta(minutes=5)])
    return layout(fig, "Durée des tests aller-retour", "Date du test", "Secondes", height=360)


def roundtrip_outcomes(counts: pd.DataFrame) -> go.Figure:
    """Tests per day, stacked by outcome."""
    fig = go.Figure()
    days = sorted(counts["jour"].unique())
    for outcome in RoundTripOutcome:
        rows = counts[counts["resultat"] == outcome].set_index("jour")["tests"]
        if not rows.empty:
            # Days as labels: one bar per day, whatever the span (no time-of-day axis).
            fig.add_trace(
                go.Bar(x=[fr_date(d) for d in days], y=rows.reindex(days, fill_value=0),
                       name=outcome.label, marker_color=OUTCOME_COLOURS[outcome])
            )  # fmt: skip
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category")
    return layout(fig, "Résultats des tests par jour", "Jour", "Nombre de tests", height=360)


# --- territorial animation: onboarding funnel, events --------------------------------------


def onboarding_funnel(df: pd.DataFrame) -> go.Figure:
    """Structures at each stage of the pipeline, the selected departments summed (stage order
    kept as given by the service)."""
    totals = df.groupby(["stage", "label"], sort=False)["structures"].sum().reset_index()
    fig = go.Figure(go.Funnel(
        y=totals["label"], x=totals["structures"], text=totals["structures"].map(fr_int),
        textinfo="text", marker={"color": OKABE_ITO[0]},  # « 1 077 », not plotly's « 1077 »
        hovertemplate="%{y} : %{text} structure(s)<extra></extra>",
    ))  # fmt: skip
    return layout(fig, "Accompagnement : structures par étape", height=400)


EVENT_GROUP_COLOURS = {"Participants": OKABE_ITO[2], "Non participants": OKABE_ITO[1]}


def attendance_comparison(df: pd.DataFrame, event_date) -> go.Figure:
    """Share of equipped structures over time, attending vs not, with the event marked."""
    fig = go.Figure()
    for group in EVENT_GROUP_COLOURS:  # participants first, whatever the SQL order
        part = df[df["group"] == group]
        fig.add_trace(go.Scatter(
            x=part["date"], y=part["share"], name=str(group), mode="lines+markers",
            line={"color": EVENT_GROUP_COLOURS.get(str(group))},
            customdata=list(zip(part["equipped"], part["structures"], strict=True)),
            hovertemplate="%{fullData.name} · %{x|%d/%m/%Y} : %{y:.1f}" + PERCENT_SUFFIX + " équipées "
                          "(%{customdata[0]} sur %{customdata[1]})<extra></extra>",
        ))  # fmt: skip
    marker = pd.Timestamp(event_date)
    fig.add_shape(type="line", x0=marker, x1=marker, y0=0, y1=1, yref="paper",
                  line={"dash": "dot", "color": "#555"})  # fmt: skip
    fig.add_annotation(x=marker, y=1, yref="paper", text="Événement", showarrow=False,
                       yanchor="bottom")  # fmt: skip
    fig.update_yaxes(range=[0, 100], ticksuffix=PERCENT_SUFFIX)
    fig.update_xaxes(tickformat="%d/%m/%Y")
    return layout(fig, "Part des structures équipées : participantes ou non", "Date",
                   "Part équipée")  # fmt: skip
