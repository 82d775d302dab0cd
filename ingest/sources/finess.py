"""Reader for the FINESS establishment file: the legacy data.gouv "etalab" CSV and the FiNESS+ JSON.

Pure: a binary file object in, :class:`EstablishmentRow` / :class:`Rejected` out (or the same
by :class:`Chunk`, the writer's fast path); quirks in the README, « Notes sur le domaine ». One
entry point, :func:`read_finess`, detects the format from the first bytes: gzip is inflated on
the way, ``{`` is the FiNESS+ flow (read as a stream by ``finess_plus``), anything else the
etalab CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from functools import partial
from itertools import chain, islice
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from balise.errors import SourceError
from balise.formatting import fr_count
from ingest.sources.columns import (
    blocks,
    has_blank_or_lone_cr,
    parse_block,
    parse_block_as,
    parts,
)
from ingest.sources.cp1252 import cp1252_to_utf8
from ingest.sources.finess_columns import WANTED, Lookups, normalise_etalab
from ingest.sources.finess_geoloc import (
    GEO_FIELDS,
    GEO_WANTED,
    SECTION,
    Places,
    block_points,
    line_point,
)
from ingest.sources.finess_plus import (  # noqa: F401 (messages and rules: public here)
    MSG_BAD_JSON,
    MSG_NOT_FINESS_JSON,
    department_from_cog,
    read_finess_plus_chunks,
)
from ingest.sources.finess_values import (  # noqa: F401 (REASON_*, luhn_ok...: public here)
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FIELDS,
    REASON_FINESS,
    REASON_GEO,
    REASON_JSON,
    REASONS,
    STRUCTUREET_FIELDS,
    Col,
    etalab_commune_code,
    etalab_department,
    is_finess_number,
    luhn_ok,
    parse_date,
    siret_or_none,
    split_acheminement,
    street_line,
)
from ingest.sources.gzip_stream import Prefixed, gunzip_if_compressed
from ingest.sources.rows import (
    ESTABLISHMENT_SCHEMA,
    Chunk,
    EstablishmentPoint,
    EstablishmentRow,
    ReadStats,
    Rejected,
    chunk_of,
    flatten,
)

FORMAT_ETALAB = "finess-etalab"
FORMAT_JSON = "finess-json"

MSG_EMPTY = "Le fichier est vide : ce n'est pas un fichier FINESS."
MSG_BINARY = "Ce fichier est binaire : ce n'est pas un fichier FINESS."
MSG_NOT_ETALAB = (
    "Ce fichier n'est pas un fichier FINESS : la première ligne devrait être "
    "« finess;etalab;<numéro>;<AAAA-MM-JJ> »."
)
MSG_BAD_CSV = "Le fichier FINESS est mal formé à la ligne {line} (guillemets non fermés ?)."
MSG_LONG_LINE = "La première ligne dépasse 64 Ko : ce n'est pas un fichier FINESS."


_WHITESPACE = b" \t\r\n"
# The etalab first line is some thirty bytes; a JSON document may be one long line.
MAX_FIRST_LINE_BYTES = 64 << 10
_BOM = b"\xef\xbb\xbf"


def read_finess(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[EstablishmentRow | Rejected]:
    """What :func:`read_finess_chunks` reads, row by row, in line order."""
    return flatten(read_finess_chunks(fh, departments, stats), EstablishmentRow)


def read_finess_chunks(
    fh: BinaryIO,
    departments: Collection[str] | None = None,
    stats: ReadStats | None = None,
) -> Iterator[Chunk]:
    """Rows of a FINESS file read from ``fh``, in either format (detected from the first bytes),
    by chunks of consecutive lines.

    The first line / the JSON document is checked at once: an empty, binary or foreign file
    raises SourceError before any row. Rows whose department is not in ``departments`` are
    counted in ``stats.out_of_scope`` and not yielded. A FINESS number whose Luhn key fails
    gives a row with ``luhn_ok=False``: kept, for the writer to report.

    Etalab blocks of clean ``structureet`` lines (no quote, no blank line, the right number of
    fields, readable in the encoding reached so far) are parsed by Arrow and normalised
    column-wise (``finess_columns``); other blocks go through the line reader, the specification.
    """
    stats = stats if stats is not None else ReadStats()
    scope = frozenset(departments) if departments is not None else None
    fh = gunzip_if_compressed(fh)  # FiNESS+ is published as .json.gz
    first, consumed = _first_content(fh)
    if first.lstrip(_WHITESPACE).startswith(b"{"):  # FiNESS+, read as a stream
        whole = io.BufferedReader(Prefixed(first, fh), BLOCK_BYTES)
        return read_finess_plus_chunks(whole, scope, stats, lines_before=consumed - 1)
    stats.format = FORMAT_ETALAB
    stats.generated_at = _etalab_metadata(first)
    stats.encoding = "utf-8"
    return _etalab_chunks(fh, consumed, scope, stats)


BLOCK_BYTES = 2 << 20
ROWS_PER_CHUNK = 20_000


def _in_chunks(items: Iterator[EstablishmentRow | Rejected]) -> Iterator[Chunk]:
    while batch := list(islice(items, ROWS_PER_CHUNK)):
        yield chunk_of(batch, ESTABLISHMENT_SCHEMA)


def _first_content(fh: BinaryIO) -> tuple[bytes, int]:
    """The first non-blank line (BOM removed) and how many lines were read to reach it. Lines
    are read at most ``MAX_FIRST_LINE_BYTES`` far: a longer one is refused unless it opens a
    JSON document (FiNESS+ may come on one line; the JSON path reads on from there)."""
    read_line = partial(fh.readline, MAX_FIRST_LINE_BYTES + 1)
    for consumed, raw in enumerate(iter(read_line, b""), start=1):
        line = raw[3:] if consumed == 1 and raw.startswith(_BOM) else raw
        content = line.lstrip(_WHITESPACE)
        if len(raw) > MAX_FIRST_LINE_BYTES and not content.startswith(b"{"):
            raise SourceError(MSG_BINARY if b"\x00" in raw else MSG_LONG_LINE)
        if content:
            _refuse_binary(line)
            return line, consumed
    raise SourceError(MSG_EMPTY)


def _refuse_binary(line: bytes) -> None:
    """Both formats start with printable UTF-8 text: control bytes or undecodable bytes in the
    first line mean a binary file (a zip, an image, a spreadsheet) given by mistake."""
    try:  # a one-line JSON is cut at MAX_FIRST_LINE_BYTES, maybe inside a character
        text = codecs.getincrementaldecoder("utf-8")().decode(line, final=False)
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


def _etalab_chunks(
    fh: BinaryIO, consumed: int, scope: frozenset[str] | None, stats: ReadStats
) -> Iterator[Chunk]:
    ignored: dict[str, int] = {}
    lookups, places = Lookups(), Places()
    lineno = consumed  # lines read so far
    pending = (
        part
        for block in blocks(fh, BLOCK_BYTES)
        for section in _by_section(block)
        for part in parts(section, _clean_parser(stats))
    )
    for part in pending:
        count = part.lines if part.table is None else part.table.num_rows
        if part.table is not None and part.data.startswith(_GEOLOCALISATION):
            points, rejected = block_points(part.table, lineno + 1, places)
            yield Chunk(_NO_ROWS, rejected, point_columns=points)
        elif part.table is not None:
            stats.lines += count
            rows, rejected, out = normalise_etalab(part.table, lineno + 1, scope, lookups)
            stats.out_of_scope += out
            places.remember_columns(rows.column("finess_et"), rows.column("department"))
            yield Chunk(rows, rejected)
        elif _record_spans_lines(part.data):
            # A quoted field holds a line break: the line reader takes everything from here.
            lines = (line for p in chain([part], pending) for line in io.BytesIO(p.data))
            yield from _in_chunks(_etalab_rows(lines, lineno, scope, stats, ignored, places))
            break
        else:
            rows = _etalab_rows(io.BytesIO(part.data), lineno, scope, stats, ignored, places)
            yield chunk_of(rows, ESTABLISHMENT_SCHEMA)
        lineno += count
    stats.notes.extend(
        f"Section « {s} » ignorée : {fr_count(n, 'ligne', 'lignes')}." for s, n in ignored.items()
    )
    stats.notes.extend(places.geo.notes())


_NO_ROWS = pa.RecordBatch.from_pylist([], schema=ESTABLISHMENT_SCHEMA)  # a chunk of points


def _clean_parser(stats: ReadStats) -> Callable[[bytes], pa.Table | None]:
    def parse(block: bytes) -> pa.Table | None:
        """Arrow's parse of ``block`` if the line reader would read it the same way."""
        if b'"' in block or (b"\r" in block and has_blank_or_lone_cr(block)):
            return None
        data = np.frombuffer(block, dtype=np.uint8)
        starts = _line_starts(data)
        section = _single_section(data, starts)
        if section is None:
            return None
        width, wanted = _SECTIONS[section]
        if stats.encoding != "utf-8":  # cut as bytes, then the columns kept transcoded
            table = parse_block_as(block, width, wanted, ";", pa.binary())
            return None if table is None else _from_cp1252(table)
        if not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                return None  # the line reader finds the line and switches to cp1252
        return parse_block(block, width, wanted, ";")

    return parse


def _from_cp1252(table: pa.Table) -> pa.Table:
    columns = [cp1252_to_utf8(c.combine_chunks()) for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


_STRUCTUREET, _GEOLOCALISATION = b"structureet;", b"geolocalisation;"
_SECTIONS = {_STRUCTUREET: (STRUCTUREET_FIELDS, WANTED), _GEOLOCALISATION: (GEO_FIELDS, GEO_WANTED)}


def _line_starts(data: np.ndarray) -> np.ndarray:
    """Where each line of a block begins (numpy: byte searches over the block cost more)."""
    starts = np.flatnonzero(data == ord("\n")) + 1
    return np.concatenate([[0], starts[starts < len(data)]])


def _single_section(data: np.ndarray, starts: np.ndarray) -> bytes | None:
    """The section every line starts with, if it is one Arrow reads; None also when a line is
    blank (Arrow would not number the lines as the line reader does)."""
    section = next((s for s in _SECTIONS if data[: len(s)].tobytes() == s), None)
    if section is None or starts[-1] + len(section) > len(data):
        return None
    heads = data[starts[:, np.newaxis] + np.arange(len(section))]
    return section if (heads == np.frombuffer(section, dtype=np.uint8)).all() else None


def _by_section(block: bytes) -> Iterator[bytes]:
    """``block`` cut where its structureet lines give way to the geolocalisation lines, so
    that both sides can be clean blocks (else the line reader reads the lines around it)."""
    cut = block.find(b"\n" + _GEOLOCALISATION) + 1 if block.startswith(_STRUCTUREET) else 0
    if cut:
        yield block[:cut]
    yield block[cut:]


def _record_spans_lines(block: bytes) -> bool:
    """Whether a quoted field may hold a line break (a line with an odd number of quotes)."""
    return b'"' in block and any(line.count(b'"') % 2 for line in block.split(b"\n"))


def _decoded_lines(lines: Iterable[bytes], stats: ReadStats) -> Iterator[str]:
    """Lines as text: UTF-8 until the first line that is not, cp1252 from there on (the lines
    before were ASCII-compatible, so they read the same). Bytes cp1252 leaves undefined become
    U+FFFD rather than shifting line numbers."""
    for raw in lines:
        if stats.encoding == "utf-8":
            try:
                yield raw.decode("utf-8").replace("\x00", "\ufffd")
                continue
            except UnicodeDecodeError:
                stats.encoding = "cp1252"
                stats.notes.append("Encodage détecté : Windows-1252 (cp1252).")
        # A NUL byte is no character either: U+FFFD too (no database stores NUL in text).
        yield raw.decode("cp1252", errors="replace").replace("\x00", "\ufffd")


def _etalab_rows(
    lines: Iterable[bytes],
    consumed: int,
    scope: frozenset[str] | None,
    stats: ReadStats,
    ignored: dict[str, int],
    places: Places,
) -> Iterator[EstablishmentRow | Rejected | EstablishmentPoint]:
    """The line reader: ``consumed`` lines of the file come before ``lines``; geolocalisation
    lines give points of the establishments kept (``places``), lines of other sections are
    counted in ``ignored``."""
    reader = csv.reader(
        _decoded_lines(lines, stats), delimiter=";", quotechar='"', doublequote=True
    )
    last = 0  # reader.line_num after the previous record: a record may span several lines
    try:
        for fields in reader:
            line, last = consumed + last + 1, reader.line_num
            if not fields:
                continue
            section = fields[0].strip().lower()
            if section == SECTION:
                found = line_point(fields, line, places)
            elif section == "structureet":
                stats.lines += 1
                found = _structureet_row(fields, line, scope, stats)
                if type(found) is EstablishmentRow:
                    places.remember([found.finess_et], [found.department])
            else:
                ignored[section] = ignored.get(section, 0) + 1
                continue
            if found is not None:
                yield found
    except csv.Error:
        raise SourceError(MSG_BAD_CSV.format(line=consumed + last + 1)) from None


def _structureet_row(
    f: list[str], line: int, scope: frozenset[str] | None, stats: ReadStats
) -> EstablishmentRow | Rejected | None:
    if len(f) != STRUCTUREET_FIELDS:
        return Rejected(line, REASON_FIELDS)
    finess = f[Col.ET].strip().upper()
    if not is_finess_number(finess):
        return Rejected(line, REASON_FINESS)
    postcode, city = split_acheminement(f[Col.ACHEMINEMENT])
    finess_dep = f[Col.DEP].strip().upper()
    department = etalab_department(finess_dep, postcode)
    if not department:
        return Rejected(line, REASON_DEPARTMENT)
    if scope is not None and department not in scope:
        stats.out_of_scope += 1
        return None
    category = f[Col.CATEG].strip()
    if not category:
        return Rejected(line, REASON_CATEGORY)
    ej = f[Col.EJ].strip().upper()
    return EstablishmentRow(
        line=line,
        finess_et=finess,
        finess_ej=ej if is_finess_number(ej) else None,
        name=f[Col.RS].strip() or f[Col.RSLONGUE].strip() or finess,
        long_name=f[Col.RSLONGUE].strip() or None,
        address=street_line(
            f[Col.NUMVOIE], f[Col.COMPVOIE], f[Col.TYPVOIE], f[Col.VOIE], f[Col.LIEUDIT]
        ),
        postcode=postcode,
        city=city,
        commune_code=etalab_commune_code(finess_dep, department, f[Col.COMMUNE]),
        department=department,
        category_code=category,
        category_label=f[Col.LIBCATEG].strip() or None,
        siret=siret_or_none(f[Col.SIRET]),
        opened_on=parse_date(f[Col.DATEOUV]),
        luhn_ok=luhn_ok(finess),
    )
