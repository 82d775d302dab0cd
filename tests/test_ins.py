"""The INS checker (« Écrire au patient »): decoding, invalid numbers, the CLI's exact output,
the page, and proof that no INS reaches the database or the logs."""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest
from click.testing import CliRunner
from stdnum.fr import nir
from streamlit.testing.v1 import AppTest

from balise.cli import cli
from balise.errors import ValidationError
from balise.referentials.ins import check_ins
from tests.support.apptest import open_page
from tests.support.store_dump import all_text

SEED = "285037728417346"  # the seed webinar's example
TODAY = date(2026, 11, 25)


def with_key(first13: str) -> str:
    """A valid INS from its first 13 characters (key computed by stdnum, Corsica aware)."""
    return first13 + nir.calc_check_digits(first13 + "00")


def test_seed_example_is_a_woman_born_march_1985_in_seine_et_marne():
    result = check_ins(SEED, today=TODAY)
    assert (result.sex, result.birth_year, result.birth_month) == ("F", 1985, 3)
    assert (result.place.kind, result.place.code, result.place.label) == (
        "department",
        "77",
        "Seine-et-Marne",
    )
    assert SEED[13:] == "46" and result.warnings == ()
    assert result.sentence() == (
        "Une femme, née en mars 1985, née dans le département 77 (Seine-et-Marne)"
    )
    assert result.address == "285037728417346@patient.mssante.fr"


def test_spaces_dots_and_a_pasted_address_are_tolerated():
    for typed in ("2 85 03 77 284 173 46", "2.85.03.77.284.173.46", f" {SEED}@patient.mssante.fr"):
        assert check_ins(typed, today=TODAY).ins == SEED


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("285037728417347", "La clé de contrôle ne correspond pas : l'INS saisi contient une erreur de frappe."),
        ("285037728417364", "La clé de contrôle ne correspond pas : l'INS saisi contient une erreur de frappe."),
        ("28503772841734", "Un INS compte 15 caractères ; celui saisi en compte 14."),
        ("2850377284173460", "Un INS compte 15 caractères ; celui saisi en compte 16."),
        ("28503772841734X", "Un INS ne contient que des chiffres (et 2A ou 2B pour un lieu de naissance en Corse)."),
        ("285032C28417346", "Un INS ne contient que des chiffres (et 2A ou 2B pour un lieu de naissance en Corse)."),
        (with_key("3850377284173"), "Le premier chiffre d'un INS (le sexe) vaut 1, 2, 7 ou 8."),
    ],
)  # fmt: skip
def test_invalid_numbers_are_refused_without_repeating_them(typed, message):
    with pytest.raises(ValidationError) as err:
        check_ins(typed)
    assert str(err.value) == message
    assert typed[:13] not in str(err.value)


def test_corsica_2a_and_2b_keys_use_19_and_18():
    south, north = with_key("170032A004012"), with_key("265012B123045")
    # The key of a Corsican number is computed on 19 (2A) / 18 (2B), not on the letters.
    assert south[13:] == f"{97 - int('1700319004012') % 97:02d}"
    assert north[13:] == f"{97 - int('2650118123045') % 97:02d}"
    s, n = check_ins(south, today=TODAY), check_ins(north, today=TODAY)
    assert s.sentence() == "Un homme, né en mars 1970, né dans le département 2A (Corse-du-Sud)"
    assert (
        n.sentence() == "Une femme, née en janvier 1965, née dans le département 2B (Haute-Corse)"
    )
    # The same digits with the wrong Corsican letter fail the key.
    with pytest.raises(ValidationError):
        check_ins(south.replace("2A", "2B"))


def test_overseas_departments_and_collectivities():
    reunion = check_ins(with_key("1921297411005"), today=TODAY)
    assert (
        reunion.sentence()
        == "Un homme, né en décembre 1992, né dans le département 974 (La Réunion)"
    )
    noumea = check_ins(with_key("2010598812003"), today=TODAY)
    assert noumea.birth_year == 2001
    assert noumea.sentence() == (
        "Une femme, née en mai 2001, née dans la collectivité d'outre-mer 988 (Nouvelle-Calédonie)"
    )


def test_born_abroad_with_and_without_a_known_country():
    morocco = check_ins(with_key("1780699350123"), today=TODAY)
    assert (morocco.place.kind, morocco.place.code) == ("abroad", "99350")
    assert morocco.sentence() == "Un homme, né en juin 1978, né à l'étranger (Maroc)"
    elsewhere = check_ins(with_key("2780699999123"), today=TODAY)
    assert elsewhere.sentence() == "Une femme, née en juin 1978, née à l'étranger"


def test_unknown_month_is_accepted_with_a_warning_and_never_invented():
    for month in ("20", "33", "62", "00"):
        result = check_ins(with_key(f"150{month}69123456"), today=TODAY)
        assert result.birth_month is None
        assert result.warnings == ("Mois de naissance inconnu à l'état civil.",)
        assert result.sentence() == (
            "Un homme, né en 1950 (mois inconnu), né dans le département 69 (Rhône)"
        )


def test_temporary_number_is_decoded_with_a_warning():
    result = check_ins(with_key("8900138123456"), today=TODAY)
    assert result.sex == "F" and result.birth_year == 1990
    assert result.warnings == ("Numéro provisoire (NIA) : vérifiez l'identité avant d'écrire.",)


def test_cli_prints_the_seed_screen_and_the_address():
    result = CliRunner().invoke(cli, ["ins", "2 85 03 77 284 173 46"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Une femme, née en mars 1985, née dans le département 77 (Seine-et-Marne)\n"
        "285037728417346@patient.mssante.fr\n"
    )
    as_json = CliRunner().invoke(cli, ["--json", "ins", SEED])
    assert json.loads(as_json.stdout) == {
        "sexe": "F", "annee_naissance": 1985, "mois_naissance": 3, "lieu_naissance": "77",
        "lieu_libelle": "Seine-et-Marne", "adresse": "285037728417346@patient.mssante.fr",
        "avertissements": [],
    }  # fmt: skip


def test_cli_refuses_a_wrong_key():
    result = CliRunner().invoke(cli, ["ins", "285037728417347"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Erreur : La clé de contrôle ne correspond pas : l'INS saisi contient une erreur de frappe.\n"
    )


def _open_patient_page() -> AppTest:
    at = open_page("patient")
    assert not at.exception, at.exception
    return at


def test_page_shows_the_patient_and_the_address(empty_db, monkeypatch, tmp_path):
    monkeypatch.setenv("BALISE_DATABASE_URL", empty_db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    at = _open_patient_page()
    assert at.title[0].value == "Écrire au patient"
    at.text_input[0].input("2 85 03 77 284 173 46").run()
    assert at.success[0].value == (
        "Vous vous apprêtez à écrire à : Une femme, née en mars 1985, née dans le département 77 "
        "(Seine-et-Marne)."
    )
    assert at.code[0].value == "285037728417346@patient.mssante.fr"
    at.text_input[0].input("285037728417347").run()
    assert [e.value for e in at.error] == [
        "La clé de contrôle ne correspond pas : l'INS saisi contient une erreur de frappe."
    ]
    assert not at.code


def test_no_ins_reaches_the_database_or_the_logs(empty_db, monkeypatch, tmp_path, caplog, capfd):
    url = empty_db.url.render_as_string(hide_password=False)
    monkeypatch.setenv("BALISE_DATABASE_URL", url)
    monkeypatch.setenv("BALISE_DATA_DIR", str(tmp_path))
    caplog.set_level(logging.DEBUG)
    cli_run = CliRunner().invoke(cli, ["--database-url", url, "-v", "ins", SEED])
    assert cli_run.exit_code == 0
    at = _open_patient_page()
    at.text_input[0].input(SEED).run()
    assert at.code[0].value.startswith(SEED)  # the page did see the number
    # Every table, every row, every column: the INS nowhere, neither whole nor as an address.
    stored = all_text(empty_db)
    assert stored  # alembic_version at least: the dump really read the store
    assert SEED not in stored and "patient.mssante.fr" not in stored
    assert caplog.records  # the DEBUG capture was live
    assert SEED not in caplog.text
    assert SEED not in capfd.readouterr().err
    assert not list(tmp_path.rglob("*.log"))
