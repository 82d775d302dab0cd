"""The etalab CSV's ``geolocalisation`` section: where each establishment lies. Pure: lines or an
Arrow block in, :class:`EstablishmentPoint` / :class:`Rejected` out.

``geolocalisation;nofinesset;coordxet;coordyet;sourcecoordet;datemaj`` comes after every
``structureet`` line. ``sourcecoordet`` names the source then the system: older files end it with
``LAMBERT_93``, ``UTM_N20`` (Antilles), ``UTM_N21`` (Saint-Pierre-et-Miquelon), ``UTM_N22``
(Guyane), ``UTM_S38`` (Mayotte) or ``UTM_S40`` (La Réunion), newer ones with an EPSG code and its
name (``EPSG:2154 RGF93 / Lambert-93 (Métropole)``, ``EPSG:5490 RGAF09/UTM Zone 20N
(Antilles)``...): so read public readers of the real file (an R reader's ``convertir_proj``,
a Python one's ``EPSG_dict = {"LAMBERT_93": 2154, "UTM_N20": 4559, ...}``, Eurostat's
healthcare-services ``FR.java`` with the same six names). Lambert-93 (metropolitan France and
Corsica) is converted exactly (``finess_geo``); the overseas UTM systems are left unplaced and
counted (their datums and zones vary by territory and by file vintage: not converted blind). A
converted point outside the territory of its establishment is dropped and counted, as for
FiNESS+.

Both paths of the reader give the same points: the line reader passes one line at a time to
:func:`checked_points`, the Arrow path a whole block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from balise.referentials.territories import box_of_department
from ingest.sources.columns import column, exact, lookup, strip
from ingest.sources.finess_geo import (
    FROM_LAMBERT,
    OTHER_SYSTEM,
    OUT_OF_BOUNDS,
    GeoStats,
    lambert93_to_wgs84_arrays,
)
from ingest.sources.finess_keys import finess_key, finess_keys, positions
from ingest.sources.finess_values import REASON_GEO, is_finess_number
from ingest.sources.rows import POINT_SCHEMA, EstablishmentPoint, Rejected

SECTION = "geolocalisation"
GEO_FIELDS = 6  # section name + 5 fields


class GeoCol:
    """Positions in a geolocalisation line (section name at 0)."""

    ET, X, Y, SOURCE = 1, 2, 3, 4


GEO_WANTED = [GeoCol.ET, GeoCol.X, GeoCol.Y, GeoCol.SOURCE]
# Metres as the file writes them: digits, a point, digits (no exponent, no comma, no "nan").
_METRES = r"^-?[0-9]{1,9}(\.[0-9]+)?$"
_METRES_RE = re.compile(_METRES)
_FINESS = "^[0-9][0-9AB][0-9]{7}$"
# What sourcecoordet may name besides Lambert-93: a UTM zone or another EPSG code.
_LAMBERT = ("LAMBERT_93", "LAMBERT-93", "LAMBERT 93", "EPSG:2154")


@dataclass
class Places:
    """What the geolocalisation lines need from the structureet lines before them: the
    department of each establishment kept (first line of a number), and the counts.

    Held as sorted integer arrays (``finess_keys``; the department as an index into
    ``_codes``), not a dict of 100 000 strings: a national file must stay under the ingest's
    250 MB peak."""

    geo: GeoStats = field(default_factory=GeoStats)
    systems: dict[str, bool] = field(default_factory=dict)  # sourcecoordet -> is_lambert93
    _codes: dict[str, int] = field(default_factory=dict)
    _keys: list[np.ndarray] = field(default_factory=list)
    _deps: list[np.ndarray] = field(default_factory=list)
    _pending: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    _table: tuple[np.ndarray, np.ndarray] | None = None

    def remember(self, finess: list[str], departments: list[str]) -> None:
        """The line reader's form of :meth:`remember_columns`."""
        keys, deps = self._pending
        keys += [finess_key(number) for number in finess]
        deps += [self._codes.setdefault(d, len(self._codes)) for d in departments]
        if len(keys) >= _FLUSH:
            self._flush()

    def remember_columns(self, finess: pa.Array, departments: pa.Array) -> None:
        """Establishments kept by a block (valid numbers, their departments), in line order."""
        self._flush()  # lines read before come first
        encoded = pc.dictionary_encode(departments)
        codes = [
            self._codes.setdefault(d, len(self._codes)) for d in encoded.dictionary.to_pylist()
        ]
        self._keys.append(finess_keys(finess))
        self._deps.append(np.array(codes, dtype=np.int16)[encoded.indices.to_numpy()])
        self._table = None

    def departments_of(self, finess: list[str]) -> list[str | None]:
        """The department of each number, None for an establishment the file did not keep."""
        codes = self.department_codes(np.array([finess_key(n) for n in finess], dtype=np.uint64))
        names = list(self._codes)
        return [names[c] if c >= 0 else None for c in codes.tolist()]

    def department_codes(self, keys: np.ndarray) -> np.ndarray:
        """The department (index into ``_codes``) of each number's key, -1 where the file did not
        keep the establishment."""
        uniq, deps = self._lookup_table()
        at, found = positions(uniq, keys)
        return np.where(found, deps[at] if len(deps) else -1, -1)

    def inside(self, codes: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Whether each point lies in the box of its department's territory (a department
        without a box holds every point), as ``Box.holds`` says."""
        boxes = [box_of_department(name) for name in self._codes]
        bounds = np.array(
            [(b.lat_min, b.lat_max, b.lon_min, b.lon_max) if b else _ANYWHERE for b in boxes]
        ).reshape(-1, 4)[codes]
        return (
            (bounds[:, 0] <= lat) & (lat <= bounds[:, 1])
            & (bounds[:, 2] <= lon) & (lon <= bounds[:, 3])
        )  # fmt: skip

    def _flush(self) -> None:
        keys, deps = self._pending
        if keys:
            self._keys.append(np.array(keys, dtype=np.uint64))
            self._deps.append(np.array(deps, dtype=np.int16))
            self._pending, self._table = ([], []), None

    def _lookup_table(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        if self._table is None:
            keys = np.concatenate(self._keys) if self._keys else np.zeros(0, np.uint64)
            deps = np.concatenate(self._deps) if self._deps else np.zeros(0, np.int16)
            uniq, first = np.unique(keys, return_index=True)  # first line of a number wins
            self._keys, self._deps = [uniq], [deps[first]]
            self._table = (uniq, deps[first])
        return self._table


_FLUSH = 65_536
_ANYWHERE = (-np.inf, np.inf, -np.inf, np.inf)


def is_lambert93(source: str) -> bool:
    """Whether ``sourcecoordet`` leaves Lambert-93: it names it, or names no system at all."""
    text = source.upper()
    if any(name in text for name in _LAMBERT):
        return True
    return "UTM" not in text and "EPSG:" not in text


def _metres(value: str) -> float | None:
    value = value.strip()
    return float(value) if _METRES_RE.match(value) else None


def line_point(
    fields: list[str], line: int, places: Places
) -> EstablishmentPoint | Rejected | None:
    """The line reader's reading of one geolocalisation line."""
    if len(fields) != GEO_FIELDS:
        return Rejected(line, REASON_GEO)
    finess = fields[GeoCol.ET].strip().upper()
    x, y = _metres(fields[GeoCol.X]), _metres(fields[GeoCol.Y])
    if not is_finess_number(finess) or x is None or y is None:
        return Rejected(line, REASON_GEO)
    found = checked_points([(line, finess, x, y, fields[GeoCol.SOURCE])], places)
    return found[0] if found else None


def block_points(
    table: pa.Table, first_line: int, places: Places
) -> tuple[pa.RecordBatch, list[Rejected]]:
    """The Arrow path: points (``POINT_SCHEMA``) and rejected lines of a clean block of
    geolocalisation lines, column-wise (numpy, no object per point): what the line reader's
    :func:`checked_points` gives line by line."""
    lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
    finess = exact(
        column(table, GeoCol.ET),
        lambda v: pc.ascii_upper(strip(v)),
        lambda v: v.strip().upper(),
    )
    x, y = (strip(column(table, i)) for i in (GeoCol.X, GeoCol.Y))
    ok = pc.and_(
        pc.match_substring_regex(finess, _FINESS),
        pc.and_(pc.match_substring_regex(x, _METRES), pc.match_substring_regex(y, _METRES)),
    )
    well_formed = ok.to_numpy(zero_copy_only=False)
    rejected = [Rejected(int(n), REASON_GEO) for n in lines[~well_formed]]
    finess, x, y, source = (v.filter(ok) for v in (finess, x, y, column(table, GeoCol.SOURCE)))
    codes = places.department_codes(finess_keys(finess))
    known = codes >= 0
    lambert = lookup(source, places.systems, is_lambert93, pa.bool_())
    lambert = known & lambert.to_numpy(zero_copy_only=False)
    places.geo.counts[OTHER_SYSTEM] += int(known.sum() - lambert.sum())
    metres = [pc.cast(v, pa.float64()).to_numpy()[lambert] for v in (x, y)]
    kept, lat, lon = _placed(places, codes[lambert], *metres)
    kept = np.flatnonzero(lambert)[kept]
    columns = [pa.array(lines[well_formed][kept]), finess.take(kept), pa.array(lat), pa.array(lon)]
    return pa.RecordBatch.from_arrays(columns, schema=POINT_SCHEMA), rejected


def _placed(
    places: Places, codes: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lambert-93 points converted, rounded and checked against their territory (counted):
    which ones are inside, and their latitudes and longitudes."""
    lat, lon = (np.round(v, 6) for v in lambert93_to_wgs84_arrays(x, y))
    inside = places.inside(codes, lat, lon)
    places.geo.counts[FROM_LAMBERT] += int(inside.sum())
    places.geo.counts[OUT_OF_BOUNDS] += int(len(inside) - inside.sum())
    return np.flatnonzero(inside), lat[inside], lon[inside]


def checked_points(
    rows: list[tuple[int, str, float, float, str]], places: Places
) -> list[EstablishmentPoint]:
    """(line, finess, x, y, sourcecoordet) of well-formed lines -> the points inside their
    territory. Lines of an establishment the file did not keep (another department, rejected)
    are skipped; other systems than Lambert-93 and points out of the territory are counted."""
    departments = places.departments_of([r[1] for r in rows])
    known = [(r, d) for r, d in zip(rows, departments, strict=True) if d is not None]
    lambert = [(r, d) for r, d in known if is_lambert93(r[4])]
    places.geo.counts[OTHER_SYSTEM] += len(known) - len(lambert)
    if not lambert:
        return []
    lat, lon = lambert93_to_wgs84_arrays(
        np.array([r[2] for r, _ in lambert]), np.array([r[3] for r, _ in lambert])
    )
    points = []
    for (r, department), la, lo in zip(
        lambert, np.round(lat, 6).tolist(), np.round(lon, 6).tolist(), strict=True
    ):
        box = box_of_department(department)
        if box is None or box.holds(la, lo):
            points.append(EstablishmentPoint(r[0], r[1], la, lo))
    places.geo.counts[FROM_LAMBERT] += len(points)
    places.geo.counts[OUT_OF_BOUNDS] += len(lambert) - len(points)
    return points
