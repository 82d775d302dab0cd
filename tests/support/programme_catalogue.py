"""A catalogue with one indicator per fact and level, written where a test wants it;
the figures it gives on ``programme_seed`` are worked out in tests/test_indicators.py."""

from __future__ import annotations

from pathlib import Path

CATALOGUE = """\
[campagne]
annee = 2026
statut = "arrete"

[[indicateur]]
id = "org-esms"
libelle = "BAL ORG ou APP"
niveau = "esms"
fait = "bal_org_app"
periode = "mois"

[[indicateur]]
id = "org-ej"
libelle = "Organismes équipés en BAL ORG ou APP"
niveau = "organisme"
fait = "bal_org_app"
seuil = 80
periode = "mois"

[[indicateur]]
id = "org-dep"
libelle = "Département équipé en BAL ORG ou APP"
niveau = "departement"
fait = "bal_org_app"
seuil = 60
periode = "mois"

[[indicateur]]
id = "demat"
libelle = "Dématérialisation"
niveau = "esms"
fait = "dematerialisation"
seuil = 50
periode = "mois"

[[indicateur]]
id = "demat-dep"
libelle = "Dématérialisation du département"
niveau = "departement"
fait = "dematerialisation"
seuil = 50
periode = "mois"

[[indicateur]]
id = "teste"
libelle = "BAL testée"
niveau = "esms"
fait = "bal_testee"
periode = "trimestre"

[[indicateur]]
id = "messages"
libelle = "Messages par mois"
niveau = "esms"
fait = "messages"
seuil = 20
periode = "trimestre"

[[indicateur]]
id = "messages-dep"
libelle = "Messages par mois et par ESMS du département"
niveau = "departement"
fait = "messages"
seuil = 5
periode = "trimestre"

[[indicateur]]
id = "sensibilise"
libelle = "Sensibilisés"
niveau = "esms"
fait = "etape"
etape = "sensibilise"
periode = "campagne"
"""


def write_catalogue(directory: Path, text: str = CATALOGUE, year: int = 2026) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{year}.toml"
    path.write_text(text, encoding="utf-8")
    return directory
