"""The directory reader's bulk path: one block of clean lines, parsed by Arrow, normalised column
by column. It must give exactly what the line reader gives for the same lines (a test compares
them), so every transformation is either exact for the values it is applied to, or done by the
line reader's own function:

- ``strip`` is exact for every value; ``lower``, ``upper`` and the address check are done in
  bulk on ASCII values (where they have exact equivalents), in Python on the rare others;
- departments and BAL types are looked up once per distinct value, through the line reader's
  ``normalise_department`` / ``normalise_bal_type``, cached across blocks.

Pure: Arrow arrays in, an Arrow record batch and :class:`Rejected` rows out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from balise.referentials.bal_types import normalise_bal_type
from balise.referentials.departments import normalise_department
from ingest.sources.annuaire_values import (
    ID_LENGTHS,
    REASON_ADDRESS,
    REASON_DEPARTMENT,
    REASON_TYPE,
    is_valid_address,
    normalise_dematerialisation,
    normalise_structure_id,
)
from ingest.sources.columns import (
    column,
    exact,
    lines_where,
    lookup,
    null_if_empty,
    strip,
    strip_or_null,
)
from ingest.sources.rows import DIRECTORY_SCHEMA, Rejected

# ASCII addresses is_valid_address() accepts: printable, no space, one "@", a domain holding a
# dot and neither starting nor ending with one.
_P = r"[\x21-\x3f\x41-\x7e]"  # printable, not space, not "@"
_Q = r"[\x21-\x2d\x2f-\x3f\x41-\x7e]"  # the same, not "."
_ASCII_ADDRESS = f"^{_P}+@{_Q}{_P}*\\.{_P}*{_Q}$"


@dataclass
class Lookups:
    """Per-file caches of the per-value normalisations (distinct values are few)."""

    department_cells: dict[str, str] = field(default_factory=dict)
    postcodes: dict[str, str] = field(default_factory=dict)
    bal_types: dict[str, str] = field(default_factory=dict)
    dematerialisation: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Positions:
    """Where the reader's columns are in the parsed block (None: optional column absent)."""

    bal_type: int
    address: int
    structure_id_type: int
    structure_id: int
    postcode: int
    department: int
    service: int | None
    profession_code: int | None
    structure_name: int | None
    dematerialisation: int | None


def normalise_block(
    table: pa.Table,
    first_line: int,
    at: Positions,
    scope: Collection[str] | None,
    lookups: Lookups,
) -> tuple[pa.RecordBatch, list[Rejected], int]:
    """Accepted rows, rejected rows (by line) and the out-of-scope count of one clean block whose
    first row is file line ``first_line``. Checks run in the line reader's order: department,
    selection, BAL type, address."""
    lines = pa.array(np.arange(first_line, first_line + table.num_rows, dtype=np.int64))
    postcode = strip(column(table, at.postcode))
    department = _departments(column(table, at.department), postcode, lookups)
    found = pc.not_equal(department, "")
    kept = (
        found
        if scope is None
        else pc.and_(found, pc.is_in(department, pa.array(sorted(scope), pa.string())))
    )
    out_of_scope = pc.sum(pc.and_not(found, kept)).as_py() or 0
    rejected = _lines(lines, pc.invert(found), REASON_DEPARTMENT)

    if not pc.all(kept).as_py():  # most blocks keep every row: nothing to copy
        table = table.filter(kept)
        lines, department, postcode = (a.filter(kept) for a in (lines, department, postcode))

    def col(i: int | None) -> pa.Array:
        return column(table, i)

    bal_type = lookup(col(at.bal_type), lookups.bal_types, _bal_type)
    typed = pc.not_equal(bal_type, "")
    address = exact(col(at.address), _lower_strip, lambda v: v.strip().lower())
    valid = exact(address, _is_ascii_address, is_valid_address, pa.bool_())
    rejected += _lines(lines, pc.invert(typed), REASON_TYPE)
    rejected += _lines(lines, pc.and_(typed, pc.invert(valid)), REASON_ADDRESS)
    ok = pc.and_(typed, valid)

    arrays = [
        lines,
        address,
        bal_type,
        department,
        strip_or_null(col(at.structure_id_type)),
        exact(col(at.structure_id), _structure_id, _py_structure_id),
        strip_or_null(col(at.service)),
        strip_or_null(col(at.profession_code)),
        strip_or_null(col(at.structure_name)),
        null_if_empty(postcode),
        lookup(col(at.dematerialisation), lookups.dematerialisation, normalise_dematerialisation),
    ]
    if not pc.all(ok).as_py():
        arrays = [a.filter(ok) for a in arrays]
    batch = pa.RecordBatch.from_arrays(arrays, schema=DIRECTORY_SCHEMA)
    rejected.sort()
    return batch, rejected, out_of_scope


def _departments(cells: pa.Array, postcode: pa.Array, lookups: Lookups) -> pa.Array:
    """``normalise_department(cell, postcode) or ""`` for each row, in two lookups of few
    distinct values each: that function returns what the cell names when it names a
    department, whatever the postcode, else what the postcode says (as it does with an
    empty cell); so the postcode is looked up only where the cell names none."""
    named = lookup(cells, lookups.department_cells, _department_named)
    unnamed = pc.equal(named, "")
    if not pc.any(unnamed).as_py():
        return named
    by_postcode = lookup(postcode.filter(unnamed), lookups.postcodes, _department_of_postcode)
    return pc.replace_with_mask(named, unnamed, by_postcode)


def _department_named(cell: str) -> str:
    return normalise_department(cell, "") or ""


def _department_of_postcode(postcode: str) -> str:
    return normalise_department("", postcode) or ""


def _bal_type(raw: str) -> str:
    return normalise_bal_type(raw) or ""


def _lower_strip(values: pa.Array) -> pa.Array:
    return pc.ascii_lower(strip(values))


def _is_ascii_address(values: pa.Array) -> pa.Array:
    return pc.match_substring_regex(values, _ASCII_ADDRESS)


# The type prefixes, and the length of an id that starts with one of them and is prefixed.
_PREFIXES = pa.array(list(ID_LENGTHS), pa.string())
_PREFIXED_LENGTHS = pa.array([n + 1 for n in ID_LENGTHS.values()], pa.int32())


def _structure_id(values: pa.Array) -> pa.Array:
    sid = pc.ascii_upper(pc.replace_substring(values, " ", ""))
    prefix = pc.index_in(pc.utf8_slice_codeunits(sid, 0, 1), value_set=_PREFIXES)
    prefixed = pc.fill_null(pc.equal(pc.utf8_length(sid), _PREFIXED_LENGTHS.take(prefix)), False)
    return null_if_empty(pc.if_else(prefixed, pc.utf8_slice_codeunits(sid, 1), sid))


def _py_structure_id(value: str) -> str | None:
    return normalise_structure_id(value) if value else None


def _lines(lines: pa.Array, mask: pa.Array, reason: str) -> list[Rejected]:
    return [Rejected(n, reason) for n in lines_where(lines, mask)]
