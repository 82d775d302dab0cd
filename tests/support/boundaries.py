"""A small department boundary file generated in code, for the map tests.

Each department is a many-sided polygon (a circle of ``VERTICES`` points, so a drawn boundary is a
long path, unlike a tile) placed where the tile-grid cartogram puts it, with ``properties.code`` and
``properties.nom`` like the public file the application downloads by default."""

from __future__ import annotations

import json
import math
from pathlib import Path

from balise.referentials.departments import department_name
from balise.services.geo import tile_grid

# The Auvergne-Rhône-Alpes departments, in code order.
ARA = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")
VERTICES = 120


def _ring(lon: float, lat: float, radius: float = 0.4) -> list[list[float]]:
    ring = [
        [round(lon + radius * math.cos(2 * math.pi * i / VERTICES), 5),
         round(lat + radius * math.sin(2 * math.pi * i / VERTICES), 5)]
        for i in range(VERTICES)
    ]  # fmt: skip
    return [*ring, ring[0]]


def boundary_collection(codes: tuple[str, ...] = ARA) -> dict:
    """A GeoJSON FeatureCollection with one polygon per department code."""
    grid = tile_grid().set_index("code")
    features = []
    for code in codes:
        row, col = int(grid.at[code, "row"]), int(grid.at[code, "col"])
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "nom": department_name(code)},
                "geometry": {"type": "Polygon", "coordinates": [_ring(-5 + col, 51 - 0.8 * row)]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_boundary_file(path: Path, codes: tuple[str, ...] = ARA) -> Path:
    path.write_text(json.dumps(boundary_collection(codes)), encoding="utf-8")
    return path
