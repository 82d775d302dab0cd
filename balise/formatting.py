"""French display conventions, shared by the CLI, the pages and the exports:
1 234 ; 45,2 % ; 25/11/2026 ; 1,2 s. The thousands separator is a narrow no-break space
(U+202F), as French typography wants and as Excel/LibreOffice show it."""

from __future__ import annotations

from datetime import date, datetime

THIN = "\u202f"


def fr_int(n: int | float | None) -> str:
    if n is None:
        return "–"
    return f"{round(n):,}".replace(",", THIN)


def fr_decimal(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "–"
    return f"{x:,.{digits}f}".replace(",", THIN).replace(".", ",")


def fr_percent(share: float | None, digits: int = 1) -> str:
    """``share`` is a fraction (0.452 -> "45,2 %")."""
    if share is None:
        return "–"
    return f"{fr_decimal(share * 100, digits)}{THIN}%"


def fr_date(d: date | datetime | None) -> str:
    if d is None:
        return "–"
    return d.strftime("%d/%m/%Y")


def fr_datetime(d: datetime | None) -> str:
    if d is None:
        return "–"
    return d.strftime("%d/%m/%Y %H:%M")


def fr_count(n: int, singular: str, plural: str) -> str:
    """ "1 ligne lue", "0 rejetée", "12 lignes lues": French takes the singular below 2."""
    return f"{fr_int(n)} {singular if abs(n) < 2 else plural}"
