"""The maps: equipped share by department (real boundaries, or a tile grid when there is no
boundary file) and the Département page's map of structures. All drawn as lon/lat shapes on
plain axes: plotly's ``geo`` subplots fetch a world map from a CDN in the browser, which offline
users do not reach, and no tile server is involved."""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from balise.formatting import fr_int, fr_percent
from balise.services.labels import category_label, department_label
from dashboard.charts import OKABE_ITO, PERCENT_SUFFIX, SHARE_SCALE, layout


def _share_hover(df: pd.DataFrame) -> list[str]:
    return [
        f"<b>{department_label(r.department)}</b><br>{fr_percent(r.share / 100)} équipés"
        f"<br>{fr_int(r.equipped)} ESMS sur {fr_int(r.structures)}"
        for r in df.itertuples()
    ]


def _rings(geometry: dict) -> list[list]:
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    return [polygon[0] for polygon in polygons]  # outer rings; holes are rare in departments


def _colourbar_trace() -> go.Scatter:
    """An invisible trace that only carries the colour scale legend."""
    return go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker={"colorscale": SHARE_SCALE, "cmin": 0, "cmax": 100, "color": [0], "showscale": True,
                "colorbar": {"title": {"text": "Part équipée (%)"}, "ticksuffix": PERCENT_SUFFIX}},
    )  # fmt: skip


def _codes_trace(geojson: dict, rows: dict) -> go.Scatter:
    """Department codes written at the middle of each department's largest ring."""
    xs, ys, codes = [], [], []
    for feature in geojson["features"]:
        code = feature["properties"]["code"]
        if code in rows:
            ring = max(_rings(feature["geometry"]), key=len)
            xs.append(sum(p[0] for p in ring) / len(ring))
            ys.append(sum(p[1] for p in ring) / len(ring))
            codes.append(code)
    return go.Scatter(
        x=xs, y=ys, text=codes, mode="text", hoverinfo="skip", showlegend=False,
        textfont={"color": "white", "size": 12},
    )  # fmt: skip


def choropleth(geojson: dict, df: pd.DataFrame) -> go.Figure:
    """Equipped share by department on real boundaries (the selected departments only).

    Drawn as filled lon/lat polygons on plain axes rather than a plotly ``geo`` subplot: that
    one downloads a world map from a CDN in the browser, which offline users do not reach."""
    rows = {r.department: r for r in df.itertuples()}
    hover = dict(zip(df["department"], _share_hover(df), strict=True))
    fig = go.Figure()
    lats: list[float] = []
    for feature in geojson["features"]:
        code = feature["properties"]["code"]
        if code not in rows:
            continue
        xs: list[float | None] = []
        ys: list[float | None] = []
        for ring in _rings(feature["geometry"]):
            xs += [p[0] for p in ring] + [None]
            ys += [p[1] for p in ring] + [None]
        lats += [y for y in ys if y is not None]
        colour = sample_colorscale(SHARE_SCALE, [min(max(rows[code].share, 0), 100) / 100])[0]
        fig.add_trace(
            go.Scatter(
                x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines", name=code,
                line={"color": "white", "width": 1}, hoveron="fills", text=hover[code],
                hoverinfo="text", showlegend=False,
            )
        )  # fmt: skip
    fig.add_trace(_codes_trace(geojson, rows))
    fig.add_trace(_colourbar_trace())
    fig.update_xaxes(visible=False)
    # Equirectangular with the right aspect at this latitude.
    ratio = 1 / math.cos(math.radians(sum(lats) / len(lats))) if lats else 1
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=ratio)
    fig.update_layout(plot_bgcolor="white")
    return layout(fig, "Part des ESMS équipés d'une BAL MSSanté, par département", height=560)


def tile_map(tiles: pd.DataFrame, df: pd.DataFrame) -> go.Figure:
    """The same figure as a tile-grid cartogram (one square per department) when no boundary
    file is available: unselected departments stay grey so the region keeps its place."""
    merged = tiles.merge(df, left_on="code", right_on="department", how="left")
    grey = merged[merged["share"].isna()]
    shown = merged[merged["share"].notna()]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=grey["col"], y=-grey["row"], mode="markers+text", text=grey["code"],
            marker={"symbol": "square", "size": 30, "color": "#E5E5E5"},
            textfont={"color": "#888888", "size": 10}, hovertext=grey["name"],
            hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=shown["col"], y=-shown["row"], mode="markers+text", text=shown["code"],
            marker={"symbol": "square", "size": 30, "color": shown["share"], "cmin": 0, "cmax": 100,
                    "colorscale": SHARE_SCALE, "showscale": True,
                    "colorbar": {"title": {"text": "Part équipée (%)"}, "ticksuffix": PERCENT_SUFFIX}},
            textfont={"color": "white", "size": 10},
            hovertext=_share_hover(shown.assign(department=shown["code"])),
            hovertemplate="%{hovertext}<extra></extra>", showlegend=False,
        )
    )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(plot_bgcolor="white")
    return layout(fig, "Part des ESMS équipés par département (carte schématique)", height=560)


# Up to ten categories get a symbol of their own; beyond, symbols repeat (the hover names the
# category). Colour says equipped or not, as on the status bars.
CATEGORY_SYMBOLS = ["circle", "square", "diamond", "triangle-up", "cross", "x", "star",
                    "triangle-down", "pentagon", "hexagon"]  # fmt: skip
STATUS_TRACES = {True: ("equipped", "Équipés", OKABE_ITO[2]),
                 False: ("not_equipped", "Non équipés", OKABE_ITO[1])}  # fmt: skip


def _outline_trace(geojson: dict, departments: set[str]) -> go.Scatter | None:
    """The selected departments' boundaries as one grey line trace (no tile, no CDN)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for feature in geojson["features"]:
        if feature["properties"]["code"] in departments:
            for ring in _rings(feature["geometry"]):
                xs += [p[0] for p in ring] + [None]
                ys += [p[1] for p in ring] + [None]
    if not xs:
        return None
    return go.Scatter(
        x=xs, y=ys, mode="lines", fill="toself", fillcolor="#F2F2F2", name="Limites",
        line={"color": "#9A9A9A", "width": 1}, hoverinfo="skip", showlegend=False,
    )  # fmt: skip


def _point_hover(df: pd.DataFrame) -> list[str]:
    labels = {c: html.escape(category_label(c)) for c in df["category_code"].unique()}
    columns = ("name", "category_code", "city", "department", "finess_et", "equipped")
    return [
        f"<b>{html.escape(name)}</b><br>{labels[category]}<br>{html.escape(city or '')} "
        f"({department}) · FINESS {finess}<br>{'Équipé' if equipped else 'Non équipé'}"
        " · cliquer pour ouvrir la fiche"
        # Plain lists: iterating pandas' Arrow-backed strings one by one is slow.
        for name, category, city, department, finess, equipped in zip(
            *(df[c].tolist() for c in columns), strict=True
        )
    ]


def structure_map(points: pd.DataFrame, geojson: dict | None, departments) -> go.Figure:
    """ESMS as points on their departments' outline: colour = equipped or not, symbol =
    category; each point carries its FINESS number (``customdata``) for :func:`clicked_finess`.
    Plain lon/lat axes, as the regional map: nothing is fetched from a map server. One trace
    per status and category (``legendgroup`` "equipped" / "not_equipped"), each with one
    symbol: plotly checks a per-point symbol array point by point (seconds for a region)."""
    fig = go.Figure()
    outline = _outline_trace(geojson, set(departments)) if geojson else None
    if outline is not None:
        fig.add_trace(outline)
    categories = sorted(points["category_code"].unique())
    symbols = {c: CATEGORY_SYMBOLS[i % len(CATEGORY_SYMBOLS)] for i, c in enumerate(categories)}
    for equipped, (group, label, colour) in STATUS_TRACES.items():
        status = points[points["equipped"] == equipped]
        for n, (code, part) in enumerate(status.groupby("category_code", sort=True)):
            fig.add_trace(
                go.Scatter(
                    x=part["longitude"], y=part["latitude"], mode="markers",
                    name=f"{label} ({fr_int(len(status))})", legendgroup=group, showlegend=n == 0,
                    customdata=part["finess_et"].tolist(),
                    marker={"color": colour, "size": 11, "symbol": symbols[code],
                            "line": {"color": "white", "width": 1}},
                    text=_point_hover(part), hovertemplate="%{text}<extra></extra>",
                )
            )  # fmt: skip
    for code, symbol in symbols.items():  # legend only: which symbol is which category
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=category_label(code),
                marker={"symbol": symbol, "color": "#777777", "size": 10}, hoverinfo="skip",
                legendgroup="categories", legendgrouptitle_text="Catégories",
            )
        )  # fmt: skip
    fig.update_xaxes(visible=False)
    middle = points["latitude"].mean() if len(points) else 46.5
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(middle)))
    fig.update_layout(plot_bgcolor="white")
    return layout(fig, "Les ESMS sur la carte (cliquer sur un point ouvre sa fiche)", height=560)


def clicked_finess(selection) -> str | None:
    """The FINESS number of the point clicked on :func:`structure_map` (Streamlit's selection
    state: ``points`` with their ``customdata``), None when nothing is selected."""
    for point in (selection or {}).get("points", []):
        value = point.get("customdata")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            return value
    return None
