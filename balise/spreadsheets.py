"""The one writer of spreadsheet files: every xlsx and csv Balise hands to a person is written
here, so that no text typed by a user, an operator or a source file runs as a formula when the
file is opened (OWASP « CSV injection »).

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
- in xlsx: a string cell, never a formula cell, with the quote-prefix style, so the spreadsheet
  shows the exact text and keeps it text when someone edits the cell;
- in csv (which has no cell types): prefixed with a single quote ``'``, as OWASP recommends.

Numbers, dates and booleans keep their type: a share stays a number a chart can plot.
:func:`workbook_bytes` seals a workbook before writing it: a formula cell left by code that
wrote cells directly becomes text too (tests/test_spreadsheets.py refuses such code anyway).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

from balise.formatting import fr_date

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")
CSV_DELIMITER = ";"
# XML cannot carry most control characters: openpyxl refuses them, so one stray byte in a
# service name would otherwise stop the whole file.
REPLACEMENT = "\ufffd"


def is_dangerous(value: object) -> bool:
    """Text that a spreadsheet would run as a formula if typed into a cell."""
    return isinstance(value, str) and value.startswith(DANGEROUS_START)


def neutralise(value: object) -> object:
    """The csv form of a cell: dangerous text gets the OWASP ``'`` prefix, the rest is kept."""
    return "'" + value if is_dangerous(value) else value


def plain(value: object) -> object:
    """A pandas or numpy value as a plain Python one; missing values (NaN, NaT, NA) as None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    elif hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    return value


# --- xlsx ---


def new_workbook() -> Workbook:
    """An empty workbook (one sheet); fill it with :func:`put` and :func:`append`."""
    return Workbook()


def _assign(cell: Cell, value: object) -> Cell:
    value = plain(value)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
        _as_text(cell)
    else:
        cell.value = value
    return cell


def _as_text(cell: Cell) -> None:
    cell.data_type = "s"  # openpyxl made every "=..." a formula cell: undo it
    if is_dangerous(cell.value):
        cell.quotePrefix = True


def put(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write ``value`` at (row, column); the cell is returned for styling."""
    return _assign(ws.cell(row=row, column=column), value)


def append(ws: Worksheet, values: Iterable[object]) -> None:
    """Write ``values`` as the next row of ``ws``."""
    ws.append([_assign(Cell(ws), v) for v in values])


def _seal(book: Workbook) -> None:
    for ws in book.worksheets:
        # The stored cells only: iter_rows would create every empty cell of the bounding box.
        for cell in ws._cells.values():
            if isinstance(cell.value, str) and (cell.data_type == "f" or is_dangerous(cell.value)):
                _as_text(cell)


def workbook_bytes(book: Workbook) -> bytes:
    """The xlsx file of ``book``, sealed: no text cell can be a formula."""
    _seal(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- csv ---


def _csv_text(value: object) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")  # French decimal comma
    if isinstance(value, date):  # datetimes too: the exports show days
        return fr_date(value)
    return str(neutralise(value))


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV a French spreadsheet opens without an import wizard: ``;`` separator, decimal
    comma, dates as dd/mm/yyyy, UTF-8 with a BOM, dangerous text prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow([_csv_text(v) for v in header])
    writer.writerows([_csv_text(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def frame_csv(df: pd.DataFrame) -> bytes:
    """``df`` (its column names as header) as :func:`csv_bytes`."""
    return csv_bytes(list(df.columns), df.itertuples(index=False, name=None))
