"""Reader for the national MSSanté mailbox directory extract
(ANS, ``Extraction_Correspondance_MSSante``).

Pure: a binary file object in, :class:`DirectoryRow` / :class:`Rejected` out. The format and its
quirks (README, « Notes sur le domaine »): UTF-8, ``|`` separated, one
header line, 31 columns, no quoting, no dates, the address is the only key.

Speed matters (536k lines at national scale). The writer reads blocks of lines
(:func:`read_extract_chunks`): clean blocks are parsed by Arrow and normalised column-wise
(``annuaire_columns``), at C speed; a block with anything unusual (a bad line, a blank line, a
non-UTF-8 byte) goes through the line-by-line reader, which is the specification: both paths
give the same rows, a test checks it. :func:`read_extract` gives the same rows one by one.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import BinaryIO

import pyarrow as pa

from balise.errors import SourceError
from balise.referentials.bal_types import normalise_bal_type
from balise.referentials.departments import normalise_department
from ingest.sources.annuaire_columns import Lookups, Positions, normalise_block
from ingest.sources.annuaire_values import (  # noqa: F401 (REASON_* and REASONS: public here)
    REASON_ADDRESS,
    REASON_DEPARTMENT,
    REASON_ENCODING,
    REASON_FIELDS,
    REASON_TYPE,
    REASONS,
    is_valid_address,
    normalise_dematerialisation,
    normalise_structure_id,
)
from ingest.sources.columns import blocks, has_lone_cr, is_utf8, parse_block, parts
from ingest.sources.rows import (
    DIRECTORY_SCHEMA,
    Chunk,
    DirectoryRow,
    ReadStats,
    Rejected,
    chunk_of,
    flatten,
)

FORMAT = "annuaire-txt"

# The 31 header texts as published (domain/annuaire-mssante.md), in order: what the demo writes.
DIRECTORY_HEADER: tuple[str, ...] = (
    "Type de BAL",
    "Adresse BAL",
    "Type Identifiant PP",
    "Identifiant PP",
    "Identification nationale PP",
    "Type identifiant structure",
    "Identification Structure",
    "Service de rattachement",
    "Civilité d'exercice",
    "Nom d'exercice",
    "Prénom d'exercice",
    "Catégorie profession",
    "Libellé de catégorie profession",
    "Code Profession",
    "Libellé Profession",
    "Code savoir-faire",
    "Libellé savoir-faire",
    "Dématérialisation",
    "Raison Sociale structure BAL",
    "Enseigne commerciale structure BAL",
    "L2COMPLEMENTLOCALISATION",
    "L3COMPLEMENTDISTRIBUTION",
    "L4NUMEROVOIE",
    "L4COMPLEMENTNUMEROVOIE",
    "NL4TYPEVOIE",
    "L4LIBELLEVOIE",
    "L5LIEUDITMENTION",
    "L6LIGNEACHEMINEMENT",
    "Code postal",
    "Département",
    "Pays",
)

# Columns the reader cannot work without (exact published header texts).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "Type de BAL",
    "Adresse BAL",
    "Type identifiant structure",
    "Identification Structure",
    "Code postal",
    "Département",
)
# Columns read when present; a file without them still loads (the fields are then None).
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "Service de rattachement",
    "Code Profession",
    "Raison Sociale structure BAL",
    "Dématérialisation",
)

# Other spellings met in public descriptions of the file: some write columns 19-31 with a
# " structure BAL" suffix. The domain note gives none; accept both rather than refuse a real file.
ALIASES: dict[str, tuple[str, ...]] = {
    "Code postal": ("Code postal structure BAL",),
    "Département": ("Département structure BAL",),
}


NOT_AN_EXTRACT = "Ce fichier n'est pas un extrait de l'annuaire MSSanté"
MSG_EMPTY = "Le fichier est vide : ce n'est pas un extrait de l'annuaire MSSanté."
MSG_BINARY = (
    "Ce fichier est binaire ou n'est pas un texte UTF-8 : "
    "ce n'est pas un extrait de l'annuaire MSSanté."
)
# The published header is 612 bytes; any other spelling stays far below this.
MAX_HEADER_BYTES = 16 << 10
MSG_LONG_HEADER = (
    "La première ligne dépasse 16 Ko : ce n'est pas l'en-tête d'un extrait de l'annuaire MSSanté."
)

_GENERATED_AT = re.compile(r"Extraction_Correspondance_MSSante_(\d{12})")


def _header_key(text: str) -> str:
    """How header cells are compared: no surrounding spaces, case- and accent-insensitive
    (a file re-saved by a tool that lost "é" in "Département" still matches)."""
    decomposed = unicodedata.normalize("NFD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _read_header(fh: BinaryIO) -> str:
    """The first line, read at most ``MAX_HEADER_BYTES`` far (a file whose first line runs
    for megabytes is refused there, not held in memory)."""
    raw = fh.readline(MAX_HEADER_BYTES + 1)
    if not raw.strip():
        raise SourceError(MSG_EMPTY)
    if b"\x00" in raw:
        raise SourceError(MSG_BINARY)
    if len(raw) > MAX_HEADER_BYTES:
        raise SourceError(MSG_LONG_HEADER)
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise SourceError(MSG_BINARY) from None


def column_positions(header: str) -> dict[str, int | None]:
    """Position of every required and optional column in ``header`` (None: optional, absent).

    Raises SourceError naming the missing required columns."""
    cells = [_header_key(cell) for cell in header.split("|")]
    positions: dict[str, int | None] = {}
    for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        keys = [_header_key(n) for n in (name, *ALIASES.get(name, ()))]
        positions[name] = next((cells.index(k) for k in keys if k in cells), None)
    missing = [name for name in REQUIRED_COLUMNS if positions[name] is None]
    if len(missing) == len(REQUIRED_COLUMNS):
        raise SourceError(
            f"{NOT_AN_EXTRACT} : la première ligne n'est pas l'en-tête attendu "
            f"(colonnes séparées par « | », dont {', '.join(REQUIRED_COLUMNS)})."
        )
    if missing:
        raise SourceError(f"{NOT_AN_EXTRACT} : colonnes manquantes : {', '.join(missing)}.")
    return positions


def read_extract(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[DirectoryRow | Rejected]:
    """Stream the rows of a directory extract read from the binary file object ``fh``.

    The header is read and checked at once (SourceError before any row: empty file, binary
    data, not the directory's header, or missing required columns — ``REQUIRED_COLUMNS``:
    Type de BAL, Adresse BAL, Type identifiant structure, Identification Structure, Code
    postal, Département). Columns are matched by header name (spaces around, case and
    accents ignored); other columns, in any order, are ignored; ``OPTIONAL_COLUMNS`` give
    None when absent. UTF-8, with or without BOM, LF or CRLF; lines are never all held in memory.

    Each data line gives a DirectoryRow or a Rejected(line, reason) where reason is one of
    ``REASONS`` and line the 1-based file line (header = 1). Blank lines are skipped. Rows
    whose department is not in ``departments`` are counted in ``stats.out_of_scope`` and not
    yielded, before their type and address are checked (so rejections concern the selected
    departments, plus the rows whose department cannot be found at all).

    Addresses are NOT de-duplicated here (about 170 repeat nationally): the writer keeps the
    first line of each lower-cased address.
    """
    return flatten(read_extract_chunks(fh, departments, stats), DirectoryRow)


def read_extract_chunks(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Chunk]:
    """What :func:`read_extract` reads, by blocks of lines (the fast path for the writer).

    Blocks of clean lines (UTF-8, the header's column count, no blank line, no lone CR) are
    parsed by Arrow and normalised column-wise (``annuaire_columns``); any other block goes
    through the line-by-line reader, which is the specification of both. The header is checked
    at once, like :func:`read_extract`."""
    stats = stats if stats is not None else ReadStats()
    stats.format = FORMAT
    stats.encoding = "utf-8"
    header = _read_header(fh)
    positions = column_positions(header)
    width = header.count("|") + 1
    scope = frozenset(departments) if departments is not None else None
    return _chunks(fh, positions, width, scope, stats)


BLOCK_BYTES = 2 << 20


def _chunks(
    fh: BinaryIO,
    positions: dict[str, int | None],
    width: int,
    scope: frozenset[str] | None,
    stats: ReadStats,
) -> Iterator[Chunk]:
    at = Positions(*(positions[name] for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS))
    wanted = sorted({i for i in vars(at).values() if i is not None})
    lookups = Lookups()
    lineno = 1  # the header
    for block in blocks(fh, BLOCK_BYTES):
        for part in parts(block, lambda data: _parse_clean(data, width, wanted)):
            # A parsed part has one row per line (``parse_block`` checked it): no second count.
            lines = part.lines if part.table is None else part.table.num_rows
            if part.table is None:
                yield _exact_chunk(part.data, lineno, positions, width, scope, stats)
            else:
                stats.lines += lines
                rows, rejected, out = normalise_block(part.table, lineno + 1, at, scope, lookups)
                stats.out_of_scope += out
                yield Chunk(rows, rejected)
            lineno += lines


def _parse_clean(block: bytes, width: int, wanted: list[int]) -> pa.Table | None:
    """The ``wanted`` columns of ``block`` parsed by Arrow, or None when the block holds anything
    Arrow would not number like the line reader, or a byte that is not UTF-8 in any column
    (then the line reader takes the block). Blank lines: see ``has_lone_cr``."""
    if has_lone_cr(block) or not is_utf8(block):
        return None
    return parse_block(block, width, wanted, "|")


def _exact_chunk(
    block: bytes,
    lineno: int,
    positions: dict[str, int | None],
    width: int,
    scope: frozenset[str] | None,
    stats: ReadStats,
) -> Chunk:
    rows = _rows(io.BytesIO(block), positions, width, scope, stats, lineno)
    return chunk_of(rows, DIRECTORY_SCHEMA)


def _rows(
    fh: BinaryIO,
    positions: dict[str, int | None],
    width: int,
    scope: frozenset[str] | None,
    stats: ReadStats,
    lineno: int = 1,
) -> Iterator[DirectoryRow | Rejected]:
    """The line reader: ``lineno`` is the number of the line before the first one of ``fh``."""
    # Absent optional columns point at one empty cell appended to each line (no branch per field).
    padded = any(positions[name] is None for name in OPTIONAL_COLUMNS)
    i_type, i_addr, i_sidt, i_sid, i_pc, i_dep, i_serv, i_prof, i_name, i_demat = (
        width if positions[name] is None else positions[name]
        for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    )
    dep_cache: dict[tuple[str, str], str] = {}  # "" = no department derivable
    type_cache: dict[str, str] = {}  # "" = unknown type
    for raw in fh:
        lineno += 1
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            stats.lines += 1
            yield Rejected(lineno, REASON_ENCODING)
            continue
        if not line:
            continue
        stats.lines += 1
        f = line.split("|")
        if len(f) != width:
            yield Rejected(lineno, REASON_FIELDS)
            continue
        if padded:
            f.append("")
        postcode = f[i_pc].strip()
        key = (f[i_dep], postcode)
        dep = dep_cache.get(key)
        if dep is None:
            dep = dep_cache[key] = normalise_department(key[0], postcode) or ""
        if not dep:
            yield Rejected(lineno, REASON_DEPARTMENT)
            continue
        if scope is not None and dep not in scope:
            stats.out_of_scope += 1
            continue
        bal_type = type_cache.get(f[i_type])
        if bal_type is None:
            bal_type = type_cache[f[i_type]] = normalise_bal_type(f[i_type]) or ""
        if not bal_type:
            yield Rejected(lineno, REASON_TYPE)
            continue
        address = f[i_addr].strip().lower()
        if not is_valid_address(address):
            yield Rejected(lineno, REASON_ADDRESS)
            continue
        if "\x00" in line:  # no text character, and no database stores it: U+FFFD, as in FINESS
            f = [value.replace("\x00", "\ufffd") for value in f]
        sid = f[i_sid]
        yield DirectoryRow(
            lineno,
            address,
            bal_type,
            dep,
            f[i_sidt].strip() or None,
            normalise_structure_id(sid) if sid else None,
            f[i_serv].strip() or None,
            f[i_prof].strip() or None,
            f[i_name].strip() or None,
            postcode or None,
            normalise_dematerialisation(f[i_demat]),
        )


def parse_generated_at(file_name: str) -> datetime | None:
    """Generation time from an ANS file name (``..._MSSante_202611250312.txt``, possibly inside
    a zip name or a path). Naive datetime: the name carries French local time, as published."""
    match = _GENERATED_AT.search(file_name or "")
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%d%H%M")
    except ValueError:
        return None
