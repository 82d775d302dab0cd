"""The MSSanté directory extract reader: one test per quirk of the published format, and every
refusal with its exact French message."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from balise.errors import SourceError
from balise.models import AdoptionStat
from balise.referentials.bal_types import TYPES
from balise.services.labels import COLUMNS, bal_type_label
from ingest.sources import annuaire
from ingest.sources.annuaire import (
    DIRECTORY_HEADER,
    REASON_ADDRESS,
    REASON_DEPARTMENT,
    REASON_ENCODING,
    REASON_FIELDS,
    REASON_TYPE,
    column_positions,
    parse_generated_at,
    read_extract,
)
from ingest.sources.rows import DirectoryRow, ReadStats, Rejected

HEADER = list(DIRECTORY_HEADER)


def record(**values: str) -> dict[str, str]:
    """A data line as a header -> value dict, with plausible defaults."""
    row = dict.fromkeys(HEADER, "")
    row.update(
        {
            "Type de BAL": "ORG",
            "Adresse BAL": "accueil@ehpad-lilas.mssante.fr",
            "Type identifiant structure": "1",
            "Identification Structure": "1010000024",
            "Service de rattachement": "Accueil",
            "Raison Sociale structure BAL": "EHPAD LES LILAS",
            "Code postal": "01000",
            "Département": "01",
            "Pays": "France",
        }
    )
    row.update({k.replace("_", " "): v for k, v in values.items()})
    return row


def extract(
    rows: list[dict[str, str]], header: list[str] = HEADER, eol: str = "\n", bom: bool = False
) -> io.BytesIO:
    def cell(row: dict[str, str], name: str) -> str:
        by_key = {k.casefold(): v for k, v in row.items()}
        return by_key.get(name.strip().casefold(), "")

    lines = ["|".join(header)] + ["|".join(cell(r, h) for h in header) for r in rows]
    data = eol.join(lines) + eol
    return io.BytesIO(("\ufeff" if bom else "").encode() + data.encode("utf-8"))


def read_all(fh, departments=None, stats=None) -> list[DirectoryRow | Rejected]:
    return list(read_extract(fh, departments, stats))


def test_a_published_line_gives_a_normalised_row():
    stats = ReadStats()
    rows = read_all(extract([record(Code_Profession="10")]), stats=stats)
    assert rows == [
        DirectoryRow(
            line=2,
            address="accueil@ehpad-lilas.mssante.fr",
            bal_type="ORG",
            department="01",
            structure_id_type="1",
            structure_id="010000024",
            service="Accueil",
            profession_code="10",
            structure_name="EHPAD LES LILAS",
            postcode="01000",
        )
    ]
    assert (stats.format, stats.encoding, stats.lines, stats.out_of_scope) == (
        "annuaire-txt",
        "utf-8",
        1,
        0,
    )


def test_dematerialisation_is_o_or_n_whatever_the_case_and_none_otherwise():
    values = ["O", " n ", "", "Oui", "X"]
    rows = read_all(extract([record(Dématérialisation=v) for v in values]))
    assert [r.dematerialisation for r in rows] == ["O", "N", None, None, None]


def test_utf8_bom_is_tolerated():
    rows = read_all(extract([record()], bom=True))
    assert [r.address for r in rows] == ["accueil@ehpad-lilas.mssante.fr"]


def test_crlf_line_ends_and_a_trailing_blank_crlf_line():
    # Code postal last: its cell carries the "\r"; the final blank "\r\n" line is not a row.
    header = [h for h in HEADER if h != "Code postal"] + ["Code postal"]
    data = extract([record(Code_postal="38000", Département="")], header, eol="\r\n")
    rows = read_all(io.BytesIO(data.getvalue() + b"\r\n"))
    assert [(r.postcode, r.department) for r in rows] == [("38000", "38")]


def test_header_with_surrounding_spaces_and_other_case_is_matched():
    header = [f"  {h.upper()} " for h in HEADER]
    rows = read_all(extract([record()], header))
    assert [r.bal_type for r in rows] == ["ORG"]


def test_header_without_accents_is_matched():
    header = [h.replace("é", "e") for h in HEADER]
    (row,) = read_all(extract([record(Département="", Code_postal="38000")], header))
    assert row.department == "38"


def test_columns_in_another_order_and_extra_columns_are_matched_by_name():
    header = ["Colonne en plus", *reversed(HEADER), "Autre"]
    rows = read_all(extract([record(Adresse_BAL="dr.martin@medecin.mssante.fr")], header))
    assert [(r.address, r.structure_name) for r in rows] == [
        ("dr.martin@medecin.mssante.fr", "EHPAD LES LILAS")
    ]


def test_optional_columns_may_be_absent():
    header = [h for h in HEADER if h not in ("Service de rattachement", "Code Profession")]
    (row,) = read_all(extract([record()], header))
    assert (row.service, row.profession_code, row.structure_name) == (
        None,
        None,
        "EHPAD LES LILAS",
    )


def test_duplicate_addresses_are_passed_through_for_the_writer():
    same = "Secretariat@CH-Bourg.mssante.fr "
    rows = read_all(extract([record(Adresse_BAL=same), record(Adresse_BAL=same.lower())]))
    assert [(r.line, r.address) for r in rows] == [
        (2, "secretariat@ch-bourg.mssante.fr"),
        (3, "secretariat@ch-bourg.mssante.fr"),
    ]


def test_all_four_bal_types_and_labels_are_normalised():
    types = ["PER", "org", " APP ", "CAB", "Personnelle"]
    rows = read_all(
        extract(
            [record(Type_de_BAL=t, Adresse_BAL=f"b{i}@x.mssante.fr") for i, t in enumerate(types)]
        )
    )
    assert [r.bal_type for r in rows] == ["PER", "ORG", "APP", "CAB", "PER"]


def test_each_bal_type_has_its_count_column_and_heading():
    """The one table of BAL types names columns the adoption statistics really hold, and the
    headings of the tables and exports are its own."""
    assert [t.code for t in TYPES] == ["PER", "ORG", "APP", "CAB"]
    stored = set(AdoptionStat.__table__.columns.keys())
    for t in TYPES:
        assert t.column in stored
        assert COLUMNS[t.column] == t.plural and bal_type_label(t.code) == t.label
    assert len({t.colour for t in TYPES}) == len(TYPES)


def test_department_column_wins_over_the_postcode():
    (row,) = read_all(extract([record(Département="69", Code_postal="38000")]))
    assert row.department == "69"


def test_department_label_is_understood():
    (row,) = read_all(extract([record(Département="Isère", Code_postal="")]))
    assert row.department == "38"


def test_department_falls_back_to_the_postcode():
    (row,) = read_all(extract([record(Département="", Code_postal="74000")]))
    assert row.department == "74"


def test_corsican_postcodes_give_2a_and_2b():
    rows = read_all(
        extract(
            [
                record(Département="", Code_postal="20000", Adresse_BAL="a@x.mssante.fr"),
                record(Département="", Code_postal="20200", Adresse_BAL="b@x.mssante.fr"),
            ]
        )
    )
    assert [r.department for r in rows] == ["2A", "2B"]


def test_overseas_postcodes_give_three_digit_departments():
    rows = read_all(
        extract(
            [
                record(Département="", Code_postal="97400", Adresse_BAL="a@x.mssante.fr"),
                record(Département="", Code_postal="97133", Adresse_BAL="b@x.mssante.fr"),
                record(Département="", Code_postal="97150", Adresse_BAL="c@x.mssante.fr"),
                record(Département="", Code_postal="97100", Adresse_BAL="d@x.mssante.fr"),
            ]
        )
    )
    assert [r.department for r in rows] == ["974", "977", "978", "971"]


@pytest.mark.parametrize(
    ("id_type", "raw", "expected"),
    [
        ("1", "1010000024", "010000024"),  # "1" + FINESS
        ("1", "010000024", "010000024"),  # FINESS without prefix
        ("1", "12A0000174", "2A0000174"),  # Corsican FINESS with prefix
        ("3", "312345678900011", "12345678900011"),  # "3" + SIRET
        ("3", "123 456 789 00011", "12345678900011"),  # spaces
        ("4", "810003456789", "810003456789"),  # 12 chars starting with 8: left as is
        ("", "", None),
    ],
)
def test_structure_id_type_prefix_is_stripped_when_the_length_says_so(id_type, raw, expected):
    (row,) = read_all(
        extract([record(Type_identifiant_structure=id_type, Identification_Structure=raw)])
    )
    assert (row.structure_id_type, row.structure_id) == (id_type or None, expected)


def test_empty_cells_become_none():
    (row,) = read_all(
        extract([record(Service_de_rattachement="  ", Raison_Sociale_structure_BAL="")])
    )
    assert (row.service, row.structure_name, row.profession_code) == (None, None, None)


def test_bad_rows_are_rejected_with_their_file_line_and_a_fixed_reason():
    good = record()
    data = extract(
        [
            good,
            record(Type_de_BAL="XYZ"),
            record(Adresse_BAL="pas-une-adresse"),
            record(Adresse_BAL="a@b@c.fr"),
            record(Adresse_BAL="nom prenom@x.mssante.fr"),
            record(Adresse_BAL="a@localhost"),
            record(Adresse_BAL="a\x00b@x.mssante.fr"),
            record(Département="", Code_postal=""),
            record(Département="ZZ", Code_postal="00000"),
        ]
    ).getvalue()
    data += b"ORG|trop|court\n\n" + "|".join(record().values()).encode() + b"|en trop\n"
    data += b"ORG|caf\xe9@x.mssante.fr" + b"|" * 29 + b"\n"
    stats = ReadStats()
    rows = read_all(io.BytesIO(data), stats=stats)
    assert rows[0].line == 2
    assert rows[1:] == [
        Rejected(3, REASON_TYPE),
        Rejected(4, REASON_ADDRESS),
        Rejected(5, REASON_ADDRESS),
        Rejected(6, REASON_ADDRESS),
        Rejected(7, REASON_ADDRESS),
        Rejected(8, REASON_ADDRESS),
        Rejected(9, REASON_DEPARTMENT),
        Rejected(10, REASON_DEPARTMENT),
        Rejected(11, REASON_FIELDS),
        Rejected(13, REASON_FIELDS),  # line 12 is blank: skipped, still counted as a file line
        Rejected(14, REASON_ENCODING),
    ]
    assert REASON_FIELDS == "nombre de colonnes incorrect"
    assert stats.lines == 12


def test_departments_outside_the_selection_are_counted_not_yielded():
    stats = ReadStats()
    rows = read_all(
        extract(
            [
                record(Département="01"),
                record(Département="75", Type_de_BAL="XYZ"),  # out of scope: not even checked
                record(Département="", Code_postal="38100"),
            ]
        ),
        departments={"01", "38"},
        stats=stats,
    )
    assert [(r.line, r.department) for r in rows] == [(2, "01"), (4, "38")]
    assert (stats.lines, stats.out_of_scope) == (3, 1)


def test_a_header_only_file_gives_no_rows():
    stats = ReadStats()
    assert read_all(extract([]), stats=stats) == []
    assert stats.lines == 0


def test_empty_file_is_refused():
    with pytest.raises(SourceError) as err:
        read_extract(io.BytesIO(b""))
    assert str(err.value) == "Le fichier est vide : ce n'est pas un extrait de l'annuaire MSSanté."


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xff\xfe",  # a zip given as a text file
        b"\x00\x01\x02Type de BAL|Adresse BAL\n",
        b"Type de BAL|Adresse BAL|\xff\xfe\xfa\n",
    ],
)
def test_binary_file_is_refused(data):
    with pytest.raises(SourceError) as err:
        read_extract(io.BytesIO(data))
    assert str(err.value) == (
        "Ce fichier est binaire ou n'est pas un texte UTF-8 : "
        "ce n'est pas un extrait de l'annuaire MSSanté."
    )


def test_missing_columns_are_named():
    header = [h for h in HEADER if h not in ("Adresse BAL", "Type de BAL")]
    with pytest.raises(SourceError) as err:
        read_extract(extract([], header))
    assert str(err.value) == (
        "Ce fichier n'est pas un extrait de l'annuaire MSSanté : "
        "colonnes manquantes : Type de BAL, Adresse BAL."
    )


def test_another_file_is_refused_as_not_an_extract():
    data = io.BytesIO(b"finess;etalab;100;2026-05-01\nstructureet;010000024;;\n")
    with pytest.raises(SourceError) as err:
        read_extract(data)
    assert str(err.value) == (
        "Ce fichier n'est pas un extrait de l'annuaire MSSanté : la première ligne n'est pas "
        "l'en-tête attendu (colonnes séparées par « | », dont Type de BAL, Adresse BAL, "
        "Type identifiant structure, Identification Structure, Code postal, Département)."
    )


def test_the_file_is_streamed_not_read_whole(monkeypatch):
    monkeypatch.setattr(annuaire, "BLOCK_BYTES", 1000)

    class BoundedReader(io.BytesIO):
        def read(self, size=-1):  # a reader that slurps would ask for everything
            assert 0 < size <= 1000, f"read({size}): the whole file would be loaded"
            return super().read(size)

    fh = BoundedReader(
        extract([record(Adresse_BAL=f"a{i}@x.mssante.fr") for i in range(50)]).getvalue()
    )
    rows = read_extract(fh)
    first = next(rows)
    assert first.address == "a0@x.mssante.fr"
    assert fh.tell() < len(fh.getvalue()) / 2
    assert [r.address for r in rows][-1] == "a49@x.mssante.fr"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Extraction_Correspondance_MSSante_202611250312.txt", datetime(2026, 11, 25, 3, 12)),
        (
            "/tmp/x/Extraction_Correspondance_MSSante_202608010000.zip",
            datetime(2026, 8, 1, 0, 0),
        ),
        ("Extraction_Correspondance_MSSante_202613250312.txt", None),  # month 13
        ("extrait.txt", None),
        ("", None),
    ],
)
def test_generation_time_comes_from_the_file_name(name, expected):
    assert parse_generated_at(name) == expected


def test_columns_with_the_structure_bal_suffix_are_accepted():
    header_line = "|".join(HEADER)
    header = header_line.replace("|Code postal|", "|Code postal structure BAL|").replace(
        "|Département|", "|Département structure BAL|"
    )
    assert header != header_line
    positions = column_positions(header)
    assert positions["Code postal"] == 28 and positions["Département"] == 29
