"""Small FiNESS+ flows written by hand, in the real file's spelling and in the published
schema's (``schema-structures-v1.json``), for the reader and the writer tests."""

from __future__ import annotations

import json

IME, EJ = "010780930", "010000388"


def ege_file(number: str = IME, **changes) -> dict:
    """An establishment as the real daily file writes it (third-party readers of the file)."""
    item = {
        "informationsGeneralesEGE": {
            "egeId": "844", "numFinessEge": number, "nomEgeCourt": "IME LES TILLEULS  ",
            "nomEgeLong": "INSTITUT MEDICO EDUCATIF LES TILLEULS", "siret": "26010009400010",
            "dateOuverture": "1980-01-01",
        },
        "categorieentiteGeographiqueExercice": "183",
        "adresse": [{
            "numeroVoie": "34", "typeVoie": "R", "libelleVoie": "CHARLES DE GAULLE",
            "cogCommune": "01108", "ligneAcheminement": "COLIGNY", "codePostal": "01270",
            "coordonneesGeographique": {
                "coordonneeX": "6591233.10", "coordonneeY": "870124.50",
                "directionLatitude": "46.383", "directionLongitude": "5.345",
            },
        }],
        "evenement": [{"evenementId": "1", "codeEvenement": "01"}],
        "etatObjet": "A",
    }  # fmt: skip
    item.update(changes)
    return item


def ege_schema(number: str = IME) -> dict:
    """The same establishment spelt as ``schema-structures-v1.json`` says: coded objects,
    ``categorieEntiteGeographiqueExercice``, ``siret`` at the establishment's level."""
    item = ege_file(number)
    item["informationsGeneralesEGE"].pop("siret")
    item["siret"] = "26010009400010"
    item["categorieEntiteGeographiqueExercice"] = {
        "code": item.pop("categorieentiteGeographiqueExercice"),
        "system": "https://mos.esante.gouv.fr/NOS/tre_r397-categorie-entite-geographique-exercice",
    }
    item["etatObjet"] = {"code": "A", "system": "https://mos.esante.gouv.fr/NOS/tre_r386"}
    return item


def flow(*eges: dict, schema: bool = False, gcc=None, gco=None, **top) -> bytes:
    info = {"numFinessPm": EJ, "siren": "260100094", "statutJuridique": "60",
            "denominationPm": "ASSOCIATION LES TILLEULS"}  # fmt: skip
    key = "informationsGeneralesPmej" if schema else "informationsGeneralesPMEJ"
    info["pm_smsseId" if schema else "pmSmsseId"] = "77"
    doc = {"schemaVersion": "v1.0.0", "generatedAt": "2026-07-01T04:00:00.123456789Z", **top,
           "pmej": [{key: info, "adresse": [], "ege": list(eges), "etatObjet": "A"}],
           "gcc": gcc if gcc is not None else [], "gco": gco if gco is not None else []}  # fmt: skip
    return json.dumps(doc, indent=2, ensure_ascii=False).encode()
