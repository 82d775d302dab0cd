"""The FiNESS+ establishments and legal entities of consecutive batches (their raw values,
``finess_plus_gather``), normalised column by column. Every rule is the one of ``finess_values``
(the specification, shared with the etalab CSV): strings are stripped exactly as ``str.strip``
does, bulk functions run on ASCII values and the Python rule on the others (``columns.exact``),
rules with more to them (postcode and city, labels, dates not in ISO form) run once per
distinct value (``columns.lookup``), coordinates are checked by ``finess_geo``. A test compares the
result with the rules applied record by record.

Checks run in this order, the first failing one giving the reason of a rejected establishment:
the record's shape, the FINESS number, the department (from ``cogCommune``, else the postcode),
the selection (not rejected: counted), the category. Then inactive establishments (``etatObjet``
other than A, or a closing date reached) are put apart, and the others become rows.

Pure: Arrow columns in, Arrow record batches and :class:`Rejected` out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from balise.referentials.categories_r397 import load_r397
from balise.referentials.departments import department_from_postcode, load_departments
from ingest.sources.columns import STRING, exact, lookup, null_if_empty, strip
from ingest.sources.finess_columns import dates, luhn_column, sirets, street_lines
from ingest.sources.finess_geo import MISSING, GeoStats, checked_degrees, checked_point
from ingest.sources.finess_plus_gather import Fields
from ingest.sources.finess_plus_records import Coordinates
from ingest.sources.finess_values import (
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FINESS,
    REASON_JSON,
    split_acheminement,
)
from ingest.sources.rows import ESTABLISHMENT_SCHEMA, ReadStats, Rejected

_FINESS = "^[0-9][0-9AB][0-9]{7}$"
_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"  # what Arrow and Python's float() read alike
_NULL = pa.scalar(None, STRING)
_JOURNEY = pa.struct([("postcode", STRING), ("city", STRING)])  # of a ligneAcheminement
_TODAY = pa.scalar(date.today(), pa.date32())  # one reading, one "today"

# What a legal entity and an inactive establishment are, as Arrow columns.
LEGAL_ENTITY_SCHEMA = pa.schema(
    [(name, STRING) for name in ("finess_ej", "pm_id", "siren", "legal_status", "name")]
    + [("long_name", STRING), ("is_active", pa.bool_()), ("closed_on", pa.date32())]
)
INACTIVE_SCHEMA = pa.schema(
    [(name, STRING) for name in ("finess_et", "finess_ej", "name", "department")]
    + [("category_code", STRING), ("closed_on", pa.date32()), ("ege_id", STRING)]
)


@dataclass
class FileState:
    """What one reading carries from group to group: the selection, the counts reported in the
    notes, and the caches of the per-value rules (distinct values are few)."""

    scope: frozenset[str] | None
    stats: ReadStats
    position: int = 0  # establishments seen so far (the rank reported for a bad one)
    inactive: int = 0
    unknown_categories: Counter = field(default_factory=Counter)
    geo: GeoStats = field(default_factory=GeoStats)
    caches: dict[str, dict] = field(default_factory=dict)

    def cache(self, name: str) -> dict:
        return self.caches.setdefault(name, {})


@dataclass
class Normalised:
    """One group, normalised: the rows (``ESTABLISHMENT_SCHEMA``), the rejected establishments
    in rank order, the inactive ones and the legal entities."""

    rows: pa.RecordBatch
    rejected: list[Rejected]
    inactive: pa.RecordBatch
    legal_entities: pa.RecordBatch


# --- values ---------------------------------------------------------------------------------------


def _upper(values: pa.Array) -> pa.Array:
    return exact(values, pc.ascii_upper, str.upper)


def _either(first: pa.Array, *others: pa.Array) -> pa.Array:
    """``first or second or …`` of string columns ("" is false)."""
    for other in others:
        first = pc.if_else(pc.equal(first, ""), other, first)
    return first


def _finess(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the number, upper case; whether it has the FINESS syntax)."""
    number = _upper(values)
    return number, _mask(pc.match_substring_regex(number, _FINESS))


def _dates(values: pa.Array, state: FileState) -> pa.Array:
    return dates(values, state.cache("dates"))


def _active(states: pa.Array, closings: pa.Array) -> pa.Array:
    """``etatObjet`` A (or absent) and no closing date reached."""
    state = _upper(states)
    open_state = pc.or_(pc.equal(state, "A"), pc.equal(state, ""))
    return pc.and_(open_state, pc.or_kleene(pc.is_null(closings), pc.greater(closings, _TODAY)))


def department_from_cog(cog: str) -> str | None:
    """Department of an INSEE commune code: 3 digits overseas (97x, 98x), else 2 ("2A004")."""
    if len(cog) != 5:
        return None
    code = cog[:3] if cog.startswith(("97", "98")) else cog[:2]
    return code if code in load_departments() else None


def _departments(cog: pa.Array, postcode: pa.Array, state: FileState) -> pa.Array:
    """``department_from_cog(cog) or department_from_postcode(postcode) or ""`` in bulk: the
    commune code's in Arrow (ASCII codes; the rule itself for the others), the postcode's for
    the few without one, once per distinct postcode."""
    from_cog = exact(cog, _from_cog, lambda v: department_from_cog(v) or "")
    missing = pc.equal(from_cog, "")
    if not pc.any(missing).as_py():
        return from_cog
    by_postcode = lookup(postcode.filter(missing), state.cache("postcodes"),
                         lambda v: department_from_postcode(v) or "")  # fmt: skip
    return pc.replace_with_mask(from_cog, missing, by_postcode)


def _from_cog(cog: pa.Array) -> pa.Array:
    """:func:`department_from_cog` of ASCII codes, "" for none."""
    three = pc.or_(pc.starts_with(cog, "97"), pc.starts_with(cog, "98"))
    prefix = pc.if_else(
        three, pc.utf8_slice_codeunits(cog, 0, 3), pc.utf8_slice_codeunits(cog, 0, 2)
    )
    known = pc.and_(pc.equal(pc.utf8_length(cog), 5), pc.is_in(prefix, _department_codes()))
    return pc.if_else(known, prefix, "")


@cache
def _department_codes() -> pa.Array:
    return pa.array(sorted(load_departments()), STRING)


def _label(category: str) -> str | None:
    known = load_r397().get(category)
    return known.label if known else None


def _mask(values: pa.Array) -> np.ndarray:
    """A boolean column as numpy booleans (null is false)."""
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def _positions(mask: np.ndarray, first: int) -> list[int]:
    return (np.flatnonzero(mask) + first).tolist()


# --- establishments -------------------------------------------------------------------------------


def normalise(fields: Fields, state: FileState) -> Normalised:
    """The establishments of ``fields`` (in file order), ranked from ``state.position + 1``,
    and their legal entities."""
    first, f = state.position + 1, fields.ege
    state.position += len(fields.malformed)
    state.stats.lines += len(fields.malformed)
    finess, cog, department, category, kept, rejected = _checked(fields, first, state)
    labels = lookup(category, state.cache("labels"), _label)
    unknown = pa.array(kept & _mask(pc.is_null(labels)), pa.bool_())
    state.unknown_categories.update(category.filter(unknown).to_pylist())
    closed = _dates(f["dateFermeture"], state)
    active = _mask(_active(f["etatObjet"], closed))
    numbers = _legal_numbers(fields)
    ej = numbers.take(pa.array(fields.owners))
    name = _either(f["nomEgeCourt"], f["nomEgeLong"], finess)
    chosen = np.flatnonzero(kept & ~active)
    state.inactive += len(chosen)
    arrays = [finess, null_if_empty(ej), name, department, category, closed,
              null_if_empty(f["egeId"])]  # fmt: skip
    inactive = pa.RecordBatch.from_arrays(arrays, schema=INACTIVE_SCHEMA).take(chosen)
    arrays = [finess, ej, name, department, category, labels, cog]
    rows = _rows(np.flatnonzero(kept & active), first, fields, arrays, state)
    per_pmej = np.bincount(fields.owners[kept], minlength=len(fields.has_info))
    chosen_pm = per_pmej > 0 if state.scope is not None else None
    return Normalised(rows, rejected, inactive, legal_entities(fields, numbers, chosen_pm, state))


def _checked(fields: Fields, first: int, state: FileState) -> tuple:
    """The checks, in their order: (FINESS number, commune code, department, category, which
    establishments are kept, the rejected ones in rank order)."""
    f, malformed = fields.ege, fields.malformed
    finess, valid = _finess(f["numFinessEge"])
    cog = _upper(f["cogCommune"])
    department = _departments(cog, f["codePostal"], state)
    category = _either(
        f["categorieentiteGeographiqueExercice"], f["categorieEntiteGeographiqueExercice"]
    )
    valid &= ~malformed
    found = valid & _mask(pc.not_equal(department, ""))
    in_scope = found
    if state.scope is not None:
        in_scope = found & _mask(pc.is_in(department, pa.array(sorted(state.scope), STRING)))
    kept = in_scope & _mask(pc.not_equal(category, ""))
    state.stats.out_of_scope += int(np.count_nonzero(found & ~in_scope))
    rejected = [Rejected(p, REASON_JSON) for p in _positions(malformed, first)]
    rejected += [Rejected(p, REASON_FINESS) for p in _positions(~malformed & ~valid, first)]
    rejected += [Rejected(p, REASON_DEPARTMENT) for p in _positions(valid & ~found, first)]
    rejected += [Rejected(p, REASON_CATEGORY) for p in _positions(in_scope & ~kept, first)]
    return finess, cog, department, category, kept, sorted(rejected)


def _rows(chosen: np.ndarray, first: int, fields: Fields, arrays: list, state: FileState):
    """The rows of the active establishments ``chosen`` (indices in the group)."""
    index = pa.array(chosen)
    finess, ej, name, department, category, labels, cog = (c.take(index) for c in arrays)
    f = {key: column.take(index) for key, column in fields.ege.items()}
    journey = lookup(f["ligneAcheminement"], state.cache("journeys"), split_acheminement, _JOURNEY)
    latitude, longitude = _points(chosen, fields, department, state)
    arrays = [
        pa.array(chosen + first, pa.int64()), finess, null_if_empty(ej), name,
        null_if_empty(f["nomEgeLong"]),
        street_lines(f["numeroVoie"], f["complementNumeroVoie"], f["typeVoie"],
                     f["libelleVoie"], f["lieuDit"]),
        _either(f["codePostal"], journey.field("postcode")), journey.field("city"),
        pc.if_else(pc.equal(pc.utf8_length(cog), 5), cog, _NULL), department, category, labels,
        sirets(_either(f["siret"], f["siretEge"])), _dates(f["dateOuverture"], state),
        luhn_column(finess), pa.array(latitude, pa.float64()), pa.array(longitude, pa.float64()),
        null_if_empty(f["egeId"]),
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(arrays, schema=ESTABLISHMENT_SCHEMA)


def _points(chosen: np.ndarray, fields: Fields, department: pa.Array, state: FileState):
    """(latitudes, longitudes) of the establishments ``chosen``, checked: the degrees written
    as plain decimals in bulk, no coordinates at all counted as missing, any other shape by
    ``checked_point`` itself."""
    index = pa.array(chosen)
    written = {key: column.take(index) for key, column in fields.coordinates.items()}
    lat, lon = strip(written["directionLatitude"]), strip(written["directionLongitude"])
    bulk = _mask(pc.match_substring_regex(lat, _DECIMAL)) & _mask(
        pc.match_substring_regex(lon, _DECIMAL)
    )
    absent = np.logical_and.reduce([_mask(pc.is_null(c)) for c in written.values()])
    raw = [None] * len(chosen)
    if fields.raw_coordinates is not None:  # a batch had coordinates that are not all strings
        raw = [fields.raw_coordinates[i] for i in chosen.tolist()]
        written_only = np.array([r is None for r in raw], bool)
        bulk &= written_only
        absent &= written_only
    state.geo.counts[MISSING] += int(np.count_nonzero(absent))  # checked_point's verdict
    some = pa.array(np.flatnonzero(bulk))
    latitude, longitude = checked_degrees(
        pc.cast(lat.take(some), pa.float64()).to_numpy(zero_copy_only=False),
        pc.cast(lon.take(some), pa.float64()).to_numpy(zero_copy_only=False),
        department.take(some).to_pylist(), state.geo,
    )  # fmt: skip
    if len(some) == len(chosen):
        return latitude, longitude
    lats, lons = [None] * len(chosen), [None] * len(chosen)
    for i, la, lo in zip(some.to_pylist(), latitude, longitude, strict=True):
        lats[i], lons[i] = la, lo
    others = np.flatnonzero(~bulk & ~absent).tolist()
    for i, point in zip(others, _one_by_one(others, written, raw, department, state), strict=True):
        lats[i], lons[i] = point if point else (None, None)
    return lats, lons


def _one_by_one(index: list[int], written: dict, raw: list, department: pa.Array,
                state: FileState) -> list:  # fmt: skip
    """``checked_point`` of the coordinates at ``index``: as the record held them (``raw``),
    else as written (strings)."""
    values = {k: v.to_pylist() for k, v in written.items()}
    departments = department.to_pylist()
    points = []
    for i in index:
        value = raw[i] if raw[i] is not None else {k: v[i] for k, v in values.items()}
        if isinstance(value, Coordinates):
            value = msgspec.structs.asdict(value)
        points.append(checked_point(value, departments[i], state.geo))
    return points


# --- legal entities -------------------------------------------------------------------------------


def _legal_numbers(fields: Fields) -> pa.Array:
    """Per legal entity (all of them, in file order): its FINESS number, "" when it has none (or
    a bad one)."""
    number, valid = _finess(fields.pm["numFinessPm"])
    number = pc.if_else(pa.array(valid, pa.bool_()), number, "")
    where = np.cumsum(fields.has_info) - 1
    return pc.if_else(
        pa.array(fields.has_info, pa.bool_()),
        number.take(pa.array(np.maximum(where, 0)))
        if len(number)
        else pa.nulls(len(where), STRING),
        "",
    )


def legal_entities(
    fields: Fields, numbers: pa.Array, kept: np.ndarray | None, state: FileState
) -> pa.RecordBatch:
    """The legal entities with a FINESS number (and, on a selection, ``kept``
    establishments)."""
    chosen = fields.has_info & _mask(pc.not_equal(numbers, ""))
    if kept is not None:
        chosen &= kept
    ej = numbers.filter(pa.array(chosen, pa.bool_()))
    with_info = pa.array(chosen[fields.has_info], pa.bool_())
    p = {key: column.filter(with_info) for key, column in fields.pm.items()}
    long_name = p["denominationLonguePmSmsse"]
    closed = _dates(p["dateFermeture"], state)
    siren = p["siren"]
    arrays = [
        ej, null_if_empty(_either(p["pmSmsseId"], p["pm_smsseId"])),
        exact(siren, _siren, lambda v: v if len(v) == 9 and v.isdigit() else None),
        null_if_empty(p["statutJuridique"]), _either(p["denominationPm"], long_name, ej),
        null_if_empty(long_name), _active(p["etatObjet"], closed), closed,
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(arrays, schema=LEGAL_ENTITY_SCHEMA)


def _siren(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.match_substring_regex(values, "^[0-9]{9}$"), values, _NULL)
