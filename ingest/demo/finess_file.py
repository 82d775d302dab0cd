"""Writer of the demo FINESS file in the data.gouv "etalab" CSV shape: cp1252, ``;``, the
metadata line, ``structureet`` lines (CSV quoting where needed, the empty trailing ``numuai``, a
few ``JJ/MM/AAAA`` dates), then a ``geolocalisation`` line in Lambert-93 for every metropolitan
establishment, placed around its department's prefecture."""

from __future__ import annotations

import csv
import random
from functools import cache
from pathlib import Path

from balise.referentials.categories import load_categories
from ingest.demo.tables import (
    AGGREGATES,
    DEPARTMENT_CENTRES,
    EXTRA_LABELS,
    FINESS_DATE,
    FINESS_VERSION,
    GEO_SOURCE,
    HOSPITALS,
    SMALL_DEPARTMENTS,
    SMALL_SPREAD_DEGREES,
    SPREAD_DEGREES,
)
from ingest.demo.world import Structure, World, ascii_upper, fake_date, fake_phone
from ingest.sources.finess_geo import wgs84_to_lambert93

# --------------------------------------------------------------------------- FINESS files

# Per-category columns 21-28 where the family default would be wrong.
_AGGREGATE_BY_CODE = {
    "620": ("3301", "Pharmacies d'Officine", "4773Z", "01", "Etablissement Tarif Libre"),
    "223": ("2202", "Etablissements de PMI et de Planification Familiale", "", "01",
            "Etablissement Tarif Libre"),
    "101": ("1101", "Centres Hospitaliers Régionaux", "8610Z", "03",
            "ARS établissements Publics de santé dotation globale"),
    "124": ("2204", "Centres de Santé", "8622C", "01", "Etablissement Tarif Libre"),
    "603": ("2206", "Maisons de Santé", "8621Z", "01", "Etablissement Tarif Libre"),
    "340": ("4608", "Protection des majeurs", "", "99", "Indéterminé"),
    "462": ("4605", "Etablissements et services multi-clientèles", "", "08",
            "Président du Conseil Départemental"),
    "146": ("1203", "Dialyse Ambulatoire", "8610Z", "07",
            "ARS établissements de santé non financés dotation globale"),
}  # fmt: skip


@cache
def _category_columns(code: str) -> tuple[str, ...]:
    """libcategetab .. libsph (columns 20-28)."""
    cat = load_categories().get(code)
    label = cat.label if cat else EXTRA_LABELS.get(code, code)
    family = cat.family if cat else "Partenaires"
    agr, agr_label, ape, mft, mft_label = _AGGREGATE_BY_CODE.get(code) or AGGREGATES[family]
    public = code in HOSPITALS
    sph, sph_label = ("1", "Etablissement public de santé") if public else ("", "")
    return (label, agr, agr_label, ape, mft, mft_label, sph, sph_label)


def _dmy(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def _finess_row(s: Structure, rng: random.Random, old_dates: bool) -> list[str]:
    """The 32 fields of a ``structureet`` line (numuai, the last, empty)."""
    dep, place = s.place.dep, s.place
    num, typ, voie = s.street
    lieudit = "BP " + str(rng.randint(1, 400)) if rng.random() < 0.05 else ""
    opened = fake_date(rng, 1965, 2024)
    authorised, updated = opened, fake_date(rng, 2015, 2025)
    if old_dates:  # older files used JJ/MM/AAAA: a few lines keep it
        opened, authorised = _dmy(opened), _dmy(authorised)
    fax = fake_phone(rng) if rng.random() < 0.4 else ""
    cat = _category_columns(s.cat)
    return [
        "structureet", s.et, s.ej, s.name, s.long_name, "", "", num, typ, voie, "", lieudit,
        place.commune, dep.finess_code, ascii_upper(dep.name),
        f"{place.postcode} {ascii_upper(place.city)}", fake_phone(rng), fax, s.cat,
        *cat[:3], s.siret, *cat[3:], opened, authorised, updated, "",
    ]  # fmt: skip


def _geo_row(s: Structure) -> list[str] | None:
    """Lambert-93 coordinates around the department's prefecture, drawn from the FINESS number
    (not from the world's generator: the other demo files stay as they were); None overseas."""
    centre = DEPARTMENT_CENTRES.get(s.place.dep.code)
    if centre is None:
        return None
    rng = random.Random(s.et)
    spread = SMALL_SPREAD_DEGREES if s.place.dep.code in SMALL_DEPARTMENTS else SPREAD_DEGREES
    lat = centre[0] + rng.uniform(-spread, spread)
    lon = centre[1] + rng.uniform(-spread, spread) * 1.4  # a degree of longitude is shorter
    x, y = wgs84_to_lambert93(lat, lon)
    return ["geolocalisation", s.et, f"{x:.1f}", f"{y:.1f}", GEO_SOURCE, fake_date(rng, 2024, 2026)]


def write_finess(world: World, path: Path) -> None:
    """cp1252, ``;``, the metadata line, structureet lines, then the geolocalisation lines."""
    rng, rows = world.rng, world.structures
    every = max(1, len(rows) // max(3, len(rows) // 300))  # ~1 line in 300 with JJ/MM/AAAA
    with open(path, "w", encoding="cp1252", newline="") as fh:
        fh.write(f"finess;etalab;{FINESS_VERSION};{FINESS_DATE}\n")
        writer = csv.writer(fh, delimiter=";", lineterminator="\n")
        writer.writerows(_finess_row(s, rng, i % every == every // 2) for i, s in enumerate(rows))
        writer.writerows(row for s in rows if (row := _geo_row(s)) is not None)
