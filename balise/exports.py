"""The webinar pack's layout: a cover sheet and one formatted table per view, with native charts.

Pure formatting: tables in, bytes out (no database). Cells are written by
:mod:`balise.spreadsheets`, so a structure named ``=HYPERLINK(...)`` stays text.

Number formats are stored in OOXML's own syntax (which is locale-neutral): integers use a literal
space as thousands separator (``# ##0`` shows « 1 234 » everywhere); percentages use ``0.0 %``,
which a French Excel or LibreOffice shows as « 45,2 % ».
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from balise.spreadsheets import new_workbook, put, workbook_bytes

INT_FORMAT = "# ##0"
PCT_FORMAT = "0.0 %"
DATE_FORMAT = "dd/mm/yyyy"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Chart:
    """A native chart drawn beside a sheet's table."""

    kind: str  # "bar" | "line"
    title: str
    category: str  # column holding the categories (x axis)
    values: tuple[str, ...]  # columns plotted
    y_title: str = ""
    x_title: str = ""


@dataclass
class Sheet:
    """One table: ``formats`` maps a column to "int", "pct" (fraction 0-1) or "date"."""

    name: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    chart: Chart | None = None
    note: str = ""


def _write_table(ws: Worksheet, sheet: Sheet, first_row: int) -> None:
    df = sheet.frame
    for col, name in enumerate(df.columns, start=1):
        cell = put(ws, first_row, col, str(name))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    number_formats = {"int": INT_FORMAT, "pct": PCT_FORMAT, "date": DATE_FORMAT}
    for r, row in enumerate(df.itertuples(index=False), start=first_row + 1):
        for c, value in enumerate(row, start=1):
            cell = put(ws, r, c, value)
            fmt = number_formats.get(sheet.formats.get(df.columns[c - 1], ""))
            if fmt:
                cell.number_format = fmt
    last = get_column_letter(max(len(df.columns), 1))
    ws.freeze_panes = ws.cell(row=first_row + 1, column=1)
    ws.auto_filter.ref = f"A{first_row}:{last}{first_row + max(len(df), 1)}"
    _fit_widths(ws, df)


def _fit_widths(ws: Worksheet, df: pd.DataFrame) -> None:
    for c, name in enumerate(df.columns, start=1):
        longest = max([len(str(name))] + [len(str(v)) for v in df.iloc[:500, c - 1]])
        ws.column_dimensions[get_column_letter(c)].width = min(max(10, longest + 2), 60)


def _add_chart(ws: Worksheet, sheet: Sheet, first_row: int) -> None:
    spec, df = sheet.chart, sheet.frame
    if spec is None or df.empty:
        return
    chart = BarChart() if spec.kind == "bar" else LineChart()
    chart.title, chart.y_axis.title, chart.x_axis.title = spec.title, spec.y_title, spec.x_title
    chart.height, chart.width = 9, 18
    last_row = first_row + len(df)
    for name in spec.values:
        col = list(df.columns).index(name) + 1
        chart.add_data(
            Reference(ws, min_col=col, min_row=first_row, max_row=last_row), titles_from_data=True
        )
    cat_col = list(df.columns).index(spec.category) + 1
    chart.set_categories(Reference(ws, min_col=cat_col, min_row=first_row + 1, max_row=last_row))
    if sheet.formats.get(spec.values[0]) == "pct":
        chart.y_axis.numFmt = "0 %"
    chart.y_axis.delete = False
    chart.x_axis.delete = False
    ws.add_chart(chart, f"{get_column_letter(len(df.columns) + 2)}{first_row}")


def _printable(ws: Worksheet) -> None:
    """Landscape, one page wide: the pack is also printed or turned into slides via PDF."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def build_workbook(title: str, cover: Sequence[tuple[str, str]], sheets: Sequence[Sheet]) -> bytes:
    """The pack: a cover sheet (title, then label/value lines) and one sheet per table."""
    wb = new_workbook()
    ws = wb.active
    ws.title = "Couverture"
    put(ws, 1, 1, title).font = Font(bold=True, size=16)
    for r, (label, value) in enumerate(cover, start=3):
        head = put(ws, r, 1, label)
        head.font, head.alignment = Font(bold=True), Alignment(vertical="top")
        put(ws, r, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
        # Spreadsheets do not grow a row for wrapped text written by a library: size it here.
        ws.row_dimensions[r].height = 15 * max(1, -(-len(str(value)) // 75))
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 80
    _printable(ws)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name[:31])
        first_row = 1
        if sheet.note:
            put(ws, 1, 1, sheet.note).font = Font(italic=True)
            first_row = 3
        _write_table(ws, sheet, first_row)
        _add_chart(ws, sheet, first_row)
        _printable(ws)
    return workbook_bytes(wb)
