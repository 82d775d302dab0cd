"""The FINESS reader's two paths give the same rows: Arrow's column-wise path on clean blocks of
structureet lines, the line reader (the specification) on the others. Each test reads the same
bytes both ways and compares rows, rejections (with their line numbers), counts and notes."""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pytest
from stdnum import luhn

from balise.formatting import fr_count
from ingest.demo import write_demo
from ingest.sources import finess
from ingest.sources.finess import read_finess
from ingest.sources.finess_columns import luhn_column
from ingest.sources.finess_geoloc import Places
from ingest.sources.finess_values import luhn_ok
from ingest.sources.rows import ReadStats
from tests.support.spy import spy
from tests.test_source_finess import META, et, with_key

# Values that hit every branch of the column-wise normalisation.
NUMBERS = ["010780930", " 010780931 ", "2a0000016", "2B0000017", "9A0000018", "XX", "", "01078093"]
DEPARTMENTS = ["01", "2A", "2B", "9A", "9D", "", "ZZ", " 69 "]
ACHEMINEMENTS = [
    "01000 BOURG EN BRESSE",
    "01000 BOURG EN BRESSE CEDEX 2",
    "97133 SAINT BARTHELEMY",
    "LYON",
    "",
    " 20000 AJACCIO ",
]
WAYS = [("12", "", "R", "DES LILAS"), ("", "B", "", ""), ("", "", "", ""), (" 3 ", "", "", "PLACE")]
PLACES = ["", "LIEU-DIT LES PRES", " BP 12 "]
DATES = [
    "1980-01-01",
    "01/02/2003",
    "2024-10-30 00:00:00",
    "",
    "31/02/2020",
    "n/a",
    "2020-02-31",
    " 2024-02-29 ",
    "2023-02-29",
    "0000-01-01",
    "0001-01-01",
    "2024-W01-1",
    "２０２４-01-01",
]
SIRETS = ["26010007800039", "260 100 078 00039", "123", "", "２６０１０００７８０００３９"]
TEXT = ["", "  ", "EHPAD LES LILAS", "\u00a0FOYER ÉLÉONORE\u2003", "SAINT-ŒUVRE"]


def line(rng: random.Random) -> str:
    number = rng.choice(NUMBERS)
    if rng.random() < 0.5:
        number = with_key(f"{rng.randrange(10**7):07d}" + rng.choice("0123"))
    way = rng.choice(WAYS)
    return et(
        nofinesset=number,
        nofinessej=rng.choice(NUMBERS),
        rs=rng.choice(TEXT),
        rslongue=rng.choice(TEXT),
        numvoie=way[0], compvoie=way[1], typvoie=way[2], voie=way[3],
        lieuditbp=rng.choice(PLACES),
        commune=rng.choice(["053", "411", "12", " 053"]),
        departement=rng.choice(DEPARTMENTS),
        ligneacheminement=rng.choice(ACHEMINEMENTS),
        categetab=rng.choice(["500", " 355 ", "", "202"]),
        libcategetab=rng.choice(TEXT),
        siret=rng.choice(SIRETS),
        dateouv=rng.choice(DATES),
    )  # fmt: skip


def read_by_lines(data: bytes, departments=None) -> tuple[list, ReadStats]:
    """The line reader alone, on the whole file."""
    stats, ignored = ReadStats(encoding="utf-8"), {}
    fh = io.BytesIO(data)
    fh.readline()  # the metadata line
    scope = frozenset(departments) if departments is not None else None
    places = Places()
    rows = list(finess._etalab_rows(fh, 1, scope, stats, ignored, places))
    stats.notes.extend(
        f"Section « {s} » ignorée : {fr_count(n, 'ligne', 'lignes')}." for s, n in ignored.items()
    )
    stats.notes.extend(places.geo.notes())
    return rows, stats


def assert_same(data: bytes, departments=None) -> list:
    expected, expected_stats = read_by_lines(data, departments)
    stats = ReadStats()
    got = list(read_finess(io.BytesIO(data), departments, stats))
    assert got == expected
    assert (stats.lines, stats.out_of_scope, stats.encoding, stats.notes) == (
        expected_stats.lines,
        expected_stats.out_of_scope,
        expected_stats.encoding,
        expected_stats.notes,
    )
    return got


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few dozen lines, so that one file mixes clean and unclean blocks."""
    monkeypatch.setattr(finess, "BLOCK_BYTES", 20_000)


@pytest.fixture
def arrow_blocks(monkeypatch) -> list:
    """The blocks Arrow parsed (proves the column-wise path really ran)."""
    return spy(monkeypatch, finess, "normalise_etalab")


def etalab_bytes(lines: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join([META, *lines]) + "\n").encode(encoding, "replace")


@pytest.mark.parametrize("departments", [None, ["01", "2A", "971", "977"]])
def test_tricky_values_in_clean_blocks_read_as_the_line_reader_reads_them(
    small_blocks, arrow_blocks, departments
):
    rng = random.Random(5)
    rows = assert_same(etalab_bytes([line(rng) for _ in range(1500)]), departments)
    assert len(arrow_blocks) > 5
    reasons = {getattr(r, "reason", None) for r in rows}
    assert {finess.REASON_FINESS, finess.REASON_DEPARTMENT, finess.REASON_CATEGORY} <= reasons
    assert {r.luhn_ok for r in rows if hasattr(r, "luhn_ok")} == {True, False}


def test_the_luhn_check_in_bulk_is_stdnum_number_by_number():
    """The column path checks keys all at once; each answer is stdnum's for that number (Corsican
    A/B counting as 0), so the two paths cannot drift apart on any key."""
    rng = random.Random(13)
    numbers = [f"{rng.randrange(10**9):09d}" for _ in range(4000)]
    numbers += [f"2{rng.choice('AB')}{rng.randrange(10**7):07d}" for _ in range(1000)]
    bulk = luhn_column(pa.array(numbers)).to_pylist()
    assert bulk == [luhn.is_valid(n.replace("A", "0").replace("B", "0")) for n in numbers]
    assert bulk == [luhn_ok(n) for n in numbers]
    assert 300 < sum(bulk) < 700  # about one in ten numbers has a right key


def test_quotes_sections_blank_lines_and_bad_counts_go_to_the_line_reader(
    small_blocks, arrow_blocks
):
    rng = random.Random(9)
    lines = [line(rng) for _ in range(1500)]
    lines[100] = et(rs='LIEU DE VIE "MAVOUNA"', rslongue="A;B")
    lines[400] = ""
    lines[700] = "structureet;trop;court"
    lines[900] = lines[900] + "\r"
    lines += ["geolocalisation;010780930;870000.1;6570000.2;1,ATLASANTE;2026-01-01"] * 3
    rows = assert_same(etalab_bytes(lines))
    assert finess.REASON_FIELDS in {getattr(r, "reason", None) for r in rows}
    assert len(arrow_blocks) > 5


@pytest.mark.parametrize(
    "odd",
    [
        "structureet",  # the section's name without its delimiter
        "STRUCTUREET;" + ";" * 31,  # another case: another section for both readers
        "geolocalisation;010780930;870000.1;6570000.2;LAMBERT_93;2026-01-01",  # in the middle
        "\r",  # a lone CR as a line
        " structureet;" + ";" * 31,
    ],
)
def test_a_line_of_another_section_among_structureet_lines_goes_to_the_line_reader(
    small_blocks, arrow_blocks, odd
):
    rng = random.Random(11)
    lines = [line(rng) for _ in range(600)]
    lines[300] = odd
    lines[-1] = "struct"  # a short last line, no line end after it
    assert_same(etalab_bytes(lines).rstrip(b"\n"))
    assert len(arrow_blocks) > 3


def test_a_quoted_line_break_sends_the_rest_to_the_line_reader(small_blocks, arrow_blocks):
    rng = random.Random(13)
    lines = [line(rng) for _ in range(1200)]
    lines[600] = et(rslongue="SUR\nDEUX LIGNES")
    rows = assert_same(etalab_bytes(lines))
    assert "SUR\nDEUX LIGNES" in {getattr(r, "long_name", None) for r in rows}
    assert 0 < len(arrow_blocks) < 40


def test_a_cp1252_file_switches_at_its_first_non_utf8_line(small_blocks, arrow_blocks):
    rng = random.Random(17)
    lines = [line(rng).replace("É", "E").replace("Œ", "OE") for _ in range(1500)]
    lines[800] = et(rs="FOYER ÉLÉONORE")
    lines[1200] = et(rs="SAINT-ŒUVRE \x81")  # a byte cp1252 leaves undefined: U+FFFD
    data = etalab_bytes(lines, "cp1252").replace(b"?", b"\x81")
    assert_same(data)
    assert len(arrow_blocks) > 5


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_cp1252_blocks_are_cut_as_bytes_and_a_bad_line_still_goes_to_the_line_reader(
    small_blocks, arrow_blocks, monkeypatch
):
    """After the switch, Arrow cuts raw cp1252 bytes and only the columns kept are transcoded;
    a line with too few fields sends its lines to the line reader, silently (pyarrow's report of
    a bad row decodes it as UTF-8: on cp1252 bytes, an error it could only print)."""
    as_bytes = spy(monkeypatch, finess, "parse_block_as")
    rng = random.Random(19)
    lines = [line(rng) for _ in range(1500)]
    lines[10] = et(rs="FOYER ÉLÉONORE", libcategetab="Établissement € \x81")
    lines[900] = "structureet;trop;court;é"
    lines += [
        "geolocalisation;010780930;870000.1;6570000.2;EPSG:2154 Lambert-93 (Métropole);2026-01-01"
    ] * 30
    rows = assert_same(etalab_bytes(lines, "cp1252").replace(b"?", b"\x81"))
    assert finess.REASON_FIELDS in {getattr(r, "reason", None) for r in rows}
    assert len(arrow_blocks) > 5 and sum(t is not None for t in as_bytes) > 5


def test_the_demo_file_reads_the_same_both_ways(tmp_path, arrow_blocks):
    files = write_demo(tmp_path / "demo")
    rows = assert_same(files.finess.read_bytes())
    assert len(rows) > 1000 and arrow_blocks


def test_geolocalisation_lines_read_the_same_both_ways(small_blocks, monkeypatch):
    """Clean blocks of geolocalisation lines go through Arrow, the others (a malformed line)
    through the line reader: same points, same rejections."""
    geo_blocks = spy(monkeypatch, finess, "block_points")
    rng = random.Random(21)
    numbers = [with_key(f"0107{i:04d}") for i in range(1200)]
    lines = [et(nofinesset=n) for n in numbers]
    for n in numbers:
        x, y = rng.uniform(830_000, 940_000), rng.uniform(6_520_000, 6_600_000)  # the Ain
        source = rng.choice(["1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93", "", "UTM_N20"])
        lines.append(f"geolocalisation;{n};{x:.1f};{y:.1f};{source};2026-05-04")
    lines[1500] = lines[1500].replace(";6", ";x6", 1)  # a malformed Y
    lines[1800] = "geolocalisation;010700001;900000.0;5000000.0;LAMBERT_93;2026-05-04"  # at sea
    rows = assert_same(etalab_bytes(lines))
    points = [r for r in rows if type(r).__name__ == "EstablishmentPoint"]
    assert 700 < len(points) < 900 and len(geo_blocks) > 3
    assert [r for r in rows if hasattr(r, "reason")] == [finess.Rejected(1502, finess.REASON_GEO)]


def test_where_the_sections_meet_arrow_reads_both_sides(small_blocks, monkeypatch):
    """A block holding the last structureet lines and the first geolocalisation lines is cut
    where they meet: a clean file goes through Arrow alone, as the line reader reads it."""
    numbers = [with_key(f"0107{i:04d}") for i in range(300)]
    lines = [et(nofinesset=n) for n in numbers]
    lines += [f"geolocalisation;{n};{880000 + i}.5;6550000.0;LAMBERT_93;2026-05-04" for i, n in enumerate(numbers)]  # fmt: skip
    data = etalab_bytes(lines)
    rows = assert_same(data)
    assert len([r for r in rows if type(r).__name__ == "EstablishmentPoint"]) == 300
    by_lines = spy(monkeypatch, finess, "_etalab_rows")
    assert len(list(read_finess(io.BytesIO(data)))) == 600 and by_lines == []
