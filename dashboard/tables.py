"""Tables as users read them: French headers, labels instead of codes, sortable numbers, times
in Paris."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from balise.formatting import paris_times
from balise.referentials.bal_types import TYPE_COLUMNS
from balise.services.labels import COLUMNS, readable

NUMBER_COLUMNS = {"structures", "equipped", "mailboxes", *TYPE_COLUMNS, "created", "removed"}


def show(df: pd.DataFrame, columns: list[str], **kwargs):
    """``st.dataframe`` of ``columns`` with French headers. Numbers stay numbers (sortable)
    and follow the browser's locale; the share keeps one decimal; dates read dd/mm/yyyy."""
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
    return st.dataframe(table, column_config=config, hide_index=True, width="stretch", **kwargs)


def labelled(df: pd.DataFrame, headings: dict[str, str], **kwargs):
    """``st.dataframe`` of the ``headings`` columns only, in that order, under their French
    headings (for tables whose headings belong to one page); ``column_config`` is keyed by
    heading."""
    table = df[list(headings)].rename(columns=headings)
    return st.dataframe(table, hide_index=True, width="stretch", **kwargs)


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
