"""The indicator catalogue file: the shipped example, and every refusal as one French sentence
naming the file, the line and the field."""

from __future__ import annotations

import pytest

from balise.config import DEFAULT_DATA_DIR
from balise.referentials.indicator_catalogue import (
    FACTS,
    LEVELS,
    CatalogueError,
    catalogue_years,
    load_catalogue,
    parse_catalogue,
)
from balise.services.onboarding import STAGES
from tests.support.programme_catalogue import CATALOGUE, write_catalogue

SHIPPED = DEFAULT_DATA_DIR / "indicateurs"


def test_the_shipped_catalogue_is_a_labelled_example_covering_every_fact_and_level():
    (year, *_) = catalogue_years(SHIPPED)
    cat = load_catalogue(SHIPPED, year, STAGES)
    assert cat.is_example and "à fixer par l'ARS" in cat.note
    text = (SHIPPED / f"{year}.toml").read_text(encoding="utf-8")
    assert "EXEMPLE FOURNI AVEC BALISE" in text and "2025/100" in text
    assert {i.fact for i in cat.indicators} == set(FACTS)
    assert {i.level for i in cat.indicators} == set(LEVELS)


def test_the_test_catalogue_reads_with_its_lines():
    cat = parse_catalogue(CATALOGUE, "2026.toml", STAGES)
    lines = CATALOGUE.splitlines()
    first = cat.indicators[0]
    assert (first.id, first.threshold, first.line) == (
        "org-esms",
        None,
        lines.index("[[indicateur]]") + 1,
    )
    assert cat.indicators[1].threshold == 80.0 and not cat.is_example


def _line(text: str, needle: str, nth: int = 0) -> int:
    found = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return found[nth]


def _refusal(text: str) -> str:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(text, "2026.toml", STAGES)
    return str(info.value)


def test_a_threshold_in_words_is_refused_on_its_line():
    text = CATALOGUE.replace("seuil = 20", 'seuil = "vingt"')
    assert _refusal(text) == (
        f"Catalogue 2026.toml, ligne {_line(text, 'vingt')} : indicateur « messages » : le "
        "champ « seuil » doit être un nombre sans guillemets, pas « vingt »."
    )


def test_a_decimal_comma_gets_a_hint():
    text = CATALOGUE.replace("seuil = 20", 'seuil = "12,5"')
    assert _refusal(text).endswith(
        "le champ « seuil » doit être un nombre sans guillemets (point décimal : 12.5), "
        "pas « 12,5 »."
    )


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("seuil = 80", "seuil = 120", "seuil = 120",
         "indicateur « org-ej » : le champ « seuil » est un pourcentage : entre 0 et 100, pas 120."),
        ("seuil = 80", "seuil = -5", "seuil = -5",
         "indicateur « org-ej » : le champ « seuil » ne peut pas être négatif (-5)."),
        ('fait = "bal_org_app"\nperiode', 'fait = "bal_org_app"\nseuil = 50\nperiode', "seuil = 50",
         "indicateur « org-esms » : au niveau « esms », un fait oui/non est atteint ou non : "
         "retirez le seuil (ou choisissez le niveau organisme ou departement)."),
        ('fait = "dematerialisation"', 'fait = "demat"', 'fait = "demat"',
         "indicateur « demat » : le champ « fait » vaut « demat » : valeurs possibles "
         "« bal_org_app », « dematerialisation », « bal_testee », « messages », « etape »."),
        ('periode = "trimestre"', 'periode = "semaine"', "semaine",
         "indicateur « teste » : le champ « periode » vaut « semaine » : valeurs possibles "
         "« mois », « trimestre », « campagne »."),
        ('etape = "sensibilise"', 'etape = "convaincu"', "convaincu",
         "indicateur « sensibilise » : le champ « etape » vaut « convaincu » : étapes possibles "
         "a_contacter, contacte, sensibilise, bal_demandee, bal_creee, bal_testee, usage_regulier."),
        ('niveau = "organisme"', 'niveau = "organisme"\nseuill = 3', "seuill",
         "indicateur « org-ej » : champ inconnu « seuill » (champs possibles : id, libelle, "
         "niveau, fait, seuil, periode, etape)."),
        ('id = "demat-dep"', 'id = "demat"', 'id = "demat"',
         "indicateur « demat » : l'identifiant « demat » est déjà utilisé (ligne 28)."),
    ],
    ids=["over-100", "negative", "oui-non-esms", "fact", "period", "stage", "unknown", "dup"],
)  # fmt: skip
def test_each_bad_field_is_named_with_its_line(old, new, needle, message):
    text = CATALOGUE.replace(old, new, 1)
    nth = 1 if needle == 'id = "demat"' else 0
    assert _refusal(text) == f"Catalogue 2026.toml, ligne {_line(text, needle, nth)} : {message}"


def test_a_missing_field_names_its_indicator():
    text = CATALOGUE.replace('libelle = "BAL testée"\n', "")
    start = _line(text, 'id = "teste"') - 1
    assert _refusal(text) == (
        f"Catalogue 2026.toml, ligne {start} : indicateur « teste » : le champ « libelle » "
        "manque ou n'est pas un texte entre guillemets."
    )


def test_broken_toml_gives_line_and_column():
    text = CATALOGUE.replace('libelle = "Sensibilisés"', "libelle = Sensibilisés")
    line = _line(text, "libelle = Sensibilisés")
    assert _refusal(text) == (
        f"Catalogue 2026.toml : ce n'est pas un fichier TOML valide (ligne {line}, colonne 11). "
        "Vérifiez les guillemets autour des textes, le signe = et les crochets [[indicateur]]."
    )


def test_campaign_section_and_year(tmp_path):
    assert _refusal(CATALOGUE.replace('statut = "arrete"', 'statut = "brouillon"')) == (
        "Catalogue 2026.toml, ligne 3 : le champ « statut » de [campagne] vaut « brouillon » : "
        "valeurs possibles « exemple », « arrete »."
    )
    directory = write_catalogue(tmp_path, CATALOGUE.replace("annee = 2026", "annee = 2025"))
    with pytest.raises(CatalogueError) as info:
        load_catalogue(directory, 2026, STAGES)
    assert str(info.value) == (
        "Catalogue 2026.toml : la section [campagne] déclare l'année 2025, le nom du fichier 2026."
    )
    with pytest.raises(CatalogueError) as info:
        load_catalogue(directory, 2027, STAGES)
    assert str(info.value) == (
        f"Aucun catalogue d'indicateurs pour la campagne 2027 ({directory / '2027.toml'}). "
        "Catalogues disponibles : 2026."
    )
