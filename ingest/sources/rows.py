"""What the pure readers yield. Readers take bytes or binary file objects and yield these; they
import neither SQLAlchemy nor Streamlit. The writer (``ingest/load/``) consumes them: rows one
by one (:class:`DirectoryRow`, :class:`EstablishmentRow`, :class:`Rejected`), or by
:class:`Chunk` (the same rows as Arrow columns, the bulk path)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

import pyarrow as pa


class Rejected(NamedTuple):
    """A row that could not be kept: its 1-based line number in the file and a French reason."""

    line: int
    reason: str


class DirectoryRow(NamedTuple):
    """One mailbox line of the MSSanté directory extract, normalised."""

    line: int
    address: str  # lower-cased, stripped: the only key the file carries
    bal_type: str  # PER | ORG | APP | CAB
    department: str  # INSEE code ("01", "2A", "974"...)
    structure_id_type: str | None  # "0".."4" (column 6), None if empty
    structure_id: str | None  # type prefix stripped when the length says so
    service: str | None
    profession_code: str | None
    structure_name: str | None  # "Raison Sociale structure BAL"
    postcode: str | None
    dematerialisation: str | None = None  # "O" | "N" (column « Dématérialisation »)


class EstablishmentRow(NamedTuple):
    """One FINESS establishment (ET), from the legacy CSV or the FiNESS+ JSON."""

    line: int  # line number (CSV) or position of the establishment (JSON)
    finess_et: str
    finess_ej: str | None
    name: str
    long_name: str | None
    address: str | None  # "12 RUE DES LILAS" (street line only)
    postcode: str | None
    city: str | None
    commune_code: str | None  # INSEE commune code, 5 characters
    department: str  # INSEE code
    category_code: str
    category_label: str | None
    siret: str | None
    opened_on: date | None
    luhn_ok: bool  # False: kept, but reported (the key of 2A/2B numbers is not verified)
    # FiNESS+ only (the etalab CSV leaves them empty): WGS 84 point checked against the
    # territory, and the flow's technical id (what its groupings refer to).
    latitude: float | None = None
    longitude: float | None = None
    ege_id: str | None = None


class EstablishmentPoint(NamedTuple):
    """Where an establishment of the file lies (an etalab ``geolocalisation`` line, which comes
    after every ``structureet`` line): a WGS 84 point already checked against the territory."""

    line: int
    finess_et: str
    latitude: float
    longitude: float


@dataclass
class ReadStats:
    """Filled in by a reader while it reads (pass one in; read it after the loop).

    ``lines`` counts data lines read (header and metadata lines excluded), ``out_of_scope`` the
    valid rows skipped because their department is not selected. ``format``, ``generated_at``
    and ``encoding`` describe the file: ``encoding`` is final only once the loop has ended
    (a FINESS file switches to cp1252 at its first non-UTF-8 line).
    """

    format: str = ""  # "annuaire-txt" | "finess-etalab" | "finess-json"
    generated_at: datetime | None = None
    encoding: str = "utf-8"
    lines: int = 0
    out_of_scope: int = 0
    notes: list[str] = field(default_factory=list)


def _schema(row_type: type, types: dict[str, pa.DataType]) -> pa.Schema:
    return pa.schema([(name, types.get(name, pa.string())) for name in row_type._fields])


# Chunks hold the fields of the row types, in their order.
DIRECTORY_SCHEMA = _schema(DirectoryRow, {"line": pa.int64()})
ESTABLISHMENT_SCHEMA = _schema(
    EstablishmentRow,
    {
        "line": pa.int64(),
        "opened_on": pa.date32(),
        "luhn_ok": pa.bool_(),
        "latitude": pa.float64(),
        "longitude": pa.float64(),
    },
)
POINT_SCHEMA = _schema(
    EstablishmentPoint, {"line": pa.int64(), "latitude": pa.float64(), "longitude": pa.float64()}
)


@dataclass
class Chunk:
    """Rows of consecutive lines: the accepted ones as Arrow columns (a record batch of
    ``DIRECTORY_SCHEMA`` or ``ESTABLISHMENT_SCHEMA``) and the rejected ones, both in line order."""

    rows: pa.RecordBatch
    rejected: list[Rejected]
    points: list[EstablishmentPoint] = field(default_factory=list)  # etalab geolocalisation
    # The same from the bulk path: a record batch of ``POINT_SCHEMA`` (no object per point).
    point_columns: pa.RecordBatch | None = None


def chunk_of(items: Iterable, schema: pa.Schema) -> Chunk:
    """Rows, Rejected and EstablishmentPoint from a line reader, as one chunk."""
    rows: list[tuple] = []
    rejected: list[Rejected] = []
    points: list[EstablishmentPoint] = []
    for item in items:
        kind = type(item)
        (rejected if kind is Rejected else points if kind is EstablishmentPoint else rows).append(
            item
        )
    columns = list(zip(*rows, strict=True)) or [()] * len(schema)
    arrays = [pa.array(values, f.type) for values, f in zip(columns, schema, strict=True)]
    return Chunk(pa.RecordBatch.from_arrays(arrays, schema=schema), rejected, points)


def flatten(chunks: Iterable[Chunk], row_type: type) -> Iterator:
    """The rows, Rejected and EstablishmentPoint of ``chunks`` one by one, in line order."""
    for chunk in chunks:
        rows = map(row_type._make, zip(*chunk.rows.to_pydict().values(), strict=True))
        points = points_of(chunk)
        yield from heapq.merge(rows, chunk.rejected, chunk.points, points, key=lambda i: i.line)


def points_of(chunk: Chunk) -> list[EstablishmentPoint]:
    """``chunk.point_columns`` as :class:`EstablishmentPoint` tuples (for row-by-row readers)."""
    if chunk.point_columns is None:
        return []
    columns = chunk.point_columns.to_pydict().values()
    return list(map(EstablishmentPoint._make, zip(*columns, strict=True)))
