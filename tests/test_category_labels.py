"""What the dashboard and the exports call a category: the short name of a followed category, else
the nomenclature's label, else the code (never a blank)."""

from __future__ import annotations

from balise.services.labels import NO_CATEGORY_LABEL, category_label


def test_a_followed_category_reads_as_its_short_name():
    assert category_label("500") == "EHPAD"


def test_another_category_reads_as_its_tre_r397_label():
    assert category_label("202") == "Résidences autonomie"
    assert category_label("355") == "CH"  # followed as a partner: its own short name wins
    assert category_label("362") == "Etablissement de Soins Longue Durée"


def test_a_code_the_nomenclature_does_not_know_stays_a_code():
    assert category_label("999") == "999"
    assert category_label("") == NO_CATEGORY_LABEL
