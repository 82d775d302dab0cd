"""The bulk import spreadsheet of BALs: its downloadable template and its pure reader
(bytes in, numbered requests out; no store).

Columns are matched by their header label (case, accents and spaces ignored), so a user may
reorder them or add their own; the reader fails with a French sentence naming what is missing.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from typing import NamedTuple

from openpyxl import load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from balise.errors import SourceError
from balise.referentials.bal_rules import FIELD_LABELS, REQUIRED, BalRequest
from balise.referentials.bal_types import BAL_TYPES
from balise.spreadsheets import append, new_workbook, workbook_bytes

SHEET = "BAL"
HEADER = {name: label[0].upper() + label[1:] for name, label in FIELD_LABELS.items()}
EXAMPLE = {
    "bal_type": "ORG",
    "department": "01",
    "address": "soins@ehpad-exemple.mssante.fr",
    "finess": "010001246",
    "service": "Équipe de soins",
    "responsible": "Dr Jeanne Durand",
    "structure_head": "Paul Martin",
}


class SheetRow(NamedTuple):
    line: int  # the spreadsheet's own row number
    request: BalRequest


def template_bytes() -> bytes:
    """The import template: the ``BAL`` sheet (header, type list, text cells) and an ``Aide``
    sheet with the fields each type requires and an example line (kept out of ``BAL`` so that
    it is never imported by mistake)."""
    book = new_workbook()
    sheet = book.active
    sheet.title = SHEET
    append(sheet, HEADER.values())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    # Text columns keep the leading zeros of FINESS numbers and department codes.
    for column in "ABCDEFGHIJKL":
        sheet.column_dimensions[column].width = 24
        sheet.column_dimensions[column].number_format = "@"
    types = DataValidation(type="list", formula1=f'"{",".join(BAL_TYPES)}"', allow_blank=True)
    sheet.add_data_validation(types)
    types.add("A2:A2000")
    help_sheet = book.create_sheet("Aide")
    append(
        help_sheet,
        ["Type", "Libellé", "Champs obligatoires (en plus de type, département, adresse)"],
    )
    for code, label in BAL_TYPES.items():
        required = ", ".join(HEADER[f] for f in REQUIRED[code])
        append(help_sheet, [code, label, required])
    append(help_sheet, [])
    append(help_sheet, ["Exemple de ligne (à recopier dans la feuille BAL) :"])
    append(help_sheet, HEADER.values())
    append(help_sheet, [EXAMPLE.get(name, "") for name in HEADER])
    return workbook_bytes(book)


def _key(text: object) -> str:
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


_BY_KEY = {_key(label): name for name, label in HEADER.items()}


def read_sheet(data: bytes) -> list[SheetRow]:
    """The non-empty rows of the import file, each with its spreadsheet line number."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceError("Le fichier n'est pas un classeur xlsx lisible.") from exc
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise SourceError("Le fichier est vide : la ligne d'en-tête manque.")
    columns = {i: _BY_KEY[_key(cell)] for i, cell in enumerate(header) if _key(cell) in _BY_KEY}
    missing = [
        HEADER[n] for n in ("bal_type", "department", "address") if n not in columns.values()
    ]
    if missing:
        raise SourceError(f"Colonnes manquantes dans le fichier : {', '.join(missing)}.")
    out = []
    for line, values in enumerate(rows, start=2):
        cells = {columns[i]: v for i, v in enumerate(values) if i in columns}
        if all(v is None or str(v).strip() == "" for v in cells.values()):
            continue
        out.append(SheetRow(line, BalRequest.from_mapping(cells)))
    book.close()
    return out
