"""Coordinates of a FiNESS+ address, checked and repaired. Pure: values in, (lat, lon) out.

What the feed carries (``coordonneesGeographique``) is not what its schema promises: readers of
the real file see WGS 84 degrees in ``directionLatitude`` / ``directionLongitude`` and, in
``coordonneeX`` / ``coordonneeY``, sometimes Lambert-93 metres with X and Y swapped (X ~ 6.5
million, the northing), sometimes longitude and latitude (ansforge/finess issue #24). So: take
degrees where they are, else convert Lambert-93, then check the point against the box of the
establishment's territory; a point that only fits once latitude and longitude are swapped is
swapped back; a point that fits nowhere is dropped and counted, never drawn in the sea.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from balise.formatting import fr_int
from balise.referentials.territories import box_of_department

# Lambert-93 (EPSG:2154) on the GRS80 ellipsoid: IGN's constants for the conic projection.
_E = 0.0818191910428158  # first eccentricity of GRS80
_N = 0.7256077650532670
_C = 11754255.426096
_XS, _YS = 700000.0, 12655612.049876
_LON0 = math.radians(3.0)

# What was done to the coordinates of an address (counted per file, reported in the notes).
FIXED_SWAP = "inversées puis corrigées"
FROM_LAMBERT = "converties depuis Lambert-93"
OUT_OF_BOUNDS = "hors du territoire, ignorées"
MISSING = "absentes"
# The etalab CSV's geolocalisation lines: other systems than Lambert-93 are left unplaced.
OTHER_SYSTEM = "dans une projection d'outre-mer, non converties"


@dataclass
class GeoStats:
    """How the coordinates of one file fared."""

    counts: Counter = field(default_factory=Counter)

    def notes(self) -> list[str]:
        order = (FROM_LAMBERT, FIXED_SWAP, OUT_OF_BOUNDS, OTHER_SYSTEM, MISSING)
        counts = self.counts
        return [f"Coordonnées {what} : {fr_int(counts[what])}." for what in order if counts[what]]


def lambert93_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """(latitude, longitude) in degrees of a Lambert-93 point (metres)."""
    dx, dy = x - _XS, y - _YS
    radius = math.hypot(dx, dy)
    gamma = math.atan2(dx, -dy)
    lon = _LON0 + gamma / _N
    iso = -math.log(radius / _C) / _N  # isometric latitude
    lat = 2 * math.atan(math.exp(iso)) - math.pi / 2
    for _ in range(10):
        s = _E * math.sin(lat)
        lat = 2 * math.atan(((1 + s) / (1 - s)) ** (_E / 2) * math.exp(iso)) - math.pi / 2
    return math.degrees(lat), math.degrees(lon)


def lambert93_to_wgs84_arrays(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lambert93_to_wgs84` on arrays of metres (the etalab CSV's geolocalisation lines,
    a hundred thousand at once): (latitudes, longitudes) in degrees."""
    dx, dy = x - _XS, y - _YS
    gamma = np.arctan2(dx, -dy)
    lon = _LON0 + gamma / _N
    iso = -np.log(np.hypot(dx, dy) / _C) / _N
    lat = 2 * np.arctan(np.exp(iso)) - math.pi / 2
    for _ in range(10):
        s = _E * np.sin(lat)
        lat = 2 * np.arctan(((1 + s) / (1 - s)) ** (_E / 2) * np.exp(iso)) - math.pi / 2
    return np.degrees(lat), np.degrees(lon)


def wgs84_to_lambert93(lat: float, lon: float) -> tuple[float, float]:
    """(x, y) in metres of a WGS 84 point (RGF93 and WGS 84 agree to the metre)."""
    phi = math.radians(lat)
    s = _E * math.sin(phi)
    iso = math.log(math.tan(math.pi / 4 + phi / 2) * ((1 - s) / (1 + s)) ** (_E / 2))
    radius = _C * math.exp(-_N * iso)
    gamma = _N * (math.radians(lon) - _LON0)
    return _XS + radius * math.sin(gamma), _YS - radius * math.cos(gamma)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _candidate(coords: dict) -> tuple[float, float, str | None] | None:
    """(lat, lon, how) from the fields present: degrees first, then X/Y (degrees or Lambert)."""
    lat, lon = _number(coords.get("directionLatitude")), _number(coords.get("directionLongitude"))
    if lat is not None and lon is not None:
        return lat, lon, None
    x, y = _number(coords.get("coordonneeX")), _number(coords.get("coordonneeY"))
    if x is None or y is None:
        return None
    if abs(x) <= 180 and abs(y) <= 180:
        return y, x, None  # X is the longitude, Y the latitude
    if max(x, y) > 1_000_000:  # Lambert-93 metres, the northing (6.0-7.2 million) where it is
        east, north = (y, x) if x > y else (x, y)
        lat, lon = lambert93_to_wgs84(east, north)
        return lat, lon, FROM_LAMBERT
    return None


def checked_point(coords: object, department: str, stats: GeoStats) -> tuple[float, float] | None:
    """(lat, lon) of ``coordonneesGeographique`` inside the territory of ``department``, swapped
    back if it was reversed; None (counted) when absent or out of the territory."""
    found = _candidate(coords) if isinstance(coords, dict) else None
    if found is None:
        stats.counts[MISSING] += 1
        return None
    lat, lon, how = found
    box = box_of_department(department)
    if box is None or box.holds(lat, lon):
        if how:
            stats.counts[how] += 1
        return round(lat, 6), round(lon, 6)
    if box.holds(lon, lat):
        stats.counts[FIXED_SWAP] += 1
        return round(lon, 6), round(lat, 6)
    stats.counts[OUT_OF_BOUNDS] += 1
    return None


def checked_degrees(
    lat: np.ndarray, lon: np.ndarray, departments: list[str], stats: GeoStats
) -> tuple[list[float | None], list[float | None]]:
    """:func:`checked_point` in bulk for points whose ``directionLatitude`` and
    ``directionLongitude`` are both numbers (the common case, a hundred thousand per national
    file): their latitudes and longitudes, None where the point is dropped. Same boxes, same
    order of tests, same rounding, same counts."""
    codes: dict[str, int] = {}
    index = np.array([codes.setdefault(d, len(codes)) for d in departments], np.int64)
    boxes = [box_of_department(code) for code in codes]
    limits = np.array(
        [(b.lat_min, b.lat_max, b.lon_min, b.lon_max) if b else _ANYWHERE for b in boxes],
        np.float64,
    ).reshape(-1, 4)[index]
    lat_min, lat_max, lon_min, lon_max = limits.T

    def holds(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (lat_min <= a) & (a <= lat_max) & (lon_min <= b) & (b <= lon_max)

    inside = holds(lat, lon)
    swapped = ~inside & holds(lon, lat)
    stats.counts[FIXED_SWAP] += int(np.count_nonzero(swapped))
    stats.counts[OUT_OF_BOUNDS] += int(np.count_nonzero(~inside & ~swapped))
    lat, lon = np.where(swapped, lon, lat), np.where(swapped, lat, lon)
    kept = (inside | swapped).tolist()
    return (
        [round(v, 6) if k else None for v, k in zip(lat.tolist(), kept, strict=True)],
        [round(v, 6) if k else None for v, k in zip(lon.tolist(), kept, strict=True)],
    )


_ANYWHERE = (-math.inf, math.inf, -math.inf, math.inf)  # a department without a box
