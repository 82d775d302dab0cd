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


# Two organisations and two groupings (``grouped_flow``): the association of the Ain (EJ, pm 77:
# IME + EHPAD in 01) and the Vercors foundation (EJ_VERCORS, pm 88: two ESMS in 38). The GHT
# (gcc:7) holds the association by its legal entity, the IME once more by itself, and one
# foundation ESMS by itself; the GCSMS (gco:501) holds the foundation by its legal entity and
# the IME by itself.
EHPAD_AIN, EJ_VERCORS, VERCORS_1, VERCORS_2 = "010780948", "380000109", "380780015", "380780023"


def _ege(number: str, ege_id: str, category: str, commune: str = "", postcode: str = "") -> dict:
    item = ege_file(number, categorieentiteGeographiqueExercice=category)
    item["informationsGeneralesEGE"].update(egeId=ege_id, nomEgeCourt=f"ESMS {number}")
    if commune:
        item["adresse"][0].update(cogCommune=commune, codePostal=postcode)
    return item


def grouped_flow() -> bytes:
    """The FiNESS+ flow of the two organisations and their two groupings (national)."""
    vercors = {
        "informationsGeneralesPMEJ": {"numFinessPm": EJ_VERCORS, "pmSmsseId": "88",
                                      "denominationPm": "FONDATION DU VERCORS"},
        "adresse": [], "etatObjet": "A",
        "ege": [_ege(VERCORS_1, "901", "500", "38185", "38000"),
                _ege(VERCORS_2, "902", "354", "38185", "38000")],
    }  # fmt: skip
    gcc = [
        {
            "gccId": "7",
            "nomGcc": "GHT DÉMO",
            "typeGcc": "001",
            "pmejDuGcc": [{"pmSmsseId": "77", "typeRoleEntiteGroupe": "S"}],
            "egeDuGCC": [{"egeId": "844"}, {"egeId": "901", "typeRoleEntiteGroupe": "M"}],
        }
    ]
    gco = [{"pmSmsseId": "501", "typeGCO": "GCSMS", "nomGco": "GCSMS DU VERCORS",
            "pmejDuGco": [{"pmSmsseId": "88", "typeRoleEntiteGroupe": "M"}],
            "egeDuGco": [{"egeId": "844"}]}]  # fmt: skip
    doc = json.loads(flow(ege_file(), _ege(EHPAD_AIN, "845", "500"), gcc=gcc, gco=gco))
    doc["pmej"].append(vercors)
    return json.dumps(doc, ensure_ascii=False).encode()
