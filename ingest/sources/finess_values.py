"""How one value of a FINESS file is checked and normalised. The line reader calls these per row;
the column reader (``finess_columns``) calls them for what it does not do in bulk, so both paths
give the same result by construction."""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn

from balise.referentials.departments import department_from_finess, department_from_postcode

# The only reasons a row is rejected (the writer counts rows per reason).
REASON_FIELDS = "nombre de champs incorrect"
REASON_FINESS = "numéro FINESS invalide"
REASON_DEPARTMENT = "département introuvable"
REASON_CATEGORY = "catégorie absente"
REASON_JSON = "établissement JSON mal formé"
REASON_GEO = "ligne de géolocalisation mal formée"
REASONS = (
    REASON_FIELDS, REASON_FINESS, REASON_DEPARTMENT, REASON_CATEGORY, REASON_JSON, REASON_GEO,
)  # fmt: skip

STRUCTUREET_FIELDS = 32  # section name + 31 fields, the last (numuai) usually empty


class Col:
    """Positions in a structureet line (section name at 0)."""

    (
        ET, EJ, RS, RSLONGUE, NUMVOIE, TYPVOIE, VOIE, COMPVOIE, LIEUDIT, COMMUNE, DEP,
        ACHEMINEMENT, CATEG, LIBCATEG, SIRET, DATEOUV,
    ) = (1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 15, 18, 19, 22, 28)  # fmt: skip


_FINESS_SYNTAX = re.compile(r"[0-9][0-9AB][0-9]{7}")
_CEDEX = re.compile(r"\s+CEDEX(\s+\d+)?$", re.IGNORECASE)


def luhn_digits(number: str) -> str:
    """The digits a FINESS number's Luhn key is computed on.

    Corsican numbers (``2A``/``2B``): how ANS puts A and B in the sum is not documented. Here they
    count as 0 (the department was 20 before 1976), an unverified convention: a failure on such a
    number only flags the row, it never rejects it.
    """
    return number.upper().replace("A", "0").replace("B", "0")


def luhn_ok(number: str) -> bool:
    """Whether the last character of a 9-character FINESS number is its Luhn check digit
    (``stdnum.luhn`` on :func:`luhn_digits`)."""
    digits = luhn_digits(number)
    return len(digits) == 9 and digits.isascii() and digits.isdigit() and luhn.is_valid(digits)


def is_finess_number(value: str) -> bool:
    """FINESS syntax ``[0-9][0-9AB][0-9]{7}`` (the key is checked apart, by :func:`luhn_ok`)."""
    return _FINESS_SYNTAX.fullmatch(value) is not None


def parse_date(value: str) -> date | None:
    """ISO ``AAAA-MM-JJ`` (2026 files) or ``JJ/MM/AAAA`` (older files); anything else -> None.
    A time after the date (``2024-10-30 00:00:00``) is ignored."""
    text = (value or "").strip()[:10]
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        if len(text) == 10 and text[2] == "/":
            return date(int(text[6:]), int(text[3:5]), int(text[:2]))
    except ValueError:
        return None
    return None


def street_line(number: str, complement: str, way_type: str, way: str, place: str) -> str | None:
    """ "12 B R DES LILAS" from the address parts (the place name when there is no street).
    Both formats go through here so that a switch from CSV to JSON does not change addresses."""
    parts = [p.strip() for p in (number, complement, way_type, way)]
    line = " ".join(p for p in parts if p)
    if not (parts[2] or parts[3]):
        line = " ".join(p for p in (line, place.strip()) if p)
    return line or None


def split_acheminement(text: str) -> tuple[str | None, str | None]:
    """("01000", "BOURG EN BRESSE") from "01000 BOURG EN BRESSE CEDEX 2" (CEDEX dropped).
    A line without a leading 5-digit postcode is all city."""
    text = (text or "").strip()
    head, _, rest = text.partition(" ")
    postcode = head if len(head) == 5 and head.isdigit() else None
    city = _CEDEX.sub("", rest if postcode else text).strip()
    return postcode, city or None


def etalab_commune_code(finess_dep: str, department: str, commune: str) -> str | None:
    """INSEE commune code from the etalab ``departement`` and 3-digit ``commune`` fields.

    Metropolitan France (and 2A/2B): department + commune ("01" + "053" = "01053").
    Overseas, INSEE codes are the 3-digit department + 2 digits; FINESS keeps 3 digits whose
    last two are the commune's ("9D" + "411" -> "97411"). The department used is the one the
    FINESS code maps to (9A -> 971), not the postcode's: Saint-Barthélemy and Saint-Martin, which
    FINESS files under Guadeloupe, keep their former Guadeloupe codes (97123, 97127).
    """
    commune = commune.strip()
    if len(commune) != 3 or not commune.isdigit():
        return None
    insee_dep = department_from_finess(finess_dep) or department
    if len(insee_dep) == 3:
        return insee_dep + commune[1:]
    return insee_dep + commune


def siret_or_none(value: str) -> str | None:
    siret = value.replace(" ", "")
    return siret if len(siret) == 14 and siret.isdigit() else None


def etalab_department(finess_dep: str, postcode: str | None) -> str | None:
    """INSEE department of a structureet line: its FINESS ``departement`` field (the postcode
    choosing among the territories one code covers), else the postcode."""
    code = finess_dep.strip().upper()
    return department_from_finess(code, postcode or "") or department_from_postcode(postcode or "")
