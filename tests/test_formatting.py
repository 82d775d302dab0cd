"""The French display conventions, one module for the command line, the pages and the workbooks:
narrow no-break spaces, decimal commas, percents from fractions, Paris times from stored UTC."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from balise.formatting import (
    MISSING,
    THIN,
    fr_count,
    fr_date,
    fr_datetime,
    fr_decimal,
    fr_int,
    fr_month,
    fr_percent,
    fr_points,
    fr_seconds,
    fr_signed,
    fr_time,
    paris_times,
)


def test_numbers_use_narrow_no_break_spaces_and_decimal_commas():
    assert fr_int(1234567) == f"1{THIN}234{THIN}567"
    assert fr_int(2.5) == "2" and fr_int(3.5) == "4"  # rounded half to even, as Python does
    assert fr_decimal(1234.56) == f"1{THIN}234,6"
    assert fr_decimal(0.12345, 3) == "0,123"
    assert fr_seconds(1.234) == f"1,2{THIN}s"
    assert fr_seconds(1.5, None) == f"1,5{THIN}s" and fr_seconds(1.0, None) == f"1{THIN}s"
    assert fr_count(1, "ligne lue", "lignes lues") == "1 ligne lue"
    assert fr_count(1200, "ligne lue", "lignes lues") == f"1{THIN}200 lignes lues"


def test_percent_from_a_fraction_and_changes_in_points():
    assert fr_percent(0.452) == f"45,2{THIN}%"
    assert fr_percent(0.6667, 0) == f"67{THIN}%"
    assert fr_percent(60.0 / 100) == f"60,0{THIN}%"  # data holding percentages say so
    assert fr_points(2.5) == f"+2,5{THIN}pts" and fr_points(-20) == f"-20,0{THIN}pts"
    assert fr_signed(-1234) == f"-1{THIN}234" and fr_signed(0) == "+0"


def test_unknown_values_show_a_dash_or_no_change():
    for missing in (None, math.nan, pd.NA, pd.NaT):
        assert fr_int(missing) == fr_decimal(missing) == fr_percent(missing) == MISSING
        assert fr_date(missing) == fr_datetime(missing) == fr_time(missing) == MISSING
        assert fr_points(missing) is None and fr_signed(missing) is None


def test_days_stay_as_recorded_and_instants_read_in_paris():
    assert fr_date(date(2026, 11, 25)) == "25/11/2026" and fr_month(date(2026, 11, 1)) == "11/2026"
    # Stored naive = UTC: one hour ahead in winter, two in summer, the day turning at midnight.
    assert fr_datetime(datetime(2026, 11, 25, 10, 15)) == "25/11/2026 11:15"
    assert fr_datetime(datetime(2026, 7, 1, 22, 30, 9), seconds=True) == "02/07/2026 00:30:09"
    assert fr_datetime(datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == "02/07/2026 00:30"
    assert fr_time(datetime(2026, 3, 29, 1, 30)) == "03:30"  # the spring change at 01:00 UTC
    shown = paris_times(pd.Series([datetime(2026, 1, 1, 12), None]))
    assert shown.iloc[0] == pd.Timestamp(2026, 1, 1, 13) and pd.isna(shown.iloc[1])
    assert paris_times(pd.Series([None, None], dtype=object)).isna().all()


# Writing a number, a date or a time for a reader by hand, somewhere else than balise/formatting.py.
HAND_MADE = re.compile(
    r"""%d/%m|%m/%Y|%H:%M|\.replace\("\.", ","\)|\\u00a0|:,(\.\d)?[df]?\}|:,\}"""
)
# Where such a pattern is no display of ours: plotly's own axis and hover date syntax (d3), and the
# CSV cell of a float (its full precision, not a rounded display).
NOT_DISPLAY = {
    ("dashboard/charts.py", "tickformat="),
    ("dashboard/charts.py", '"dtickrange"'),
    ("dashboard/charts.py", "hoverformat="),
    ("dashboard/charts.py", "%{x|%d/%m/%Y}"),
    ("balise/spreadsheets.py", 'return str(value).replace(".", ",")'),
}


def test_numbers_dates_and_times_are_written_by_the_one_module():
    """Enumerate, don't remember: every product source file is read, and none writes a French
    number, date or time by hand (the demo's generators write files, not displays)."""
    root = Path(__file__).resolve().parent.parent
    found = []
    for package in ("balise", "ingest", "dashboard"):
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name == "balise/formatting.py" or name.startswith(
                ("ingest/demo/", "balise/migrations/")
            ):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if HAND_MADE.search(line) and not any(
                    name == where and what in line for where, what in NOT_DISPLAY
                ):
                    found.append(f"{name}:{number}: {line.strip()}")
    assert found == []
