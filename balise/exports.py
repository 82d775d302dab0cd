"""The webinar pack's layout: a cover sheet and one formatted table per view, with native charts
sized for a slide, and a print setup for every sheet.

Pure formatting: tables in, bytes out (no database). Cells are written by
:mod:`balise.spreadsheets`, so a structure named ``=HYPERLINK(...)`` stays text.

Number formats are stored in OOXML's own syntax (which is locale-neutral): integers use a literal
space as thousands separator (``# ##0`` shows « 1 234 » everywhere); percentages use ``0.0 %``,
which a French Excel or LibreOffice shows as « 45,2 % ».

Layout of a sheet: an optional note (row 1), the table, its chart *below* it (16:9, after a page
break: printed alone on a landscape page, the chart is a slide; beside a table too long to
scroll past), then further tables (``Section``), each after a page break. Printed landscape, one page wide; the header row of the
sheet's list (its last table) is repeated at the top of every printed page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.text import (
    CharacterProperties,
    Paragraph,
    ParagraphProperties,
    RegularTextRun,
)
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from balise.spreadsheets import new_workbook, put, workbook_bytes

INT_FORMAT = "# ##0"
PCT_FORMAT = "0.0 %"
DATE_FORMAT = "dd/mm/yyyy"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
# A 16:9 chart (cm): pasted on a slide or printed alone on a landscape A4 page, it fills it.
CHART_WIDTH, CHART_HEIGHT = 25.4, 14.29
CHART_ROWS = 29  # rows of default height (0,5 cm) the chart covers
LONG_TABLE = 40  # rows: a longer table gets its chart beside it, not after its last row
TITLE_PT, AXIS_TITLE_PT, TEXT_PT = 20, 14, 13  # readable from the back of a room
LABELLED_BARS = 15  # up to this many bars (all series), each carries its value
FOOTER = "&A — page &P / &N"  # sheet name, page number and count on every printed page


@dataclass(frozen=True)
class Chart:
    """A native chart drawn below a sheet's table."""

    kind: str  # "bar" | "line"
    title: str
    category: str  # column holding the categories (x axis)
    values: tuple[str, ...]  # columns plotted
    y_title: str = ""
    x_title: str = ""
    horizontal: bool = False  # bars along the x axis, first row on top (long category names)
    max_categories: int | None = None  # plot only the first rows (the table is sorted)


@dataclass(frozen=True)
class Section:
    """A further table of a sheet, below its main table: a title line, then the table."""

    title: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)


@dataclass
class Sheet:
    """One table: ``formats`` maps a column to "int", "pct" (fraction 0-1) or "date"."""

    name: str
    frame: pd.DataFrame
    formats: dict[str, str] = field(default_factory=dict)
    chart: Chart | None = None
    note: str = ""
    sections: tuple[Section, ...] = ()


def _write_table(ws: Worksheet, df: pd.DataFrame, formats: dict[str, str], first_row: int) -> int:
    """The header at ``first_row``, then the rows; returns the last row written."""
    for col, name in enumerate(df.columns, start=1):
        cell = put(ws, first_row, col, str(name))
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    number_formats = {"int": INT_FORMAT, "pct": PCT_FORMAT, "date": DATE_FORMAT}
    for r, row in enumerate(df.itertuples(index=False), start=first_row + 1):
        for c, value in enumerate(row, start=1):
            cell = put(ws, r, c, value)
            fmt = number_formats.get(formats.get(df.columns[c - 1], ""))
            if fmt:
                cell.number_format = fmt
    last = get_column_letter(max(len(df.columns), 1))
    ws.auto_filter.ref = f"A{first_row}:{last}{first_row + max(len(df), 1)}"
    return first_row + len(df)


def _fit_widths(ws: Worksheet, frames: Sequence[pd.DataFrame]) -> None:
    widths: dict[int, int] = {}
    for df in frames:
        for c, name in enumerate(df.columns, start=1):
            longest = max([len(str(name))] + [len(str(v)) for v in df.iloc[:500, c - 1]])
            widths[c] = max(widths.get(c, 0), longest)
    for c, longest in widths.items():
        ws.column_dimensions[get_column_letter(c)].width = min(max(10, longest + 2), 60)


def _rich(size: int, text: str | None = None, bold: bool = False) -> RichText:
    props = CharacterProperties(sz=size * 100, b=bold)
    runs = [RegularTextRun(rPr=props, t=text)] if text is not None else []
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), r=runs)])


def _title(text: str, size: int) -> Title | None:
    return Title(tx=Text(rich=_rich(size, text, bold=True)), overlay=False) if text else None


def _add_chart(ws: Worksheet, sheet: Sheet, header_row: int, anchor: str) -> None:
    """The chart of ``sheet`` from its table (header at ``header_row``), its corner at
    ``anchor``."""
    spec, df = sheet.chart, sheet.frame
    chart = BarChart() if spec.kind == "bar" else LineChart()
    shown = min(len(df), spec.max_categories or len(df))
    last_row = header_row + shown
    for name in spec.values:
        col = list(df.columns).index(name) + 1
        chart.add_data(
            Reference(ws, min_col=col, min_row=header_row, max_row=last_row), titles_from_data=True
        )
    cat_col = list(df.columns).index(spec.category) + 1
    chart.set_categories(Reference(ws, min_col=cat_col, min_row=header_row + 1, max_row=last_row))
    bars = shown * len(spec.values)
    _style_chart(chart, spec, percent=sheet.formats.get(spec.values[0]) == "pct", bars=bars)
    ws.add_chart(chart, anchor)


def _style_chart(chart, spec: Chart, percent: bool, bars: int) -> None:
    chart.width, chart.height = CHART_WIDTH, CHART_HEIGHT
    chart.title = _title(spec.title, TITLE_PT)
    chart.y_axis.title = _title(spec.y_title, AXIS_TITLE_PT)
    chart.x_axis.title = _title(spec.x_title, AXIS_TITLE_PT)
    for axis in (chart.x_axis, chart.y_axis):
        axis.txPr = _rich(TEXT_PT)
        axis.delete = False
    chart.y_axis.scaling.min = 0  # bars and shares measured from zero, never from 38 %
    if percent:
        chart.y_axis.numFmt = "0 %"
    if len(spec.values) == 1:
        chart.legend = None  # one series: its name is the chart's title
    else:
        chart.legend.position = "b"
        chart.legend.txPr = _rich(TEXT_PT)
    if spec.kind == "bar":
        chart.gapWidth = 60
        if spec.horizontal:
            chart.type = "bar"
            chart.x_axis.scaling.orientation = "maxMin"  # first row (the largest) on top
            chart.y_axis.crosses = "max"  # ... and the value axis still at the bottom
        if bars <= LABELLED_BARS:
            chart.dataLabels = DataLabelList(
                showVal=True, showSerName=False, showCatName=False, showLegendKey=False,
                showPercent=False, txPr=_rich(TEXT_PT),
            )  # fmt: skip
            if percent:
                chart.dataLabels.numFmt = "0.0 %"


def _printable(ws: Worksheet, title_row: int | None = None) -> None:
    """Landscape, one page wide, a footer naming the sheet and the page, the header row of the
    list repeated on every page: the pack is also printed, or turned into slides via PDF."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = FOOTER
    if title_row is not None:
        ws.print_title_rows = f"{title_row}:{title_row}"


def _cover(ws: Worksheet, title: str, cover: Sequence[tuple[str, str]]) -> None:
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


def _page_break_before(ws: Worksheet, row: int) -> None:
    ws.row_breaks.append(Break(id=row - 1))


def _note(ws: Worksheet, note: str, columns: int) -> None:
    """``note`` in row 1, wrapped across the table's width (overflowing text would widen the
    printed page and shrink everything on it)."""
    cell = put(ws, 1, 1, note)
    cell.font, cell.alignment = Font(italic=True), Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(columns, 1))
    width = sum(ws.column_dimensions[get_column_letter(c)].width for c in range(1, columns + 1))
    ws.row_dimensions[1].height = 15 * max(1, -(-len(note) // max(int(width), 20)))


def _place_chart(ws: Worksheet, sheet: Sheet, header: int, last: int) -> int:
    """Below a table that fits on a screen, after a page break (printed alone, the chart is a
    slide); beside a longer one (a year of daily figures), where it is seen without scrolling
    and printed beside the first rows. Returns the last row used."""
    if len(sheet.frame) > LONG_TABLE:
        _add_chart(ws, sheet, header, f"{get_column_letter(len(sheet.frame.columns) + 2)}{header}")
        return last
    _page_break_before(ws, last + 2)
    _add_chart(ws, sheet, header, f"A{last + 2}")
    return last + 1 + CHART_ROWS


def _sheet(ws: Worksheet, sheet: Sheet) -> None:
    frames = [sheet.frame, *(s.frame for s in sheet.sections)]
    _fit_widths(ws, frames)
    header = 1
    if sheet.note:
        _note(ws, sheet.note, max(len(f.columns) for f in frames))
        header = 3
    last = _write_table(ws, sheet.frame, sheet.formats, header)
    if not sheet.sections:  # a second table would scroll under a frozen first header
        ws.freeze_panes = ws.cell(row=header + 1, column=1)
    if sheet.chart is not None and not sheet.frame.empty:
        last = _place_chart(ws, sheet, header, last)
    for section in sheet.sections:
        _page_break_before(ws, last + 2)
        put(ws, last + 2, 1, section.title).font = Font(bold=True, size=13)
        header = last + 3
        last = _write_table(ws, section.frame, section.formats, header)
    _printable(ws, title_row=header)


def build_workbook(title: str, cover: Sequence[tuple[str, str]], sheets: Sequence[Sheet]) -> bytes:
    """The pack: a cover sheet (title, then label/value lines) and one sheet per table."""
    wb = new_workbook()
    _cover(wb.active, title, cover)
    for sheet in sheets:
        _sheet(wb.create_sheet(sheet.name[:31]), sheet)
    return workbook_bytes(wb)
