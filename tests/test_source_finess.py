"""The FINESS reader: the legacy etalab CSV quirks, the FiNESS+ JSON, and every refusal."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pytest
from stdnum import luhn

from balise.errors import SourceError
from balise.referentials.categories_r397 import category_label_r397
from ingest.sources.finess import (
    REASON_CATEGORY,
    REASON_DEPARTMENT,
    REASON_FIELDS,
    REASON_FINESS,
    REASON_GEO,
    REASON_JSON,
    etalab_commune_code,
    luhn_ok,
    read_finess,
)
from ingest.sources.finess_geo import FROM_LAMBERT, MISSING, GeoStats
from ingest.sources.rows import EstablishmentPoint, EstablishmentRow, ReadStats, Rejected

# The 32 fields of a structureet line, in order (domain/finess.md).
FIELDS = [
    *("structureet", "nofinesset", "nofinessej", "rs", "rslongue", "complrs", "compldistrib"),
    *("numvoie", "typvoie", "voie", "compvoie", "lieuditbp", "commune", "departement"),
    *("libdepartement", "ligneacheminement", "telephone", "telecopie", "categetab"),
    *("libcategetab", "categagretab", "libcategagretab", "siret", "codeape", "codemft"),
    *("libmft", "codesph", "libsph", "dateouv", "dateautor", "datemaj", "numuai"),
]
META = "finess;etalab;100;2026-05-04"


def with_key(body: str) -> str:
    """A FINESS number with a valid Luhn key (8 digits in)."""
    return body + luhn.calc_check_digit(body)


def et(**values: str) -> str:
    """One structureet line (32 fields, trailing ``;`` for the empty numuai), CSV-quoted."""
    row = dict.fromkeys(FIELDS, "")
    row.update(
        structureet="structureet",
        nofinesset="010780930",
        nofinessej="010000396",
        rs="EHPAD LES LILAS",
        rslongue="EHPAD LES LILAS DE BOURG",
        numvoie="12",
        typvoie="R",
        voie="DES LILAS",
        commune="053",
        departement="01",
        libdepartement="AIN",
        ligneacheminement="01000 BOURG EN BRESSE",
        categetab="500",
        libcategetab="Etablissement d'hébergement pour personnes âgées dépendantes",
        siret="26010007800039",
        dateouv="1980-01-01",
    )
    row.update(values)
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerow(row.values())
    return out.getvalue()[:-1]


def etalab(*lines: str, meta: str = META, encoding: str = "utf-8", eol: str = "\n") -> io.BytesIO:
    return io.BytesIO(eol.join([meta, *lines, ""]).encode(encoding))


def read_all(fh, departments=None, stats=None):
    return list(read_finess(fh, departments, stats))


def test_a_structureet_line_gives_a_full_row():
    stats = ReadStats()
    rows = read_all(etalab(et()), stats=stats)
    assert rows == [
        EstablishmentRow(
            line=2,
            finess_et="010780930",
            finess_ej="010000396",
            name="EHPAD LES LILAS",
            long_name="EHPAD LES LILAS DE BOURG",
            address="12 R DES LILAS",
            postcode="01000",
            city="BOURG EN BRESSE",
            commune_code="01053",
            department="01",
            category_code="500",
            category_label="Etablissement d'hébergement pour personnes âgées dépendantes",
            siret="26010007800039",
            opened_on=date(1980, 1, 1),
            luhn_ok=True,
        )
    ]
    assert (stats.format, stats.lines, stats.encoding) == ("finess-etalab", 1, "utf-8")


def test_metadata_line_date_is_kept():
    stats = ReadStats()
    read_all(etalab(et(), meta="finess;etalab;103023;2026-05-04"), stats=stats)
    assert stats.generated_at == datetime(2026, 5, 4)


def test_lines_end_with_a_trailing_semicolon_for_the_empty_numuai():
    line = et()
    assert line.endswith(";") and line.count(";") == 31
    assert [r.finess_et for r in read_all(etalab(line))] == ["010780930"]


def test_too_few_or_too_many_fields_are_rejected():
    rows = read_all(etalab(et(), et() + ";", et()[:-1].rsplit(";", 1)[0]))
    assert rows[1:] == [Rejected(3, REASON_FIELDS), Rejected(4, REASON_FIELDS)]


def test_doubled_quotes_and_semicolons_inside_fields():
    line = et(rs='LIEU DE VIE "MAVOUNA MEMA 1"', rslongue="A;B")
    assert '"LIEU DE VIE ""MAVOUNA MEMA 1"""' in line
    (row,) = read_all(etalab(line))
    assert (row.name, row.long_name) == ('LIEU DE VIE "MAVOUNA MEMA 1"', "A;B")


def test_a_quoted_field_over_two_lines_keeps_later_line_numbers_right():
    line = et(rslongue="SUR\nDEUX LIGNES")
    rows = read_all(etalab(line, et(nofinesset="XX")))
    assert rows[0].long_name == "SUR\nDEUX LIGNES"
    assert rows[1] == Rejected(4, REASON_FINESS)


def test_utf8_file_is_read_as_utf8():
    stats = ReadStats()
    (row,) = read_all(etalab(et(rs="FOYER ÉLÉONORE")), stats=stats)
    assert (row.name, stats.encoding) == ("FOYER ÉLÉONORE", "utf-8")


def test_cp1252_file_switches_at_the_first_non_utf8_line():
    stats = ReadStats()
    data = etalab(
        et(rs="FOYER A"), et(rs="FOYER ÉLÉONORE"), et(rs="SAINT-ŒUVRE"), encoding="cp1252"
    )
    rows = read_all(data, stats=stats)
    assert [r.name for r in rows] == ["FOYER A", "FOYER ÉLÉONORE", "SAINT-ŒUVRE"]
    assert stats.encoding == "cp1252"
    assert "Encodage détecté : Windows-1252 (cp1252)." in stats.notes


def test_crlf_and_bom_are_tolerated():
    data = b"\xef\xbb\xbf" + etalab(et(), eol="\r\n").getvalue()
    (row,) = read_all(io.BytesIO(data))
    assert row.finess_et == "010780930"


@pytest.mark.parametrize(
    ("code", "postcode", "department", "commune_code"),
    [
        ("9A", "97100", "971", "97105"),
        ("9A", "97133", "977", "97105"),  # Saint-Barthélemy, filed by FINESS under Guadeloupe
        ("9A", "97150", "978", "97105"),  # Saint-Martin
        ("9B", "97200", "972", "97205"),
        ("9C", "97300", "973", "97305"),
        ("9D", "97400", "974", "97405"),
        ("9F", "97600", "976", "97605"),
        ("9J", "98600", "986", "98605"),
        ("2A", "20000", "2A", "2A105"),
        ("2B", "20200", "2B", "2B105"),
    ],
)
def test_finess_department_codes_map_to_insee(code, postcode, department, commune_code):
    line = et(departement=code, commune="105", ligneacheminement=f"{postcode} VILLE")
    (row,) = read_all(etalab(line))
    assert (row.department, row.commune_code, row.postcode) == (department, commune_code, postcode)


def test_department_falls_back_to_the_postcode():
    (row,) = read_all(etalab(et(departement="", ligneacheminement="38000 GRENOBLE")))
    assert row.department == "38"


def test_city_drops_the_postcode_and_cedex():
    (row,) = read_all(etalab(et(ligneacheminement="01012 BOURG EN BRESSE CEDEX 2")))
    assert (row.postcode, row.city) == ("01012", "BOURG EN BRESSE")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-10-30", date(2024, 10, 30)), ("30/10/2024", date(2024, 10, 30)), ("", None)],
)
def test_iso_and_french_dates(value, expected):
    (row,) = read_all(etalab(et(dateouv=value)))
    assert row.opened_on == expected


def test_bad_luhn_key_is_kept_and_flagged():
    good = with_key("01078093")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    rows = read_all(etalab(et(nofinesset=good), et(nofinesset=bad)))
    assert [(r.finess_et, r.luhn_ok) for r in rows] == [(good, True), (bad, False)]


def test_corsican_numbers_are_kept_whatever_their_key():
    numbers = ["2A0000010", "2A0000011", "2B0000012", "2B0000013"]
    rows = read_all(etalab(*(et(nofinesset=n, departement=n[:2]) for n in numbers)))
    assert [r.finess_et for r in rows] == numbers
    assert [r.department for r in rows] == ["2A", "2A", "2B", "2B"]
    # Convention: A/B count as 0 in the sum, so 2A0000010 checks like 200000010.
    assert [r.luhn_ok for r in rows] == [luhn.is_valid(n.replace(n[1], "0", 1)) for n in numbers]


def test_luhn_helper():
    assert luhn_ok("010780930")  # real numbers from the FiNESS+ sample
    assert luhn_ok("980600027")
    assert not luhn_ok("010780931")
    assert not luhn_ok("01078093")
    assert luhn_ok("2a0000010") == luhn_ok("200000010")


def test_bad_finess_syntax_is_rejected():
    rows = read_all(etalab(et(nofinesset="0107809"), et(nofinesset="0C0780930"), et()))
    assert rows[:2] == [Rejected(2, REASON_FINESS), Rejected(3, REASON_FINESS)]
    assert rows[2].finess_et == "010780930"


def test_missing_department_and_category_are_rejected():
    rows = read_all(
        etalab(et(departement="", ligneacheminement="CEDEX"), et(categetab="  ")),
    )
    assert rows == [Rejected(2, REASON_DEPARTMENT), Rejected(3, REASON_CATEGORY)]


LAMBERT_SOURCE = "1,ATLASANTE,96,BAN,EPSG:2154 RGF93 / Lambert-93 (Métropole)"


def test_geolocalisation_lines_place_the_establishments_the_file_keeps():
    stats = ReadStats()
    rows = read_all(
        etalab(
            et(),
            et(nofinesset="2A0000016", departement="2A", ligneacheminement="20000 AJACCIO"),
            et(nofinesset="9A0000018", departement="9A", ligneacheminement="97139 LES ABYMES"),
            "autre;section;inconnue",
            f"geolocalisation;010780930;870262.2;6571540.8;{LAMBERT_SOURCE};2026-05-04",
            "geolocalisation;010780955;870262.2;6571540.8;x;2026-05-04",  # no such ET: skipped
            "geolocalisation;2A0000016;1200000.0;5900000.0;"  # in the sea off Corsica
            "1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93;2026-05-04",
            "geolocalisation;9A0000018;657242.9;1795384.4;"
            "2,ATLASANTE,96,BAN,EPSG:5490 RGAF09/UTM Zone 20N (Antilles);2026-05-04",
            "geolocalisation;010780930;8 70262;6571540.8;x;2026-05-04",  # malformed X
            "geolocalisation;010780930;870262.2",  # too short
        ),
        stats=stats,
    )
    points = [r for r in rows if isinstance(r, EstablishmentPoint)]
    # Control value of a public reader of the real file (pyproj, 5 decimals): 46.22229, 5.20918.
    assert [(p.line, p.finess_et, round(p.latitude, 5), round(p.longitude, 5)) for p in points] == [
        (6, "010780930", 46.22229, 5.20918)
    ]
    assert [r for r in rows if isinstance(r, Rejected)] == [
        Rejected(10, REASON_GEO),
        Rejected(11, REASON_GEO),
    ]
    assert stats.lines == 3
    assert stats.notes == [
        "Section « autre » ignorée : 1 ligne.",
        "Coordonnées converties depuis Lambert-93 : 1.",
        "Coordonnées hors du territoire, ignorées : 1.",
        "Coordonnées dans une projection d'outre-mer, non converties : 1.",
    ]


def test_geolocalisation_of_an_establishment_outside_the_selection_is_skipped():
    stats = ReadStats()
    rows = read_all(
        etalab(
            et(departement="75", ligneacheminement="75001 PARIS"),
            f"geolocalisation;010780930;652000.0;6862000.0;{LAMBERT_SOURCE};2026-05-04",
        ),
        departments={"01"},
        stats=stats,
    )
    assert rows == [] and stats.out_of_scope == 1 and stats.notes == []


def test_departments_outside_the_selection_are_counted_not_yielded():
    stats = ReadStats()
    rows = read_all(
        etalab(et(), et(departement="75", ligneacheminement="75001 PARIS", categetab="")),
        departments={"01"},
        stats=stats,
    )
    assert [r.department for r in rows] == ["01"]
    assert (stats.lines, stats.out_of_scope) == (2, 1)


def test_first_line_must_be_the_etalab_metadata():
    with pytest.raises(SourceError) as err:
        read_finess(io.BytesIO((et() + "\n").encode()))
    assert str(err.value) == (
        "Ce fichier n'est pas un fichier FINESS : la première ligne devrait être "
        "« finess;etalab;<numéro>;<AAAA-MM-JJ> »."
    )


def test_empty_file_is_refused():
    for data in (b"", b"\n\r\n  \n"):
        with pytest.raises(SourceError) as err:
            read_finess(io.BytesIO(data))
        assert str(err.value) == "Le fichier est vide : ce n'est pas un fichier FINESS."


def test_binary_file_is_refused():
    with pytest.raises(SourceError) as err:
        read_finess(io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert str(err.value) == "Ce fichier est binaire : ce n'est pas un fichier FINESS."


def test_unterminated_quote_is_refused_with_its_line():
    data = etalab(et(), 'structureet;"010780955;' + "x" * 200_000)
    with pytest.raises(SourceError) as err:
        read_all(data)
    assert str(err.value) == (
        "Le fichier FINESS est mal formé à la ligne 3 (guillemets non fermés ?)."
    )


# --- FiNESS+ JSON -------------------------------------------------------------------------------


INFO_KEYS = {"dateOuverture", "dateFermeture", "nomEgeCourt", "nomEgeLong", "siret"}


def ege(number: str = "010780930", **changes) -> dict:
    """One establishment shaped like the ansforge/finess sample (trailing spaces included)."""
    item = {
        "informationsGeneralesEGE": {
            "egeId": "844",
            "dateOuverture": "1980-01-01",
            "nomEgeCourt": "EHPAD RESIDENCE LA JONQUILLERE  ",
            "nomEgeLong": "EHPAD RESIDENCE LA JONQUILLERE COLIGNY",
            "numFinessEge": number,
            "siret": "26010009400010",
        },
        "categorieentiteGeographiqueExercice": "500",
        "adresse": [
            {
                "usageAdresse": "03",
                "numeroVoie": "34",
                "typeVoie": "R   ",
                "libelleVoie": "CHARLES DE GAULLE",
                "cogCommune": "01108",
                "ligneAcheminement": "COLIGNY",
                "codePostal": "01270",
            }
        ],
        "etatObjet": "A",
    }
    for key, value in changes.items():
        target = item["informationsGeneralesEGE"] if key in INFO_KEYS else item
        target[key] = value
    return item


def finess_json(*eges: dict, ej: str = "010000388", indent: int | None = 2) -> io.BytesIO:
    doc = {
        "schemaVersion": "v1.0.0",
        "generatedAt": "2026-03-09T15:49:37.615611300Z",
        "gcc": [],
        "gco": [],
        "pmej": [
            {"informationsGeneralesPMEJ": {"numFinessPm": ej}, "adresse": [], "ege": list(eges)}
        ],
    }
    return io.BytesIO(b"\n  " + json.dumps(doc, indent=indent, ensure_ascii=False).encode())


def test_json_establishment_gives_a_row():
    stats = ReadStats()
    rows = read_all(finess_json(ege()), stats=stats)
    assert rows == [
        EstablishmentRow(
            line=1,
            finess_et="010780930",
            finess_ej="010000388",
            name="EHPAD RESIDENCE LA JONQUILLERE",
            long_name="EHPAD RESIDENCE LA JONQUILLERE COLIGNY",
            address="34 R CHARLES DE GAULLE",
            postcode="01270",
            city="COLIGNY",
            commune_code="01108",
            department="01",
            category_code="500",
            category_label=category_label_r397("500"),  # the JSON has the code only
            siret="26010009400010",
            opened_on=date(1980, 1, 1),
            luhn_ok=True,
            ege_id="844",
        )
    ]
    assert (stats.format, stats.generated_at, stats.lines) == (
        "finess-json",
        datetime(2026, 3, 9, 15, 49, 37, 615611),
        1,
    )


def test_json_keeps_only_active_establishments():
    stats = ReadStats()
    rows = read_all(
        finess_json(
            ege("010780930"),
            ege("010780955", etatObjet="I"),
            ege("010780963", dateFermeture="2006-09-14"),
            ege("980600027", dateFermeture="2999-01-01"),
        ),
        stats=stats,
    )
    assert [r.finess_et for r in rows] == ["010780930", "980600027"]
    assert stats.notes[0] == "Établissements fermés ou inactifs mis à part : 2."


def test_json_department_from_cog_commune_else_postcode():
    def place(cog, postcode):
        return [{"cogCommune": cog, "codePostal": postcode, "ligneAcheminement": "X"}]

    rows = read_all(
        finess_json(
            ege(adresse=place("98613", "98600")),
            ege(adresse=place("2A004", "20000")),
            ege(adresse=place("", "38000")),
            ege(adresse=place("", "")),
            ege("12345", adresse=place("01108", "")),
            ege(categorieentiteGeographiqueExercice=None),
            ege(adresse=None),
        ),
        departments=None,
    )
    assert [(r.department, r.commune_code) for r in rows[:3]] == [
        ("986", "98613"),
        ("2A", "2A004"),
        ("38", None),
    ]
    assert rows[3:] == [
        Rejected(4, REASON_DEPARTMENT),
        Rejected(5, REASON_FINESS),
        Rejected(6, REASON_CATEGORY),
        Rejected(7, REASON_DEPARTMENT),
    ]


def test_json_malformed_establishment_is_rejected():
    doc = {"pmej": [{"ege": ["pas un objet", ege()]}]}
    rows = read_all(io.BytesIO(json.dumps(doc).encode()))
    assert rows[0] == Rejected(1, REASON_JSON)
    assert rows[1].finess_et == "010780930"


def test_json_minified_with_bom_is_detected():
    data = b"\xef\xbb\xbf" + finess_json(ege(), indent=None).getvalue().strip()
    assert [r.finess_et for r in read_all(io.BytesIO(data))] == ["010780930"]


def test_json_selection_counts_out_of_scope():
    stats = ReadStats()
    rows = read_all(
        finess_json(ege(), ege("980600027", adresse=[{"cogCommune": "98613"}])), {"986"}, stats
    )
    assert [r.finess_et for r in rows] == ["980600027"]
    assert stats.out_of_scope == 1


def test_broken_json_is_refused():
    with pytest.raises(SourceError) as err:
        read_finess(io.BytesIO(b'{\n  "pmej": [ {"ege": ['))
    assert str(err.value) == (
        "Ce fichier JSON est illisible (ligne 2, colonne 22) : ce n'est pas un flux FiNESS+."
    )


def test_json_without_pmej_is_refused():
    with pytest.raises(SourceError) as err:
        read_finess(io.BytesIO(b'{"type": "FeatureCollection", "features": []}'))
    assert str(err.value) == (
        "Ce fichier JSON n'est pas un flux FiNESS+ : la liste « pmej » est absente."
    )


def test_commune_code_rules():
    assert etalab_commune_code("01", "01", "053") == "01053"
    assert etalab_commune_code("9D", "974", "411") == "97411"
    assert etalab_commune_code("01", "01", "") is None
    assert etalab_commune_code("01", "01", "5") is None


def test_the_coordinates_notes_count_in_french():
    geo = GeoStats()
    geo.counts.update({FROM_LAMBERT: 100_567, MISSING: 1})
    assert geo.notes() == [
        "Coordonnées converties depuis Lambert-93 : 100\u202f567.",
        "Coordonnées absentes : 1.",
    ]
