"""Writer of the small demo FiNESS+ JSON (schema-structures-v1) of one department."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

from ingest.demo.tables import FINESS_DATE
from ingest.demo.world import Structure, World, ascii_upper, fake_date, fake_phone, luhn_key


def _json_address(s: Structure, rng: random.Random) -> dict:
    num, typ, voie = s.street
    place = s.place
    return {
        "usageAdresse": "03",
        "numeroVoie": num,
        "typeVoie": typ,
        "libelleVoie": voie,
        "cogCommune": place.dep.code[:2] + place.commune,
        "ligneAcheminement": ascii_upper(place.city),
        "ligneQuatre": f"{num} {typ} {voie}".strip(),
        "codePostal": place.postcode,
        # As in the published sample, X holds the northing and Y the easting (swapped).
        "coordonneesGeographique": {
            "coordonneeX": f"{rng.uniform(6_400_000, 6_600_000):.2f}",
            "coordonneeY": f"{rng.uniform(700_000, 1_000_000):.2f}",
        },
    }


def _json_ege(s: Structure, rng: random.Random, ege_id: int, active: bool = True) -> dict:
    info = {
        "egeId": str(ege_id),
        "dateOuverture": fake_date(rng, 1970, 2020),
        "nomEgeCourt": s.name,
        "nomEgeLong": s.long_name,
        "numFinessEge": s.et,
        "siret": s.siret,
    }
    if not active:
        info["dateFermeture"] = "2025-06-30"
    return {
        "informationsGeneralesEGE": info,
        "categorieentiteGeographiqueExercice": s.cat,
        "adresse": [_json_address(s, rng)],
        "contact": [
            {"typeContact": {"roleContact": "01"}, "telecom": {"telephone": fake_phone(rng)}}
        ],
        "etatObjet": "A" if active else "I",
        "dateDerniereMaj": f"{fake_date(rng, 2021, 2025)} 00:00:00",
    }


def write_finess_json(world: World, path: Path, dep_code: str) -> None:
    """FiNESS+ shape (schema-structures-v1): legal entities (pmej) holding establishments (ege),
    for the establishments of one department, plus one closed establishment (etatObjet I)."""
    rng = world.rng
    by_ej: dict[str, list[Structure]] = {}
    for s in world.structures:
        if s.place.dep.code == dep_code:
            by_ej.setdefault(s.ej, []).append(s)
    pmej = []
    for i, (ej, members) in enumerate(by_ej.items(), start=1):
        eges = [_json_ege(s, rng, 1000 * i + k) for k, s in enumerate(members)]
        pmej.append({
            "informationsGeneralesPMEJ": {
                "pmSmsseId": str(i),
                "denominationPm": world.ej_names.get(ej, members[0].name),
                "numFinessPm": ej,
                "siren": members[0].siret[:9],
            },
            "adresse": [_json_address(members[0], rng)],
            "ege": eges,
            "etatObjet": "A",
        })  # fmt: skip
    first = next(iter(by_ej.values()))[0]
    body = f"{first.place.dep.finess_code}099999"
    closed = replace(first, et=body + luhn_key(body), name="EHPAD FERMÉ (FICTIF)   ")
    pmej[0]["ege"].append(_json_ege(closed, rng, 999_999, active=False))
    doc = {"schemaVersion": "v1.0.0", "generatedAt": f"{FINESS_DATE}T04:12:00.000000Z",
           "gcc": [], "gco": [], "pmej": pmej}  # fmt: skip
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
