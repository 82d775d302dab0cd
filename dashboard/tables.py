"""Tables as users read them: French headers, labels instead of codes, sortable numbers, times
in Paris; never a grid's « empty » or « None »: an empty table is a French sentence, a missing
value reads « — »."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from balise.formatting import MISSING, fr_clock, fr_date, fr_decimal, is_missing, paris_times
from balise.referentials.bal_types import TYPE_COLUMNS
from balise.services.labels import COLUMNS, readable

NUMBER_COLUMNS = {"structures", "equipped", "mailboxes", *TYPE_COLUMNS, "created", "removed"}
EMPTY = "Aucune ligne à afficher."


def show(df: pd.DataFrame, columns: list[str], empty: str = EMPTY, **kwargs):
    """``st.dataframe`` of ``columns`` with French headers. Numbers stay numbers (sortable)
    and follow the browser's locale; the share keeps one decimal; dates read dd/mm/yyyy. An
    empty frame shows ``empty`` instead."""
    if df.empty:
        return st.caption(empty)
    config = {}
    for col in columns:
        label = COLUMNS.get(col, col)
        if col in NUMBER_COLUMNS and df[col].dtype != bool:
            config[label] = st.column_config.NumberColumn(label, format="localized")
        elif col == "share":
            # Rounded to one decimal in the data; "localized" then shows « 45,2 » in French.
            config[label] = st.column_config.NumberColumn(label, format="localized")
        elif col in ("date", "first_seen"):
            config[label] = st.column_config.DateColumn(label, format="DD/MM/YYYY")
    table = readable(df, columns)
    if "share" in columns:
        table[COLUMNS["share"]] = table[COLUMNS["share"]].round(1)
    table, config = without_missing(table, config)
    return st.dataframe(table, column_config=config, hide_index=True, width="stretch", **kwargs)


def labelled(
    df: pd.DataFrame, headings: dict[str, str], empty: str = EMPTY, caption: bool = True, **kwargs
):
    """``st.dataframe`` of the ``headings`` columns only, in that order, under their French
    headings (for tables whose headings belong to one page); ``column_config`` is keyed by
    heading. An empty frame shows ``empty`` instead (a caption, or an information box)."""
    if df.empty:
        return st.caption(empty) if caption else st.info(empty)
    table = df[list(headings)].rename(columns=headings)
    config = {**_counts(table), **(kwargs.pop("column_config", None) or {})}
    table, config = without_missing(table, config)
    return st.dataframe(table, column_config=config, hide_index=True, width="stretch", **kwargs)


def _counts(table: pd.DataFrame) -> dict:
    """Numbers written the browser's way (« 1 077 » in French), not « 1077 »."""
    return {
        col: st.column_config.NumberColumn(col, format="localized")
        for col in table.columns
        if pd.api.types.is_numeric_dtype(table[col]) and table[col].dtype != bool
    }


def without_missing(table: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, dict]:
    """A grid draws a missing value as « None »: a column holding one becomes text, « — » in
    its place and the others written the French way (its date or number setting, made for
    typed values, is then dropped). Blank text reads « — » too."""
    out, config = table.copy(), dict(config)
    for col in out.columns:
        values = out[col]
        if values.dtype == object:
            values = values.map(lambda v: None if isinstance(v, str) and not v.strip() else v)
        if not values.isna().any():
            continue
        setting = config.get(col) or {}
        form = setting.get("type_config", {}).get("format", "") if isinstance(setting, dict) else ""
        present = values[~values.isna()]
        if pd.api.types.is_datetime64_any_dtype(values) or (
            len(present) and all(isinstance(v, date) for v in present)
        ):
            config.pop(col, None)
            out[col] = values.map(lambda v, f=form: _day_or_time(v, f))
        elif pd.api.types.is_numeric_dtype(values) and values.dtype != bool:
            config.pop(col, None)
            out[col] = values.map(lambda v: fr_decimal(v, None))
        else:
            out[col] = values.map(lambda v: MISSING if is_missing(v) else v)
    return out, config


def _day_or_time(value, form: str) -> str:
    """A wall-clock value as its column setting wrote it (« HH:mm », « HH:mm:ss ») or a day."""
    if is_missing(value):
        return MISSING
    if "HH" in form:
        return fr_clock(value, seconds="ss" in form)
    return fr_date(value)


def in_paris(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy whose ``columns`` of stored instants (UTC) read as Paris times."""
    return df.assign(**{c: paris_times(df[c]) for c in columns})


def instant(label: str | None = None, seconds: bool = False):
    """The column setting that writes a Paris time (see :func:`in_paris`) « 25/11/2026 14:05 »."""
    time = "HH:mm:ss" if seconds else "HH:mm"
    return st.column_config.DatetimeColumn(label, format=f"DD/MM/YYYY {time}")


def day(label: str | None = None):
    """The column setting that writes a day « 25/11/2026 »."""
    return st.column_config.DatetimeColumn(label, format="DD/MM/YYYY")
