"""The attendance sheet of an event (webinar tool export, sign-in sheet): its pure reader
(bytes in, rows out; no store) and the name normalisation used to match structures.

Only the structure's columns are read (FINESS, structure name, commune): the participants'
own names and e-mail addresses, which such exports also carry, are never kept.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from typing import NamedTuple

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from balise.errors import SourceError

# Header spellings met in webinar exports and sign-in sheets, after _fold().
HEADERS = {
    "finess": ("finess", "n finess", "no finess", "numero finess", "finess et", "finess etablissement"),
    "name": ("structure", "nom de la structure", "etablissement", "nom de l etablissement",
             "organisation", "organisme", "societe", "entreprise"),
    "commune": ("commune", "ville", "localite", "commune de la structure"),
}  # fmt: skip


class AttendanceRow(NamedTuple):
    line: int  # the sheet's own row number
    finess: str  # "" when absent
    name: str
    commune: str


def _fold(text: object) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces."""
    folded = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded.lower()).split())


# Abbreviations written both ways in structure names and communes.
_EXPAND = {"st": "saint", "ste": "sainte", "res": "residence", "ctre": "centre"}
_NOISE = {"cedex", "le", "la", "les", "l", "de", "du", "des", "d", "et", "a", "au", "aux"}


def normalise_name(text: object) -> str:
    """A structure name for comparison: folded, abbreviations expanded, articles dropped."""
    words = [_EXPAND.get(w, w) for w in _fold(text).split()]
    return " ".join(w for w in words if w not in _NOISE)


def normalise_commune(text: object) -> str:
    """A commune for comparison: as a name, minus a postcode or arrondissement number."""
    return " ".join(w for w in normalise_name(text).split() if not w[0].isdigit())


def _table(data: bytes, filename: str) -> list[tuple]:
    if filename.lower().endswith(".csv"):
        text = data.decode("utf-8-sig", errors="replace") if data else ""
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else "excel"
        return [tuple(r) for r in csv.reader(io.StringIO(text), dialect)]
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceError(
            "Le fichier n'est pas un classeur xlsx ni un fichier csv lisible."
        ) from exc
    rows = [tuple(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    return rows


def _columns(header: tuple) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        for field, spellings in HEADERS.items():
            if _fold(cell) in spellings and field not in found:
                found[field] = i
    if "finess" not in found and "name" not in found:
        raise SourceError(
            "Colonnes manquantes : il faut au moins une colonne « FINESS » ou « Structure »."
        )
    return found


def _cell(values: tuple, index: int | None) -> str:
    if index is None or index >= len(values) or values[index] is None:
        return ""
    value = values[index]
    # A FINESS typed into a number cell loses its leading zero (010001246 -> 10001246).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value):09d}"
    return str(value).strip()


def read_attendance(data: bytes, filename: str) -> list[AttendanceRow]:
    """The non-empty rows of an attendance sheet (xlsx, or csv with , ; or tab)."""
    rows = _table(data, filename)
    if not rows:
        raise SourceError("Le fichier est vide : la ligne d'en-tête manque.")
    cols = _columns(rows[0])
    out = []
    for line, values in enumerate(rows[1:], start=2):
        finess = re.sub(r"\s", "", _cell(values, cols.get("finess")))
        name, commune = _cell(values, cols.get("name")), _cell(values, cols.get("commune"))
        if finess or name:
            out.append(AttendanceRow(line, finess, name, commune))
    return out
