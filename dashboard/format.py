"""French number, percent and date formats for what users read (1 234 ; 45,2 % ; 25/11/2026)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

NBSP = "\u00a0"  # keeps « 1 234 » and « 45,2 % » on one line


def fr_int(value: float | int | None) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{int(round(value)):,}".replace(",", NBSP)


def fr_decimal(value: float, digits: int = 1) -> str:
    text = f"{value:,.{digits}f}"
    return text.replace(",", NBSP).replace(".", ",")


def fr_pct(value: float | None, digits: int = 1) -> str:
    """``value`` is already a percentage (45.2 -> « 45,2 % »)."""
    if value is None or pd.isna(value):
        return "—"
    return f"{fr_decimal(value, digits)}{NBSP}%"


def fr_points(value: float | None) -> str | None:
    """A change of share in percentage points, signed (« +2,5 pts », « −20,0 pts »)."""
    if value is None or pd.isna(value):
        return None
    # ASCII "-": st.metric reads it to draw a downward arrow.
    sign = "+" if value >= 0 else "-"
    return f"{sign}{fr_decimal(abs(value))}{NBSP}pts"


def fr_signed(value: int | None) -> str | None:
    if value is None:
        return None
    return f"{'+' if value >= 0 else '-'}{fr_int(abs(value))}"


def fr_date(value: date | datetime | None) -> str:
    if value is None or pd.isna(value):
        return "—"
    return value.strftime("%d/%m/%Y")


_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|~$"})


def plain(text: str) -> str:
    """``text`` shown as written in a Streamlit markdown element (an URL's underscores or a
    server's message never turn into formatting)."""
    return text.translate(_MARKDOWN)
