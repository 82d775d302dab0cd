"""The FiNESS+ reader: both spellings (the real file's and the published schema's), what the
JSON adds (legal entities, inactive establishments, groupings, checked coordinates), gzip,
positions of bad records, foreign JSON refused, and the stream cutter underneath."""

from __future__ import annotations

import gzip
import io
import json
import random
from datetime import date

import pytest

from balise.errors import SourceError
from ingest.sources.finess import read_finess_chunks
from ingest.sources.finess_geo import lambert93_to_wgs84, wgs84_to_lambert93
from ingest.sources.finess_plus import PlusChunk
from ingest.sources.finess_values import REASON_CATEGORY, REASON_FINESS, REASON_JSON
from ingest.sources.json_stream import (
    Batch,
    EmptyItems,
    JsonError,
    NotAnObject,
    Scalar,
    Value,
    members,
)
from ingest.sources.rows import EstablishmentRow, ReadStats, Rejected, flatten
from tests.support.finess_plus import EJ, IME, ege_file, ege_schema, flow


def read(data: bytes, departments=None, stats=None) -> tuple[list, list[PlusChunk]]:
    chunks = list(read_finess_chunks(io.BytesIO(data), departments, stats or ReadStats()))
    return list(flatten(chunks, EstablishmentRow)), chunks


def test_the_file_spelling_and_the_schema_spelling_give_the_same_row():
    stats = ReadStats()
    rows, _ = read(flow(ege_file()), stats=stats)
    schema_rows, _ = read(flow(ege_schema(), schema=True))
    assert rows == schema_rows == [
        EstablishmentRow(
            line=1, finess_et=IME, finess_ej=EJ, name="IME LES TILLEULS",
            long_name="INSTITUT MEDICO EDUCATIF LES TILLEULS", address="34 R CHARLES DE GAULLE",
            postcode="01270", city="COLIGNY", commune_code="01108", department="01",
            category_code="183", category_label="Institut Médico-Educatif (I.M.E.)",
            siret="26010009400010", opened_on=date(1980, 1, 1), luhn_ok=True,
            latitude=46.383, longitude=5.345, ege_id="844",
        )
    ]  # fmt: skip
    assert (stats.format, str(stats.generated_at)) == ("finess-json", "2026-07-01 04:00:00.123456")


def test_legal_entity_fields_are_kept_in_both_spellings():
    for data in (flow(ege_file()), flow(ege_schema(), schema=True)):
        _, chunks = read(data)
        legal = [le for c in chunks for le in c.legal_entities]
        assert legal == [
            (EJ, "77", "260100094", "60", "ASSOCIATION LES TILLEULS", None, True, None)
        ]


def test_swapped_lambert_and_out_of_france_coordinates():
    def coords(**c):
        address = dict(ege_file()["adresse"][0], coordonneesGeographique=c)
        return address

    x, y = wgs84_to_lambert93(45.76, 4.84)  # Lyon
    stats = ReadStats()
    rows, _ = read(
        flow(
            ege_file(adresse=[coords(directionLatitude="5.345", directionLongitude="46.383")]),
            ege_file("010780948", adresse=[coords(coordonneeX=f"{y:.2f}", coordonneeY=f"{x:.2f}")]),
            ege_file("010780955", adresse=[coords(directionLatitude="0", directionLongitude="0")]),
            ege_file("010780963", adresse=[coords()]),
            ege_file(
                "970400049",
                adresse=[
                    dict(
                        coords(directionLatitude="-21.1", directionLongitude="55.5"),
                        cogCommune="97411",
                    )
                ],
            ),  # fmt: skip
        ),
        stats=stats,
    )
    points = [(r.latitude, r.longitude) for r in rows]
    assert points[0] == (46.383, 5.345)  # reversed, put back
    assert points[1] == pytest.approx((45.76, 4.84), abs=1e-6)  # Lambert-93, X/Y swapped
    assert points[2:] == [(None, None), (None, None), (-21.1, 55.5)]  # in the sea; none; Réunion
    assert stats.notes[-4:] == [
        "Coordonnées converties depuis Lambert-93 : 1.",
        "Coordonnées inversées puis corrigées : 1.",
        "Coordonnées hors du territoire, ignorées : 1.",
        "Coordonnées absentes : 1.",
    ]


def test_lambert93_origin_and_round_trip():
    assert lambert93_to_wgs84(700_000, 6_600_000) == pytest.approx((46.5, 3.0))
    assert lambert93_to_wgs84(*wgs84_to_lambert93(43.3, -1.2)) == pytest.approx((43.3, -1.2))


@pytest.mark.parametrize(
    "commune, postcode, department",
    [
        ("2A004", "20000", "2A"),
        ("2b033", "20200", "2B"),
        ("97411", "97400", "974"),
        ("97608", "97600", "976"),
        ("98613", "98600", "986"),
        ("01108", "38000", "01"),  # cogCommune first, whatever the postcode says
        ("", "20200", "2B"),  # no cogCommune: the postcode (Corsica by its range)
        ("", "97133", "977"),  # Saint-Barthélemy, not the Guadeloupe of 971
    ],
)
def test_the_department_comes_from_cog_commune_else_the_postcode(commune, postcode, department):
    """An Ain number (IME) everywhere: the department is the address's, not the number's."""
    item = ege_file(IME)
    item["adresse"][0].update(cogCommune=commune, codePostal=postcode)
    rows, _ = read(flow(item))
    assert [(r.department, r.commune_code) for r in rows] == [(department, commune.upper() or None)]


def test_unknown_category_is_reported_and_kept():
    stats = ReadStats()
    rows, _ = read(flow(ege_file(categorieentiteGeographiqueExercice="999")), stats=stats)
    assert [(r.category_code, r.category_label) for r in rows] == [("999", None)]
    assert "Catégories inconnues de la nomenclature TRE-R397 : 999 (1)." in stats.notes


def test_inactive_establishments_are_kept_apart():
    closed = ege_file("010780948", etatObjet="I")
    closed["informationsGeneralesEGE"]["dateFermeture"] = "2024-06-30"
    past = ege_file("010780955")
    past["informationsGeneralesEGE"]["dateFermeture"] = "2006-09-14"
    stats = ReadStats()
    rows, chunks = read(flow(ege_file(), closed, past), stats=stats)
    assert [r.finess_et for r in rows] == [IME]
    inactive = [i for c in chunks for i in c.inactive]
    assert inactive == [
        ("010780948", EJ, "IME LES TILLEULS", "01", "183", date(2024, 6, 30), "844"),
        ("010780955", EJ, "IME LES TILLEULS", "01", "183", date(2006, 9, 14), "844"),
    ]
    assert "Établissements fermés ou inactifs mis à part : 2." in stats.notes


def test_the_notes_count_in_french():
    closed = [ege_file(f"01078{n:04d}", etatObjet="I") for n in range(1200)]
    unknown = [ege_file(f"01079{n:04d}", categorieentiteGeographiqueExercice="999")
               for n in range(1001)]  # fmt: skip
    stats = ReadStats()
    read(flow(*closed, *unknown), stats=stats)
    assert "Établissements fermés ou inactifs mis à part : 1\u202f200." in stats.notes
    assert "Catégories inconnues de la nomenclature TRE-R397 : 999 (1\u202f001)." in stats.notes


def test_bad_records_are_counted_with_their_position():
    no_category = ege_file("010780948")
    del no_category["categorieentiteGeographiqueExercice"]
    data = flow(ege_file(), "pas un objet", ege_file("12345"), no_category,
                ege_file(informationsGeneralesEGE=["liste"]), ege_file("010780955"))  # fmt: skip
    rows, _ = read(data)
    assert [r if isinstance(r, Rejected) else r.finess_et for r in rows] == [
        IME,
        Rejected(2, REASON_JSON),
        Rejected(3, REASON_FINESS),
        Rejected(4, REASON_CATEGORY),
        Rejected(5, REASON_JSON),
        "010780955",
    ]


def test_groupings_in_the_file_shape_and_the_schema_shape():
    gcc = [{"gccId": "12", "nomGcc": "GHT DE L'AIN", "typeGcc": "001",
            "pmejDuGcc": [{"pmSmsseId": "77", "typeRoleEntiteGroupe": "S"}]}]  # fmt: skip
    gco = {"pm_smsseId": "90", "typeGCO": "GCSMS",
           "pmejDuGco": [{"pm_smsseId": "77", "typeRoleEntiteGroupe": "M"}],
           "egeDuGco": [{"egeId": "844", "typeRoleEntiteGroupe": "M"}]}  # fmt: skip
    _, chunks = read(flow(ege_file(), gcc=gcc, gco=gco))
    assert [g for c in chunks for g in c.groups] == [
        ("gcc:12", "gcc", "001", "GHT DE L'AIN", None),
        ("gco:90", "gco", "GCSMS", None, "90"),
    ]
    assert [m for c in chunks for m in c.members] == [
        ("gcc:12", "77", None, "S"),
        ("gco:90", "77", None, "M"),
        ("gco:90", None, "844", "M"),
    ]


def test_gzip_reads_like_plain_and_a_truncated_one_is_refused():
    data = flow(ege_file(), ege_file("010780948"))
    packed = gzip.compress(data)
    assert read(packed)[0] == read(data)[0]
    with pytest.raises(SourceError, match=r"gzip\) est corrompu ou tronqué"):
        read(packed[: len(packed) // 2])


NOT_FLOW = "Ce fichier JSON n'est pas un flux FiNESS+ : la liste « pmej » est absente."
NOT_ETALAB = "Ce fichier n'est pas un fichier FINESS : la première ligne devrait être"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"type": "FeatureCollection", "features": [{"type": "Feature"}]}', NOT_FLOW),
        (b'{"foo": 1}', NOT_FLOW),
        (b'{"pmej": {"informationsGeneralesPMEJ": {}}}', NOT_FLOW),
        (b"[1, 2]", NOT_ETALAB),  # not an object: not taken for FiNESS+ at all
    ],
    ids=["geojson", "other-object", "pmej-not-a-list", "array"],
)
def test_foreign_json_is_refused(data, message):
    with pytest.raises(SourceError) as err:
        read_finess_chunks(io.BytesIO(data))
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("packed", [False, True], ids=["json", "json.gz"])
def test_a_flow_without_any_legal_entity_is_refused_as_empty(packed):
    data = b'{"generatedAt": "2026-07-01T04:00:00Z", "pmej": [ ], "gcc": [], "gco": []}'
    with pytest.raises(SourceError) as err:
        read_finess_chunks(io.BytesIO(gzip.compress(data) if packed else data))
    assert str(err.value) == (
        "Ce flux FiNESS+ ne contient aucune entité juridique : la liste « pmej » est vide."
    )


def test_broken_json_inside_an_item_is_refused_with_its_place():
    data = flow(ege_file()).replace(b'"nomEgeLong"', b'"nomEgeLong" "oops"', 1)
    where = data.index(b'"oops"')  # a colon was expected here
    line, column = data[:where].count(b"\n") + 1, where - data.rfind(b"\n", 0, where)
    with pytest.raises(SourceError) as err:
        read(data)
    assert str(err.value) == (
        f"Ce fichier JSON est illisible (ligne {line}, colonne {column}) : "
        "ce n'est pas un flux FiNESS+."
    )


def test_selection_counts_out_of_scope_and_keeps_only_their_legal_entities():
    other = ege_file("980600027", adresse=[{"cogCommune": "98613"}])
    stats = ReadStats()
    rows, chunks = read(flow(ege_file(), other), {"986"}, stats)
    assert [r.finess_et for r in rows] == ["980600027"] and stats.out_of_scope == 1
    assert [le[0] for c in chunks for le in c.legal_entities] == [EJ]


# --- the stream cutter ---------------------------------------------------------------------------


def _cut(data: bytes, block: int) -> dict:
    out: dict = {"items": [], "values": {}, "scalars": {}, "empty": []}
    for event in members(io.BytesIO(data), {"pmej"}, {"gco", "gcc"}, block=block):
        if isinstance(event, EmptyItems):
            out["empty"].append(event.key)
        elif isinstance(event, Batch):
            out["items"] += json.loads(event.data)
        elif isinstance(event, Value):
            out["values"][event.key] = json.loads(event.data)
        elif isinstance(event, Scalar):
            out["scalars"][event.key] = json.loads(event.data)
    return out


def test_cutter_gives_back_every_item_whatever_the_block_size():
    """Strings full of brackets, quotes and backslashes, cut at every possible block boundary:
    the items are the document's, the skipped member (even named ``pmej`` inside) is skipped."""
    rng = random.Random(7)

    def text() -> str:
        return "".join(rng.choice('ab{}[]"\\ é,:') for _ in range(rng.randint(0, 12)))

    items = [
        {"k": text(), "ege": [{"x": text(), "y": [1, {"z": text()}]}], "\\": text()}
        for _ in range(120)
    ]
    doc = {"v": "1", "gcc": [{"a": text()}], "skip": {"pmej": [1], "q": text()},
           "generatedAt": "2026", "pmej": items, "gco": {"b": [text()]}, "n": 12, "t": True}  # fmt: skip
    for ascii_only in (True, False):
        data = json.dumps(doc, ensure_ascii=ascii_only).encode()
        for block in (1, 2, 3, 7, 64, 4096):
            out = _cut(data, block)
            assert out["items"] == items
            assert out["values"] == {"gcc": doc["gcc"], "gco": doc["gco"]}
            assert out["scalars"] == {"v": "1", "generatedAt": "2026", "n": 12, "t": True}
            assert out["empty"] == []


def test_cutter_tells_an_items_array_that_holds_nothing():
    for data in (b'{"pmej": [], "gcc": []}', b'{"generatedAt": "2026",\n "pmej": [\n  \n]}'):
        for block in (1, 2, 5, 4096):
            out = _cut(data, block)
            assert (out["items"], out["empty"]) == ([], ["pmej"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{\n  "pmej": [ {"ege": [', "document interrompu (ligne 2, colonne 22)"),
        (b'{"pmej": [] } x', "contenu après la fin du document (ligne 1, colonne 15)"),
        (b'{"pmej": [}', "crochet fermant inattendu (ligne 1, colonne 11)"),
    ],
)
def test_cutter_errors_say_where(data, message):
    with pytest.raises(JsonError) as err:
        _cut(data, 4)
    assert str(err.value) == message


def test_cutter_refuses_what_is_not_an_object():
    for data in (b"[1]", b'"x"', b"   "):
        with pytest.raises(NotAnObject):
            _cut(data, 2)


def test_gzip_members_are_chained_and_the_inflated_size_is_bounded():
    from ingest.sources.gzip_stream import gunzip_if_compressed

    data = flow(ege_file(), ege_file("010780948"))
    two_members = gzip.compress(data[:100]) + gzip.compress(data[100:])
    assert gunzip_if_compressed(io.BytesIO(two_members)).read() == data
    bomb = gzip.compress(b" " * (3 << 20))  # 3 MB of blanks in a few kB
    with pytest.raises(SourceError) as err:
        gunzip_if_compressed(io.BytesIO(bomb), limit=1 << 20).read()
    assert str(err.value) == (
        "Le fichier compressé (gzip) dépasse 1 Mo une fois décompressé : il est refusé."
    )


def test_fast_cut_guesses_are_proven_and_a_wrong_one_falls_back_to_the_scan(monkeypatch):
    """With small guessed batches, cuts are guessed at the next legal entity's first key; an
    establishment holding a list whose second object opens with that key makes a guess inside
    an item, which cannot decode: the exact scan takes over and every establishment is still
    read once, in order."""
    from ingest.sources import json_stream

    monkeypatch.setattr(json_stream, "FAST_MIN_BYTES", 300)
    numbers = [with_key(f"0107{n:04d}") for n in range(40)]
    eges = [ege_file(number) for number in numbers]
    eges[20]["extra"] = [{"a": 1}, {"informationsGeneralesPMEJ": {}}]  # the trap
    doc = json.loads(flow(eges[0]))
    doc["pmej"] = [{**doc["pmej"][0], "ege": [e]} for e in eges]
    verdicts: list[bool] = []

    def decode(data: bytes) -> object:
        try:
            decoded = json.loads(data)
        except ValueError:
            verdicts.append(False)
            raise json_stream.Unproven() from None
        verdicts.append(True)
        return decoded

    seen = []
    data = json.dumps(doc, indent=1).encode()
    for batch in json_stream.members(
        io.BytesIO(data), {"pmej"}, (), block=512, fast=((b'"informationsGeneralesPMEJ"',), decode)
    ):
        assert not isinstance(batch, EmptyItems)
        if isinstance(batch, Batch):
            numbers_in = [p["ege"][0]["informationsGeneralesEGE"]["numFinessEge"]
                          for p in json.loads(batch.data)]  # fmt: skip
            seen += numbers_in
    assert seen == numbers
    assert verdicts.count(True) > 3 and verdicts[-1] is False  # guessed, then one wrong guess


def with_key(body: str) -> str:
    from stdnum import luhn

    return body + luhn.calc_check_digit(body)


def test_a_nul_character_never_reaches_the_store():
    """``\\u0000`` in a JSON string reads as U+FFFD, as a NUL byte in the CSV (PostgreSQL keeps
    no NUL in text): in an establishment's name, a legal entity's and a grouping's."""
    gcc = [{"gccId": "12", "nomGcc": "GHT\u0000AIN", "pmejDuGcc": []}]
    data = flow(ege_file(), gcc=gcc).replace(b"IME LES TILLEULS", b"IME\\u0000TILLEULS")
    data = data.replace(b"ASSOCIATION LES TILLEULS", b"ASSOCIATION\\u0000TILLEULS")
    rows, chunks = read(data)
    assert [r.name for r in rows] == ["IME\ufffdTILLEULS"]
    assert [le[4] for c in chunks for le in c.legal_entities] == ["ASSOCIATION\ufffdTILLEULS"]
    assert [g[3] for c in chunks for g in c.groups] == ["GHT\ufffdAIN"]
