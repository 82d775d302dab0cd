"""The directory reader's bulk path: one block of clean lines, parsed by Arrow, normalised column
by column. It must give exactly what the line reader gives for the same lines (a test compares
them), so every transformation is either exact for the values it is applied to, or done by the
line reader's own function:

- ASCII values are transformed in bulk (``strip``, ``lower``, ``upper`` and the address check
  have exact ASCII equivalents); the rare non-ASCII values go through the Python functions;
- departments and BAL types are looked up once per distinct value, through the line reader's
  ``normalise_department`` / ``normalise_bal_type``, cached across blocks.

Pure: Arrow arrays in, an Arrow record batch and :class:`Rejected` rows out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import reduce

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
    normalise_structure_id,
)
from ingest.sources.rows import DirectoryRow, Rejected

# What the batches hold: the fields of DirectoryRow, in its order.
DIRECTORY_SCHEMA = pa.schema(
    [("line", pa.int64())] + [(name, pa.string()) for name in DirectoryRow._fields[1:]]
)

_STRING = pa.string()
# The characters Python's str.strip() removes, restricted to ASCII.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
# ASCII addresses is_valid_address() accepts: printable, no space, one "@", a domain holding a
# dot and neither starting nor ending with one.
_P = r"[\x21-\x3f\x41-\x7e]"  # printable, not space, not "@"
_Q = r"[\x21-\x2d\x2f-\x3f\x41-\x7e]"  # the same, not "."
_ASCII_ADDRESS = f"^{_P}+@{_Q}{_P}*\\.{_P}*{_Q}$"


@dataclass
class Lookups:
    """Per-file caches of the per-value normalisations (distinct values are few)."""

    departments: dict[tuple[str, str], str] = field(default_factory=dict)
    bal_types: dict[str, str] = field(default_factory=dict)


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
    postcode = exact(_column(table, at.postcode), _strip, str.strip)
    department = _departments(_column(table, at.department), postcode, lookups.departments)
    found = pc.not_equal(department, "")
    kept = found if scope is None else pc.and_(found, pc.is_in(department, pa.array(scope)))
    out_of_scope = pc.sum(pc.and_not(found, kept)).as_py() or 0
    rejected = _lines(lines, pc.invert(found), REASON_DEPARTMENT)

    table = table.filter(kept)
    lines, department, postcode = (a.filter(kept) for a in (lines, department, postcode))

    def column(i: int | None) -> pa.Array:
        return _column(table, i)

    bal_type = _lookup(column(at.bal_type), lookups.bal_types, normalise_bal_type)
    typed = pc.not_equal(bal_type, "")
    address = exact(column(at.address), _lower_strip, lambda v: v.strip().lower())
    valid = exact(address, _is_ascii_address, is_valid_address, pa.bool_())
    rejected += _lines(lines, pc.invert(typed), REASON_TYPE)
    rejected += _lines(lines, pc.and_(typed, pc.invert(valid)), REASON_ADDRESS)
    ok = pc.and_(typed, valid)

    arrays = [
        lines,
        address,
        bal_type,
        department,
        exact(column(at.structure_id_type), _strip_or_null, _py_strip_or_none),
        exact(column(at.structure_id), _structure_id, _py_structure_id),
        exact(column(at.service), _strip_or_null, _py_strip_or_none),
        exact(column(at.profession_code), _strip_or_null, _py_strip_or_none),
        exact(column(at.structure_name), _strip_or_null, _py_strip_or_none),
        _null_if_empty(postcode),
    ]
    batch = pa.RecordBatch.from_arrays([a.filter(ok) for a in arrays], schema=DIRECTORY_SCHEMA)
    rejected.sort()
    return batch, rejected, out_of_scope


def _column(table: pa.Table, i: int | None) -> pa.Array:
    if i is None:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(f"c{i}").combine_chunks()


def exact(
    values: pa.Array,
    bulk: Callable[[pa.Array], pa.Array],
    one: Callable[[str], object],
    type_: pa.DataType = _STRING,
) -> pa.Array:
    """``bulk(values)`` where the value is ASCII (or null), ``one(value)`` elsewhere."""
    out = bulk(values)
    if values.null_count == len(values):
        return out
    other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True))
    if not pc.any(other).as_py():
        return out
    fixed = pa.array([one(v) for v in values.filter(other).to_pylist()], type_)
    return pc.replace_with_mask(out, other, fixed)


def _strip(values: pa.Array) -> pa.Array:
    return pc.utf8_trim(values, _ASCII_SPACE)


def _null_if_empty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _strip_or_null(values: pa.Array) -> pa.Array:
    return _null_if_empty(_strip(values))


def _py_strip_or_none(value: str) -> str | None:
    return value.strip() or None


def _lower_strip(values: pa.Array) -> pa.Array:
    return pc.ascii_lower(_strip(values))


def _is_ascii_address(values: pa.Array) -> pa.Array:
    return pc.match_substring_regex(values, _ASCII_ADDRESS)


def _structure_id(values: pa.Array) -> pa.Array:
    sid = pc.ascii_upper(pc.replace_substring(values, " ", ""))
    first, length = pc.utf8_slice_codeunits(sid, 0, 1), pc.utf8_length(sid)
    prefixed = reduce(
        pc.or_,
        (pc.and_(pc.equal(first, k), pc.equal(length, n + 1)) for k, n in ID_LENGTHS.items()),
    )
    return _null_if_empty(pc.if_else(prefixed, pc.utf8_slice_codeunits(sid, 1), sid))


def _py_structure_id(value: str) -> str | None:
    return normalise_structure_id(value) if value else None


def _lookup(values: pa.Array, cache: dict[str, str], normalise: Callable) -> pa.Array:
    """``normalise(value) or ""`` for each value, computed once per distinct value."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    for value in distinct:
        if value not in cache:
            cache[value] = normalise(value) or ""
    mapped = pa.array([cache[v] for v in distinct], pa.string())
    return mapped.take(encoded.indices)


def _departments(raw: pa.Array, postcode: pa.Array, cache: dict) -> pa.Array:
    """The line reader's department of each (department cell, stripped postcode) pair."""
    deps, pcs = pc.dictionary_encode(raw), pc.dictionary_encode(postcode)
    width = len(pcs.dictionary)
    key = pc.add(pc.multiply(deps.indices.cast(pa.int64()), width), pcs.indices.cast(pa.int64()))
    pairs = pc.dictionary_encode(key)
    dep_values, pc_values = deps.dictionary.to_pylist(), pcs.dictionary.to_pylist()
    out = []
    for k in pairs.dictionary.to_pylist():
        pair = (dep_values[k // width], pc_values[k % width])
        if pair not in cache:
            cache[pair] = normalise_department(*pair) or ""
        out.append(cache[pair])
    return pa.array(out, pa.string()).take(pairs.indices)


def _lines(lines: pa.Array, mask: pa.Array, reason: str) -> list[Rejected]:
    return [Rejected(n, reason) for n in lines.filter(mask).to_pylist()]
