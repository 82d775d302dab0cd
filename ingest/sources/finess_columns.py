"""The FINESS reader's bulk path: a block of clean ``structureet`` lines, parsed by Arrow,
normalised column by column. It must give exactly what the line reader (``_structureet_row``)
gives for the same lines (a test compares them): ``strip`` is exact for every value, the FINESS
number checks run on ASCII in bulk, and everything with more rules (postcode and city, department,
commune code, dates) goes through the line reader's own functions once per distinct value.

Pure: Arrow arrays in, an Arrow record batch and :class:`Rejected` rows out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import luhn

from ingest.sources.columns import (
    column,
    exact,
    lines_where,
    lookup,
    lookup_many,
    null_if_empty,
    strip,
    strip_or_null,
)
from ingest.sources.finess_values import (
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FINESS,
    Col,
    etalab_commune_code,
    etalab_department,
    luhn_digits,
    parse_date,
    siret_or_none,
    split_acheminement,
)
from ingest.sources.rows import ESTABLISHMENT_SCHEMA, Rejected

WANTED = sorted(v for k, v in vars(Col).items() if k.isupper())
_FINESS = "^[0-9][0-9AB][0-9]{7}$"
# The Luhn sum in bulk, its terms taken from ``stdnum.luhn`` rather than written again: what
# digit d at position p (from the left, of 9) adds to the checksum, modulo 10. The checksum is
# the sum of the terms modulo 10, and a lone digit among zeros gives its own term.
_LUHN_TERMS = np.array(
    [[luhn.checksum(str(d) + "0" * (8 - p)) for d in range(10)] for p in range(9)]
)


@dataclass
class Lookups:
    """Per-file caches of the per-value normalisations (distinct values are few)."""

    acheminement: dict = field(default_factory=dict)
    departments: dict = field(default_factory=dict)
    communes: dict = field(default_factory=dict)
    dates: dict = field(default_factory=dict)


def normalise_etalab(
    table: pa.Table, first_line: int, scope: Collection[str] | None, lookups: Lookups
) -> tuple[pa.RecordBatch, list[Rejected], int]:
    """Accepted rows, rejected rows (by line) and the out-of-scope count of one clean block whose
    first row is file line ``first_line``. Checks run in the line reader's order: FINESS number,
    department, selection, category."""

    def col(i: int) -> pa.Array:
        return column(table, i)

    lines = pa.array(np.arange(first_line, first_line + table.num_rows, dtype=np.int64))
    finess = _upper_stripped(col(Col.ET))
    valid = pc.match_substring_regex(finess, _FINESS)
    postcode, city = _acheminement(col(Col.ACHEMINEMENT), lookups.acheminement)
    department = lookup_many(
        [col(Col.DEP), pc.fill_null(postcode, "")], lookups.departments, _department
    )
    found = pc.and_(valid, pc.not_equal(department, ""))
    kept = (
        found
        if scope is None
        else pc.and_(found, pc.is_in(department, pa.array(sorted(scope), pa.string())))
    )
    category = strip(col(Col.CATEG))
    ok = pc.and_(kept, pc.not_equal(category, ""))
    rejected = [Rejected(n, REASON_FINESS) for n in lines_where(lines, pc.invert(valid))]
    rejected += [
        Rejected(n, REASON_DEPARTMENT) for n in lines_where(lines, pc.and_not(valid, found))
    ]
    rejected += [Rejected(n, REASON_CATEGORY) for n in lines_where(lines, pc.and_not(kept, ok))]
    rejected.sort()
    out_of_scope = pc.sum(pc.and_not(found, kept)).as_py() or 0

    table, lines, finess, postcode, city, department, category = (
        x.filter(ok) for x in (table, lines, finess, postcode, city, department, category)
    )
    ej = _upper_stripped(col(Col.EJ))
    arrays = [
        lines,
        finess,
        pc.if_else(pc.match_substring_regex(ej, _FINESS), ej, pa.scalar(None, pa.string())),
        pc.coalesce(strip_or_null(col(Col.RS)), strip_or_null(col(Col.RSLONGUE)), finess),
        strip_or_null(col(Col.RSLONGUE)),
        _street_line(table),
        postcode,
        city,
        lookup_many([col(Col.DEP), department, col(Col.COMMUNE)], lookups.communes, _commune),
        department,
        category,
        strip_or_null(col(Col.LIBCATEG)),
        sirets(col(Col.SIRET)),
        dates(col(Col.DATEOUV), lookups.dates),
        luhn_column(finess),
    ]
    # The FiNESS+ fields (coordinates, technical id) are empty in the etalab CSV.
    arrays += [pa.nulls(len(lines), f.type) for f in ESTABLISHMENT_SCHEMA][len(arrays) :]
    return pa.RecordBatch.from_arrays(arrays, schema=ESTABLISHMENT_SCHEMA), rejected, out_of_scope


def _upper_stripped(values: pa.Array) -> pa.Array:
    return exact(values, lambda v: pc.ascii_upper(strip(v)), lambda v: v.strip().upper())


def _department(finess_dep: str, postcode: str) -> str:
    return etalab_department(finess_dep, postcode) or ""


def _commune(finess_dep: str, department: str, commune: str) -> str | None:
    return etalab_commune_code(finess_dep.strip().upper(), department, commune)


def _acheminement(values: pa.Array, cache: dict) -> tuple[pa.Array, pa.Array]:
    """(postcode, city) of each ``ligneacheminement``, by ``split_acheminement``."""
    encoded = pc.dictionary_encode(values)
    distinct = encoded.dictionary.to_pylist()
    pairs = [
        cache[v] if v in cache else cache.setdefault(v, split_acheminement(v)) for v in distinct
    ]
    postcodes = pa.array([p for p, _ in pairs], pa.string()).take(encoded.indices)
    cities = pa.array([c for _, c in pairs], pa.string()).take(encoded.indices)
    return postcodes, cities


def _street_line(table: pa.Table) -> pa.Array:
    number, complement, way_type, way, place = (
        column(table, i) for i in (Col.NUMVOIE, Col.COMPVOIE, Col.TYPVOIE, Col.VOIE, Col.LIEUDIT)
    )
    return street_lines(number, complement, way_type, way, place)


def street_lines(
    number: pa.Array, complement: pa.Array, way_type: pa.Array, way: pa.Array, place: pa.Array
) -> pa.Array:
    """``street_line`` in bulk (the FiNESS+ reader's too): the non-empty parts joined by spaces,
    the place name added when there is neither a way type nor a way."""
    number, complement, way_type, way = (
        strip_or_null(v) for v in (number, complement, way_type, way)
    )
    line = _join(number, complement, way_type, way)
    no_street = pc.and_(pc.is_null(way_type), pc.is_null(way))
    return null_if_empty(
        pc.if_else(no_street, _join(null_if_empty(line), strip_or_null(place)), line)
    )


def _join(*parts: pa.Array) -> pa.Array:
    """The non-null parts joined by spaces (null when all are). Not ``binary_join_element_wise``
    with ``null_handling="skip"``: Arrow 26 returns a short array when an input is all null."""
    out = parts[0]
    for part in parts[1:]:
        both = pc.binary_join_element_wise(pc.fill_null(out, ""), pc.fill_null(part, ""), " ")
        out = pc.if_else(pc.is_null(out), part, pc.if_else(pc.is_null(part), out, both))
    return out


def sirets(values: pa.Array) -> pa.Array:
    """``siret_or_none`` in bulk (the FiNESS+ reader's too)."""
    return exact(values, _siret, siret_or_none)


def dates(values: pa.Array, cache: dict) -> pa.Array:
    """``parse_date`` of each value (the FiNESS+ reader's too): ISO dates in bulk, the other
    forms by ``parse_date`` once per distinct value (dates are too many distinct values for that
    alone). A date is kept only
    if it reads back the same (Arrow's strptime turns 31 February into 2 March) and its year is
    not 0 (Python has none)."""
    text = pc.utf8_slice_codeunits(strip(values), 0, 10)
    iso = pc.match_substring_regex(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32())
    real = pc.and_(
        pc.equal(pc.cast(parsed, pa.string()), text), pc.invert(pc.starts_with(text, "0000"))
    )
    out = pc.if_else(pc.fill_null(pc.and_(iso, real), False), parsed, None)
    other = pc.invert(iso)
    if not pc.any(other).as_py():
        return out
    return pc.replace_with_mask(
        out, other, lookup(values.filter(other), cache, parse_date, pa.date32())
    )


def _siret(values: pa.Array) -> pa.Array:
    siret = pc.replace_substring(values, " ", "")
    return pc.if_else(
        pc.match_substring_regex(siret, "^[0-9]{14}$"), siret, pa.scalar(None, pa.string())
    )


def luhn_column(finess: pa.Array) -> pa.Array:
    """``luhn_ok`` of valid FINESS numbers (9 ASCII characters, upper case), all at once."""
    text = luhn_digits("".join(finess.to_pylist()))
    digits = (np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")).reshape(-1, 9)
    total = _LUHN_TERMS[np.arange(9), digits].sum(axis=1)
    return pa.array(total % 10 == 0, pa.bool_())
