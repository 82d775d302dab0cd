"""French display conventions: the one place that turns numbers, shares, dates and instants into
what users read, in the command line, the pages, the charts and the text of the workbooks.

    1 234 · 45,2 % · +2,5 pts · 1,2 s · 25/11/2026 · 25/11/2026 14:05 (Europe/Paris)

- Thousands are separated by a narrow no-break space (U+202F), as French typography wants: it
  keeps « 1 234 » and « 45,2 % » on one line, and Excel/LibreOffice show it as typed.
- Decimals take a comma.
- A percentage is made from a fraction (``fr_percent(0.452)``); data holding percentages
  (0-100) say so at the call (``fr_percent(share / 100)``). A change of share is in
  percentage points (``fr_points``).
- Instants are stored in UTC without a zone (the models' convention) and shown in Europe/Paris.
- An unknown value (None, NaN, NaT) shows as « — ».

Pure and light: the command line imports it at start, so pandas is imported only inside
:func:`paris_times`, which only pages and exports call."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import pandas as pd

THIN = "\u202f"  # narrow no-break space: thousands, and before « % » and units
MISSING = "—"
PARIS = ZoneInfo("Europe/Paris")


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA (without importing pandas: all of them differ from
    themselves, or refuse to say)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: neither equal nor unequal to itself
        return True


def fr_int(n: float | None) -> str:
    """« 1 234 » (rounded to a whole number)."""
    if is_missing(n):
        return MISSING
    return f"{round(n):,}".replace(",", THIN)


def fr_decimal(x: float | None, digits: int | None = 1) -> str:
    """« 1 234,5 »; ``digits=None`` writes a setting as it was given (« 5 », « 0,3 »), not a
    measure rounded to a fixed precision."""
    if is_missing(x):
        return MISSING
    text = f"{x:,g}" if digits is None else f"{x:,.{digits}f}"
    return text.replace(",", THIN).replace(".", ",")


def fr_percent(fraction: float | None, digits: int = 1) -> str:
    """``fraction`` of one: 0.452 -> « 45,2 % »."""
    if is_missing(fraction):
        return MISSING
    return f"{fr_decimal(fraction * 100, digits)}{THIN}%"


def fr_points(points: float | None) -> str | None:
    """A change of share in percentage points, signed: « +2,5 pts », « -20,0 pts »; None when
    unknown (a page's metric then shows no change). The minus is ASCII: ``st.metric`` reads it
    to draw a downward arrow."""
    if is_missing(points):
        return None
    sign = "+" if points >= 0 else "-"
    return f"{sign}{fr_decimal(abs(points))}{THIN}pts"


def fr_signed(n: int | None) -> str | None:
    """A change of count, signed: « +12 », « -1 234 »; None when unknown (as :func:`fr_points`)."""
    if is_missing(n):
        return None
    return f"{'+' if n >= 0 else '-'}{fr_int(abs(n))}"


def fr_seconds(seconds: float | None, digits: int | None = 1) -> str:
    """« 1,2 s »; ``digits=None`` writes a setting as given: « 1 s », « 0,3 s »."""
    if is_missing(seconds):
        return MISSING
    return f"{fr_decimal(seconds, digits)}{THIN}s"


def fr_count(n: int, singular: str, plural: str) -> str:
    """ "1 ligne lue", "0 rejetée", "12 lignes lues": French takes the singular below 2."""
    return f"{fr_int(n)} {singular if abs(n) < 2 else plural}"


def fr_date(day: date | datetime | None) -> str:
    """« 25/11/2026 ». A day as recorded (a file's extraction date, a deadline): not moved
    between zones; an instant's day is ``fr_date(paris_time(at))``."""
    if is_missing(day):
        return MISSING
    return day.strftime("%d/%m/%Y")


def fr_month(day: date | datetime | None) -> str:
    """« 11/2026 »: the month of a campaign or a reference period."""
    if is_missing(day):
        return MISSING
    return day.strftime("%m/%Y")


def iso_day(day: date | datetime) -> str:
    """« 2026-11-30 »: a day in a file name, where names sort by date."""
    return day.strftime("%Y-%m-%d")


def paris_time(at: datetime) -> datetime:
    """A stored instant (naive = UTC) as the wall-clock time in Paris, naive."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return aware.astimezone(PARIS).replace(tzinfo=None)


def fr_datetime(at: datetime | None, seconds: bool = False) -> str:
    """A stored instant in Paris time: « 25/11/2026 14:05 » (« 14:05:09 » with ``seconds``)."""
    if is_missing(at):
        return MISSING
    return fr_clock(paris_time(at), seconds)


def fr_clock(wall: datetime | None, seconds: bool = False) -> str:
    """A wall-clock time already in Paris (:func:`paris_time`, :func:`paris_times`) as
    « 25/11/2026 14:05 »: not moved between zones."""
    if is_missing(wall):
        return MISSING
    return wall.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def fr_time(at: datetime | None) -> str:
    """A stored instant's time of day in Paris: « 14:05 »."""
    if is_missing(at):
        return MISSING
    return paris_time(at).strftime("%H:%M")


def paris_times(instants: pd.Series) -> pd.Series:
    """A column of stored instants (naive = UTC; None stays empty) as naive Paris wall-clock
    times, for the tables and charts that write dates themselves."""
    import pandas as pd  # only where a frame is shown: pandas is loaded already

    column = pd.to_datetime(instants)
    if column.dt.tz is None:
        column = column.dt.tz_localize(UTC)
    return column.dt.tz_convert(PARIS).dt.tz_localize(None)
