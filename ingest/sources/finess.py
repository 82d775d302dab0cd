"""Reader for the FINESS establishment file: the legacy data.gouv "etalab" CSV and the FiNESS+ JSON.

Pure: a binary file object in, :class:`EstablishmentRow` / :class:`Rejected` out. Formats and quirks
are described in ``/work/shared/domain/finess.md``. One entry point, :func:`read_finess`, detects
the format from the first bytes (``{`` -> JSON, else the etalab CSV).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import BinaryIO

from balise.errors import SourceError
from balise.referentials.departments import (
    department_from_finess,
    department_from_postcode,
    load_departments,
)
from ingest.sources.rows import EstablishmentRow, ReadStats, Rejected

FORMAT_ETALAB = "finess-etalab"
FORMAT_JSON = "finess-json"

# The only reasons a row is rejected (the writer counts rows per reason).
REASON_FIELDS = "nombre de champs incorrect"
REASON_FINESS = "numéro FINESS invalide"
REASON_DEPARTMENT = "département introuvable"
REASON_CATEGORY = "catégorie absente"
REASON_JSON = "établissement JSON mal formé"
REASONS = (REASON_FIELDS, REASON_FINESS, REASON_DEPARTMENT, REASON_CATEGORY, REASON_JSON)

MSG_EMPTY = "Le fichier est vide : ce n'est pas un fichier FINESS."
MSG_BINARY = "Ce fichier est binaire : ce n'est pas un fichier FINESS."
MSG_NOT_ETALAB = (
    "Ce fichier n'est pas un fichier FINESS : la première ligne devrait être "
    "« finess;etalab;<numéro>;<AAAA-MM-JJ> »."
)
MSG_BAD_CSV = "Le fichier FINESS est mal formé à la ligne {line} (guillemets non fermés ?)."
MSG_BAD_JSON = (
    "Ce fichier JSON est illisible (ligne {line}, colonne {col}) : ce n'est pas un flux FiNESS+."
)
MSG_NOT_FINESS_JSON = "Ce fichier JSON n'est pas un flux FiNESS+ : la liste « pmej » est absente."

STRUCTUREET_FIELDS = 32  # section name + 31 fields, the last (numuai) usually empty
# Positions in a structureet line (section name at 0).
(
    _ET, _EJ, _RS, _RSLONGUE, _NUMVOIE, _TYPVOIE, _VOIE, _COMPVOIE, _LIEUDIT, _COMMUNE, _DEP,
    _ACHEMINEMENT, _CATEG, _LIBCATEG, _SIRET, _DATEOUV,
) = (1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 15, 18, 19, 22, 28)  # fmt: skip

_FINESS_SYNTAX = re.compile(r"[0-9][0-9AB][0-9]{7}")
_CEDEX = re.compile(r"\s+CEDEX(\s+\d+)?$", re.IGNORECASE)
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit sum of 2*d


def luhn_ok(number: str) -> bool:
    """Whether the last character of a 9-character FINESS number is its Luhn check digit.

    Corsican numbers (``2A``/``2B``): how ANS puts A and B in the sum is not documented. Here they
    count as 0 (the department was 20 before 1976), an unverified convention: a failure on such a
    number only flags the row, it never rejects it.
    """
    digits = number.upper().replace("A", "0").replace("B", "0")
    if len(digits) != 9 or not digits.isdigit():
        return False
    # From the right: check digit and every second digit as is, the others doubled (digit sum).
    total = sum(map(int, digits[-1::-2])) + sum(_DOUBLED[int(c)] for c in digits[-2::-2])
    return total % 10 == 0


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


def read_finess(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[EstablishmentRow | Rejected]:
    """Rows of a FINESS file read from ``fh``, in either format (detected from the first bytes).

    The first line / the JSON document is checked at once: an empty, binary or foreign file
    raises SourceError before any row. Rows whose department is not in ``departments`` are
    counted in ``stats.out_of_scope`` and not yielded. A FINESS number whose Luhn key fails
    gives a row with ``luhn_ok=False``: kept, for the writer to report.
    """
    stats = stats if stats is not None else ReadStats()
    scope = frozenset(departments) if departments is not None else None
    first, consumed = _first_content(fh)
    if first.lstrip(_WHITESPACE).startswith(b"{"):
        stats.format = FORMAT_JSON
        return _json_rows(_load_json(first + fh.read()), scope, stats)
    stats.format = FORMAT_ETALAB
    stats.generated_at = _etalab_metadata(first)
    return _etalab_rows(fh, consumed, scope, stats)


def _first_content(fh: BinaryIO) -> tuple[bytes, int]:
    """The first non-blank line (BOM removed) and how many lines were read to reach it."""
    for consumed, raw in enumerate(iter(fh.readline, b""), start=1):
        line = raw[3:] if consumed == 1 and raw.startswith(_BOM) else raw
        if line.strip(_WHITESPACE):
            _refuse_binary(line)
            return line, consumed
    raise SourceError(MSG_EMPTY)


def _refuse_binary(line: bytes) -> None:
    """Both formats start with printable UTF-8 text: control bytes or undecodable bytes in the
    first line mean a binary file (a zip, an image, a spreadsheet) given by mistake."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise SourceError(MSG_BINARY) from None
    if not text.rstrip("\r\n").replace("\t", " ").isprintable():
        raise SourceError(MSG_BINARY)


# --- legacy etalab CSV -------------------------------------------------------------------------


def _etalab_metadata(line: bytes) -> datetime:
    """The extraction date of ``finess;etalab;<n>;<AAAA-MM-JJ>``; SourceError for anything else."""
    try:
        fields = line.decode("ascii").strip().split(";")
    except UnicodeDecodeError:
        raise SourceError(MSG_NOT_ETALAB) from None
    if len(fields) < 4 or [f.strip().lower() for f in fields[:2]] != ["finess", "etalab"]:
        raise SourceError(MSG_NOT_ETALAB)
    extracted = parse_date(fields[3])
    if extracted is None:
        raise SourceError(MSG_NOT_ETALAB)
    return datetime(extracted.year, extracted.month, extracted.day)


def _decoded_lines(fh: BinaryIO, stats: ReadStats) -> Iterator[str]:
    """Lines as text: UTF-8 until the first line that is not, cp1252 from there on (the lines
    before were ASCII-compatible, so they read the same). Bytes cp1252 leaves undefined become
    U+FFFD rather than shifting line numbers."""
    stats.encoding = "utf-8"
    for raw in fh:
        if stats.encoding == "utf-8":
            try:
                yield raw.decode("utf-8")
                continue
            except UnicodeDecodeError:
                stats.encoding = "cp1252"
                stats.notes.append("Encodage détecté : Windows-1252 (cp1252).")
        yield raw.decode("cp1252", errors="replace")


def _etalab_rows(
    fh: BinaryIO, consumed: int, scope: frozenset[str] | None, stats: ReadStats
) -> Iterator[EstablishmentRow | Rejected]:
    reader = csv.reader(_decoded_lines(fh, stats), delimiter=";", quotechar='"', doublequote=True)
    ignored: dict[str, int] = {}
    last = 0  # reader.line_num after the previous record: a record may span several lines
    try:
        for fields in reader:
            line, last = consumed + last + 1, reader.line_num
            if not fields:
                continue
            section = fields[0].strip().lower()
            if section != "structureet":
                ignored[section] = ignored.get(section, 0) + 1
                continue
            stats.lines += 1
            row = _structureet_row(fields, line, scope, stats)
            if row is not None:
                yield row
    except csv.Error:
        raise SourceError(MSG_BAD_CSV.format(line=consumed + last + 1)) from None
    stats.notes.extend(f"Section « {s} » ignorée : {n} lignes." for s, n in ignored.items())


def _structureet_row(
    f: list[str], line: int, scope: frozenset[str] | None, stats: ReadStats
) -> EstablishmentRow | Rejected | None:
    if len(f) != STRUCTUREET_FIELDS:
        return Rejected(line, REASON_FIELDS)
    finess = f[_ET].strip().upper()
    if not is_finess_number(finess):
        return Rejected(line, REASON_FINESS)
    postcode, city = split_acheminement(f[_ACHEMINEMENT])
    finess_dep = f[_DEP].strip().upper()
    department = department_from_finess(finess_dep, postcode or "") or department_from_postcode(
        postcode or ""
    )
    if not department:
        return Rejected(line, REASON_DEPARTMENT)
    if scope is not None and department not in scope:
        stats.out_of_scope += 1
        return None
    category = f[_CATEG].strip()
    if not category:
        return Rejected(line, REASON_CATEGORY)
    ej = f[_EJ].strip().upper()
    return EstablishmentRow(
        line=line,
        finess_et=finess,
        finess_ej=ej if is_finess_number(ej) else None,
        name=f[_RS].strip() or f[_RSLONGUE].strip() or finess,
        long_name=f[_RSLONGUE].strip() or None,
        address=street_line(f[_NUMVOIE], f[_COMPVOIE], f[_TYPVOIE], f[_VOIE], f[_LIEUDIT]),
        postcode=postcode,
        city=city,
        commune_code=etalab_commune_code(finess_dep, department, f[_COMMUNE]),
        department=department,
        category_code=category,
        category_label=f[_LIBCATEG].strip() or None,
        siret=_siret(f[_SIRET]),
        opened_on=parse_date(f[_DATEOUV]),
        luhn_ok=luhn_ok(finess),
    )


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


def _siret(value: str) -> str | None:
    siret = value.replace(" ", "")
    return siret if len(siret) == 14 and siret.isdigit() else None


# --- FiNESS+ JSON ------------------------------------------------------------------------------


def _load_json(data: bytes) -> dict:
    """The whole document: the national FiNESS+ feed is not published yet and ``json.load`` on a
    100k-establishment document stays within a few hundred MB; stream it if that changes."""
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise SourceError(MSG_BAD_JSON.format(line=exc.lineno, col=exc.colno)) from None
    except UnicodeDecodeError:
        raise SourceError(MSG_BINARY) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("pmej"), list):
        raise SourceError(MSG_NOT_FINESS_JSON)
    return doc


def _json_generated_at(doc: dict) -> datetime | None:
    """``generatedAt`` ("2026-03-09T15:49:37.615611300Z") as a naive UTC datetime."""
    try:
        moment = datetime.fromisoformat(str(doc.get("generatedAt") or ""))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _json_rows(
    doc: dict, scope: frozenset[str] | None, stats: ReadStats
) -> Iterator[EstablishmentRow | Rejected]:
    stats.generated_at = _json_generated_at(doc)
    stats.encoding = "utf-8"
    closed = 0
    for position, pmej, ege in _iter_ege(doc["pmej"]):
        if not isinstance(ege, dict) or not isinstance(pmej, dict):
            stats.lines += 1
            yield Rejected(position, REASON_JSON)
            continue
        if not _is_active(ege):
            closed += 1
            continue
        stats.lines += 1
        row = _ege_row(ege, pmej, position, scope, stats)
        if row is not None:
            yield row
    if closed:
        stats.notes.append(f"Établissements fermés ou inactifs ignorés : {closed}.")


def _iter_ege(pmejs: Iterable) -> Iterator[tuple[int, object, object]]:
    """(1-based position across the document, legal entity, establishment)."""
    position = 0
    for pmej in pmejs:
        eges = pmej.get("ege") if isinstance(pmej, dict) else None
        for ege in eges if isinstance(eges, list) else []:
            position += 1
            yield position, pmej, ege


def _is_active(ege: dict) -> bool:
    """Active: ``etatObjet`` A (or absent) and no closing date reached."""
    if str(ege.get("etatObjet") or "A").strip().upper() != "A":
        return False
    closing = parse_date(str(_info(ege).get("dateFermeture") or ""))
    return closing is None or closing > date.today()


def _info(ege: dict) -> dict:
    info = ege.get("informationsGeneralesEGE")
    return info if isinstance(info, dict) else {}


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else ""


def _ege_row(
    ege: dict, pmej: dict, position: int, scope: frozenset[str] | None, stats: ReadStats
) -> EstablishmentRow | Rejected | None:
    info = _info(ege)
    finess = _text(info, "numFinessEge").upper()
    if not is_finess_number(finess):
        return Rejected(position, REASON_FINESS)
    addresses = ege.get("adresse")
    address = addresses[0] if isinstance(addresses, list) and addresses else {}
    address = address if isinstance(address, dict) else {}
    cog, postcode = _text(address, "cogCommune").upper(), _text(address, "codePostal")
    department = department_from_cog(cog) or department_from_postcode(postcode)
    if not department:
        return Rejected(position, REASON_DEPARTMENT)
    if scope is not None and department not in scope:
        stats.out_of_scope += 1
        return None
    category = ege.get("categorieentiteGeographiqueExercice")
    category = str(category).strip() if isinstance(category, str | int) else ""
    if not category:
        return Rejected(position, REASON_CATEGORY)
    return _ege_to_row(position, finess, info, pmej, address, department, category, cog)


def _ege_to_row(
    position: int,
    finess: str,
    info: dict,
    pmej: dict,
    address: dict,
    department: str,
    category: str,
    cog: str,
) -> EstablishmentRow:
    pm = pmej.get("informationsGeneralesPMEJ")
    ej = _text(pm, "numFinessPm").upper() if isinstance(pm, dict) else ""
    postcode, city = split_acheminement(_text(address, "ligneAcheminement"))
    street = [
        _text(address, k)
        for k in ("numeroVoie", "complementNumeroVoie", "typeVoie", "libelleVoie", "lieuDit")
    ]
    return EstablishmentRow(
        line=position,
        finess_et=finess,
        finess_ej=ej if is_finess_number(ej) else None,
        name=_text(info, "nomEgeCourt") or _text(info, "nomEgeLong") or finess,
        long_name=_text(info, "nomEgeLong") or None,
        address=street_line(*street),
        postcode=_text(address, "codePostal") or postcode,
        city=city,
        commune_code=cog if len(cog) == 5 else None,
        department=department,
        category_code=category,
        category_label=None,  # the JSON carries the code only
        siret=_siret(_text(info, "siret")),
        opened_on=parse_date(_text(info, "dateOuverture")),
        luhn_ok=luhn_ok(finess),
    )


def department_from_cog(cog: str) -> str | None:
    """Department of an INSEE commune code: 3 digits overseas (97x, 98x), else 2 ("2A004")."""
    if len(cog) != 5:
        return None
    code = cog[:3] if cog.startswith(("97", "98")) else cog[:2]
    return code if code in load_departments() else None
