"""Where a point of each territory may lie (``data/emprises_territoires.csv``): one WGS 84
rectangle for metropolitan France and Corsica, one per overseas territory. Used to check the
coordinates the FiNESS+ feed gives (swapped or out of France: repaired or refused)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from balise.config import DEFAULT_DATA_DIR

METROPOLE = "metropole"


@dataclass(frozen=True)
class Box:
    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def holds(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


@cache
def load_boxes(path: Path = DEFAULT_DATA_DIR / "emprises_territoires.csv") -> dict[str, Box]:
    """Territory key ("metropole", "971"...) -> its box. Lines starting with # are comments."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {
            r["departements"]: Box(
                r["territoire"],
                float(r["lat_min"]),
                float(r["lat_max"]),
                float(r["lon_min"]),
                float(r["lon_max"]),
            )
            for r in rows
        }


def box_of_department(code: str) -> Box | None:
    """The box of a department's territory: metropolitan France for 2-character codes."""
    boxes = load_boxes()
    return boxes.get(METROPOLE) if len(code) == 2 else boxes.get(code)
