"""BAL rules: required fields by type, address syntax and domains, suggested addresses."""

from __future__ import annotations

from balise.referentials.bal_rules import (
    BalRequest,
    address_problems,
    fold,
    normalised,
    suggest_address,
    validate,
)

ALLOWED = ("ehpad-lilas.mssante.fr", "*.sante-ara.mssante.fr")
RPPS = "10003456786"
FINESS = "010001246"


def _messages(problems):
    return [message for _, message in problems]


def test_valid_requests_of_each_type_have_no_problem():
    requests = [
        BalRequest("PER", "01", "jeanne.durand@ehpad-lilas.mssante.fr", "Jeanne", "Durand", RPPS),
        BalRequest(
            "ORG",
            "01",
            "soins@ehpad-lilas.mssante.fr",
            finess=FINESS,
            service="Soins",
            responsible="Dr Jeanne Durand",
            structure_head="Paul Martin",
        ),
        BalRequest(
            "APP",
            "01",
            "dpi@ehpad-lilas.mssante.fr",
            finess=FINESS,
            responsible="Dr Durand",
            software="DPI Titan",
        ),
        BalRequest("cab", "2A", "cabinet@x.sante-ara.mssante.fr", practice="Cabinet des Lilas"),
    ]
    for request in requests:
        assert validate(request, ALLOWED) == []


def test_missing_fields_are_named_for_each_type():
    assert _messages(validate(BalRequest("PER", "01", "a@ehpad-lilas.mssante.fr"), ALLOWED)) == [
        "Le champ « prénom du titulaire » est obligatoire pour une BAL PER.",
        "Le champ « nom du titulaire » est obligatoire pour une BAL PER.",
        "Le champ « RPPS ou ADELI du titulaire » est obligatoire pour une BAL PER.",
    ]
    fields_org = [f for f, _ in validate(BalRequest("ORG", "01", "a@gmail.com"), ())]
    assert fields_org == ["finess", "service", "responsible", "structure_head", "address"]
    fields_app = [f for f, _ in validate(BalRequest("APP", "01", "a@b.mssante.fr"), ())]
    assert fields_app == ["finess", "responsible", "software"]
    assert _messages(validate(BalRequest("CAB", "01", "a@b.mssante.fr"), ())) == [
        "Le champ « cabinet » est obligatoire pour une BAL CAB."
    ]


def test_type_department_and_identifiers_are_checked():
    assert _messages(validate(BalRequest("XYZ"), ())) == [
        "Le champ « type de BAL » doit valoir PER, ORG, APP, CAB.",
        "Le champ « adresse » est obligatoire.",
    ]
    bad = BalRequest(
        "PER", "99", "jeanne.durand@b.mssante.fr", "Jeanne", "Durand", holder_id="10003456787"
    )
    assert _messages(validate(bad, ())) == [
        "Le champ « département » doit être un code INSEE (ex. 01, 2A, 974).",
        "Le champ « RPPS ou ADELI du titulaire » a une clé de contrôle RPPS fausse.",
    ]
    adeli = BalRequest("PER", "974", "j.d@b.mssante.fr", "J", "D", holder_id="011234567")
    assert validate(adeli, ()) == []
    org = BalRequest(
        "ORG", "01", "s@b.mssante.fr", finess="010001247", service="S", responsible="R",
        structure_head="H",
    )  # fmt: skip
    assert _messages(validate(org, ())) == [
        "Le champ « FINESS de la structure » a une clé de contrôle fausse."
    ]


def test_address_syntax_and_domain():
    assert address_problems("", ALLOWED) == [("address", "Le champ « adresse » est obligatoire.")]
    for wrong in ("jeanne", "jeanne..d@ehpad-lilas.mssante.fr", ".j@ehpad-lilas.mssante.fr",
                  "j d@ehpad-lilas.mssante.fr", "j@localhost"):  # fmt: skip
        assert _messages(address_problems(wrong, ALLOWED)) == [
            f"Le champ « adresse » n'est pas une adresse valide : {wrong}."
        ]
    assert _messages(address_problems("j@autre.mssante.fr", ALLOWED)) == [
        "Le champ « adresse » utilise le domaine autre.mssante.fr, qui n'est pas autorisé "
        "(domaines autorisés : ehpad-lilas.mssante.fr, *.sante-ara.mssante.fr)."
    ]
    assert address_problems("j@lyon.sante-ara.mssante.fr", ALLOWED) == []
    # With no configured list, only MSSanté domains are accepted.
    assert address_problems("j@gmail.com", ()) != []
    assert address_problems("J.Doe@Hopital.MSSante.fr", ()) == []


def test_suggested_address_folds_accents_and_spaces():
    per = BalRequest("PER", first_name="Hélène Marie", last_name="Le Bœuf-D'Arc")
    assert suggest_address(per, "ehpad-lilas.mssante.fr") == (
        "helene-marie.le-boeuf-d-arc@ehpad-lilas.mssante.fr"
    )
    org = BalRequest("ORG", service="Équipe de soins")
    assert (
        suggest_address(org, "ehpad-lilas.mssante.fr") == "equipe-de-soins@ehpad-lilas.mssante.fr"
    )
    assert suggest_address(BalRequest("APP", software="DPI Titan"), "x.mssante.fr") == (
        "dpi-titan@x.mssante.fr"
    )
    assert suggest_address(BalRequest("PER", first_name="Jeanne"), "x.mssante.fr") == ""
    assert fold("  Çà et là  ") == "ca-et-la"


def test_from_mapping_and_normalised():
    request = BalRequest.from_mapping(
        {"bal_type": " org ", "finess": 10001246.0, "address": " Soins@X.mssante.fr ", "x": 1}
    )
    assert request.finess == "10001246"
    clean = normalised(request)
    assert (clean.bal_type, clean.address, clean.finess) == ("ORG", "soins@x.mssante.fr", FINESS)
    assert normalised(BalRequest(department="1")).department == "01"
